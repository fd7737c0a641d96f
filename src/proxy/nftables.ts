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
import { NftTransaction, type NftChain, type NftSet } from '../net/nft.js'
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

/** Base chains, maps and their fixed rules. */
export function baseObjects(): { chains: NftChain[]; maps: NftSet[]; rules: [string, string][] } {
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
  // NodePorts answer on every local address but loopback: DNAT of 127/8 would need route_localnet.
  const localDst = 'fib daddr type local ip daddr != 127.0.0.0/8'
  const rules: [string, string][] = [
    [c.natPrerouting, `jump ${c.services}`],
    [c.natOutput, `jump ${c.services}`],
    [c.natPostrouting, `jump ${c.masquerading}`],
    [c.filterInput, `ct state new jump ${c.nodeportEndpointsCheck}`],
    [c.filterInput, `ct state new jump ${c.serviceEndpointsCheck}`],
    [c.filterForward, `ct state new jump ${c.serviceEndpointsCheck}`],
    [c.filterOutput, `ct state new jump ${c.serviceEndpointsCheck}`],
    [c.services, `ip daddr . meta l4proto . th dport vmap @${MAPS.serviceIPs}`],
    // last: a ClusterIP match above wins over a NodePort on the same port
    [c.services, `${localDst} meta l4proto . th dport vmap @${MAPS.serviceNodeports}`],
    [c.serviceEndpointsCheck, `ip daddr . meta l4proto . th dport vmap @${MAPS.noEndpointServices}`],
    [c.nodeportEndpointsCheck, `${localDst} meta l4proto . th dport vmap @${MAPS.noEndpointNodeports}`],
    [c.markMasq, `meta mark set meta mark | ${MASQ_MARK}`],
    [c.masquerading, `meta mark & ${MASQ_MARK} == 0 return`],
    // clear the mark so a packet re-entering (e.g. through a tunnel) is not masqueraded twice
    [c.masquerading, `meta mark set meta mark ^ ${MASQ_MARK}`],
    [c.masquerading, 'masquerade fully-random'],
    // TCP gets a reset (ECONNREFUSED at once); others an ICMP port unreachable
    [c.reject, 'meta l4proto tcp reject with tcp reset'],
    [c.reject, 'reject'],
  ]
  return { chains, maps, rules }
}

export interface MapElement {
  map: string
  key: string
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
   * -m statistic, no sets, linear (4k services 3.7 s).
   */
  dispatch?: 'vmap' | 'cascade'
}

