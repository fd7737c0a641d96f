// bench:overlay — the overlay's data path and control-plane latency, on this machine's kernel,
// inside namespaces this run creates (removed at the end, also on failure).
//
//   1. TCP throughput pod → pod with iperf3: across nodes over VXLAN and over host-gw, against
//      the baseline: two pods on the same node over the cni0 bridge (ratio = cross / same).
//   2. Join latency: a new node's lease written to etcd → its route present on every other
//      node (p50/p99 over 20 joins) with the watch-driven agents, against the baseline measured
//      the same way: the same agents restarted with --no-watch, so only the periodic reconcile
//      (a lease re-list every BENCH_POLL_MS) programs the route.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Etcd3 } from 'etcd3'
import { startEtcd } from '../src/etcd/process.js'
import { canSetns } from '../src/net/netns.js'
import { openRtnl, type Rtnl } from '../src/net/rtnl.js'
import { run } from '../src/util/exec.js'
import { Lab, until, type Node, type Pod } from '../test/overlay/harness.js'

const PREFIX = '/coreos.com/network'
const CONFIG = { Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } }
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const SECONDS = Number(process.env.BENCH_IPERF_SECONDS ?? 5)
const JOINS = Number(process.env.BENCH_JOINS ?? 20)
// the polling baseline's interval; the lab's watch-driven agents also reconcile every 1000 ms
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 1000)

const RUNS = Number(process.env.BENCH_IPERF_RUNS ?? 3)

/** Median of RUNS iperf3 runs (the machine is shared: single runs are noisy). */
async function iperf(lab: Lab, from: Pod, to: Pod): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < RUNS; i++) xs.push(await iperfOnce(lab, from, to))
  return pct(xs, 50)
}

async function iperfOnce(lab: Lab, from: Pod, to: Pod): Promise<number> {
  const srv = lab.spawn('ip', ['netns', 'exec', to.ns, 'iperf3', '-s', '-1', '-p', '5201'], `iperf-${to.ns}.log`)
  await until('iperf3 server', async () => (await run('ip', ['netns', 'exec', to.ns, 'ss', '-ltn'])).stdout.includes(':5201'))
  const r = await run('ip', ['netns', 'exec', from.ns, 'iperf3', '-c', to.ip, '-p', '5201', '-t', String(SECONDS), '-J'], { timeoutMs: (SECONDS + 20) * 1000 })
  await until('iperf3 server exit', () => srv.exitCode !== null || srv.signalCode !== null, 10000)
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }
  return j.end.sum_received.bits_per_second / 1e9
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** Poll the route table of each node until `dst` is there (netlink when possible: ~0.1 ms a poll). */
async function routePresent(socks: Map<string, Rtnl>, nodes: Node[], dst: string, want: boolean): Promise<void> {
  const pending = new Set(nodes)
  const deadline = Date.now() + 15000
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`route ${dst} ${want ? 'not programmed' : 'not removed'} on ${[...pending].map((n) => n.name).join(',')}`)
    for (const n of [...pending]) {
      const rt = socks.get(n.ns)
      const has = rt
        ? (await rt.listRoutes({ family: 4 })).some((r) => r.dst === dst)
        : (await run('ip', ['-n', n.ns, 'route', 'show', dst])).stdout.trim() !== ''
      if (has === want) pending.delete(n)
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 1))
  }
}

/** `JOINS` lease puts, each timed until its route is on every node, then deleted (and gone). */
async function joinLatencies(client: Etcd3, socks: Map<string, Rtnl>, nodes: Node[]): Promise<number[]> {
  const lat: number[] = []
  for (let k = 0; k < JOINS; k++) {
    const subnet = `10.5.${200 + k}.0`
    const key = `${PREFIX}/subnets/${subnet}-24`
    const mac = `0e:00:00:00:01:${(k + 16).toString(16)}`
    // a random phase against the agents' timers: back-to-back joins would each start right
    // after the pass that programmed the previous one and always wait a whole interval
    await new Promise((r) => setTimeout(r, Math.random() * POLL_MS))
    const t0 = performance.now()
    await client.put(key).value(JSON.stringify({ PublicIP: `192.168.56.${100 + k}`, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } }))
    await routePresent(socks, nodes, `${subnet}/24`, true)
    lat.push(performance.now() - t0)
    await client.delete().key(key)
    await routePresent(socks, nodes, `${subnet}/24`, false)
  }
  return lat
}

