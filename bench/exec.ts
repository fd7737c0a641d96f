// npm run bench:exec — the streaming verbs against a 1-node lab, each beside its floor measured
// in the same run:
//   `kubectl exec pod -- true` round-trip (kubectl 1.27: SPDY/3.1; 1.33: WebSocket v5), p50/p99
//     vs `ip netns exec <pod netns> true` (what starting a process in the pod costs at least);
//   port-forward throughput, MiB/s over 1 connection and over 16 concurrent ones (kubectl 1.27:
//     SPDY; 1.33: SPDY inside WebSocket) vs a direct TCP connection to the pod IP from the node
//     namespace. The same client (socat | wc -c, reading to EOF) reads from the same server in
//     the pod in every row: each connection is a download of a fixed size (port 9000: the
//     single-connection size, 9001: a 16th of it), ended by the pod closing it. Not an endless
//     /dev/zero cut short by the client: a kubectl SPDY client (spdystream) whose local reader
//     has gone stops reading the whole connection once one more DATA frame for that stream
//     arrives (its frame worker blocks on the stream's unbuffered channel), so every later
//     stream's SYN_REPLY times out — a client-side deadlock no server can prevent.
// BENCH_EXEC_N (default 30) exec round-trips per row; BENCH_EXEC_MIB (default 256) MiB per
// single-connection read, a 16th of it per connection in the concurrent rows.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { labUp, labDown } from '../src/lab/lab.js'
import { createClient } from '../src/client/rest.js'
import { loadKubeconfig } from '../src/client/kubeconfig.js'
import { resourceFor } from '../src/api/resources.js'
import type { Pod } from '../src/api/types.js'
import { netnsHandle } from '../src/net/door.js'
import { freePort } from '../src/util/ports.js'

const N = Number(process.env.BENCH_EXEC_N ?? 30)
const MIB = Number(process.env.BENCH_EXEC_MIB ?? 256)
const PORT = 9000
const PER = Math.max(1, Math.floor(MIB / 16))
/** A pod-side server: every connection gets `mib` MiB of zeros, then the pod closes it. */
const serve = (port: number, mib: number): string => `socat -U TCP-LISTEN:${port},fork,reuseaddr SYSTEM:'head -c ${mib * 1024 * 1024} /dev/zero'`

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await fn()
    out.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return out.sort((a, b) => a - b)
}

/**
 * MiB/s reading `conns` × `mib` MiB at once from host:port, the client run inside `netns`
 * (undefined: here), and how many connections came back short (counted, not hidden).
 */
async function throughput(netns: string | undefined, host: string, port: number, conns: number, mib: number): Promise<{ mibps: number; short: number }> {
  const bytes = mib * 1024 * 1024
  const one = (): Promise<number> => netnsHandle(netns).run('sh', ['-c', `socat -u TCP:${host}:${port} STDOUT | wc -c`]).then((r) => Number(r.stdout.trim()))
  const t0 = process.hrtime.bigint()
  const got = await Promise.all(Array.from({ length: conns }, one))
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  return { mibps: got.reduce((a, b) => a + b, 0) / (1024 * 1024) / s, short: got.filter((b) => b !== bytes).length }
}

