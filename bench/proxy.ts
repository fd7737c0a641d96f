// bench:proxy — sync cost and connect latency of the service proxy at 1k/5k/10k Services
// (5 endpoints each), applied to a real kernel inside throwaway namespaces.
// Baseline: netkube's own iptables mode (upstream's iptables proxier layout, legacy
// iptables-restore), measured in the same run on the same namespaces.
// Upstream reference (kube-proxy nftables KEP-3866 motivation): iptables-mode rule updates
// grow with the number of services; nftables' verdict maps make the per-packet cost
// independent of it — the first-vs-last connect latency column shows whether that holds here.
import { randomBytes } from 'node:crypto'
import type { EndpointSlice, Service } from '../src/api/types.js'
import { NftExec } from '../src/net/nft.js'
import { nsenterRun } from '../src/net/netns.js'
import type { ProxyBackend } from '../src/proxy/backend.js'
import { IptablesBackend, IptablesExec } from '../src/proxy/iptables.js'
import { NftBackend } from '../src/proxy/nft-backend.js'
import { NFT_TABLE } from '../src/proxy/nftables.js'
import { ensureNodePrerequisites } from '../src/proxy/node.js'
import { Proxier } from '../src/proxy/proxier.js'
import { buildTopology, connectMany, type Topology } from './proxy-topology.js'

const SIZES = (process.env.BENCH_PROXY_SIZES ?? '1000,5000,10000').split(',').map(Number)
const IPT_MAX = Number(process.env.BENCH_PROXY_IPTABLES_MAX ?? 10000)
const EPS = 5

function clusterIP(i: number): string {
  const n = i + 256 // 10.96.1.0 upward: 10k services stay inside 10.96.0.0/12
  return `10.96.${n >> 8}.${n & 255}`
}

