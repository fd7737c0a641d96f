// The incremental NetworkPolicy core (pure): Pod, Namespace and NetworkPolicy changes in, the
// element diff of this node's sets out. Same result as computeDesired (core.ts) from scratch —
// test/netpol/incremental.test.ts replays random change sequences against it — but one change
// costs what it touches, not the whole cluster.
//
// Design note — what is memoised and what invalidates it:
//   unit      (direction, local pod IP): the elements it owns (all keys start with that IP, so
//             units never share an element). Recomputed only when marked dirty; its elements
//             are then diffed against what it owned before.
//   policy    its compiled podSelector and the local pods it selects (`selected`); reverse:
//             pod → the policies selecting it (`selectedBy`).
//   peer      every podSelector/namespaceSelector peer of a policy: the pods it names
//             (`members`); reverse: pod → the peers naming it (`memberOf`).
//   indexes   from a label `key=value` (the first equality requirement of a selector) to the
//             selectors that need it; selectors without one sit in a per-scope scan list. So a
//             pod change looks at the policies of its namespace and the peers that could name
//             it, not at all 10,000 policies.
//   What marks a unit dirty:
//     - a local pod changes (labels, IP, node, named ports, appears, goes): its own units;
//     - a policy is added, edited or deleted: the units of the pods it selects (before, after);
//     - a peer's membership changes, or a member's IP or named ports change: the units of the
//       pods selected by the peer's policy;
//     - a namespace's labels change: the peers whose namespaceSelector starts or stops matching
//       it recompute their members from the pods of that namespace (then as above);
//     - rules whose named ports resolve on pods inside an ipBlock (egress) read every pod: any
//       pod's IP or ports change marks their policy's units.
import { matchesLabels, type ParsedSelector } from '../api/selectors.js'
import type { Namespace, NetworkPolicy, NetworkPolicyPeer, Pod } from '../api/types.js'
import {
  compile,
  DIR_SETS,
  emptyDesired,
  hasNamedPort,
  podInfo,
  policyDirections,
  ruleContributions,
  rulePeers,
  unitElements,
  type Contribution,
  type Desired,
  type Direction,
  type PeerLookup,
  type PodInfo,
  type Range,
  type SetName,
} from './core.js'

const DIRS: readonly Direction[] = ['ingress', 'egress']

/** Element changes per set; deletes and adds never name the same element. */
export interface ElementDiff {
  add: Map<SetName, string[]>
  del: Map<SetName, string[]>
}

export function diffSize(d: ElementDiff): { added: number; deleted: number } {
  let added = 0
  let deleted = 0
  for (const l of d.add.values()) added += l.length
  for (const l of d.del.values()) deleted += l.length
  return { added, deleted }
}

// ---- a selector index --------------------------------------------------------------------

/**
 * Items keyed by one equality requirement of their selector (`scope key=value`), the rest in a
 * scan list per scope: candidates(scope, labels) is a superset of the items whose selector
 * matches `labels`, usually a tiny one.
 */
class SelectorIndex<T> {
  private readonly byLabel = new Map<string, Set<T>>()
  private readonly scan = new Map<string, Set<T>>()
  private readonly where = new Map<T, string[] | string>()

  add(item: T, scope: string, sel: ParsedSelector): void {
    const r = sel.find((q) => q.operator === '=' || q.operator === '==' || q.operator === 'in')
    if (!r) {
      add(this.scan, scope, item)
      this.where.set(item, scope)
      return
    }
    // `in` with no values matches nothing: indexed under no key, never a candidate
    const keys = r.values.map((v) => `${scope}\0${r.key}\0${v}`)
    for (const k of keys) add(this.byLabel, k, item)
    this.where.set(item, keys)
  }

  remove(item: T): void {
    const w = this.where.get(item)
    if (w === undefined) return
    this.where.delete(item)
    if (typeof w === 'string') del(this.scan, w, item)
    else for (const k of w) del(this.byLabel, k, item)
  }

