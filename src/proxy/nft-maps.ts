// The 'maps' nftables layout: Services as map elements, not chains.
//
// Why (measured on kernel 6.18, see README): every commit that adds a rule, or a map element
// whose verdict is a jump/goto, makes the kernel revalidate the table's whole jump graph —
// every chain reachable from the base chains through every verdict-map element. With a chain
// per Service and per endpoint that is O(Services) per commit (100–200 ms at 5k Services),
// however small the change. Adding or deleting *data* elements (set membership, a map from a
// key to an address) validates nothing. So here the rules are fixed, written once with the
// table, and a Service is only elements:
//
//   services:  ip daddr . meta l4proto . th dport @endpoints-N goto pick-N     (N = 1 … MAX_SLOTS)
//   pick-N:    numgen random mod N vmap { 0 : goto dnat-slot-0, …, N-1 : goto dnat-slot-N-1 }
//   dnat-slot-I:  dnat ip to ip daddr . meta l4proto . tcp dport map @slot-I   (one rule per protocol)
//
// A Service port with N usable endpoints puts its key (ClusterIP . proto . port, and each
// external/LoadBalancer IP) into @endpoints-N and its I-th endpoint (sorted) into @slot-I.
// NodePorts do the same on `meta l4proto . th dport` keys (@nodeport-endpoints-N,
// @nodeport-slot-I, through chain `nodeports`). Masquerading is set membership too:
// @cluster-ips (ClusterIP traffic from outside the pod network), @external-ips (always), and
// @hairpin (`endpoint . endpoint . ClusterIP . proto . port`, matched in nat postrouting after
// DNAT, so a pod reaching itself through its Service sees the node as the peer).
//
// An endpoint change is then a handful of element deletes and adds in one netlink batch: no
// rule, no verdict, no graph walk, the same cost at 1k and 50k Services. Services this layout
// cannot express (ClientIP affinity, Local traffic policies, loadBalancerSourceRanges, more
// than MAX_SLOTS endpoints) keep per-Service chains behind @service-ips / @service-nodeports;
// only those chains make a commit revalidate, and the graph holds only them.
import type { NftChain, NftSet } from '../net/nft.js'
import type { CategorizedEndpoints, EndpointInfo, ServicePortInfo } from './serviceport.js'

/** Endpoints a Service port may have and still be elements only (more: per-Service chains). */
export const MAX_SLOTS = 16

const PROTOS = ['tcp', 'udp', 'sctp'] as const
const IP_KEY = 'ipv4_addr . inet_proto . inet_service'
const PORT_KEY = 'inet_proto . inet_service'
const TARGET = 'ipv4_addr . inet_service'

export const MAPS_SETS = {
  clusterIPs: 'cluster-ips',
  externalIPs: 'external-ips',
  hairpin: 'hairpin',
  endpoints: (n: number) => `endpoints-${n}`,
  nodeportEndpoints: (n: number) => `nodeport-endpoints-${n}`,
  slot: (i: number) => `slot-${i}`,
  nodeportSlot: (i: number) => `nodeport-slot-${i}`,
} as const

export const MAPS_CHAINS = {
  nodeports: 'nodeports',
  pick: (n: number) => `pick-${n}`,
  nodeportPick: (n: number) => `nodeport-pick-${n}`,
  dnatSlot: (i: number) => `dnat-slot-${i}`,
  nodeportDnatSlot: (i: number) => `nodeport-dnat-slot-${i}`,
} as const

export interface MapsBase {
  chains: NftChain[]
  sets: NftSet[]
  /** [chain, rule]: rules of the chains above, plus those the caller splices into its own. */
  rules: [string, string][]
  /** Rules for the shared `services` chain, before its @service-ips dispatch. */
  servicesHead: string[]
  /** …and after it (the NodePort entry replaces the plain @service-nodeports rule). */
  servicesTail: string[]
  /** Rules for nat-postrouting, before `jump masquerading`. */
  postroutingHead: string[]
}

/**
 * The fixed part of the layout. Rule texts are written the way `nft list` prints them, so a
 * restarted proxy recognises its table (nftables.ts compares normalized text).
 */