function service(i: number): Service {
  return {
    metadata: { name: `svc-${i}`, namespace: 'bench' },
    spec: { type: 'ClusterIP', clusterIP: clusterIP(i), ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  }
}

function endpointSlice(i: number, pods: string[], notReady = -1): EndpointSlice {
  return {
    metadata: { name: `svc-${i}-x`, namespace: 'bench', labels: { 'kubernetes.io/service-name': `svc-${i}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: pods.map((ip, k) => ({ addresses: [ip], nodeName: 'bench-node', conditions: { ready: k !== notReady } })),
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

interface Row {
  mode: string
  services: number
  rules: number
  fullMs: number
  incrMs: number
  firstUs?: number
  lastUs?: number
}

type Mode = 'nftables' | 'nft-cascade' | 'iptables'

async function measure(topo: Topology, mode: Mode, n: number, latency: boolean): Promise<Row> {
  const backend: ProxyBackend =
    mode !== 'iptables'
      ? new NftBackend(new NftExec(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: mode === 'nftables' ? 'vmap' : 'cascade' })
      : new IptablesBackend(new IptablesExec(topo.node), { clusterCIDR: topo.clusterCIDR })
  const p = new Proxier({
    backend,
    node: { name: 'bench-node', ips: [topo.nodeIP], clusterCIDR: topo.clusterCIDR, serviceCIDR: topo.serviceCIDR },
    manual: true,
    minSyncMs: 0,
  })
  // each size starts from an empty namespace: a full sync also deletes the previous table,
  // which would charge one size for the previous one's teardown
  await nsenterRun(topo.node, 'nft', ['delete', 'table', 'ip', NFT_TABLE], { allowFailure: true })
  const pods = topo.pods.map((x) => x.ip)
  const slices: EndpointSlice[] = []
  for (let i = 0; i < n; i++) {
    p.onService(undefined, service(i))
    slices.push(endpointSlice(i, pods))
    p.onEndpointSlice(undefined, slices[i]!)
  }
  p.setSynced()
  const t0 = performance.now()
  const { rules } = await p.syncNow()
  const fullMs = performance.now() - t0
  // one endpoint of one service in the middle turns not-ready, then back: 6 partial syncs
  const incr: number[] = []
  const mid = Math.floor(n / 2)
  for (let k = 0; k < 6; k++) {
    const next = endpointSlice(mid, pods, k % 2 === 0 ? 2 : -1)
    p.onEndpointSlice(slices[mid], next)
    slices[mid] = next
    const t1 = performance.now()
    await p.syncNow()
    incr.push(performance.now() - t1)
  }
  const row: Row = { mode, services: n, rules, fullMs, incrMs: median(incr) }
  if (latency) {
    for (const [which, idx] of [['firstUs', 0], ['lastUs', n - 1]] as const) {
      const r = await connectMany(topo.client, clusterIP(idx), 80, 200, 2000)
      if (Object.keys(r.errors).length) throw new Error(`${mode} ${which}: errors ${JSON.stringify(r.errors)}`)
      row[which] = median(r.times.slice(20)) * 1000
    }
  }
  return row
}

async function main(): Promise<void> {
  const prefix = `nkb${randomBytes(2).toString('hex')}`
  const topo = await buildTopology(prefix, EPS)
  const rows: Row[] = []
  try {
    await ensureNodePrerequisites(topo.node, topo.serviceCIDR, topo.clusterCIDR)
    await new Promise((r) => setTimeout(r, 300))
    for (const mode of ['nft-cascade', 'nftables'] as const)
      for (const n of SIZES) {
        const row = await measure(topo, mode, n, n === Math.max(...SIZES))
        rows.push(row)
        process.stderr.write(`${mode} ${n}: full ${row.fullMs.toFixed(0)} ms, incremental ${row.incrMs.toFixed(1)} ms\n`)
      }
    await nsenterRun(topo.node, 'nft', ['delete', 'table', 'ip', NFT_TABLE], { allowFailure: true })
    for (const n of SIZES.filter((s) => s <= IPT_MAX)) {
      const row = await measure(topo, 'iptables', n, n === Math.max(...SIZES))
      rows.push(row)
      process.stderr.write(`iptables ${n}: full ${row.fullMs.toFixed(0)} ms, incremental ${row.incrMs.toFixed(1)} ms\n`)
    }
  } finally {
    await topo.destroy()
  }
  const fmt = (x: number | undefined, d = 0): string => (x === undefined ? '—' : x.toFixed(d))
  const lines = [
    `bench:proxy — ${EPS} endpoints per service, one node namespace, kernel ${(await import('node:os')).release()}`,
    'baseline: iptables mode (iptables-legacy-restore, upstream iptables proxier layout), same run',
    "nftables = upstream's numgen vmap dispatch; nft-cascade = `numgen random mod (N-i) == 0 goto` rules (no anonymous sets)",
    '',
    '| mode        | services |   rules | full sync ms | 1-endpoint sync ms | connect first µs | connect last µs |',
    '|-------------|---------:|--------:|-------------:|-------------------:|-----------------:|----------------:|',
    ...rows.map(
      (r) =>
        `| ${r.mode.padEnd(11)} | ${String(r.services).padStart(8)} | ${String(r.rules).padStart(7)} | ${fmt(r.fullMs).padStart(12)} | ${fmt(r.incrMs, 1).padStart(18)} | ${fmt(r.firstUs).padStart(16)} | ${fmt(r.lastUs).padStart(15)} |`,
    ),
  ]
  for (const n of SIZES) {
    const b = rows.find((r) => r.mode === 'iptables' && r.services === n)
    for (const m of ['nftables', 'nft-cascade']) {
      const a = rows.find((r) => r.mode === m && r.services === n)
      if (a && b) lines.push(`${n} services: ${m}/iptables full ${(a.fullMs / b.fullMs).toFixed(2)}x, one-endpoint ${(a.incrMs / b.incrMs).toFixed(3)}x`)
    }
  }
  process.stdout.write(lines.join('\n') + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:proxy: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exitCode = 1
})
