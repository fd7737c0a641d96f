// The kernel layout of NetworkPolicy enforcement (pure): table `ip netkube-netpol`, fixed
// chains and sets declared as data, and the planner that turns desired set contents into one
// transaction — a full rebuild or an element diff against what the kernel last accepted.
//
//   forward (filter, hook forward, priority 0): after kube-proxy's DNAT (prerouting, dstnat
//   = -100), so Service traffic is judged by its backend; bridged same-node traffic comes here
//   too through br_netfilter (net.bridge.bridge-nf-call-iptables=1). Traffic between a pod and
//   its own node never passes forward (it is input/output), so kubelet probes are never judged.
//     ct state established,related accept      replies and related ICMP of allowed flows
//     ip saddr @egress-isolated jump egress     egress on the source node
//     ip daddr @ingress-isolated jump ingress   ingress on the destination node
//   egress / ingress: `ip saddr & 0.0.0.63 vmap @egress-shards` → `goto egress-NN`, the
//   shard of the local pod (the last octet of its address); there two lookups in the shard's
//   concatenated interval sets, `return` when allowed, else `goto deny`: TCP reset / ICMP
//   admin-prohibited, so a blocked client learns it at once.
//
// Design note — why the allow sets are sharded by the local pod's address:
//   the allow sets are concatenated interval sets (nft's pipapo), and pipapo rebuilds its
//   lookup tables on every transaction that touches the set, at a cost that grows with the
//   set's size: one element added and one deleted in a 10,000-element set took 16–260 ms to
//   commit on this machine (bench:netpol, `kernel commit`). Every element is keyed by one local
//   pod, and one change touches the elements of one or two local pods, so the sets are split
//   into SHARDS (64) sets per kind by the pod address's low bits (a node's pod CIDR is usually
//   a /24: at most 4 pods per shard); a change then rebuilds sets of ~1/64 the size. 256
//   shards made the sets smaller still but a full sync (`nft -f` of 1,024 sets) 2.5× slower
//   (330 vs 132 ms with no policy, load ~24), for no gain measurable under the noise. The shard
//   count is fixed (not per pod, not per policy): no set or chain is created or deleted by a
//   change, so an incremental sync stays element ops only (netlink), and a packet still costs a
//   constant number of lookups whatever the number of policies: 2 isolation lookups, then per
//   isolated direction 1 shard vmap lookup and at most 2 interval-set lookups (2 + 2×3).
//   The isolation sets are plain hash sets (constant-cost updates) and stay whole; the shard
//   maps are written once, at a full sync, and never change.
import { NftTransaction, type NftChain, type NftSet } from '../net/nft.js'
import { ip4ToInt } from '../net/ip.js'
import { SETS, type Desired, type SetName } from './core.js'
import type { ElementDiff } from './incremental.js'

export const NFT_FAMILY = 'ip' as const
export const NFT_TABLE = 'netkube-netpol'

export const CHAINS = { forward: 'netpol-forward', ingress: 'ingress-check', egress: 'egress-check', deny: 'deny-new' } as const
/** The vmaps from a local pod address's shard to its chain. */
export const SHARD_MAPS = { ingress: 'ingress-shards', egress: 'egress-shards' } as const

/** Shards per sharded set kind: a power of two, the mask is the address's low bits. */
export const SHARDS = 64
const MASK = SHARDS - 1

const ADDR = 'ipv4_addr'
const PAIR = `${ADDR} . ${ADDR}`
const PORTS = `${ADDR} . ${ADDR} . inet_proto . inet_service`

/** The sets split per shard (pipapo, keyed by the local pod first). */
const SHARDED: ReadonlySet<SetName> = new Set<SetName>([SETS.ingressAll, SETS.ingressPorts, SETS.egressAll, SETS.egressPorts])

/** The shard of a local pod address. */
export const shardOf = (ip: number): number => ip & MASK

/** The kernel set holding `key` of logical set `set` (keys start with the local pod's address). */
export function kernelSet(set: SetName, key: string): string {
  if (!SHARDED.has(set)) return set
  const sp = key.indexOf(' ')
  return `${set}-${shardOf(ip4ToInt(sp < 0 ? key : key.slice(0, sp)))}`
}

/** The kernel set of logical `set` for local pod address `ip` (observers: the lab bench, tests). */
export const kernelSetFor = (set: SetName, ip: string): string => kernelSet(set, ip)

const shardChain = (dir: 'ingress' | 'egress', s: number): string => `${dir}-${s}`
const shardMaskText = `0.0.0.${MASK}`

export interface BaseObjects {
  chains: NftChain[]
  sets: NftSet[]
  rules: [string, string][]
  /** the shard vmaps' content: `0.0.0.N : goto <dir>-N` */
  shardElements: { map: string; key: string; value: string }[]
}

let base: BaseObjects | undefined
/** The fixed chains, sets, rules and shard map elements (built once: they never change). */
export function baseObjects(): BaseObjects {
  return (base ??= buildBase())
}