  candidates(scope: string, labels: Record<string, string>, into: Set<T>): void {
    for (const x of this.scan.get(scope) ?? []) into.add(x)
    for (const [k, v] of Object.entries(labels)) for (const x of this.byLabel.get(`${scope}\0${k}\0${v}`) ?? []) into.add(x)
  }
}

function add<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k)
  if (s) s.add(v)
  else m.set(k, new Set([v]))
}
function del<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k)
  if (!s) return
  s.delete(v)
  if (!s.size) m.delete(k)
}

// ---- memo records --------------------------------------------------------------------------

interface Pol {
  key: string
  ns: string
  np: NetworkPolicy
  sel: ParsedSelector
  dirs: { ingress: boolean; egress: boolean }
  /** local pods selected (pod keys) */
  selected: Set<string>
  /** its pod-naming peers, by the spec's peer object */
  peers: Map<NetworkPolicyPeer, Peer>
  /** reads every pod (egress named ports towards an ipBlock) */
  readsAllPods: boolean
}

interface Peer {
  pol: Pol
  /** undefined: an invalid selector, names nobody */
  podSel: ParsedSelector | undefined
  /** set: the peer has a namespaceSelector */
  nsSel: ParsedSelector | undefined
  hasNs: boolean
  members: Set<string>
}

const ALL_SCOPE = '\0all'

function sameInfo(a: PodInfo | undefined, b: PodInfo | undefined): boolean {
  if (!a || !b) return a === b
  return a.ip === b.ip && a.node === b.node && sameLabels(a.labels, b.labels) && samePorts(a, b)
}
function samePorts(a: PodInfo, b: PodInfo): boolean {
  if (a.namedPorts.size !== b.namedPorts.size) return false
  for (const [k, v] of a.namedPorts) if (b.namedPorts.get(k) !== v) return false
  return true
}
function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k])
}

