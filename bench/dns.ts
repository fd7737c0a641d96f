// bench:dns — dnsperf against netkube's DNS and against dnsmasq serving the same records,
// same machine, same query file, same load, one run each; the published CoreDNS figure
// (~34k qps on 2 vCPUs, kubernetes plugin, coredns/perf-tests) is the named baseline.
//
// Records: SERVICES ClusterIP services `svc-N.bench.svc.cluster.local` (A). dnsmasq
// gets them as an --addn-hosts file and is authoritative for cluster.local (so a miss
// is NXDOMAIN, not a forward); netkube gets them as Services in its read model. The
// query file asks for every service once per pass, a tenth of them in upper case
// (both servers are case-insensitive), plus a few NXDOMAIN names.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import cluster from 'node:cluster'
import { DnsModel } from '../src/dns/model.js'
import { startDnsServer } from '../src/dns/server.js'
import { freePort } from '../src/util/ports.js'
import { run } from '../src/util/exec.js'

const SERVICES = Number(process.env.BENCH_DNS_SERVICES ?? 1000)
const SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 10)
const OUTSTANDING = Number(process.env.BENCH_DNS_OUTSTANDING ?? 100)
const COREDNS_QPS = 34_000

interface PerfResult {
  /** CPU time the server spent per answered query (user + system), microseconds. */
  cpuUsPerQuery?: number
  qps: number
  avgLatencyMs: number
  maxLatencyMs: number
  completed: number
  lost: number
  noerror: number
  nxdomain: number
}

function ipOf(i: number): string {
  return `10.96.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`
}

async function dnsperf(port: number, file: string): Promise<PerfResult> {
  const r = await run('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(SECONDS), '-q', String(OUTSTANDING), '-c', '4', '-t', '2'], {
    timeoutMs: (SECONDS + 30) * 1000,
  })
  const num = (re: RegExp): number => Number(re.exec(r.stdout)?.[1] ?? NaN)
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    maxLatencyMs: num(/Average Latency \(s\):.*max ([\d.]+)\)/) * 1000,
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    noerror: num(/NOERROR (\d+)/),
    nxdomain: num(/NXDOMAIN (\d+)/) || 0,
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** One dnsperf run with the server's CPU time measured around it. */
async function measured(port: number, file: string, cpuSeconds: () => number): Promise<PerfResult> {
  const before = cpuSeconds()
  const r = await dnsperf(port, file)
  r.cpuUsPerQuery = ((cpuSeconds() - before) * 1e6) / r.completed
  return r
}

async function waitForAnswer(port: number, name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await run('dig', ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=1', name], { allowFailure: true })
    if (r.stdout.trim()) return
    await new Promise((res) => setTimeout(res, 100))
  }
  throw new Error(`no answer for ${name} on port ${port}`)
}

function benchModel(): DnsModel {
  const model = new DnsModel()
  for (let i = 0; i < SERVICES; i++)
    model.upsertService({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'bench', name: `svc-${i}` }, spec: { clusterIP: ipOf(i), ports: [{ name: 'http', port: 80 }] } })
  model.setSynced(true)
  return model
}

/** A cluster worker: the same server, sharing the UDP socket with its siblings (`netkube dns --workers N`). */
async function worker(): Promise<void> {
  await startDnsServer({ model: benchModel(), host: '127.0.0.1', port: Number(process.env.BENCH_DNS_WORKER_PORT), upstreams: [] })
  process.send!('ready')
}

