// The nftables proxier's pure core: ServicePorts in, one nft transaction out.
//
// Layout (after upstream kube-proxy's nftables mode; all in our own table, nothing else touched):
//   nat-prerouting  (nat, prerouting, dstnat)   → jump services
//   nat-output      (nat, output, -100)         → jump services   [-100: `dstnat` is not valid on output in nft 1.0.6]
//   nat-postrouting (nat, postrouting, srcnat)  → jump masquerading
//   filter-input/forward/output (filter, -110)  → new connections to a service without endpoints are
//                                                 rejected here: `reject` is only allowed in filter hooks,
//                                                 and it must run before nat would otherwise let them through
//   services: `ip daddr . meta l4proto . th dport vmap @service-ips`, then NodePorts on local addresses
//   service-<h>-<ns>/<name>/<proto>/<port>  ClusterIP masquerade check, affinity checks, numgen dispatch
//   local-<h>-…      the same over this node's endpoints (Local traffic policies)
//   external-<h>-…   NodePort/externalIP entry: mark for masquerade (Cluster) or keep the source (Local)
//   endpoint-<h>-…__<ip>/<port>  hairpin masquerade mark, affinity update, `meta l4proto P dnat to ip:port`
//   mark-for-masquerade / masquerading: the 0x4000 mark, cleared and masqueraded in postrouting
//
// A sync is incremental: only the chains, sets and map elements of services that changed are
// rewritten, diffed against the last state that the kernel accepted.
import { NftTransaction, type NftChain, type NftReferenceLike, type NftSet, type NftTableState } from '../net/nft.js'
import { normalizeRule } from '../net/nft-list.js'
import { fitsMaps, mapsBase, mapsElements } from './nft-maps.js'
import { categorize, portLabel, shortHash, type EndpointInfo, type ServicePortInfo } from './serviceport.js'

export const NFT_FAMILY = 'ip' as const
export const NFT_TABLE = 'netkube-proxy'
export const MASQ_MARK = '0x4000'

/** Fixed names, declared once as data. */
export const CHAINS = {
  natPrerouting: 'nat-prerouting',
  natOutput: 'nat-output',
  natPostrouting: 'nat-postrouting',
  filterInput: 'filter-input',
  filterForward: 'filter-forward',
  filterOutput: 'filter-output',
  services: 'services',
  serviceEndpointsCheck: 'service-endpoints-check',
  nodeportEndpointsCheck: 'nodeport-endpoints-check',
  markMasq: 'mark-for-masquerade',
  masquerading: 'masquerading',
  reject: 'reject-chain',
} as const

export const MAPS = {
  serviceIPs: 'service-ips',
  serviceNodeports: 'service-nodeports',
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodeports: 'no-endpoint-nodeports',
} as const

const IP_PROTO_PORT = 'ipv4_addr . inet_proto . inet_service : verdict'
const PROTO_PORT = 'inet_proto . inet_service : verdict'

/**
 * Which base objects a table holds. 'single': everything in one table. Sharded, 'main' keeps
 * what every Service shares (filter hooks with the no-endpoint maps, masquerading, reject)
 * and each 'shard' table its own nat entry chains, dispatch maps and its Services' chains.
 */
export type BaseLayout = 'single' | 'main' | 'shard'
const SHARD_CHAINS = new Set<string>([CHAINS.natPrerouting, CHAINS.natOutput, CHAINS.services, CHAINS.markMasq])
const SHARD_MAPS = new Set<string>([MAPS.serviceIPs, MAPS.serviceNodeports])
/** Maps whose elements live in the main table when sharded (verdicts into main's reject chain). */
export const MAIN_MAPS = new Set<string>([MAPS.noEndpointServices, MAPS.noEndpointNodeports])

/** The 'maps' layout's fixed objects depend on the pod network (ClusterIP masquerade set). */
export interface MapsLayout {
  clusterCIDR: string
}

/** Base chains, maps and their fixed rules. */
export function baseObjects(layout: BaseLayout = 'single', maps?: MapsLayout, nodePortIPs?: readonly string[]): { chains: NftChain[]; maps: NftSet[]; rules: [string, string][] } {
  const all = allBaseObjects(maps, nodePortIPs)
  if (layout === 'single') return all
  if (maps) throw new Error('nftables: the maps layout is one table, not sharded')
  const inShard = (name: string): boolean => SHARD_CHAINS.has(name) === (layout === 'shard')
  // main needs no mark-for-masquerade chain (only shard rules jump to it)
  const keep = (name: string): boolean => inShard(name) && (layout === 'shard' || name !== CHAINS.markMasq)
  return {
    chains: all.chains.filter((c) => keep(c.name)),
    maps: all.maps.filter((m) => SHARD_MAPS.has(m.name) === (layout === 'shard')),
    rules: all.rules.filter(([c]) => keep(c)),
  }
}

