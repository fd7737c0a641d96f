// bench:proxy — sync cost and connect latency of the service proxy at 1k/10k/50k Services
// (5 endpoints each), applied to a real kernel inside throwaway namespaces.
// Compared, in the same run on the same namespaces:
//   nft-maps      the maps layout (nft-maps.ts): Services as elements in one table, netlink batches, adoption by netlink dumps
//   nft-netlink   cascade dispatch (no anonymous sets), changes as netlink
//                 batches over a kept socket, cold start in chunks, restarts diff the kernel's table
//   nftables      upstream's nftables proxier layout (numgen vmap dispatch), every sync `nft -f`
//   nft-cascade   the same with `numgen random mod (N-i) == 0 goto` rules (no anonymous sets)
//   iptables      the baseline: upstream's iptables proxier with partial syncs
//                 (MinimizeIPTablesRestore: only changed Services' chains, --noflush)
//   iptables-full the strawman: every sync rewrites every chain (partial syncs off)
// Each mode's one-time set-up (table/chains/built-in jumps from a pristine namespace, with no
// Services) is its own column, measured before and apart from the first full sync of N
// Services; then a full resync (start of a restarted proxy, after a failure, hourly) and the
// steady state: one endpoint of one Service toggled, a partial sync each time.
// Upstream reference (kube-proxy nftables KEP-3866 motivation): iptables-mode rule updates
// grow with the number of services; nftables' verdict maps make the per-packet cost
// independent of it — the first-vs-last connect latency column shows whether that holds here.
import { randomBytes } from 'node:crypto'
import type { EndpointSlice, Service } from '../src/api/types.js'
import { NftExec } from '../src/net/nft.js'
import { nsenterRun } from '../src/net/netns.js'
import type { ProxyBackend, SyncInput, SyncStats } from '../src/proxy/backend.js'
import { IptablesBackend, IptablesExec } from '../src/proxy/iptables.js'
import { NftBackend } from '../src/proxy/nft-backend.js'
import { NftNetlinkRunner } from '../src/net/nft-netlink.js'
import { NFT_CHUNK_OPS, NFT_SHARDS } from '../src/proxy/index.js'
import { NFT_TABLE } from '../src/proxy/nftables.js'
import { ensureNodePrerequisites } from '../src/proxy/node.js'
import { Proxier } from '../src/proxy/proxier.js'
import { buildTopology, connectMany, type Topology } from './proxy-topology.js'

const SIZES = (process.env.BENCH_PROXY_SIZES ?? '1000,10000,50000').split(',').map(Number)
// the baselines grow too fast to run at every size (vmap: quadratic, 88 s at 10k)
const IPT_MAX = Number(process.env.BENCH_PROXY_IPTABLES_MAX ?? 10000)
const VMAP_MAX = Number(process.env.BENCH_PROXY_VMAP_MAX ?? 10000)
const CASCADE_MAX = Number(process.env.BENCH_PROXY_CASCADE_MAX ?? 10000)
const NETLINK_MAX = Number(process.env.BENCH_PROXY_NETLINK_MAX ?? 10000)
const maxFor = (m: Mode): number =>
  m.startsWith('iptables') ? IPT_MAX : m === 'nftables' ? VMAP_MAX : m === 'nft-cascade' ? CASCADE_MAX : m === 'nft-netlink' ? NETLINK_MAX : Infinity
const EPS = 5

