// NetworkPolicy's pure core: Pods, Namespaces and NetworkPolicies in, one node's desired
// nftables set contents out. No I/O; the edge (controller.ts) diffs and applies the result.
//
// Design note — how a packet is decided in a constant number of lookups:
//   The kernel side (nftables.ts) has fixed chains and six named sets; everything that depends
//   on policies is a set *element*, so the per-packet work never grows with the policy count:
//     ingress-isolated  { dst pod IP }                       pods of this node selected for Ingress
//     ingress-all       { dst pod IP . src range }           peers allowed on every port/protocol
//     ingress-ports     { dst pod IP . src range . proto . port range }
//     egress-isolated / egress-all / egress-ports: the same keyed by the local *source* pod.
//   A new connection forwarded by the node costs at most: 2 isolation lookups, then per
//   isolated direction 2 lookups in concatenated interval sets (nft's pipapo). Policies only
//   add elements, so 10,000 policies cost no more rules or jumps than one.
//
//   The kernel refuses overlapping elements in a concatenated interval set, while policies
//   overlap freely (two rules allowing 10.0.0.0/8 and one pod inside it, on different ports).
//   So per local pod and direction the core unions every rule that applies — a "contribution"
//   is (peer address ranges, allowed ports) — and cuts the address line into elementary
//   intervals at every range boundary (a sweep); each interval gets the union of the ports of
//   the contributions covering it, ranges per protocol merged, and equal neighbours joined.
//   The elements are then disjoint by construction, and identical input gives identical text,
//   which is what makes incremental syncs a plain element diff.
//
// Semantics (networking.k8s.io/v1): a pod selected by no policy of a direction is not isolated
// in it; policies union; an empty `from`/`to` is every peer, empty `ports` every port and
// protocol; a peer with podSelector+namespaceSelector is their AND; ipBlock is cidr minus
// except; named ports resolve against the container ports (name and protocol) of the
// destination pod — for ingress the selected pod, for egress each peer pod (an ipBlock peer
// with a named port matches the known pods inside the block). hostNetwork pods and pods
// without an IP are neither selected nor peers (their address is the node's).
import { intToIp4, ip4BlockSize, ip4ToInt, parseIp4Net } from '../net/ip.js'
import { labelSelectorFromApi, matchesLabels, type ParsedSelector } from '../api/selectors.js'
import type { LabelSelector, Namespace, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, Pod } from '../api/types.js'

export type Proto = 'tcp' | 'udp' | 'sctp'
const PROTOS: readonly Proto[] = ['tcp', 'udp', 'sctp']
const MAX_IP = 0xffffffff

/** Fixed set names, declared once as data (the kernel layout is in nftables.ts). */
export const SETS = {
  ingressIsolated: 'ingress-isolated',
  ingressAll: 'ingress-all',
  ingressPorts: 'ingress-ports',
  egressIsolated: 'egress-isolated',
  egressAll: 'egress-all',
  egressPorts: 'egress-ports',
} as const
export type SetName = (typeof SETS)[keyof typeof SETS]

/** What of a Pod matters to policy. */
export interface PodInfo {
  namespace: string
  name: string
  labels: Record<string, string>
  ip: number
  node: string
  /** container ports: `${proto}/${name}` → number */
  namedPorts: Map<string, number>
}

export interface NetpolInput {
  pods: Iterable<Pod>
  namespaces: Iterable<Namespace>
  policies: Iterable<NetworkPolicy>
  nodeName: string
}

/** Set name → element keys (nft text, canonical: equal state ⇒ equal strings). */
export type Desired = Map<SetName, Set<string>>

export function emptyDesired(): Desired {
  return new Map(Object.values(SETS).map((s) => [s, new Set<string>()]))
}

// Informer stores replace an object on every update, so an object's derived form can be
// cached by identity: a sync re-derives only the pods that changed.
const podInfoCache = new WeakMap<Pod, PodInfo | null>()

function cachedPodInfo(p: Pod): PodInfo | undefined {
  let v = podInfoCache.get(p)
  if (v === undefined) {
    v = podInfo(p) ?? null
    podInfoCache.set(p, v)
  }
  return v ?? undefined
}