/**
 * The match for "addressed to a NodePort address": every local address but loopback (DNAT of
 * 127/8 would need route_localnet), or the --nodeport-addresses IPs; undefined = none of them.
 * Upstream keeps the IPs in a named set; an inline set is the same match, and it is part of the
 * base rules, so a changed address list makes a full sync replace the base (the proxier
 * resolves the list only at full syncs).
 */
export function nodePortMatch(ips: readonly string[] | undefined): string | undefined {
  if (!ips) return 'fib daddr type local ip daddr != 127.0.0.0/8'
  if (!ips.length) return undefined
  return ips.length === 1 ? `ip daddr ${ips[0]}` : `ip daddr { ${ips.join(', ')} }`
}

function allBaseObjects(mapsLayout?: MapsLayout, nodePortIPs?: readonly string[]): { chains: NftChain[]; maps: NftSet[]; rules: [string, string][] } {
  const c = CHAINS
  const chains: NftChain[] = [
    { kind: 'chain', name: c.natPrerouting, type: 'nat', hook: 'prerouting', priority: 'dstnat' },
    { kind: 'chain', name: c.natOutput, type: 'nat', hook: 'output', priority: -100 },
    { kind: 'chain', name: c.natPostrouting, type: 'nat', hook: 'postrouting', priority: 'srcnat' },
    { kind: 'chain', name: c.filterInput, type: 'filter', hook: 'input', priority: -110 },
    { kind: 'chain', name: c.filterForward, type: 'filter', hook: 'forward', priority: -110 },
    { kind: 'chain', name: c.filterOutput, type: 'filter', hook: 'output', priority: -110 },
    { kind: 'chain', name: c.services },
    { kind: 'chain', name: c.serviceEndpointsCheck },
    { kind: 'chain', name: c.nodeportEndpointsCheck },
    { kind: 'chain', name: c.markMasq },
    { kind: 'chain', name: c.masquerading },
    { kind: 'chain', name: c.reject },
  ]
  const maps: NftSet[] = [
    { kind: 'map', name: MAPS.serviceIPs, type: IP_PROTO_PORT, comment: 'ClusterIP and externalIP traffic' },
    { kind: 'map', name: MAPS.serviceNodeports, type: PROTO_PORT, comment: 'NodePort traffic' },
    { kind: 'map', name: MAPS.noEndpointServices, type: IP_PROTO_PORT, comment: 'services without usable endpoints' },
    { kind: 'map', name: MAPS.noEndpointNodeports, type: PROTO_PORT, comment: 'NodePorts without usable endpoints' },
  ]
  const localDst = nodePortMatch(nodePortIPs)
  const nodeportVmap = `meta l4proto . th dport vmap @${MAPS.serviceNodeports}`
  const m = mapsLayout ? mapsBase(mapsLayout.clusterCIDR, c.markMasq, localDst, nodeportVmap) : undefined
  const rules: [string, string][] = [
    [c.natPrerouting, `jump ${c.services}`],
    [c.natOutput, `jump ${c.services}`],
    ...(m?.postroutingHead.map((r): [string, string] => [c.natPostrouting, r]) ?? []),
    [c.natPostrouting, `jump ${c.masquerading}`],
    [c.filterInput, `ct state new jump ${c.nodeportEndpointsCheck}`],
    [c.filterInput, `ct state new jump ${c.serviceEndpointsCheck}`],
    [c.filterForward, `ct state new jump ${c.serviceEndpointsCheck}`],
    [c.filterOutput, `ct state new jump ${c.serviceEndpointsCheck}`],
    ...(m?.servicesHead.map((r): [string, string] => [c.services, r]) ?? []),
    [c.services, `ip daddr . meta l4proto . th dport vmap @${MAPS.serviceIPs}`],
    // last: a ClusterIP match above wins over a NodePort on the same port
    ...(m ? m.servicesTail.map((r): [string, string] => [c.services, r]) : localDst ? [[c.services, `${localDst} ${nodeportVmap}`] as [string, string]] : []),
    [c.serviceEndpointsCheck, `ip daddr . meta l4proto . th dport vmap @${MAPS.noEndpointServices}`],
    ...(localDst ? [[c.nodeportEndpointsCheck, `${localDst} meta l4proto . th dport vmap @${MAPS.noEndpointNodeports}`] as [string, string]] : []),
    [c.markMasq, `meta mark set meta mark | ${MASQ_MARK}`],
    [c.masquerading, `meta mark & ${MASQ_MARK} == 0 return`],
    // clear the mark so a packet re-entering (e.g. through a tunnel) is not masqueraded twice
    [c.masquerading, `meta mark set meta mark ^ ${MASQ_MARK}`],
    [c.masquerading, 'masquerade fully-random'],
    // TCP gets a reset (ECONNREFUSED at once); others an ICMP port unreachable
    [c.reject, 'meta l4proto tcp reject with tcp reset'],
    [c.reject, 'reject'],
  ]
  if (m) {
    chains.push(...m.chains)
    maps.push(...m.sets)
    rules.push(...m.rules)
  }
  return { chains, maps, rules }
}