function buildBase(): BaseObjects {
  const c = CHAINS
  const s = SETS
  const chains: NftChain[] = [
    { kind: 'chain', name: c.forward, type: 'filter', hook: 'forward', priority: 0, comment: 'NetworkPolicy, after DNAT' },
    { kind: 'chain', name: c.ingress },
    { kind: 'chain', name: c.egress },
    { kind: 'chain', name: c.deny },
  ]
  const sets: NftSet[] = [
    { kind: 'set', name: s.ingressIsolated, type: ADDR, comment: 'local pods selected by an Ingress policy' },
    { kind: 'set', name: s.egressIsolated, type: ADDR, comment: 'local pods selected by an Egress policy' },
    { kind: 'map', name: SHARD_MAPS.ingress, type: `${ADDR} : verdict`, comment: `dst pod & ${shardMaskText}: its shard` },
    { kind: 'map', name: SHARD_MAPS.egress, type: `${ADDR} : verdict`, comment: `src pod & ${shardMaskText}: its shard` },
  ]
  const rules: [string, string][] = [
    [c.forward, 'ct state established,related accept'],
    [c.forward, `ip saddr @${s.egressIsolated} jump ${c.egress}`],
    [c.forward, `ip daddr @${s.ingressIsolated} jump ${c.ingress}`],
    // every shard value is in the map; the goto only guards against a map that lost one
    [c.egress, `ip saddr & ${shardMaskText} vmap @${SHARD_MAPS.egress}`],
    [c.egress, `goto ${c.deny}`],
    [c.ingress, `ip daddr & ${shardMaskText} vmap @${SHARD_MAPS.ingress}`],
    [c.ingress, `goto ${c.deny}`],
    [c.deny, 'meta l4proto tcp reject with tcp reset'],
    [c.deny, 'reject with icmp type admin-prohibited'],
  ]
  const shardElements: { map: string; key: string; value: string }[] = []
  for (let i = 0; i < SHARDS; i++) {
    const ic = shardChain('ingress', i)
    const ec = shardChain('egress', i)
    chains.push({ kind: 'chain', name: ic }, { kind: 'chain', name: ec })
    sets.push(
      { kind: 'set', name: `${s.ingressAll}-${i}`, type: PAIR, flags: ['interval'] },
      { kind: 'set', name: `${s.ingressPorts}-${i}`, type: PORTS, flags: ['interval'] },
      { kind: 'set', name: `${s.egressAll}-${i}`, type: PAIR, flags: ['interval'] },
      { kind: 'set', name: `${s.egressPorts}-${i}`, type: PORTS, flags: ['interval'] },
    )
    rules.push(
      [ec, `ip saddr . ip daddr @${s.egressAll}-${i} return`],
      [ec, `ip saddr . ip daddr . meta l4proto . th dport @${s.egressPorts}-${i} return`],
      [ec, `goto ${c.deny}`],
      [ic, `ip daddr . ip saddr @${s.ingressAll}-${i} return`],
      [ic, `ip daddr . ip saddr . meta l4proto . th dport @${s.ingressPorts}-${i} return`],
      [ic, `goto ${c.deny}`],
    )
    shardElements.push({ map: SHARD_MAPS.ingress, key: `0.0.0.${i}`, value: `goto ${ic}` }, { map: SHARD_MAPS.egress, key: `0.0.0.${i}`, value: `goto ${ec}` })
  }
  return { chains, sets, rules, shardElements }
}

/** Sets in a fixed order, so transactions render deterministically. */
const SET_ORDER: SetName[] = Object.values(SETS)
// the sharded sets are concatenated interval sets: over netlink their elements carry a KEY_END
const element = (set: SetName, key: string) => ({ kind: 'element' as const, set: kernelSet(set, key), key, ...(SHARDED.has(set) ? { interval: true } : {}) })

/** Element ops of one logical set, grouped by kernel set (consecutive ops on one set share a message). */
function ordered(set: SetName, keys: Iterable<string>): { kind: 'element'; set: string; key: string; interval?: boolean }[] {
  return [...keys].map((k) => element(set, k)).sort((a, b) => (a.set === b.set ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.set < b.set ? -1 : 1))
}

export interface Plan {
  tx: NftTransaction
  full: boolean
  added: number
  deleted: number
  /** Record that the kernel accepted `tx`. */
  commit(): void
}

/** Whether the kernel holds this agent's table, and the planner of full and element-diff syncs. */
export class NetpolNftState {
  private programmedOnce = false

  constructor(
    readonly table = NFT_TABLE,
    readonly family: typeof NFT_FAMILY = NFT_FAMILY,
  ) {}

  get programmed(): boolean {
    return this.programmedOnce
  }

  /**
   * Full sync: `add; delete; add` the table in one transaction, then everything. A restarted
   * agent thereby adopts (replaces) what its predecessor left, with nothing duplicated; the
   * predecessor's rules keep enforcing until this transaction swaps them atomically.
   */
  planFull(desired: Desired): Plan {
    const tx = new NftTransaction(this.family, this.table)
    const table = { kind: 'table' as const, comment: 'netkube NetworkPolicy' }
    tx.add(table).delete(table).add(table)
    const base = baseObjects()
    for (const c of base.chains) tx.add(c)
    for (const s of base.sets) tx.add(s)
    for (const e of base.shardElements) tx.add({ kind: 'element', set: e.map, key: e.key, value: e.value })
    let added = 0
    // elements before the rules that use them: the first packet sees a complete policy
    for (const set of SET_ORDER)
      for (const el of ordered(set, desired.get(set) ?? [])) {
        tx.add(el)
        added++
      }
    for (const [chain, rule] of base.rules) tx.add({ kind: 'rule', chain, rule })
    return { tx, full: true, added, deleted: 0, commit: () => void (this.programmedOnce = true) }
  }

  /** Incremental sync: the core's element diff, deletes first (the sets never hold overlaps). */
  planDiff(diff: ElementDiff): Plan {
    const tx = new NftTransaction(this.family, this.table)
    let added = 0
    let deleted = 0
    for (const set of SET_ORDER)
      for (const el of ordered(set, diff.del.get(set) ?? [])) {
        tx.delete(el)
        deleted++
      }
    for (const set of SET_ORDER)
      for (const el of ordered(set, diff.add.get(set) ?? [])) {
        tx.add(el)
        added++
      }
    return { tx, full: false, added, deleted, commit: () => void (this.programmedOnce = true) }
  }

  /** Forget the kernel state (after a failure): the next plan is a full one. */
  reset(): void {
    this.programmedOnce = false
  }
}