/** Restart every agent with `extra` flags and wait until each has started anew. */
async function restartAgents(lab: Lab, extra: string[]): Promise<void> {
  const started = (n: Node): number => lab.agentLog(n).split('overlay ready').length - 1
  for (const n of lab.nodes) await lab.stopAgent(n)
  const before = new Map(lab.nodes.map((n) => [n, started(n)]))
  for (const n of lab.nodes) lab.startAgent(n, extra)
  for (const n of lab.nodes) await until(`${n.name} agent restarted`, () => started(n) > before.get(n)!, 20000)
}

async function main(): Promise<void> {
  const prefix = `nk${randomBytes(2).toString('hex')}`
  const dir = mkdtempSync(join(tmpdir(), 'nk-bench-overlay-'))
  const etcd = await startEtcd({ dataDir: join(dir, 'etcd') })
  const client = new Etcd3({ hosts: etcd.endpoint })
  const lab = new Lab(prefix, dir, etcd.endpoint, CLI)
  const socks = new Map<string, Rtnl>()
  try {
    await client.put(`${PREFIX}/config`).value(JSON.stringify(CONFIG))
    await lab.up()
    for (let i = 1; i <= 3; i++) await lab.addNode(i)
    const [n1, n2] = lab.nodes as [Node, Node, Node]
    for (const n of lab.nodes) lab.startAgent(n)
    for (const n of lab.nodes) await until(`${n.name} subnet.env`, () => lab.subnetEnv(n), 20000)
    await lab.addPods(n1, 2)
    await lab.addPods(n2, 1)
    await until('overlay routes', async () => (await run('ip', ['-n', n1.ns, 'route'])).stdout.split('flannel.1').length > 2, 20000)

    // --- throughput
    const same = await iperf(lab, n1.pods[0]!, n1.pods[1]!)
    const vxlan = await iperf(lab, n1.pods[0]!, n2.pods[0]!)

    // --- join latency (VXLAN agents, watch-driven)
    if (canSetns()) for (const n of lab.nodes) socks.set(n.ns, openRtnl(n.ns))
    const lat = await joinLatencies(client, socks, lab.nodes)

    // --- the baseline: periodic reconcile alone (no watch), every POLL_MS
    await restartAgents(lab, ['--no-watch', '--reconcile-interval', String(POLL_MS)])
    const polled = await joinLatencies(client, socks, lab.nodes)

    // --- host-gw
    await client.put(`${PREFIX}/config`).value(JSON.stringify({ ...CONFIG, Backend: { Type: 'host-gw' } }))
    await restartAgents(lab, [])
    const sub2 = lab.subnetEnv(n2)!.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0/24')
    await until('host-gw route', async () => (await run('ip', ['-n', n1.ns, 'route', 'show', sub2])).stdout.includes(`via ${n2.ip} dev eth0`), 20000)
    const hostgw = await iperf(lab, n1.pods[0]!, n2.pods[0]!)

    const f = (x: number) => x.toFixed(2)
    console.log(`\noverlay bench (median of ${RUNS} × ${SECONDS} s iperf3 runs, one TCP stream, 2 cores shared)\n`)
    console.log('| path (pod → pod, TCP)                 | Gbit/s | ratio to baseline |')
    console.log('|---------------------------------------|-------:|------------------:|')
    console.log(`| same node over cni0 bridge (baseline) | ${f(same).padStart(6)} |              1.00 |`)
    console.log(`| cross node, VXLAN (MTU 1450)          | ${f(vxlan).padStart(6)} | ${f(vxlan / same).padStart(17)} |`)
    console.log(`| cross node, host-gw (MTU 1450)        | ${f(hostgw).padStart(6)} | ${f(hostgw / same).padStart(17)} |`)
    console.log(`\n| join: lease in etcd → route on all 3 nodes (${JOINS} joins), ms | watch-driven agents | baseline: periodic reconcile only (--no-watch, every ${POLL_MS} ms) |`)
    console.log('|---|---:|---:|')
    for (const [label, q] of [['p50', 50], ['p99', 99]] as const) console.log(`| ${label} | ${f(pct(lat, q))} | ${f(pct(polled, q))} |`)
    console.log(`| max | ${f(Math.max(...lat))} | ${f(Math.max(...polled))} |`)
    console.log(`| p50 ratio to baseline | ${f(pct(lat, 50) / pct(polled, 50))} | 1.00 |`)
    console.log(`\nroute polling by the bench: ${socks.size ? 'netlink socket per node namespace' : 'ip route (no setns addon)'}`)
  } finally {
    for (const s of socks.values()) s.close()
    await lab.down().catch((e: Error) => console.error('lab down:', e.message))
    client.close()
    await etcd.stop()
    // BENCH_KEEP=1 keeps the agents' logs (their 'kernel reconciled' lines carry per-sync ms)
    if (process.env.BENCH_KEEP === '1') console.log(`logs kept in ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err))
  process.exitCode = 1
})