export interface MapElement {
  map: string
  key: string
  /** '' for a set element. */
  value: string
}

/** Everything one Service contributes to the table. */
export interface Fragment {
  /** chain name → rules, in order. */
  chains: Map<string, string[]>
  /** affinity sets. */
  sets: Map<string, NftSet>
  /** `map key` → element. */
  elements: Map<string, MapElement>
}

export function emptyFragment(): Fragment {
  return { chains: new Map(), sets: new Map(), elements: new Map() }
}

export interface ProxyNetConfig {
  clusterCIDR: string
  /**
   * How a service chain picks an endpoint. 'vmap' (upstream's): one `numgen random mod N vmap
   * { … }` rule. Each such rule is an anonymous set in the kernel, and the kernel allocates
   * anonymous set names by scanning the table's sets, so a full sync grows quadratically
   * (measured: 4k services 8 s, 7 s of it in the kernel). 'cascade': N rules
   * `numgen random mod (N-i) == 0 goto endpoint-i`, the same uniform choice iptables makes with
   * -m statistic, no sets, linear (4k services 3.7 s). 'maps' (nft-maps.ts): fixed rules, a
   * Service is map elements only; what it cannot express falls back to 'cascade' chains.
   */
  dispatch?: 'vmap' | 'cascade' | 'maps'
}

export function serviceChainName(sp: ServicePortInfo, prefix: 'service' | 'local' | 'external' | 'firewall'): string {
  return `${prefix}-${shortHash(`${sp.id}/${sp.protocol}`)}-${portLabel(sp)}`
}

function endpointSuffix(sp: ServicePortInfo, ep: EndpointInfo): string {
  return `${shortHash(`${sp.id}/${sp.protocol}/${ep.ip}:${ep.port}`)}-${portLabel(sp)}__${ep.ip}/${ep.port}`
}

export function endpointChainName(sp: ServicePortInfo, ep: EndpointInfo): string {
  return `endpoint-${endpointSuffix(sp, ep)}`
}

export function affinitySetName(sp: ServicePortInfo, ep: EndpointInfo): string {
  return `affinity-${endpointSuffix(sp, ep)}`
}

