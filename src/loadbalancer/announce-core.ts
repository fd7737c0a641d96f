// Which node answers ARP for which LoadBalancer IP: a pure function of what every agent sees
// alike (Services, EndpointSlices, Nodes, the speakers' Leases), so each node decides alone
// and they agree without talking — MetalLB's L2 mode with its memberlist replaced by Leases.
//   live speakers: a Lease `netkube-lb-speaker-<node>` whose renewTime was seen changing
//     (observed on the local clock, as client-go's leader election does: no clock agreement
//     needed) within the lease duration of the latest renewal seen from anyone (renewalClock),
//     on a node that is not NotReady/cordoned-out;
//   eligible: every live node, or with `externalTrafficPolicy: Local` only live nodes with a
//     ready endpoint of the Service (traffic elsewhere would be dropped);
//   the announcer: an eligible node that already announces the IP keeps it (sticky, as
//     kube-vip's Lease-held addresses: a node that returns takes nothing back, so no second
//     holder and no second ARP move); only when no eligible node holds it, the eligible node
//     with the highest sha256(node + "#" + ip) — rendezvous hashing, so one node's death moves
//     only its own addresses. Several holders (a healed partition): the hash winner among them.
//   who holds what: each speaker's Lease carries the IPs it has on its interface
//     (annotation netkube.io/lb-announcing), written with every renewal.
import { createHash } from 'node:crypto'
import type { EndpointSlice, Node, Service } from '../api/types.js'
import { isIp4 } from '../net/ip.js'
import { handledClass } from './allocate-core.js'

export const SPEAKER_LEASE_PREFIX = 'netkube-lb-speaker-'
export const SPEAKER_LABEL = 'netkube.io/lb-speaker'
/** Upstream's node label: a node carrying it is never given LoadBalancer traffic. */
export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers'
/** On a speaker's Lease: the IPs it announces now, comma-separated. */
export const ANNOUNCING_ANNOTATION = 'netkube.io/lb-announcing'

export function parseAnnouncing(v: string | undefined): Set<string> {
  return new Set((v ?? '').split(',').map((x) => x.trim()).filter(Boolean))
}

export interface SpeakerSeen {
  node: string
  /** Local time (ms) when its renewTime last changed. */
  seenAt: number
}

export function liveSpeakers(seen: Iterable<SpeakerSeen>, now: number, leaseMs: number, nodes: Iterable<Node>): Set<string> {
  const notReady = new Set<string>()
  for (const n of nodes) {
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready')
    // Unknown (silent for the grace period) and False both exclude; no condition yet does not
    if ((ready && ready.status !== 'True') || n.metadata.labels?.[EXCLUDE_LABEL] !== undefined) notReady.add(n.metadata.name!)
  }
  const out = new Set<string>()
  for (const s of seen) if (now - s.seenAt < leaseMs && !notReady.has(s.node)) out.add(s.node)
  return out
}

/**
 * The clock liveness is judged on: the latest renewal seen from any speaker (this node's own
 * echo included), not the wall clock. A peer is gone when the others' renewals went on
 * arriving for a lease after its last one; when every renewal is late (a loaded apiserver,
 * a slow watch, this process stalled) the clock stops too, and nobody is judged by a delay
 * that was everyone's. A dead node is noticed at the first renewal seen a lease after its last.
 */
export function renewalClock(seen: Iterable<SpeakerSeen>): number {
  let t = -Infinity
  for (const s of seen) t = Math.max(t, s.seenAt)
  return t
}

export function rendezvousWinner(ip: string, nodes: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestHash = ''
  for (const n of nodes) {
    const h = createHash('sha256').update(`${n}#${ip}`).digest('hex')
    if (best === undefined || h > bestHash || (h === bestHash && n < best)) {
      best = n
      bestHash = h
    }
  }
  return best
}

/** Nodes with a ready endpoint of the Service (from its slices). */
export function nodesWithReadyEndpoints(slices: Iterable<EndpointSlice>): Set<string> {
  const out = new Set<string>()
  for (const s of slices)
    for (const ep of s.endpoints ?? []) {
      const c = ep.conditions ?? {}
      if (ep.nodeName && c.ready !== false && c.terminating !== true) out.add(ep.nodeName)
    }
  return out
}

export interface Announcement {
  ip: string
  /** `namespace/name` of the Service. */
  service: string
  node: string
}

/** Every LoadBalancer IP (ipMode VIP) of a Service of our class, and who announces it. */
export function announcements(o: {
  services: Iterable<Service>
  slicesOf: (svcKey: string) => Iterable<EndpointSlice>
  live: ReadonlySet<string>
  ourClass: string
  /** The IPs each node announces now (its Lease's annotation; this node's own set as it is). */
  holding?: (node: string) => ReadonlySet<string> | undefined
}): Announcement[] {
  const out: Announcement[] = []
  for (const svc of o.services) {
    if (svc.spec?.type !== 'LoadBalancer' || !handledClass(svc, o.ourClass)) continue
    const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`
    let eligible: Iterable<string> = o.live
    if (svc.spec.externalTrafficPolicy === 'Local') {
      const withEp = nodesWithReadyEndpoints(o.slicesOf(key))
      eligible = [...o.live].filter((n) => withEp.has(n))
    }
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
      if (!ing.ip || !isIp4(ing.ip) || ing.ipMode === 'Proxy') continue
      const ip = ing.ip
      const holders = o.holding ? [...eligible].filter((n) => o.holding!(n)?.has(ip)) : []
      const node = rendezvousWinner(ip, holders.length ? holders : eligible)
      if (node) out.push({ ip: ing.ip, service: key, node })
    }
  }
  return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))
}

/** What this node must change: addresses to add (and announce) and to withdraw. */
export function announceDiff(want: Iterable<string>, have: Iterable<string>): { add: string[]; remove: string[] } {
  const w = new Set(want)
  const h = new Set(have)
  return { add: [...w].filter((ip) => !h.has(ip)).sort(), remove: [...h].filter((ip) => !w.has(ip)).sort() }
}
