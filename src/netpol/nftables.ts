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
//   egress / ingress: two lookups in concatenated interval sets, `return` when allowed, else
//   `goto deny`: TCP reset / ICMP admin-prohibited, so a blocked client learns it at once.
import { NftTransaction, type NftChain, type NftSet } from '../net/nft.js'
import { SETS, type Desired, type SetName } from './core.js'
import type { ElementDiff } from './incremental.js'

export const NFT_FAMILY = 'ip' as const
export const NFT_TABLE = 'netkube-netpol'

export const CHAINS = { forward: 'netpol-forward', ingress: 'ingress-check', egress: 'egress-check', deny: 'deny-new' } as const

const ADDR = 'ipv4_addr'
const PAIR = `${ADDR} . ${ADDR}`
const PORTS = `${ADDR} . ${ADDR} . inet_proto . inet_service`

export function baseObjects(): { chains: NftChain[]; sets: NftSet[]; rules: [string, string][] } {
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
    { kind: 'set', name: s.ingressAll, type: PAIR, flags: ['interval'], comment: 'dst pod . src: every port' },
    { kind: 'set', name: s.ingressPorts, type: PORTS, flags: ['interval'], comment: 'dst pod . src . proto . port' },
    { kind: 'set', name: s.egressIsolated, type: ADDR, comment: 'local pods selected by an Egress policy' },
    { kind: 'set', name: s.egressAll, type: PAIR, flags: ['interval'], comment: 'src pod . dst: every port' },
    { kind: 'set', name: s.egressPorts, type: PORTS, flags: ['interval'], comment: 'src pod . dst . proto . port' },
  ]
  const rules: [string, string][] = [
    [c.forward, 'ct state established,related accept'],
    [c.forward, `ip saddr @${s.egressIsolated} jump ${c.egress}`],
    [c.forward, `ip daddr @${s.ingressIsolated} jump ${c.ingress}`],
    [c.egress, `ip saddr . ip daddr @${s.egressAll} return`],
    [c.egress, `ip saddr . ip daddr . meta l4proto . th dport @${s.egressPorts} return`],
    [c.egress, `goto ${c.deny}`],
    [c.ingress, `ip daddr . ip saddr @${s.ingressAll} return`],
    [c.ingress, `ip daddr . ip saddr . meta l4proto . th dport @${s.ingressPorts} return`],
    [c.ingress, `goto ${c.deny}`],
    [c.deny, 'meta l4proto tcp reject with tcp reset'],
    [c.deny, 'reject with icmp type admin-prohibited'],
  ]
  return { chains, sets, rules }
}

/** Sets in a fixed order, so transactions render deterministically. */
const SET_ORDER: SetName[] = Object.values(SETS)
/** The concatenated interval sets (their elements carry a KEY_END over netlink). */
const INTERVAL = new Set<SetName>(baseObjects().sets.filter((s) => s.flags?.includes('interval')).map((s) => s.name as SetName))
const element = (set: SetName, key: string) => ({ kind: 'element' as const, set, key, ...(INTERVAL.has(set) ? { interval: true } : {}) })

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
    let added = 0
    // elements before the rules that use them: the first packet sees a complete policy
    for (const set of SET_ORDER)
      for (const key of [...(desired.get(set) ?? [])].sort()) {
        tx.add(element(set, key))
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
      for (const key of [...(diff.del.get(set) ?? [])].sort()) {
        tx.delete(element(set, key))
        deleted++
      }
    for (const set of SET_ORDER)
      for (const key of [...(diff.add.get(set) ?? [])].sort()) {
        tx.add(element(set, key))
        added++
      }
    return { tx, full: false, added, deleted, commit: () => void (this.programmedOnce = true) }
  }

  /** Forget the kernel state (after a failure): the next plan is a full one. */
  reset(): void {
    this.programmedOnce = false
  }
}