/** Add one service port's chains, sets and elements to `f`. */
export function addServicePort(f: Fragment, sp: ServicePortInfo, cfg: ProxyNetConfig): void {
  if (!sp.clusterIP) return
  const cat = categorize(sp)
  const proto = sp.protocol
  const hasExternal = sp.nodePort !== undefined || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0
  const rejectOrDrop = (): string => (cat.cluster.length ? 'drop' : `goto ${CHAINS.reject}`)
  const el = (map: string, key: string, value = ''): void => void f.elements.set(`${map} ${key}`, { map, key, value })
  // before any chain name is hashed: most Services of the maps layout have no chains
  if (cfg.dispatch === 'maps' && fitsMaps(sp, cat, hasExternal)) return mapsElements(sp, cat.cluster, el)
  const svcChain = serviceChainName(sp, 'service')
  const localChain = serviceChainName(sp, 'local')
  const extChain = serviceChainName(sp, 'external')

  const dispatch = (eps: EndpointInfo[]): string[] => {
    const rules: string[] = []
    if (sp.affinitySeconds !== undefined)
      for (const ep of eps) rules.push(`ip saddr @${affinitySetName(sp, ep)} goto ${endpointChainName(sp, ep)}`)
    if (eps.length === 1) rules.push(`goto ${endpointChainName(sp, eps[0]!)}`)
    else if (cfg.dispatch === 'cascade' || cfg.dispatch === 'maps')
      eps.forEach((ep, i) => {
        const left = eps.length - i
        rules.push(left > 1 ? `numgen random mod ${left} == 0 goto ${endpointChainName(sp, ep)}` : `goto ${endpointChainName(sp, ep)}`)
      })
    else rules.push(`numgen random mod ${eps.length} vmap { ${eps.map((ep, i) => `${i} : goto ${endpointChainName(sp, ep)}`).join(', ')} }`)
    return rules
  }
  const endpoints = new Map<string, EndpointInfo>()

  // ClusterIP traffic from outside the pod network (the node itself, other hosts) must come
  // back through this node: masquerade it (in the chain ClusterIP traffic enters).
  const masqClusterIP = `ip daddr ${sp.clusterIP} ${proto} dport ${sp.port} ip saddr != ${cfg.clusterCIDR} jump ${CHAINS.markMasq}`
  // The cluster chain (endpoints narrowed by topology hints) serves Cluster-policy ClusterIP
  // traffic and every external entry (Local's pod/node short-circuit); the local chain the
  // Local policies.
  if (cat.cluster.length && (!sp.internalLocal || hasExternal)) {
    f.chains.set(svcChain, [...(sp.internalLocal ? [] : [masqClusterIP]), ...dispatch(cat.cluster)])
    for (const ep of cat.cluster) endpoints.set(endpointChainName(sp, ep), ep)
  }
  const needLocal = (sp.internalLocal || (hasExternal && sp.externalLocal)) && cat.local.length > 0
  if (needLocal) {
    f.chains.set(localChain, [...(sp.internalLocal ? [masqClusterIP] : []), ...dispatch(cat.local)])
    for (const ep of cat.local) endpoints.set(endpointChainName(sp, ep), ep)
  }

  const ipKey = (ip: string, port: number): string => `${ip} . ${proto} . ${port}`
  if (cat.internal.length) el(MAPS.serviceIPs, ipKey(sp.clusterIP, sp.port), `goto ${sp.internalLocal ? localChain : svcChain}`)
  else el(MAPS.noEndpointServices, ipKey(sp.clusterIP, sp.port), rejectOrDrop())

  if (hasExternal) {
    if (cat.external.length) {
      const rules: string[] = []
      if (!sp.externalLocal) rules.push(`jump ${CHAINS.markMasq}`, `goto ${svcChain}`)
      else {
        // Local policy keeps the client's source address. Pods reaching an external IP are
        // short-circuited to the cluster chain; the node's own traffic must be masqueraded.
        if (cat.cluster.length) rules.push(`ip saddr ${cfg.clusterCIDR} goto ${svcChain}`)
        if (cat.cluster.length) rules.push(`fib saddr type local jump ${CHAINS.markMasq}`, `fib saddr type local goto ${svcChain}`)
        rules.push(`goto ${localChain}`)
      }
      f.chains.set(extChain, rules)
      for (const ip of sp.externalIPs) el(MAPS.serviceIPs, ipKey(ip, sp.port), `goto ${extChain}`)
      if (sp.nodePort !== undefined) el(MAPS.serviceNodeports, `${proto} . ${sp.nodePort}`, `goto ${extChain}`)
      // LoadBalancer IPs: through a firewall chain when loadBalancerSourceRanges limit the
      // clients (checked before DNAT, on the address the client used; others are dropped).
      let lbTarget = extChain
      if (sp.loadBalancerIPs.length && sp.sourceRanges.length) {
        lbTarget = serviceChainName(sp, 'firewall')
        // one rule per range, no anonymous set: the netlink encoder speaks it, and anonymous
        // sets make full syncs quadratic (see dispatch)
        f.chains.set(lbTarget, [...sp.sourceRanges.map((r) => `ip saddr ${r} goto ${extChain}`), 'drop'])
      }
      for (const ip of sp.loadBalancerIPs) el(MAPS.serviceIPs, ipKey(ip, sp.port), `goto ${lbTarget}`)
    } else {
      for (const ip of [...sp.externalIPs, ...sp.loadBalancerIPs]) el(MAPS.noEndpointServices, ipKey(ip, sp.port), rejectOrDrop())
      if (sp.nodePort !== undefined) el(MAPS.noEndpointNodeports, `${proto} . ${sp.nodePort}`, rejectOrDrop())
    }
  }

  for (const [name, ep] of endpoints) {
    const rules = [
      // hairpin: a pod reaching itself through its service must see the reply come from the
      // node, not from itself, or it would answer directly and the connection breaks
      `ip saddr ${ep.ip} jump ${CHAINS.markMasq}`,
    ]
    if (sp.affinitySeconds !== undefined) {
      const set = affinitySetName(sp, ep)
      f.sets.set(set, { kind: 'set', name: set, type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: sp.affinitySeconds })
      rules.push(`update @${set} { ip saddr }`)
    }
    // dnat needs a protocol match first (nft 1.0.6)
    rules.push(`meta l4proto ${proto} dnat to ${ep.ip}:${ep.port}`)
    f.chains.set(name, rules)
  }
}

export function buildFragment(ports: readonly ServicePortInfo[], cfg: ProxyNetConfig): Fragment {
  const f = emptyFragment()
  for (const sp of ports) addServicePort(f, sp, cfg)
  return f
}

const setDecl = (s: Pick<NftSet, 'type' | 'flags' | 'timeout'>): string => `${s.type}|${[...(s.flags ?? [])].sort().join(',')}|${s.timeout ?? ''}`
const sameRulesText = (a: string[] | undefined, b: string[] | undefined): boolean =>
  !!a && !!b && a.length === b.length && a.every((r, i) => r === b[i])