async function portForward(kubectl: string, kubeconfig: string, pod: string, podPort: number): Promise<{ port: number; stop: () => void }> {
  const port = await freePort()
  const child = netnsHandle().spawn([kubectl, '--kubeconfig', kubeconfig, 'port-forward', `pod/${pod}`, `${port}:${podPort}`], { stdio: 'pipe' })
  await new Promise<void>((resolve, reject) => {
    let err = ''
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('Forwarding from') && resolve())
    child.once('exit', () => reject(new Error(`port-forward exited: ${err}`)))
  })
  return { port, stop: () => child.kill('SIGKILL') }
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-bench-exec-'))
  const name = `bx${randomBytes(2).toString('hex')}`
  try {
    const state = await labUp({ name, nodes: 1, stateDir, apiPort: 0, serverFlags: ['--no-dns'], progress: (l) => process.stderr.write(`${l}\n`) })
    const kc = state.kubeconfig!
    const client = createClient(loadKubeconfig(kc))
    const pods = client.resource<Pod>(resourceFor('pods'), 'default')
    await pods.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'bench' },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', `${serve(PORT, MIB)} & exec ${serve(PORT + 1, PER)}`] }] },
    } as Pod)
    let pod: Pod | undefined
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      pod = await pods.get('bench')
      if (pod.status?.containerStatuses?.[0]?.state?.running && pod.status.podIP) break
    }
    if (!pod?.status?.podIP) throw new Error('the bench pod did not start within 60 s')
    await new Promise((r) => setTimeout(r, 2000))
    pod = await pods.get('bench')
    if (!pod.status?.containerStatuses?.[0]?.state?.running) throw new Error(`the bench pod stopped: ${JSON.stringify(pod.status?.containerStatuses)}`)
    const uid12 = pod.metadata.uid!.replace(/-/g, '').slice(0, 12)
    const podNs = readdirSync('/run/netns').find((n) => n.endsWith(uid12))
    if (!podNs) throw new Error(`no pod namespace ending in ${uid12}`)
    const podIP = pod.status.podIP!
    const nodeNs = state.plan.nodes[0]!.netns
    // The bundled clients, each speaking its own protocols (the dispatcher would pick one for all).
    const k = (v: string): string => `/usr/lib/google-cloud-sdk/bin/kubectl.${v}`

    const rows: [string, number[]][] = []
    for (const v of ['1.27', '1.33']) rows.push([`\`kubectl ${v} exec bench -- true\``, await timeEach(N, () => netnsHandle().run(k(v), ['--kubeconfig', kc, 'exec', 'bench', '--', 'true']))])
    rows.unshift(['`ip netns exec <pod> true` (floor)', await timeEach(N, () => netnsHandle(podNs).run('true', [], { etc: 'netns' }))])
    const floor = pct(rows[0]![1], 50)
    console.log(`\nexec round-trip, ${N} runs each, 1-node lab (apiserver -> kubelet HTTPS -> nsenter)`)
    console.log('| command | p50 | p99 | p50 / floor |')
    console.log('|---|---|---|---|')
    for (const [what, xs] of rows) console.log(`| ${what} | ${pct(xs, 50).toFixed(1)} ms | ${pct(xs, 99).toFixed(1)} ms | ${(pct(xs, 50) / floor).toFixed(1)}x |`)

    const per = PER
    const direct1 = await throughput(nodeNs, podIP, PORT, 1, MIB)
    const direct16 = await throughput(nodeNs, podIP, PORT + 1, 16, per)
    const tp: [string, Awaited<ReturnType<typeof throughput>>, Awaited<ReturnType<typeof throughput>>][] = [['direct TCP from the node namespace (floor)', direct1, direct16]]
    for (const v of ['1.27', '1.33']) {
      const pf = await portForward(k(v), kc, 'bench', PORT)
      const pf16 = await portForward(k(v), kc, 'bench', PORT + 1)
      try {
        tp.push([`kubectl ${v} port-forward`, await throughput(undefined, '127.0.0.1', pf.port, 1, MIB), await throughput(undefined, '127.0.0.1', pf16.port, 16, per)])
      } finally {
        pf.stop()
        pf16.stop()
      }
    }
    const cell = (x: { mibps: number; short: number }): string => `${x.mibps.toFixed(0)} MiB/s${x.short ? ` (${x.short} short)` : ''}`
    console.log(`\nport-forward throughput: 1 connection reading ${MIB} MiB, 16 concurrent reading ${per} MiB each`)
    console.log('| path | 1 conn | 16 conns | 1 conn / floor | 16 conns / floor |')
    console.log('|---|---|---|---|---|')
    for (const [what, a, b] of tp) console.log(`| ${what} | ${cell(a)} | ${cell(b)} | ${(a.mibps / direct1.mibps).toFixed(3)} | ${(b.mibps / direct16.mibps).toFixed(3)} |`)
    if (tp.some(([, a, b]) => a.short || b.short)) process.exitCode = 1
    console.log('\n(2 shared cores: figures taken while other work runs are noisy)')
  } finally {
    await labDown({ name, stateDir, progress: () => {} }).catch((e: Error) => process.stderr.write(`lab down: ${e.message}\n`))
    rmSync(stateDir, { recursive: true, force: true })
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message)
  process.exitCode = 1
})