export function serviceChainName(sp: ServicePortInfo, prefix: 'service' | 'local' | 'external'): string {
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
  const svcChain = serviceChainName(sp, 'service')
  const localChain = serviceChainName(sp, 'local')
  const extChain = serviceChainName(sp, 'external')
  const hasExternal = sp.nodePort !== undefined || sp.externalIPs.length > 0
  const rejectOrDrop = (): string => (cat.cluster.length ? 'drop' : `goto ${CHAINS.reject}`)
  const el = (map: string, key: string, value: string): void => void f.elements.set(`${map} ${key}`, { map, key, value })

  const dispatch = (eps: EndpointInfo[]): string[] => {
    const rules: string[] = []
    if (sp.affinitySeconds !== undefined)
      for (const ep of eps) rules.push(`ip saddr @${affinitySetName(sp, ep)} goto ${endpointChainName(sp, ep)}`)
    if (eps.length === 1) rules.push(`goto ${endpointChainName(sp, eps[0]!)}`)
    else if (cfg.dispatch === 'cascade')
      eps.forEach((ep, i) => {
        const left = eps.length - i
        rules.push(left > 1 ? `numgen random mod ${left} == 0 goto ${endpointChainName(sp, ep)}` : `goto ${endpointChainName(sp, ep)}`)
      })
    else rules.push(`numgen random mod ${eps.length} vmap { ${eps.map((ep, i) => `${i} : goto ${endpointChainName(sp, ep)}`).join(', ')} }`)
    return rules
  }
  const endpoints = new Map<string, EndpointInfo>()

  if (cat.cluster.length) {
    f.chains.set(svcChain, [
      // ClusterIP traffic from outside the pod network (the node itself, other hosts) must come
      // back through this node: masquerade it.
      `ip daddr ${sp.clusterIP} ${proto} dport ${sp.port} ip saddr != ${cfg.clusterCIDR} jump ${CHAINS.markMasq}`,
      ...dispatch(cat.cluster),
    ])
    for (const ep of cat.cluster) endpoints.set(endpointChainName(sp, ep), ep)
  }
  const needLocal = (sp.internalLocal || (hasExternal && sp.externalLocal)) && cat.local.length > 0
  if (needLocal) {
    f.chains.set(localChain, dispatch(cat.local))
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
    } else {
      for (const ip of sp.externalIPs) el(MAPS.noEndpointServices, ipKey(ip, sp.port), rejectOrDrop())
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

const setDecl = (s: NftSet): string => `${s.type}|${s.flags?.join(',') ?? ''}|${s.timeout ?? ''}`
const sameRulesText = (a: string[] | undefined, b: string[] | undefined): boolean =>
  !!a && !!b && a.length === b.length && a.every((r, i) => r === b[i])

export interface PlanResult {
  tx: NftTransaction
  full: boolean
  /** Chains and rules written by this transaction. */
  chainsWritten: number
  rulesWritten: number
  /** Make the planned state the current one: call only after the kernel accepted `tx`. */
  commit(): void
}

/**
 * The proxier's memory of what the kernel holds (per Service key), and the planner that
 * turns a set of changed Services into one transaction.
 */
export class NftState {
  private fragments = new Map<string, Fragment>()
  private totals = { chains: 0, rules: 0 }

  constructor(
    readonly table = NFT_TABLE,
    readonly family: typeof NFT_FAMILY = NFT_FAMILY,
  ) {}

  get chainCount(): number {
    return this.totals.chains
  }
  get ruleCount(): number {
    return this.totals.rules
  }

  /**
   * Full sync: replace the table wholesale in one transaction (`add` so `delete` cannot fail,
   * then rebuild). This also adopts whatever a previous proxy process left: nothing stale and
   * nothing duplicated survives. Dynamic affinity sets start empty again.
   */
  planFull(all: Map<string, Fragment>): PlanResult {
    const tx = new NftTransaction(this.family, this.table)
    const table = { kind: 'table' as const, comment: 'netkube service proxy' }
    tx.add(table).delete(table).add(table)
    const base = baseObjects()
    for (const c of base.chains) tx.add(c)
    for (const m of base.maps) tx.add(m)
    for (const [chain, rule] of base.rules) tx.add({ kind: 'rule', chain, rule })
    let chains = base.chains.length
    let rules = base.rules.length
    const frags = [...all.values()]
    for (const f of frags) for (const s of f.sets.values()) tx.add(s)
    for (const f of frags) for (const name of f.chains.keys()) tx.add({ kind: 'chain', name })
    for (const f of frags)
      for (const [name, rs] of f.chains) {
        chains++
        for (const rule of rs) {
          tx.add({ kind: 'rule', chain: name, rule })
          rules++
        }
      }
    // group elements by map so they render as few `add element` lines
    for (const map of Object.values(MAPS))
      for (const f of frags) for (const e of f.elements.values()) if (e.map === map) tx.add({ kind: 'element', set: map, key: e.key, value: e.value })
    return {
      tx,
      full: true,
      chainsWritten: chains,
      rulesWritten: rules,
      commit: () => {
        this.fragments = new Map(all)
        this.totals = { chains, rules }
      },
    }
  }

  /** Incremental sync: `changed` maps a Service key to its new fragment (undefined = deleted). */
  planIncremental(changed: Map<string, Fragment | undefined>): PlanResult {
    const tx = new NftTransaction(this.family, this.table)
    const delElems: MapElement[] = []
    const addElems: MapElement[] = []
    const flushChains: string[] = []
    const delChains: string[] = []
    const newChains: string[] = []
    const writeChains: [string, string[]][] = []
    const delSets: NftSet[] = []
    const addSets: NftSet[] = []
    let dChains = 0
    let dRules = 0
    for (const [key, next] of changed) {
      const prev = this.fragments.get(key) ?? emptyFragment()
      const cur = next ?? emptyFragment()
      for (const [k, e] of prev.elements) {
        const n = cur.elements.get(k)
        if (!n || n.value !== e.value) delElems.push(e)
      }
      for (const [k, e] of cur.elements) {
        const p = prev.elements.get(k)
        if (!p || p.value !== e.value) addElems.push(e)
      }
      // a set whose declaration changes is deleted and re-added: chains using it are rewritten
      const recreated: string[] = []
      for (const [name, s] of prev.sets) {
        const n = cur.sets.get(name)
        if (!n || setDecl(n) !== setDecl(s)) delSets.push(s)
        if (n && setDecl(n) !== setDecl(s)) recreated.push(`@${name} `)
      }
      for (const [name, s] of cur.sets) {
        const p = prev.sets.get(name)
        if (!p || setDecl(p) !== setDecl(s)) addSets.push(s)
      }
      const usesRecreated = (rs: string[]): boolean => recreated.length > 0 && rs.some((r) => recreated.some((n) => r.includes(n)))
      const sameRules = (a: string[] | undefined, b: string[] | undefined): boolean => sameRulesText(a, b) && !usesRecreated(a!)
      for (const [name, rs] of prev.chains) {
        dRules -= rs.length
        const n = cur.chains.get(name)
        if (!n) {
          flushChains.push(name)
          delChains.push(name)
          dChains--
        } else if (!sameRules(rs, n)) flushChains.push(name)
      }
      for (const [name, rs] of cur.chains) {
        dRules += rs.length
        const p = prev.chains.get(name)
        if (!p) {
          newChains.push(name)
          writeChains.push([name, rs])
          dChains++
        } else if (!sameRules(p, rs)) writeChains.push([name, rs])
      }
    }
    // Order matters: nothing may be deleted while still referenced, and nothing referenced
    // before it exists. Elements point at chains, chains at sets and at other chains.
    for (const e of delElems) tx.delete({ kind: 'element', set: e.map, key: e.key })
    for (const name of flushChains) tx.flush({ kind: 'chain', name })
    for (const name of delChains) tx.delete({ kind: 'chain', name })
    for (const s of delSets) tx.delete(s)
    for (const s of addSets) tx.add(s)
    for (const name of newChains) tx.add({ kind: 'chain', name })
    let rulesWritten = 0
    for (const [name, rs] of writeChains) {
      for (const rule of rs) tx.add({ kind: 'rule', chain: name, rule })
      rulesWritten += rs.length
    }
    addElems.sort((a, b) => (a.map < b.map ? -1 : a.map > b.map ? 1 : 0))
    for (const e of addElems) tx.add({ kind: 'element', set: e.map, key: e.key, value: e.value })
    return {
      tx,
      full: false,
      chainsWritten: writeChains.length,
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

  fragment(key: string): Fragment | undefined {
    return this.fragments.get(key)
  }
}