function clusterIP(i: number): string {
  const n = i + 256 // 10.96.1.0 upward: 50k services stay inside 10.96.0.0/12
  return `10.${96 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`
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

type Mode = 'nft-maps' | 'nft-netlink' | 'nftables' | 'nft-cascade' | 'iptables' | 'iptables-full'
const MODES: readonly Mode[] = (process.env.BENCH_PROXY_MODES?.split(',') as Mode[] | undefined) ?? ['nft-maps', 'nft-netlink', 'nftables', 'iptables']
const CHANGES = Number(process.env.BENCH_PROXY_CHANGES ?? 6)

interface Row {
  mode: Mode
  services: number
  rules: number
  setupMs: number
  firstFullMs: number
  resyncMs: number
  changeMs: number
  /** this process's CPU (user+system) for the first full sync and the median change: the machine's load inflates wall times, not these */
  firstFullCpuMs: number
  changeCpuMs: number
  /** what one change sync sent: nft transaction ops, or iptables restore bytes + chains */
  changeWritten: string
  /** the restart over an unchanged table: CPU, and ops written (0 when it adopts) */
  resyncCpuMs: number
  resyncWritten: number
  /** restart over a table with 1% of the Services changed meanwhile (nft-netlink only) */
  adopt1pctMs?: number
  adopt1pctCpuMs?: number
  /** ops the 1% restart wrote (the changed Services' elements only, if adoption works) */
  adopt1pctWritten?: number
  firstUs?: number
  lastUs?: number
  /** this process after the syncs (it is the proxy): resident set and live heap, MB */
  rssMB?: number
  heapMB?: number
}

/** Remembers what the wrapped backend last wrote (the proxier keeps only rules/chains). */
class Recording implements ProxyBackend {
  last: SyncStats | undefined
  constructor(readonly inner: ProxyBackend) {}
  get mode(): ProxyBackend['mode'] {
    return this.inner.mode
  }
  async sync(input: SyncInput): Promise<SyncStats> {
    this.last = await this.inner.sync(input)
    return this.last
  }
  close(): void {
    this.inner.close?.()
  }
}

function backendFor(topo: Topology, mode: Mode): ProxyBackend {
  if (mode === 'nft-maps')
    return new NftBackend(new NftNetlinkRunner(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'maps' }, { adopt: true, chunkOps: NFT_CHUNK_OPS })
  if (mode === 'nft-netlink')
    return new NftBackend(new NftNetlinkRunner(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'cascade' }, { adopt: true, chunkOps: NFT_CHUNK_OPS, shards: NFT_SHARDS })
  if (mode === 'nftables' || mode === 'nft-cascade')
    return new NftBackend(new NftExec(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: mode === 'nftables' ? 'vmap' : 'cascade' })
  return new IptablesBackend(new IptablesExec(topo.node), { clusterCIDR: topo.clusterCIDR, minimizeRestore: mode === 'iptables' })
}

function proxierFor(backend: ProxyBackend, topo: Topology): Proxier {
  return new Proxier({
    backend,
    node: { name: 'bench-node', ips: [topo.nodeIP], clusterCIDR: topo.clusterCIDR, serviceCIDR: topo.serviceCIDR },
    manual: true,
    minSyncMs: 0,
  })
}

/** Back to a namespace no proxy ever ran in: no nft table, no KUBE-* chains or jumps. */
async function pristine(topo: Topology): Promise<void> {
  await nsenterRun(topo.node, 'nft', ['delete', 'table', 'ip', NFT_TABLE], { allowFailure: true })
  const tables = (await nsenterRun(topo.node, 'nft', ['list', 'tables', 'ip'])).stdout
  const shards = [...tables.matchAll(new RegExp(`^table ip (${NFT_TABLE}-\\d+)$`, 'gm'))].map((m) => `delete table ip ${m[1]}`)
  if (shards.length) await nsenterRun(topo.node, 'nft', ['-f', '-'], { input: shards.join('\n') + '\n' })
  // without --noflush, restore empties the named tables and deletes their user chains
  await nsenterRun(topo.node, 'iptables-legacy-restore', ['-w'], { input: '*nat\nCOMMIT\n*filter\nCOMMIT\n' })
}

const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}
let lastCpuMs = 0
/** timed, and the CPU this process spent meanwhile in lastCpuMs */
const timedCpu = async (f: () => Promise<unknown>): Promise<number> => {
  const c0 = process.cpuUsage()
  const ms = await timed(f)
  const c = process.cpuUsage(c0)
  lastCpuMs = (c.user + c.system) / 1000
  return ms
}