/** N workers on `port`; resolves with their PIDs once all listen, and a stop function. */
async function startWorkers(n: number, port: number): Promise<{ pids: number[]; stop: () => Promise<void> }> {
  const ws = Array.from({ length: n }, () => cluster.fork({ BENCH_DNS_WORKER_PORT: String(port) }))
  await Promise.all(ws.map((w) => new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve())
    w.once('exit', (code) => reject(new Error(`bench worker exited ${code}`)))
  })))
  return {
    pids: ws.map((w) => w.process.pid!),
    stop: () => Promise.all(ws.map((w) => new Promise<void>((resolve) => {
      w.removeAllListeners('exit')
      w.once('exit', () => resolve())
      w.process.kill('SIGTERM')
    }))).then(() => undefined),
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-bench-dns-'))
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })]
  try {
    // ---- the query file (shared) and dnsmasq's hosts file ----
    const queries: string[] = []
    const hosts: string[] = []
    for (let i = 0; i < SERVICES; i++) {
      const name = `svc-${i}.bench.svc.cluster.local`
      hosts.push(`${ipOf(i)} ${name}`)
      queries.push(`${i % 10 === 0 ? name.toUpperCase() : name} A`)
    }
    for (let i = 0; i < SERVICES / 50; i++) queries.push(`missing-${i}.bench.svc.cluster.local A`)
    const qfile = join(dir, 'queries.txt')
    writeFileSync(qfile, queries.join('\n') + '\n')
    const hostsFile = join(dir, 'hosts')
    writeFileSync(hostsFile, hosts.join('\n') + '\n')

    // ---- netkube ----
    const nk = await startDnsServer({ model: benchModel(), host: '127.0.0.1', port: 0, upstreams: [] })
    cleanups.push(() => nk.stop())
    await waitForAnswer(nk.port, 'svc-1.bench.svc.cluster.local')
    // The batched recvmmsg/sendmmsg addon (src/dns/native) when built; NETKUBE_DNS_NO_MMSG=1 forces dgram.
    console.log(`netkube UDP path: ${nk.udpPath}`)

    // ---- dnsmasq, same records, a child we stop by PID ----
    const dmPort = await freePort()
    const dm = spawn(
      'dnsmasq',
      [
        '--keep-in-foreground', '--no-resolv', '--no-hosts', `--addn-hosts=${hostsFile}`, '--local=/cluster.local/',
        `--port=${dmPort}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--pid-file=', '--user=root',
        '--cache-size=10000', `--local-ttl=5`, '--dns-forward-max=1000',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let dmErr = ''
    dm.stderr!.on('data', (d) => (dmErr += d))
    cleanups.push(() => {
      if (dm.exitCode === null && dm.pid) process.kill(dm.pid, 'SIGTERM')
    })
    await waitForAnswer(dmPort, 'svc-1.bench.svc.cluster.local').catch((e: unknown) => {
      throw new Error(`dnsmasq did not start: ${String(e)} ${dmErr}`)
    })

    // ---- one run each, netkube first ----
    // The bench process does nothing but serve DNS while dnsperf (a child) runs, so its
    // own CPU usage is the server's. CPU per query is the figure that survives a busy
    // machine: qps depends on how much of the two cores the neighbours leave us.
    const selfCpu = (): number => {
      const u = process.cpuUsage()
      return (u.user + u.system) / 1e6
    }
    const a = await measured(nk.port, qfile, selfCpu)
    const b = await measured(dmPort, qfile, () => procCpuSeconds(dm.pid!))
    // The same server as two processes sharing the socket (`netkube dns --workers 2`).
    await nk.stop()
    const wPort = await freePort()
    const workers = await startWorkers(2, wPort)
    cleanups.push(() => workers.stop())
    await waitForAnswer(wPort, 'svc-1.bench.svc.cluster.local')
    const c = await measured(wPort, qfile, () => workers.pids.reduce((sum, pid) => sum + procCpuSeconds(pid), 0))
    const rows: string[][] = [
      ['server', 'qps', 'avg latency ms', 'max latency ms', 'lost', 'server CPU us/query'],
      ['netkube dns', a.qps.toFixed(0), a.avgLatencyMs.toFixed(3), a.maxLatencyMs.toFixed(2), String(a.lost), a.cpuUsPerQuery!.toFixed(1)],
      ['netkube dns --workers 2', c.qps.toFixed(0), c.avgLatencyMs.toFixed(3), c.maxLatencyMs.toFixed(2), String(c.lost), c.cpuUsPerQuery!.toFixed(1)],
      ['dnsmasq', b.qps.toFixed(0), b.avgLatencyMs.toFixed(3), b.maxLatencyMs.toFixed(2), String(b.lost), b.cpuUsPerQuery!.toFixed(1)],
      ['CoreDNS (published, 2 vCPU)', String(COREDNS_QPS), '-', '-', '-', '-'],
    ]
    const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
    console.log(`\nbench:dns  ${SERVICES} services, ${queries.length} names, dnsperf -l ${SECONDS} -q ${OUTSTANDING}, loopback, ${SECONDS}s each\n`)
    for (const r of rows) console.log(r.map((v, c) => (c === 0 ? v.padEnd(w[c]!) : v.padStart(w[c]!))).join('  '))
    console.log(`\nnetkube --workers 2 / dnsmasq qps: ${(c.qps / b.qps).toFixed(2)}x   netkube --workers 2 / CoreDNS published: ${(c.qps / COREDNS_QPS).toFixed(2)}x`)
    console.log(`netkube / dnsmasq qps: ${(a.qps / b.qps).toFixed(2)}x   netkube / CoreDNS published: ${(a.qps / COREDNS_QPS).toFixed(2)}x   dnsmasq / netkube CPU per query: ${(b.cpuUsPerQuery! / a.cpuUsPerQuery!).toFixed(2)}x`)
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
    console.log(`machine: ${cpus().length} CPUs, load average ${load} (other work on the machine moves qps; CPU per query moves less)`)
    console.log(`answers: netkube NOERROR ${a.noerror} NXDOMAIN ${a.nxdomain}; dnsmasq NOERROR ${b.noerror} NXDOMAIN ${b.nxdomain}`)
  } finally {
    for (const c of cleanups.reverse()) await c()
  }
}

if (cluster.isWorker) {
  worker().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
} else {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