export function mapsBase(clusterCIDR: string, markMasq: string, localDst: string | undefined, nodeportVmap: string): MapsBase {
  const chains: NftChain[] = []
  const sets: NftSet[] = [
    { kind: 'set', name: MAPS_SETS.clusterIPs, type: IP_KEY },
    { kind: 'set', name: MAPS_SETS.externalIPs, type: IP_KEY },
    { kind: 'set', name: MAPS_SETS.hairpin, type: `ipv4_addr . ipv4_addr . ${IP_KEY}` },
  ]
  const rules: [string, string][] = []
  const servicesTail: string[] = []
  const np = MAPS_CHAINS.nodeports
  chains.push({ kind: 'chain', name: np })
  rules.push([np, nodeportVmap])
  for (let i = 0; i < MAX_SLOTS; i++) {
    sets.push({ kind: 'map', name: MAPS_SETS.slot(i), type: `${IP_KEY} : ${TARGET}` })
    sets.push({ kind: 'map', name: MAPS_SETS.nodeportSlot(i), type: `${PORT_KEY} : ${TARGET}` })
    const c = MAPS_CHAINS.dnatSlot(i)
    const npc = MAPS_CHAINS.nodeportDnatSlot(i)
    chains.push({ kind: 'chain', name: c }, { kind: 'chain', name: npc })
    for (const p of PROTOS) {
      rules.push([c, `dnat ip to ip daddr . meta l4proto . ${p} dport map @${MAPS_SETS.slot(i)}`])
      rules.push([npc, `dnat ip to meta l4proto . ${p} dport map @${MAPS_SETS.nodeportSlot(i)}`])
    }
  }
  const servicesHead = [
    `ip saddr != ${clusterCIDR} ip daddr . meta l4proto . th dport @${MAPS_SETS.clusterIPs} jump ${markMasq}`,
    `ip daddr . meta l4proto . th dport @${MAPS_SETS.externalIPs} jump ${markMasq}`,
  ]
  const pickRule = (n: number, slot: (i: number) => string): string =>
    n === 1 ? `goto ${slot(0)}` : `numgen random mod ${n} vmap { ${Array.from({ length: n }, (_, i) => `${i} : goto ${slot(i)}`).join(', ')} }`
  const servicesDispatch: string[] = []
  for (let n = 1; n <= MAX_SLOTS; n++) {
    sets.push({ kind: 'set', name: MAPS_SETS.endpoints(n), type: IP_KEY })
    sets.push({ kind: 'set', name: MAPS_SETS.nodeportEndpoints(n), type: PORT_KEY })
    const pick = MAPS_CHAINS.pick(n)
    const npPick = MAPS_CHAINS.nodeportPick(n)
    chains.push({ kind: 'chain', name: pick }, { kind: 'chain', name: npPick })
    rules.push([pick, pickRule(n, MAPS_CHAINS.dnatSlot)])
    // NodePort traffic under the Cluster policy is always masqueraded (it may leave the node)
    rules.push([npPick, `jump ${markMasq}`], [npPick, pickRule(n, MAPS_CHAINS.nodeportDnatSlot)])
    servicesDispatch.push(`ip daddr . meta l4proto . th dport @${MAPS_SETS.endpoints(n)} goto ${pick}`)
    rules.push([np, `meta l4proto . th dport @${MAPS_SETS.nodeportEndpoints(n)} goto ${npPick}`])
  }
  // no local address in --nodeport-addresses: NodePorts answer nowhere
  servicesTail.push(...servicesDispatch, ...(localDst === undefined ? [] : [`${localDst} goto ${np}`]))
  // after DNAT: the source is the endpoint the packet was sent to, through its own Service
  const postroutingHead = PROTOS.map(
    (p) => `meta l4proto ${p} ip saddr . ip daddr . ct original ip daddr . meta l4proto . ct original proto-dst @${MAPS_SETS.hairpin} jump ${markMasq}`,
  )
  return { chains, sets, rules, servicesHead, servicesTail, postroutingHead }
}

/** Whether this layout can express the Service port as elements only. */
export function fitsMaps(sp: ServicePortInfo, cat: CategorizedEndpoints, hasExternal: boolean): boolean {
  return (
    sp.affinitySeconds === undefined &&
    !sp.internalLocal &&
    !(hasExternal && sp.externalLocal) &&
    !(sp.loadBalancerIPs.length && sp.sourceRanges.length) &&
    cat.cluster.length >= 1 &&
    cat.cluster.length <= MAX_SLOTS
  )
}

/** The elements of a Service port that fits (see fitsMaps): `el(set, key, value?)`. */
export function mapsElements(sp: ServicePortInfo, eps: readonly EndpointInfo[], el: (set: string, key: string, value?: string) => void): void {
  const proto = sp.protocol
  const n = eps.length
  const ipKey = (ip: string): string => `${ip} . ${proto} . ${sp.port}`
  const clusterKey = ipKey(sp.clusterIP!)
  const target = (ep: EndpointInfo): string => `${ep.ip} . ${ep.port}`
  el(MAPS_SETS.clusterIPs, clusterKey)
  for (const key of [clusterKey, ...[...sp.externalIPs, ...sp.loadBalancerIPs].map(ipKey)]) {
    el(MAPS_SETS.endpoints(n), key)
    eps.forEach((ep, i) => el(MAPS_SETS.slot(i), key, target(ep)))
    if (key !== clusterKey) el(MAPS_SETS.externalIPs, key)
  }
  for (const ep of eps) el(MAPS_SETS.hairpin, `${ep.ip} . ${ep.ip} . ${clusterKey}`)
  if (sp.nodePort !== undefined) {
    const key = `${proto} . ${sp.nodePort}`
    el(MAPS_SETS.nodeportEndpoints(n), key)
    eps.forEach((ep, i) => el(MAPS_SETS.nodeportSlot(i), key, target(ep)))
  }
}