/** The core's key of a namespaced object (pods, policies): `ns/name`. */
export const objectKey = (o: { metadata: { namespace?: string; name?: string } }): string => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`

/** The incremental core of one node. */
export class IncrementalNetpol {
  private readonly pods = new Map<string, PodInfo>()
  private readonly podsByNs = new Map<string, Set<string>>()
  private readonly podsByLabel = new Map<string, Set<string>>()
  /** local pod IP → local pod keys (normally one) */
  private readonly localByIp = new Map<number, Set<string>>()
  private readonly nsLabels = new Map<string, Record<string, string>>()
  private readonly policies = new Map<string, Pol>()
  private readonly selectedBy = new Map<string, Set<Pol>>()
  private readonly memberOf = new Map<string, Set<Peer>>()
  private readonly readAllPods = new Set<Pol>()
  /** policy podSelectors, scope = namespace */
  private readonly polIdx = new SelectorIndex<Pol>()
  /** peers by podSelector: scope = the policy's namespace, or ALL_SCOPE with a namespaceSelector */
  private readonly peerPodIdx = new SelectorIndex<Peer>()
  /** peers with a namespaceSelector and a podSelector that indexes nothing, by namespaceSelector */
  private readonly peerNsOnlyIdx = new SelectorIndex<Peer>()
  /** every peer with a namespaceSelector, by namespaceSelector (namespace label changes) */
  private readonly peerNsIdx = new SelectorIndex<Peer>()
  private readonly units = { ingress: new Map<number, UnitEls>(), egress: new Map<number, UnitEls>() }
  private readonly dirty = { ingress: new Set<number>(), egress: new Set<number>() }
  private readonly current: Desired = emptyDesired()

  constructor(readonly nodeName: string) {}

  // ---- inputs ------------------------------------------------------------------------------

  setPod(key: string, pod: Pod | undefined): void {
    const old = this.pods.get(key)
    const cur = pod ? podInfo(pod) : undefined
    if (sameInfo(old, cur)) {
      if (cur) this.pods.set(key, cur) // same content, newer object
      return
    }
    if (old) this.unindexPod(key, old)
    if (cur) this.indexPod(key, cur)
    // selection: the policies of its namespace whose podSelector matches (local pods only)
    const wasSel = this.selectedBy.get(key)
    if (wasSel) for (const pol of wasSel) pol.selected.delete(key)
    this.selectedBy.delete(key)
    if (cur && cur.node === this.nodeName) {
      const cands = new Set<Pol>()
      this.polIdx.candidates(cur.namespace, cur.labels, cands)
      const now = new Set<Pol>()
      for (const pol of cands)
        if (matchesLabels(pol.sel, cur.labels)) {
          now.add(pol)
          pol.selected.add(key)
        }
      if (now.size) this.selectedBy.set(key, now)
    }
    if (old && old.node === this.nodeName) this.markIp(old.ip)
    if (cur && cur.node === this.nodeName) this.markIp(cur.ip)
    // peers: the ones naming it before, and the candidates naming it now
    const touched = new Set<Peer>(this.memberOf.get(key) ?? [])
    if (cur) this.peerCandidates(cur, touched)
    const moved = !old || !cur || old.ip !== cur.ip || !samePorts(old, cur)
    for (const peer of touched) {
      const was = peer.members.has(key)
      const is = cur !== undefined && this.peerNames(peer, cur)
      if (was !== is) this.setMember(peer, key, is)
      if (was !== is || (is && moved)) this.markPolicy(peer.pol)
    }
    if (moved) for (const pol of this.readAllPods) this.markPolicy(pol)
  }

  setNamespace(name: string, ns: Namespace | undefined): void {
    const before = this.nsLabels.get(name)
    const after = ns ? (ns.metadata.labels ?? {}) : undefined
    if (before === undefined ? after === undefined : after !== undefined && sameLabels(before, after)) return
    const peers = new Set<Peer>()
    if (before) this.peerNsIdx.candidates('', before, peers)
    if (after) {
      this.peerNsIdx.candidates('', after, peers)
      this.nsLabels.set(name, after)
    } else this.nsLabels.delete(name)
    const podKeys = this.podsByNs.get(name) ?? new Set<string>()
    for (const peer of peers) {
      const was = before !== undefined && matchesLabels(peer.nsSel!, before)
      const is = after !== undefined && matchesLabels(peer.nsSel!, after)
      if (was === is) continue
      let changed = false
      for (const k of podKeys) {
        const p = this.pods.get(k)!
        const member = is && peer.podSel !== undefined && matchesLabels(peer.podSel, p.labels)
        if (member === peer.members.has(k)) continue
        changed = true
        this.setMember(peer, k, member)
      }
      if (changed) this.markPolicy(peer.pol)
    }
  }

  setPolicy(key: string, np: NetworkPolicy | undefined): void {
    const old = this.policies.get(key)
    if (old) this.removePolicy(old)
    if (np?.spec) this.addPolicy(key, np)
  }

  // ---- output ------------------------------------------------------------------------------

  /** Recompute the dirty units; the element diff since the last flush. */
  flush(): ElementDiff {
    const diff: ElementDiff = { add: new Map(), del: new Map() }
    const push = (m: Map<SetName, string[]>, set: SetName, k: string): void => {
      const l = m.get(set)
      if (l) l.push(k)
      else m.set(set, [k])
    }
    for (const dir of DIRS) {
      const sets = DIR_SETS[dir]
      for (const ip of this.dirty[dir]) {
        const prev = this.units[dir].get(ip)
        const next = this.computeUnit(dir, ip)
        if (prev && !next) push(diff.del, sets.isolated, prev.isolated)
        if (!prev && next) push(diff.add, sets.isolated, next.isolated)
        for (const [set, a, b] of [
          [sets.all, prev?.all ?? [], next?.all ?? []],
          [sets.ports, prev?.ports ?? [], next?.ports ?? []],
        ] as const) {
          const bs = new Set(b)
          const as = new Set(a)
          for (const k of a) if (!bs.has(k)) push(diff.del, set, k)
          for (const k of b) if (!as.has(k)) push(diff.add, set, k)
        }
        if (next) this.units[dir].set(ip, next)
        else this.units[dir].delete(ip)
      }
      this.dirty[dir].clear()
    }
    for (const [set, l] of diff.del) for (const k of l) this.current.get(set)!.delete(k)
    for (const [set, l] of diff.add) for (const k of l) this.current.get(set)!.add(k)
    return diff
  }

  /** The whole desired state (after flush): what the kernel holds once the diffs are applied. */
  desired(): Desired {
    return this.current
  }

  get policyCount(): number {
    return this.policies.size
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Rule evaluation over one policy's memoised peers. */
  private lookup(pol: Pol): PeerLookup {
    return {
      peerPods: (peer) => {
        const p = pol.peers.get(peer)
        return p ? [...p.members].map((k) => this.pods.get(k)!) : undefined
      },
      podsIn: (ranges: readonly Range[]) => {
        const out: PodInfo[] = []
        for (const p of this.pods.values()) if (ranges.some(([a, b]) => p.ip >= a && p.ip <= b)) out.push(p)
        return out
      },
    }
  }

  private computeUnit(dir: Direction, ip: number): UnitEls | undefined {
    const keys = this.localByIp.get(ip)
    if (!keys) return undefined
    let isolated = false
    const contribs: Contribution[] = []
    for (const k of keys) {
      const pod = this.pods.get(k)!
      for (const pol of this.selectedBy.get(k) ?? []) {
        if (!pol.dirs[dir]) continue
        isolated = true
        const lookup = this.lookup(pol)
        for (const rule of (dir === 'ingress' ? pol.np.spec.ingress : pol.np.spec.egress) ?? [])
          contribs.push(...ruleContributions(lookup, pol.ns, rulePeers(rule, dir), rule.ports, pod, dir))
      }
    }
    return isolated ? unitElements(ip, contribs) : undefined
  }

  private markIp(ip: number): void {
    this.dirty.ingress.add(ip)
    this.dirty.egress.add(ip)
  }

  private markPolicy(pol: Pol): void {
    for (const k of pol.selected) this.markIp(this.pods.get(k)!.ip)
  }

  private indexPod(key: string, p: PodInfo): void {
    this.pods.set(key, p)
    add(this.podsByNs, p.namespace, key)
    for (const [k, v] of Object.entries(p.labels)) add(this.podsByLabel, `${p.namespace}\0${k}\0${v}`, key)
    if (p.node === this.nodeName) add(this.localByIp, p.ip, key)
  }

  private unindexPod(key: string, p: PodInfo): void {
    this.pods.delete(key)
    del(this.podsByNs, p.namespace, key)
    for (const [k, v] of Object.entries(p.labels)) del(this.podsByLabel, `${p.namespace}\0${k}\0${v}`, key)
    if (p.node === this.nodeName) del(this.localByIp, p.ip, key)
  }

  /** Pod keys of `ns` matching `sel` (candidates from the label index when it can). */
  private select(ns: string, sel: ParsedSelector): string[] {
    let cands: Set<string> = this.podsByNs.get(ns) ?? new Set()
    for (const r of sel)
      if ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) {
        const c = this.podsByLabel.get(`${ns}\0${r.key}\0${r.values[0]}`) ?? new Set<string>()
        if (c.size < cands.size) cands = c
      }
    return [...cands].filter((k) => matchesLabels(sel, this.pods.get(k)!.labels))
  }

  private peerNames(peer: Peer, p: PodInfo): boolean {
    if (!peer.podSel) return false
    if (peer.hasNs) {
      const labels = this.nsLabels.get(p.namespace)
      if (!labels || !peer.nsSel || !matchesLabels(peer.nsSel, labels)) return false
    } else if (p.namespace !== peer.pol.ns) return false
    return matchesLabels(peer.podSel, p.labels)
  }

  private peerCandidates(p: PodInfo, into: Set<Peer>): void {
    this.peerPodIdx.candidates(p.namespace, p.labels, into)
    this.peerPodIdx.candidates(ALL_SCOPE, p.labels, into)
    const labels = this.nsLabels.get(p.namespace)
    if (labels) this.peerNsOnlyIdx.candidates('', labels, into)
  }

  private addPolicy(key: string, np: NetworkPolicy): void {
    const spec = np.spec
    const sel = compile(spec.podSelector ?? {})
    if (!sel) return // a stored invalid selector selects nothing
    const ns = np.metadata.namespace ?? 'default'
    const dirs = policyDirections(spec)
    const pol: Pol = { key, ns, np, sel, dirs, selected: new Set(), peers: new Map(), readsAllPods: false }
    this.policies.set(key, pol)
    this.polIdx.add(pol, ns, sel)
    for (const k of this.select(ns, sel)) {
      if (this.pods.get(k)!.node !== this.nodeName) continue
      pol.selected.add(k)
      add(this.selectedBy, k, pol)
    }
    for (const dir of DIRS) {
      if (!dirs[dir]) continue
      for (const rule of (dir === 'ingress' ? spec.ingress : spec.egress) ?? []) {
        const peers = rulePeers(rule, dir) ?? []
        if (dir === 'egress' && hasNamedPort(rule.ports) && (peers.length === 0 || peers.some((x) => x.ipBlock && !x.podSelector && !x.namespaceSelector))) pol.readsAllPods = true
        for (const peer of peers) this.addPeer(pol, peer)
      }
    }
    if (pol.readsAllPods) this.readAllPods.add(pol)
    this.markPolicy(pol)
  }

  private addPeer(pol: Pol, peer: NetworkPolicyPeer): void {
    const hasPod = peer.podSelector !== undefined && peer.podSelector !== null
    const hasNs = peer.namespaceSelector !== undefined && peer.namespaceSelector !== null
    if (!hasPod && !hasNs) return // ipBlock: no pods behind it
    if (pol.peers.has(peer)) return // one object listed twice
    const podSel = hasPod ? compile(peer.podSelector) : []
    const nsSel = hasNs ? compile(peer.namespaceSelector) : undefined
    const p: Peer = { pol, podSel: hasNs && !nsSel ? undefined : podSel, nsSel, hasNs, members: new Set() }
    pol.peers.set(peer, p)
    if (!p.podSel) return
    if (!hasNs) {
      this.peerPodIdx.add(p, pol.ns, p.podSel)
      for (const k of this.select(pol.ns, p.podSel)) this.setMember(p, k, true)
      return
    }
    this.peerNsIdx.add(p, '', p.nsSel!)
    if (p.podSel.some((q) => q.operator === '=' || q.operator === '==' || q.operator === 'in')) this.peerPodIdx.add(p, ALL_SCOPE, p.podSel)
    else this.peerNsOnlyIdx.add(p, '', p.nsSel!)
    for (const [ns, labels] of this.nsLabels) if (matchesLabels(p.nsSel!, labels)) for (const k of this.select(ns, p.podSel)) this.setMember(p, k, true)
  }

  /** A pod joins or leaves a peer's members (and the reverse index). */
  private setMember(p: Peer, k: string, member: boolean): void {
    if (member) {
      p.members.add(k)
      add(this.memberOf, k, p)
    } else {
      p.members.delete(k)
      del(this.memberOf, k, p)
    }
  }

  private removePolicy(pol: Pol): void {
    this.markPolicy(pol)
    this.policies.delete(pol.key)
    this.polIdx.remove(pol)
    this.readAllPods.delete(pol)
    for (const k of pol.selected) del(this.selectedBy, k, pol)
    for (const p of pol.peers.values()) {
      for (const k of p.members) del(this.memberOf, k, p)
      this.peerPodIdx.remove(p)
      this.peerNsOnlyIdx.remove(p)
      this.peerNsIdx.remove(p)
    }
  }
}

type UnitEls = { isolated: string; all: string[]; ports: string[] }