export interface PlanResult {
  /** One transaction, or (a cold start written through netlink) several applied in order. */
  txs: NftTransaction[]
  full: boolean
  /** Chains and rules written by these transactions. */
  chainsWritten: number
  rulesWritten: number
  /** Full syncs: tables replaced wholesale, and tables diffed against the kernel's. */
  tablesReplaced?: number
  tablesAdopted?: number
  /** Make the planned state the current one: call only after the kernel accepted every tx. */
  commit(): void
}

export interface FullSyncOptions {
  /**
   * What the kernel holds of our tables now (table name → state; a missing entry: no such
   * table). A table whose base chains and maps are ours is diffed and only the difference is
   * written (a restarted proxy adopts its predecessor's work); any other table is replaced.
   * Undefined: every table is replaced.
   */
  current?: ReadonlyMap<string, NftTableState>
  /**
   * Split the work into transactions of at most this many ops, one table at a time; the
   * first transaction (re)creates the replaced tables' base objects. Undefined: everything in
   * one transaction (atomic, the way upstream replaces its table).
   */
  chunkOps?: number
}

/** What one table should hold: chains and sets by name; elements as the fragments' own maps. */
interface Wanted {
  chains: Map<string, string[]>
  sets: Map<string, NftSet>
  elements: Map<string, MapElement>[]
}

/** What one sync changes in one table, grouped so it can be emitted in a safe order. */
interface Delta {
  delElems: MapElement[]
  flushChains: string[]
  delChains: string[]
  delSets: NftSet[]
  addSets: NftSet[]
  newChains: string[]
  writeChains: [string, string[]][]
  addElems: MapElement[]
}
const emptyDelta = (): Delta => ({ delElems: [], flushChains: [], delChains: [], delSets: [], addSets: [], newChains: [], writeChains: [], addElems: [] })
const deltaOf = (m: Map<string, Delta>, table: string): Delta => {
  let d = m.get(table)
  if (!d) m.set(table, (d = emptyDelta()))
  return d
}

/**
 * Order matters: nothing may be deleted while still referenced, and nothing referenced before
 * it exists. Elements point at chains, chains at sets and at other chains (never across
 * tables). Each phase runs over every table, so one transaction stays valid as a whole.
 * With `chunkOps`, a new transaction starts when one is full (never inside a chain's rules).
 */