/** A pod that takes part in policy: running with its own IP. */
export function podInfo(p: Pod): PodInfo | undefined {
  const ip = p.status?.podIP
  if (!ip || p.spec?.hostNetwork || !p.spec?.nodeName) return undefined
  const phase = p.status?.phase
  if (phase === 'Succeeded' || phase === 'Failed') return undefined
  let n: number
  try {
    n = ip4ToInt(ip)
  } catch {
    return undefined // IPv6 or garbage: this IPv4 table cannot express it
  }
  const namedPorts = new Map<string, number>()
  for (const c of p.spec.containers ?? [])
    for (const cp of c.ports ?? []) if (cp.name) namedPorts.set(`${(cp.protocol ?? 'TCP').toLowerCase()}/${cp.name}`, cp.containerPort)
  return { namespace: p.metadata.namespace ?? 'default', name: p.metadata.name ?? '', labels: p.metadata.labels ?? {}, ip: n, node: p.spec.nodeName, namedPorts }
}

/** [lo, hi] inclusive, as unsigned 32-bit numbers. */
export type Range = [number, number]
/** One protocol's port range, inclusive. */
interface PortRange {
  proto: Proto
  lo: number
  hi: number
}
/** Peer ranges and the ports allowed to/from them ('all' = every port and protocol). */
export interface Contribution {
  ranges: Range[]
  ports: PortRange[] | 'all'
}

const protoOf = (p: NetworkPolicyPort): Proto => ((p.protocol ?? 'TCP').toLowerCase() as Proto)

export function compile(ls: LabelSelector | undefined): ParsedSelector | undefined {
  if (ls === undefined || ls === null) return undefined
  try {
    return labelSelectorFromApi(ls)
  } catch {
    return undefined // validation refuses these; a stored bad one selects nothing
  }
}

/** cidr minus excepts, as sorted disjoint ranges. */
export function ipBlockRanges(cidr: string, except: readonly string[] = []): Range[] {
  let outer
  try {
    outer = parseIp4Net(cidr, true)
  } catch {
    return []
  }
  let out: Range[] = [[outer.ip, outer.ip + ip4BlockSize(outer.prefix) - 1]]
  for (const e of except) {
    let x
    try {
      x = parseIp4Net(e, true)
    } catch {
      continue
    }
    const lo = x.ip
    const hi = x.ip + ip4BlockSize(x.prefix) - 1
    const next: Range[] = []
    for (const [a, b] of out) {
      if (hi < a || lo > b) next.push([a, b])
      else {
        if (a < lo) next.push([a, lo - 1])
        if (hi < b) next.push([hi + 1, b])
      }
    }
    out = next
  }
  return out
}

/** Resolve a rule's ports against one pod's container ports (named ports) — undefined pod: numeric only. */
function resolvePorts(ports: readonly NetworkPolicyPort[] | undefined, pod: PodInfo | undefined): PortRange[] | 'all' {
  if (!ports || ports.length === 0) return 'all'
  const out: PortRange[] = []
  for (const p of ports) {
    const proto = protoOf(p)
    if (!PROTOS.includes(proto)) continue
    if (p.port === undefined || p.port === null) out.push({ proto, lo: 0, hi: 65535 })
    else if (typeof p.port === 'number') out.push({ proto, lo: p.port, hi: typeof p.endPort === 'number' && p.endPort >= p.port ? p.endPort : p.port })
    else if (pod) {
      const n = pod.namedPorts.get(`${proto}/${p.port}`)
      if (n !== undefined) out.push({ proto, lo: n, hi: n })
    }
  }
  return out
}

export const hasNamedPort = (ports: readonly NetworkPolicyPort[] | undefined): boolean => !!ports?.some((p) => typeof p.port === 'string')