async function measure(topo: Topology, mode: Mode, n: number, latency: boolean): Promise<Row> {
  // every size starts from a pristine namespace: a full sync also replaces what is there,
  // which would charge one size for the previous one's teardown
  await pristine(topo)
  // set-up: a proxy with no Services creates its table / chains / built-in jumps
  const emptyBackend = backendFor(topo, mode)
  const empty = proxierFor(emptyBackend, topo)
  empty.setSynced()
  const setupMs = await timed(() => empty.syncNow())
  emptyBackend.close?.()

  const pods = topo.pods.map((x) => x.ip)
  const slices: EndpointSlice[] = []
  const feed = (p: Proxier): void => {
    for (let i = 0; i < n; i++) {
      p.onService(undefined, service(i))
      slices[i] ??= endpointSlice(i, pods)
      p.onEndpointSlice(undefined, slices[i]!)
    }
    p.setSynced()
  }
  // first full sync of N Services onto the set-up namespace (a fresh backend: nothing known)
  let firstFullMs: number
  let firstFullCpuMs: number
  {
    // its own scope: only one proxy's state is alive when memory is read below
    const backend = new Recording(backendFor(topo, mode))
    const first = proxierFor(backend, topo)
    feed(first)
    firstFullMs = await timedCpu(() => first.syncNow())
    firstFullCpuMs = lastCpuMs
    backend.inner.close?.()
  }
  // full resync over N existing Services: what a restarted proxy (or a failure, or the hourly
  // resync) costs: a new backend (nothing in memory) and a new proxier, so its first sync is full
  const restarted = new Recording(backendFor(topo, mode))
  const p = proxierFor(restarted, topo)
  feed(p)
  let rules = 0
  const resyncMs = await timedCpu(async () => ({ rules } = await p.syncNow()))
  const resyncCpuMs = lastCpuMs
  const resyncWritten = restarted.last?.written ?? 0
  // steady state: one endpoint of one Service in the middle turns not-ready, then back
  const times: number[] = []
  const cpus: number[] = []
  const mid = Math.floor(n / 2)
  for (let k = 0; k < CHANGES; k++) {
    const next = endpointSlice(mid, pods, k % 2 === 0 ? 2 : -1)
    p.onEndpointSlice(slices[mid], next)
    slices[mid] = next
    times.push(
      await timedCpu(async () => {
        if ((await p.syncNow()).full) throw new Error(`${mode}: a one-endpoint change ran a full sync`)
      }),
    )
    cpus.push(lastCpuMs)
  }
  const w = restarted.last?.written ?? 0
  const ipt = restarted.inner instanceof IptablesBackend ? restarted.inner.last : undefined
  const changeWritten = ipt ? `${(w / 1024).toFixed(1)} kB, ${ipt.written} chains` : `${w} ops`
  const row: Row = { mode, services: n, rules, setupMs, firstFullMs, resyncMs, changeMs: median(times), changeWritten, firstFullCpuMs, changeCpuMs: median(cpus), resyncCpuMs, resyncWritten }
  if (mode === 'nft-netlink' || mode === 'nft-maps') {
    // a restart while 1% of the Services changed (one endpoint each): the adoption writes that much
    const changed = new Set<number>()
    for (let i = 0; i < n; i += 100) changed.add(i)
    {
      const qBackend = new Recording(backendFor(topo, mode))
      const q = proxierFor(qBackend, topo)
      for (let i = 0; i < n; i++) {
        q.onService(undefined, service(i))
        q.onEndpointSlice(undefined, changed.has(i) ? endpointSlice(i, pods, 1) : slices[i]!)
      }
      q.setSynced()
      row.adopt1pctMs = await timedCpu(() => q.syncNow())
      row.adopt1pctCpuMs = lastCpuMs
      row.adopt1pctWritten = qBackend.last?.written
      qBackend.close?.()
    }
    for (const i of changed) slices[i] = endpointSlice(i, pods, 1)
    // memory with one proxy alive (the restarted one, p): the first and the 1% ones are gone
    ;(globalThis as { gc?: () => void }).gc?.()
    const mem = process.memoryUsage()
    row.rssMB = mem.rss / 2 ** 20
    row.heapMB = mem.heapUsed / 2 ** 20
  }
  restarted.close?.()
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
  let prereqMs = 0
  try {
    // shared by every mode: measured once, in no mode's row
    prereqMs = await timed(() => ensureNodePrerequisites(topo.node, topo.serviceCIDR, topo.clusterCIDR))
    await new Promise((r) => setTimeout(r, 300))
    // size-major, modes interleaved: drift in the machine's load spreads over every mode
    for (const n of SIZES)
      for (const mode of MODES.filter((m) => n <= maxFor(m))) {
        const row = await measure(topo, mode, n, n === Math.max(...SIZES.filter((x) => x <= maxFor(mode))))
        rows.push(row)
        process.stderr.write(
          `${mode} ${n}: set-up ${row.setupMs.toFixed(0)} ms, first full ${row.firstFullMs.toFixed(0)} ms, resync ${row.resyncMs.toFixed(0)} ms, change ${row.changeMs.toFixed(1)} ms\n`,
        )
      }
    await pristine(topo)
  } finally {
    await topo.destroy()
  }
  const fmt = (x: number | undefined, d = 0): string => (x === undefined ? '—' : x.toFixed(d))
  const cols: [string, number, (r: Row) => string][] = [
    ['mode', -13, (r) => r.mode],
    ['services', 8, (r) => String(r.services)],
    ['rules', 7, (r) => String(r.rules)],
    ['set-up ms', 9, (r) => fmt(r.setupMs)],
    ['first full sync ms', 18, (r) => fmt(r.firstFullMs)],
    ['full resync ms', 14, (r) => fmt(r.resyncMs)],
    ['resync CPU ms', 13, (r) => fmt(r.resyncCpuMs)],
    ['resync ops', 10, (r) => String(r.resyncWritten)],
    ['first full CPU ms', 17, (r) => fmt(r.firstFullCpuMs)],
    ['1-endpoint change ms', 20, (r) => fmt(r.changeMs, 1)],
    ['change CPU ms', 13, (r) => fmt(r.changeCpuMs, 1)],
    ['written per change', -24, (r) => r.changeWritten],
    ['restart, 1% changed ms', 21, (r) => fmt(r.adopt1pctMs)],
    ['its CPU ms', 10, (r) => fmt(r.adopt1pctCpuMs)],
    ['its ops', 7, (r) => fmt(r.adopt1pctWritten)],
    ['connect first µs', 16, (r) => fmt(r.firstUs)],
    ['connect last µs', 15, (r) => fmt(r.lastUs)],
    ['RSS MB', 6, (r) => fmt(r.rssMB)],
    ['heap MB', 7, (r) => fmt(r.heapMB)],
  ]
  const cell = (s: string, w: number): string => (w < 0 ? s.padEnd(-w) : s.padStart(w))
  const lines = [
    `load average at the end ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} on ${(await import('node:os')).cpus().length} cores (wall times under load are inflated; CPU columns are this process only, without nft and kernel time)`,
    `bench:proxy — ${EPS} endpoints per service, one node namespace, kernel ${(await import('node:os')).release()}`,
    "baseline: iptables = upstream's iptables proxier with partial syncs (only changed Services' chains, iptables-legacy-restore --noflush), same run",
    'iptables-full = STRAWMAN: the same rules, every sync a full rewrite (upstream with MinimizeIPTablesRestore off)',
    "nftables = upstream's numgen vmap dispatch; nft-cascade = `numgen random mod (N-i) == 0 goto` rules (no anonymous sets); both through `nft -f`",
    'nft-netlink = the cascade layout as netlink batches (kept socket), cold start in chunks, restart = read table + write the difference',
    'full resync = a restarted proxy (new backend, nothing in memory) over the N Services; connect = median TCP handshake to the first / last Service, at each mode\'s largest size',
    `set-up = a pristine namespace's first sync with no Services (table, chains, built-in jumps); node prerequisites (sysctls, service route) ${prereqMs.toFixed(0)} ms once, in no row`,
    `1-endpoint change = median of ${CHANGES} partial syncs (one endpoint of one Service toggles ready)`,
    '',
    `| ${cols.map(([h, w]) => cell(h, w)).join(' | ')} |`,
    `|${cols.map(([, w]) => (w < 0 ? '-'.repeat(-w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`,
    ...[...rows].sort((a, b) => MODES.indexOf(a.mode) - MODES.indexOf(b.mode) || a.services - b.services).map((r) => `| ${cols.map(([, w, f]) => cell(f(r), w)).join(' | ')} |`),
    '',
  ]
  for (const n of SIZES) {
    const b = rows.find((r) => r.mode === 'iptables' && r.services === n)
    for (const m of ['nftables', 'nft-cascade', 'iptables-full']) {
      const a = rows.find((r) => r.mode === m && r.services === n)
      if (a && b)
        lines.push(
          `${n} services: ${m}/iptables first full ${(a.firstFullMs / b.firstFullMs).toFixed(2)}x, resync ${(a.resyncMs / b.resyncMs).toFixed(2)}x, one-endpoint change ${(a.changeMs / b.changeMs).toFixed(3)}x`,
        )
    }
  }
  process.stdout.write(lines.join('\n') + '\n')
}

// `--lab`: the network programming latency SLI in a 3-node lab instead (proxy-lab.ts)
;(process.argv.includes('--lab') ? import('./proxy-lab.js').then((m) => m.main()) : main()).catch((err: unknown) => {
  process.stderr.write(`bench:proxy: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exitCode = 1
})