function emitDeltas(family: typeof NFT_FAMILY, txTable: string, deltas: Map<string, Delta>, chunkOps = Infinity, txs: NftTransaction[] = []): NftTransaction[] {
  const start = txs.length
  if (txs.length === 0) txs.push(new NftTransaction(family, txTable))
  const room = (n: number): NftTransaction => {
    let cur = txs[txs.length - 1]!
    if (cur.size > 0 && cur.size + n > chunkOps) txs.push((cur = new NftTransaction(family, txTable)))
    return cur
  }
  const ds = [...deltas]
  for (const [t, d] of ds) for (const e of d.delElems) room(1).delete({ kind: 'element', set: e.map, key: e.key }, t)
  for (const [t, d] of ds) for (const name of d.flushChains) room(1).flush({ kind: 'chain', name }, t)
  for (const [t, d] of ds) for (const name of d.delChains) room(1).delete({ kind: 'chain', name }, t)
  for (const [t, d] of ds) for (const s of d.delSets) room(1).delete(s, t)
  for (const [t, d] of ds) for (const s of d.addSets) room(1).add(s, t)
  for (const [t, d] of ds) for (const name of d.newChains) room(1).add({ kind: 'chain', name }, t)
  for (const [t, d] of ds)
    for (const [name, rs] of d.writeChains) {
      const cur = room(rs.length)
      for (const rule of rs) cur.add({ kind: 'rule', chain: name, rule }, t)
    }
  for (const [t, d] of ds) {
    // grouped by map so they render (and encode) as few element messages (buckets, not a
    // sort: a cold start has ~12 elements per Service)
    const byMap = new Map<string, MapElement[]>()
    for (const e of d.addElems) {
      const l = byMap.get(e.map)
      if (l) l.push(e)
      else byMap.set(e.map, [e])
    }
    for (const [map] of [...byMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      for (const e of byMap.get(map)!) room(1).add({ kind: 'element', set: e.map, key: e.key, ...(e.value ? { value: e.value } : {}) }, t)
  }
  return txs.filter((t, i) => i < start || t.size > 0)
}

/** Chains and rules the deltas write. */
function written(deltas: Map<string, Delta>): { chainsWritten: number; rulesWritten: number } {
  let chainsWritten = 0
  let rulesWritten = 0
  for (const d of deltas.values())
    for (const [, rs] of d.writeChains) {
      chainsWritten++
      rulesWritten += rs.length
    }
  return { chainsWritten, rulesWritten }
}

/** FNV-1a: a Service's shard, stable across restarts (adoption finds it where it was). */
export function shardOf(key: string, shards: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return (h >>> 0) % shards
}

/**
 * The proxier's memory of what the kernel holds (per Service key), and the planner that
 * turns a set of changed Services into transactions.
 *
 * Sharding: the kernel validates a table's whole jump graph (every chain reachable from its
 * base chains, through every verdict map element) on each commit that adds a rule or a
 * goto element — measured 100–200 ms per commit at 5k Services in one table, however small
 * the change. With `shards` > 0, Services are spread over that many tables (`<table>-<i>`,
 * each with its own nat entry chains and dispatch maps) next to a main table for what they
 * share, so a commit revalidates one shard. The nat hook stops at the first table that
 * DNATs, so a packet costs one map lookup per shard before it.
 */
export class NftState {
  private fragments = new Map<string, Fragment>()
  private totals = { chains: 0, rules: 0 }
  /** --nodeport-addresses as the base rules match them (undefined: every local address); set before a full plan. */
  nodePortIPs: readonly string[] | undefined

  constructor(
    readonly table = NFT_TABLE,
    readonly family: typeof NFT_FAMILY = NFT_FAMILY,
    /** 0: one table (upstream's layout). */
    readonly shards = 0,
    /** The 'maps' layout's base objects (one table). */
    readonly maps?: MapsLayout,
  ) {
    if (maps && shards) throw new Error('nftables: the maps layout is one table, not sharded')
  }

  get chainCount(): number {
    return this.totals.chains
  }
  get ruleCount(): number {
    return this.totals.rules
  }

  /** Every table this state writes: main first, then the shards. */
  get tables(): string[] {
    return [this.table, ...Array.from({ length: this.shards }, (_, i) => this.shardTable(i))]
  }
  shardTable(i: number): string {
    return `${this.table}-${i}`
  }
  private layoutOf(table: string): BaseLayout {
    return this.shards === 0 ? 'single' : table === this.table ? 'main' : 'shard'
  }
  /** The table a Service's chains, sets and dispatch elements live in. */
  tableOf(key: string): string {
    return this.shards === 0 ? this.table : this.shardTable(shardOf(key, this.shards))
  }
  private elemTable(key: string, e: MapElement): string {
    return this.shards > 0 && MAIN_MAPS.has(e.map) ? this.table : this.tableOf(key)
  }

  /** What every table should hold: base objects plus its Services' parts. */
  private wanted(all: Map<string, Fragment>): Map<string, Wanted> {
    const want = new Map<string, Wanted>(this.tables.map((t) => [t, { chains: new Map(), sets: new Map(), elements: [] }]))
    for (const [key, f] of all) {
      const w = want.get(this.tableOf(key))!
      for (const [n, rs] of f.chains) w.chains.set(n, rs)
      for (const [n, st] of f.sets) w.sets.set(n, st)
      // one table: the fragment's own element map, not copied (~12 elements per Service)
      if (this.shards === 0) {
        if (f.elements.size) w.elements.push(f.elements)
      } else for (const [k, e] of f.elements) want.get(this.elemTable(key, e))!.elements.push(new Map([[k, e]]))
    }
    return want
  }

  /**
   * Full sync. Each table whose kernel copy has our base objects (`opts.current`) is diffed
   * and gets only the difference (affinity sets still wanted keep their entries); the others
   * are replaced: `add table; delete table; add table` (so `delete` cannot fail), base
   * objects, then the Services, map elements last so dispatch never points at a missing chain.
   */
  planFull(all: Map<string, Fragment>, opts: FullSyncOptions = {}): PlanResult {
    let chains = 0
    let rules = 0
    for (const t of this.tables) {
      const b = baseObjects(this.layoutOf(t), this.maps, this.nodePortIPs)
      chains += b.chains.length
      rules += b.rules.length
    }
    for (const f of all.values())
      for (const rs of f.chains.values()) {
        chains++
        rules += rs.length
      }
    const want = this.wanted(all)
    const head = new NftTransaction(this.family, this.table)
    const deltas = new Map<string, Delta>()
    let replaced = 0
    let adopted = 0
    for (const t of this.tables) {
      const layout = this.layoutOf(t)
      const cur = opts.current?.get(t)
      const w = want.get(t)!
      if (cur && baseMatches(cur, layout, this.maps, this.nodePortIPs)) {
        adopted++
        deltas.set(t, adoptDelta(cur, w, layout, this.maps, this.nodePortIPs))
        continue
      }
      replaced++
      const table = { kind: 'table' as const, comment: 'netkube service proxy' }
      head.add(table, t).delete(table, t).add(table, t)
      const base = baseObjects(layout, this.maps, this.nodePortIPs)
      for (const c of base.chains) head.add(c, t)
      for (const m of base.maps) head.add(m, t)
      for (const [chain, rule] of base.rules) head.add({ kind: 'rule', chain, rule }, t)
      const d = deltaOf(deltas, t)
      d.addSets.push(...w.sets.values())
      for (const [name, rs] of w.chains) {
        d.newChains.push(name)
        d.writeChains.push([name, rs])
      }
      for (const m of w.elements) for (const e of m.values()) d.addElems.push(e)
    }
    let txs: NftTransaction[]
    if (opts.chunkOps === undefined) txs = emitDeltas(this.family, this.table, deltas, Infinity, [head])
    else {
      // one table at a time: a commit validates only the table it touched
      txs = head.size ? [head] : []
      for (const [t, d] of deltas) txs.push(...emitDeltas(this.family, this.table, new Map([[t, d]]), opts.chunkOps))
    }
    txs = txs.filter((t) => t.size > 0)
    const { chainsWritten, rulesWritten } = written(deltas)
    return {
      txs,
      full: true,
      chainsWritten,
      rulesWritten,
      tablesReplaced: replaced,
      tablesAdopted: adopted,
      commit: () => {
        this.fragments = new Map(all)
        this.totals = { chains, rules }
      },
    }
  }

  /** Incremental sync: `changed` maps a Service key to its new fragment (undefined = deleted). */
  planIncremental(changed: Map<string, Fragment | undefined>): PlanResult {
    const deltas = new Map<string, Delta>()
    let dChains = 0
    let dRules = 0
    for (const [key, next] of changed) {
      const prev = this.fragments.get(key) ?? emptyFragment()
      const cur = next ?? emptyFragment()
      const d = deltaOf(deltas, this.tableOf(key))
      for (const [k, e] of prev.elements) {
        const n = cur.elements.get(k)
        if (!n || n.value !== e.value) deltaOf(deltas, this.elemTable(key, e)).delElems.push(e)
      }
      for (const [k, e] of cur.elements) {
        const p = prev.elements.get(k)
        if (!p || p.value !== e.value) deltaOf(deltas, this.elemTable(key, e)).addElems.push(e)
      }
      // a set whose declaration changes is deleted and re-added: chains using it are rewritten
      const recreated: string[] = []
      for (const [name, s] of prev.sets) {
        const n = cur.sets.get(name)
        if (!n || setDecl(n) !== setDecl(s)) d.delSets.push(s)
        if (n && setDecl(n) !== setDecl(s)) recreated.push(`@${name} `)
      }
      for (const [name, s] of cur.sets) {
        const p = prev.sets.get(name)
        if (!p || setDecl(p) !== setDecl(s)) d.addSets.push(s)
      }
      const usesRecreated = (rs: string[]): boolean => recreated.length > 0 && rs.some((r) => recreated.some((n) => r.includes(n)))
      const sameRules = (a: string[] | undefined, b: string[] | undefined): boolean => sameRulesText(a, b) && !usesRecreated(a!)
      for (const [name, rs] of prev.chains) {
        dRules -= rs.length
        const n = cur.chains.get(name)
        if (!n) {
          d.flushChains.push(name)
          d.delChains.push(name)
          dChains--
        } else if (!sameRules(rs, n)) d.flushChains.push(name)
      }
      for (const [name, rs] of cur.chains) {
        dRules += rs.length
        const p = prev.chains.get(name)
        if (!p) {
          d.newChains.push(name)
          d.writeChains.push([name, rs])
          dChains++
        } else if (!sameRules(p, rs)) d.writeChains.push([name, rs])
      }
    }
    const txs = emitDeltas(this.family, this.table, deltas)
    // nothing changed: still one (empty) transaction, so callers see what was sent
    if (!txs.length) txs.push(new NftTransaction(this.family, this.table))
    const { chainsWritten, rulesWritten } = written(deltas)
    return {
      txs,
      full: false,
      chainsWritten,
      rulesWritten,
      commit: () => {
        for (const [key, next] of changed) {
          if (next) this.fragments.set(key, next)
          else this.fragments.delete(key)
        }
        this.totals = { chains: this.totals.chains + dChains, rules: this.totals.rules + dRules }
      },
    }
  }

  /** Chains, declarations and rules (in order) the one-table layout writes for `all` (readers compare with it). */
  reference(all: ReadonlyMap<string, Fragment>): NftReferenceLike {
    const base = baseObjects('single', this.maps, this.nodePortIPs)
    const chains: NftChain[] = [...base.chains]
    const sets: NftSet[] = [...base.maps]
    const rules: [string, string][] = [...base.rules]
    for (const f of all.values()) {
      for (const s of f.sets.values()) sets.push(s)
      for (const [name, rs] of f.chains) {
        chains.push({ kind: 'chain', name })
        for (const r of rs) rules.push([name, r])
      }
    }
    return { chains, sets, rules }
  }

  fragment(key: string): Fragment | undefined {
    return this.fragments.get(key)
  }
}

const sameNormalized = (a: string[], b: string[]): boolean => a.length === b.length && a.every((r, i) => normalizeRule(r) === normalizeRule(b[i]!))

/** The kernel's table has our base chains (with their rules) and maps: it can be diffed, not replaced. */
function baseMatches(cur: NftTableState, layout: BaseLayout, maps?: MapsLayout, nodePortIPs?: readonly string[]): boolean {
  const base = baseObjects(layout, maps, nodePortIPs)
  const want = new Map<string, string[]>(base.chains.map((c) => [c.name, []]))
  for (const [chain, rule] of base.rules) want.get(chain)!.push(rule)
  for (const c of base.chains) {
    const k = cur.chains.get(c.name)
    if (!k || k.base !== Boolean(c.hook) || !sameNormalized(k.rules, want.get(c.name)!)) return false
  }
  for (const m of base.maps) {
    const k = cur.sets.get(m.name)
    if (!k || k.kind !== m.kind || k.type !== m.type) return false
  }
  return true
}

/** Element values read back over netlink are already in our text form: normalize only when they differ. */
const sameValue = (a: string, b: string): boolean => a === b || normalizeRule(a) === normalizeRule(b)

/** Everything the kernel's table holds beyond or unlike `want` (its base objects already match). */
function adoptDelta(cur: NftTableState, want: Wanted, layout: BaseLayout, maps?: MapsLayout, nodePortIPs?: readonly string[]): Delta {
  const d = emptyDelta()
  const base = baseObjects(layout, maps, nodePortIPs)
  const baseChains = new Set(base.chains.map((c) => c.name))
  const baseMaps = new Set(base.maps.map((m) => m.name))
  // Wanted elements the kernel lacks (or holds with another value), counting the ones it
  // has: a map whose kernel elements were all matched holds nothing stale, so the common
  // restart costs one lookup per wanted element and no pass over the kernel's side.
  const matched = new Map<string, number>()
  let lastMap = ''
  let have: Map<string, string | undefined> | undefined
  for (const m of want.elements)
    for (const e of m.values()) {
      if (e.map !== lastMap) {
        lastMap = e.map
        have = cur.sets.get(e.map)?.elements
      }
      const v = have?.get(e.key)
      // a set element has no value: presence is all
      if (v === undefined ? !have?.has(e.key) || e.value !== '' : !sameValue(v, e.value)) d.addElems.push(e)
      else matched.set(e.map, (matched.get(e.map) ?? 0) + 1)
    }
  for (const map of baseMaps) {
    const kernel = cur.sets.get(map)!.elements
    if (!kernel.size || matched.get(map) === kernel.size) continue
    // something stale (or a key wanted twice): compare this map key by key
    const wanted = new Map<string, string>()
    for (const m of want.elements) for (const e of m.values()) if (e.map === map) wanted.set(e.key, e.value)
    for (const [key, value] of kernel) {
      const w = wanted.get(key)
      if (w === undefined || !sameValue(w, value ?? '')) d.delElems.push({ map, key, value: value ?? '' })
    }
  }
  // sets: stale or redeclared ones go (chains using a redeclared set are rewritten)
  const recreated = new Set<string>()
  for (const [name, s] of cur.sets) {
    if (baseMaps.has(name)) continue
    const w = want.sets.get(name)
    if (!w) d.delSets.push({ kind: s.kind, name, type: s.type })
    else if (s.kind !== w.kind || setDecl(s) !== setDecl(w)) {
      d.delSets.push(w)
      recreated.add(`@${name} `)
    }
  }
  for (const [name, s] of want.sets) if (!cur.sets.has(name) || recreated.has(`@${name} `)) d.addSets.push(s)
  const usesRecreated = (rs: string[]): boolean => recreated.size > 0 && rs.some((r) => [...recreated].some((n) => r.includes(n)))
  for (const [name, c] of cur.chains) {
    if (baseChains.has(name)) continue
    const w = want.chains.get(name)
    if (!w) {
      if (c.rules.length) d.flushChains.push(name)
      d.delChains.push(name)
    } else if (!sameNormalized(c.rules, w) || usesRecreated(w)) {
      if (c.rules.length) d.flushChains.push(name)
      d.writeChains.push([name, w])
    }
  }
  for (const [name, rs] of want.chains)
    if (!cur.chains.has(name)) {
      d.newChains.push(name)
      d.writeChains.push([name, rs])
    }
  return d
}