/** The directions a policy isolates, with upstream's defaulting of policyTypes. */
export function policyDirections(spec: NetworkPolicy['spec']): { ingress: boolean; egress: boolean } {
  const types = spec.policyTypes?.length ? spec.policyTypes : spec.egress?.length ? ['Ingress', 'Egress'] : ['Ingress']
  return { ingress: types.includes('Ingress'), egress: types.includes('Egress') }
}

/** A rule's peers, whatever its direction. */
export const rulePeers = (rule: { from?: NetworkPolicyPeer[]; to?: NetworkPolicyPeer[] }, dir: 'ingress' | 'egress'): NetworkPolicyPeer[] | undefined =>
  dir === 'ingress' ? rule.from : rule.to

/** How rule evaluation finds pods: from scratch (Index) or memoised (incremental.ts). */
export interface PeerLookup {
  /** Pods a peer names (undefined: the peer is an ipBlock). */
  peerPods(peer: NetworkPolicyPeer, policyNs: string): readonly PodInfo[] | undefined
  /** Every known pod inside the ranges (egress named ports towards an ipBlock). */
  podsIn(ranges: readonly Range[]): readonly PodInfo[]
}

/** Pods, namespaces and their labels, indexed once per computation. */
class Index implements PeerLookup {
  readonly byNs = new Map<string, PodInfo[]>()
  readonly all: PodInfo[] = []
  readonly nsLabels = new Map<string, Record<string, string>>()
  /** `ns \0 key \0 value` → pods: a selector with an equality starts from its candidates. */
  private readonly byLabel = new Map<string, PodInfo[]>()
  constructor(input: NetpolInput) {
    const push = (m: Map<string, PodInfo[]>, k: string, p: PodInfo): void => {
      const l = m.get(k)
      if (l) l.push(p)
      else m.set(k, [p])
    }
    for (const p of input.pods) {
      const info = cachedPodInfo(p)
      if (!info) continue
      this.all.push(info)
      push(this.byNs, info.namespace, info)
      for (const [k, v] of Object.entries(info.labels)) push(this.byLabel, `${info.namespace}\0${k}\0${v}`, info)
    }
    for (const ns of input.namespaces) if (ns.metadata.name) this.nsLabels.set(ns.metadata.name, ns.metadata.labels ?? {})
  }

  /** Pods of `ns` matching `sel`, optionally only those `keep` accepts. */
  select(ns: string, sel: ParsedSelector, keep?: (p: PodInfo) => boolean): PodInfo[] {
    let cands = this.byNs.get(ns) ?? []
    for (const r of sel) {
      if ((r.operator === '=' || r.operator === '==' || (r.operator === 'in' && r.values.length === 1)) && r.values.length === 1) {
        const c = this.byLabel.get(`${ns}\0${r.key}\0${r.values[0]}`) ?? []
        if (c.length < cands.length) cands = c
      }
    }
    return cands.filter((p) => (!keep || keep(p)) && matchesLabels(sel, p.labels))
  }

  /** Pods a peer names (undefined: the peer is an ipBlock). */
  peerPods(peer: NetworkPolicyPeer, policyNs: string): PodInfo[] | undefined {
    const hasPod = peer.podSelector !== undefined && peer.podSelector !== null
    const hasNs = peer.namespaceSelector !== undefined && peer.namespaceSelector !== null
    if (!hasPod && !hasNs) return undefined
    const podSel = hasPod ? compile(peer.podSelector) : []
    if (!podSel) return []
    if (!hasNs) return this.select(policyNs, podSel)
    const nsSel = compile(peer.namespaceSelector)
    if (!nsSel) return []
    const out: PodInfo[] = []
    for (const [ns, labels] of this.nsLabels) {
      if (!matchesLabels(nsSel, labels)) continue
      out.push(...this.select(ns, podSel))
    }
    return out
  }

  podsIn(ranges: readonly Range[]): PodInfo[] {
    return this.all.filter((p) => ranges.some(([a, b]) => p.ip >= a && p.ip <= b))
  }
}

/**
 * What one rule contributes for one local pod. `peersOf` are the rule's peers (absent/empty =
 * everyone); `portsFor(remote)` resolves ports for a remote pod (egress) or ignores it (ingress).
 */
