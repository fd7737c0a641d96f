// bench:netpol — what NetworkPolicy costs, on a real kernel in throwaway namespaces.
// One node (bench/proxy-topology.ts): pod1 connects to pod2:8080 across the node's bridge
// (judged in forward through br_netfilter). For 0, 100, 1,000 and 10,000 policies in the node:
//   - TCP connect latency pod1 → pod2 (handshake, 300 fresh connections; median and p99).
//     Row 0 has no policy at all (the floor); the others isolate pod2 with one policy letting
//     pod1 in, plus N-1 policies over N synthetic local pods, so every set holds ~N elements;
//   - full sync (table rebuilt, as at start or after a failure) and one-policy incremental sync;
//   - programming latency: a pod label change handed to the running controller (as its
//     informer would) until the transaction is in the kernel, p50/p99 over 20 changes.
import { randomBytes } from 'node:crypto'
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.js'
import { NftExec } from '../src/net/nft.js'
import { NetpolController } from '../src/netpol/controller.js'
import { ensureSysctls } from '../src/proxy/node.js'
import { buildTopology, connectMany } from './proxy-topology.js'

const SIZES = (process.env.BENCH_NETPOL_SIZES ?? '0,100,1000,10000').split(',').map(Number)
const CONNECTS = Number(process.env.BENCH_NETPOL_CONNECTS ?? 300)

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN
}

function pod(name: string, ip: string, labels: Record<string, string>): Pod {
  return { metadata: { namespace: 'bench', name, labels }, spec: { nodeName: 'bench-node', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] }, status: { phase: 'Running', podIP: ip } }
}

function policy(name: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { metadata: { namespace: 'bench', name }, spec }
}

/**
 * The controller with its runner on (as in the agent): a selected pod's label flipped, handed
 * over as the informer would, until the transaction is in the kernel. 20 changes.
 */
async function programmingLatency(node: string, pods: Pod[], namespaces: Namespace[], policies: NetworkPolicy[]): Promise<number[]> {
  const live = new NetpolController({ nft: new NftExec(node), nodeName: 'bench-node', source: { pods: () => pods, namespaces: () => namespaces, policies: () => policies } })
  const first = live.nextSync()
  live.setSynced()
  await first
  const lat: number[] = []
  for (let k = 0; k < 20; k++) {
    // a new object, as an informer delivers it (the core caches derived pods by identity)
    const prev = pods[2 + k]!
    const next: Pod = { ...prev, metadata: { ...prev.metadata, labels: { syn: `moved${k}` } } }
    pods[2 + k] = next
    const t0 = performance.now()
    const done = live.nextSync()
    live.onChange('pod', prev, next)
    await done
    lat.push(performance.now() - t0)
    pods[2 + k] = prev
    live.onChange('pod', next, prev)
    await live.nextSync()
  }
  await live.stop()
  return lat
}

async function main(): Promise<void> {
  const topo = await buildTopology(`nkbnp${randomBytes(2).toString('hex')}`, 2)
  // an interrupted run still removes its namespaces and servers
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void topo.destroy().finally(() => process.exit(130)))
  const rows: string[] = []
  try {
    await ensureSysctls(topo.node)
    const [client, server] = topo.pods
    const pods: Pod[] = [pod('pod1', client!.ip, { app: 'client' }), pod('pod2', server!.ip, { app: 'server' })]
    const namespaces: Namespace[] = [{ metadata: { name: 'bench', labels: { 'kubernetes.io/metadata.name': 'bench' } } }]
    let policies: NetworkPolicy[] = []
    const c = new NetpolController({ nft: new NftExec(topo.node), nodeName: 'bench-node', manual: true, source: { pods: () => pods, namespaces: () => namespaces, policies: () => policies } })
    c.setSynced()
    rows.push(
      '| policies | set elements | connect p50 ms | connect p99 ms | full sync ms | one-policy sync ms | programming p50 ms | programming p99 ms |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
    )
    let floor = NaN
    for (const n of SIZES) {
      policies = []
      // N synthetic local pods in 10.245.0.0/16 (no namespaces behind them: only their elements matter)
      pods.length = 2
      for (let i = 0; i < Math.max(n, 20); i++) pods.push(pod(`syn${i}`, `10.245.${i >> 8}.${i & 255}`, { syn: `s${i}` }))
      const maxN = Math.max(n, 1)
      if (n > 0) policies.push(policy('server', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 8080, protocol: 'TCP' }] }], policyTypes: ['Ingress'] }))
      for (let i = 1; i < n; i++)
        policies.push(policy(`p${i}`, { podSelector: { matchLabels: { syn: `s${i}` } }, ingress: [{ from: [{ podSelector: { matchLabels: { syn: `s${(i + 1) % maxN}` } } }], ports: [{ port: 80 + (i % 7), protocol: 'TCP' }] }], policyTypes: ['Ingress'] }))
      const full = await c.syncNow(true)
      // one policy edited: its port changes, a partial sync writes the element diff
      const one: number[] = []
      for (let k = 0; k < 5 && n > 1; k++) {
        const p = policies[1]!
        p.spec.ingress![0]!.ports![0]!.port = 1000 + k
        c.onChange('policy', undefined, p)
        one.push((await c.syncNow()).durationMs)
      }
      const lat = await programmingLatency(topo.node, pods, namespaces, policies)
      const r = await connectMany(client!.ns, server!.ip, 8080, CONNECTS)
      if (Object.keys(r.errors).length) throw new Error(`connects failed at ${n} policies: ${JSON.stringify(r.errors)}`)
      const p50 = q(r.times, 0.5)
      if (n === 0) floor = p50
      rows.push(
        `| ${n} | ${full.elements} | ${p50.toFixed(3)}${n && Number.isFinite(floor) ? ` (${(((p50 - floor) / floor) * 100).toFixed(1)} %)` : ''} | ${q(r.times, 0.99).toFixed(3)} | ${full.durationMs.toFixed(0)} | ${one.length ? q(one, 0.5).toFixed(1) : '-'} | ${q(lat, 0.5).toFixed(1)} | ${q(lat, 0.99).toFixed(1)} |`,
      )
      process.stderr.write(`${rows[rows.length - 1]}\n`)
    }
  } finally {
    await topo.destroy()
  }
  process.stdout.write(`${rows.join('\n')}\n`)
}

await main()