export function ruleContributions(
  idx: PeerLookup,
  policyNs: string,
  peers: readonly NetworkPolicyPeer[] | undefined,
  ports: readonly NetworkPolicyPort[] | undefined,
  local: PodInfo,
  direction: 'ingress' | 'egress',
): Contribution[] {
  const out: Contribution[] = []
  // ingress: named ports are the local (destination) pod's; egress: each remote pod's
  const fixed = direction === 'ingress' ? resolvePorts(ports, local) : undefined
  const perRemote = direction === 'egress' && hasNamedPort(ports)
  const pushPods = (pods: readonly PodInfo[]): void => {
    if (fixed) {
      if (fixed !== 'all' && fixed.length === 0) return
      out.push({ ranges: pods.map((p) => [p.ip, p.ip] as Range), ports: fixed })
    } else if (!perRemote) {
      const numeric = resolvePorts(ports, undefined)
      if (numeric !== 'all' && numeric.length === 0) return
      out.push({ ranges: pods.map((p) => [p.ip, p.ip] as Range), ports: numeric })
    } else
      for (const p of pods) {
        const r = resolvePorts(ports, p)
        if (r === 'all' || r.length) out.push({ ranges: [[p.ip, p.ip]], ports: r })
      }
  }
  const pushRanges = (ranges: Range[]): void => {
    if (!ranges.length) return
    const numeric = fixed ?? resolvePorts(ports, undefined)
    if (numeric === 'all' || numeric.length) out.push({ ranges, ports: numeric })
    // egress named ports towards an address block: the known pods inside it
    if (perRemote) pushPods(idx.podsIn(ranges))
  }
  if (!peers || peers.length === 0) {
    pushRanges([[0, MAX_IP]])
    return out
  }
  for (const peer of peers) {
    const pods = idx.peerPods(peer, policyNs)
    if (pods) {
      if (pods.length) pushPods(pods)
    } else if (peer.ipBlock) pushRanges(ipBlockRanges(peer.ipBlock.cidr, peer.ipBlock.except ?? []))
  }
  return out
}

function mergePorts(list: PortRange[]): PortRange[] {
  const out: PortRange[] = []
  for (const proto of PROTOS) {
    const rs = list.filter((p) => p.proto === proto).sort((a, b) => a.lo - b.lo || a.hi - b.hi)
    let cur: PortRange | undefined
    for (const r of rs) {
      if (cur && r.lo <= cur.hi + 1) cur.hi = Math.max(cur.hi, r.hi)
      else {
        if (cur) out.push(cur)
        cur = { ...r }
      }
    }
    if (cur) out.push(cur)
  }
  return out
}

const rangeText = (lo: number, hi: number): string => (lo === hi ? intToIp4(lo) : `${intToIp4(lo)}-${intToIp4(hi)}`)
const portText = (p: PortRange): string => `${p.proto} . ${p.lo === p.hi ? p.lo : `${p.lo}-${p.hi}`}`

/**
 * The sweep: contributions (overlapping) → disjoint elements. Returns element keys without the
 * local pod's prefix: `range` for the all-ports set, `range . proto . ports` for the ports set.
 */
export function disjointElements(contribs: readonly Contribution[]): { all: string[]; ports: string[] } {
  // events: at boundary b, contributions start (lo) or end (hi+1)
  const starts = new Map<number, number[]>()
  const ends = new Map<number, number[]>()
  contribs.forEach((c, i) => {
    for (const [lo, hi] of c.ranges) {
      ;(starts.get(lo) ?? starts.set(lo, []).get(lo)!).push(i)
      if (hi < MAX_IP) (ends.get(hi + 1) ?? ends.set(hi + 1, []).get(hi + 1)!).push(i)
    }
  })
  const bounds = [...new Set([...starts.keys(), ...ends.keys()])].sort((a, b) => a - b)
  // a contribution may list overlapping ranges (two peers naming one pod): count, not flag
  const active = new Map<number, number>()
  type Seg = { lo: number; hi: number; key: string; ports: PortRange[] | 'all' }
  const segs: Seg[] = []
  for (let k = 0; k < bounds.length; k++) {
    const b = bounds[k]!
    for (const i of ends.get(b) ?? []) {
      const n = (active.get(i) ?? 0) - 1
      if (n <= 0) active.delete(i)
      else active.set(i, n)
    }
    for (const i of starts.get(b) ?? []) active.set(i, (active.get(i) ?? 0) + 1)
    if (active.size === 0) continue
    const hi = k + 1 < bounds.length ? bounds[k + 1]! - 1 : MAX_IP
    let ports: PortRange[] | 'all' = []
    for (const i of active.keys()) {
      const p = contribs[i]!.ports
      if (p === 'all') {
        ports = 'all'
        break
      }
      ports.push(...p)
    }
    if (ports !== 'all') ports = mergePorts(ports)
    const key = ports === 'all' ? 'all' : ports.map(portText).join(',')
    const last = segs[segs.length - 1]
    if (last && last.hi + 1 === b && last.key === key) last.hi = hi
    else segs.push({ lo: b, hi, key, ports })
  }
  const all: string[] = []
  const ports: string[] = []
  for (const s of segs) {
    const r = rangeText(s.lo, s.hi)
    if (s.ports === 'all') all.push(r)
    else for (const p of s.ports) ports.push(`${r} . ${portText(p)}`)
  }
  return { all, ports }
}

/** The desired content of every set for `input.nodeName`. */
export function computeDesired(input: NetpolInput): Desired {
  const idx = new Index(input)
  const out = emptyDesired()
  const local = (p: PodInfo): boolean => p.node === input.nodeName
  // per local pod IP and direction: every contribution of every policy selecting it
  const contribs = { ingress: new Map<number, Contribution[]>(), egress: new Map<number, Contribution[]>() }
  for (const np of input.policies) {
    const ns = np.metadata.namespace ?? 'default'
    const spec = np.spec
    if (!spec) continue
    const sel = compile(spec.podSelector ?? {})
    if (!sel) continue
    const selected = idx.select(ns, sel, local)
    if (!selected.length) continue
    const dirs = policyDirections(spec)
    for (const dir of ['ingress', 'egress'] as const) {
      if (!dirs[dir]) continue
      const rules = (dir === 'ingress' ? spec.ingress : spec.egress) ?? []
      for (const pod of selected) {
        const list = contribs[dir].get(pod.ip) ?? contribs[dir].set(pod.ip, []).get(pod.ip)!
        for (const rule of rules) {
          list.push(...ruleContributions(idx, ns, rulePeers(rule, dir), rule.ports, pod, dir))
        }
      }
    }
  }
  for (const dir of ['ingress', 'egress'] as const) {
    const sets = DIR_SETS[dir]
    for (const [ip, list] of contribs[dir]) {
      const els = unitElements(ip, list)
      out.get(sets.isolated)!.add(els.isolated)
      for (const e of els.all) out.get(sets.all)!.add(e)
      for (const e of els.ports) out.get(sets.ports)!.add(e)
    }
  }
  return out
}

export type Direction = 'ingress' | 'egress'

/** The three sets of each direction. */
export const DIR_SETS = {
  ingress: { isolated: SETS.ingressIsolated, all: SETS.ingressAll, ports: SETS.ingressPorts },
  egress: { isolated: SETS.egressIsolated, all: SETS.egressAll, ports: SETS.egressPorts },
} as const

/** One isolated local pod IP and direction: its elements (keys prefixed by the pod's address). */
export function unitElements(ip: number, contribs: readonly Contribution[]): { isolated: string; all: string[]; ports: string[] } {
  const me = intToIp4(ip)
  const els = disjointElements(contribs)
  return { isolated: me, all: els.all.map((r) => `${me} . ${r}`), ports: els.ports.map((r) => `${me} . ${r}`) }
}

/** Total elements (a gauge, and the size of a full sync). */
export function elementCount(d: Desired): number {
  let n = 0
  for (const s of d.values()) n += s.size
  return n
}

