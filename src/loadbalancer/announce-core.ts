// Which node answers ARP for which LoadBalancer IP: a pure function of what every agent sees
// alike (Services, EndpointSlices, Nodes, the speakers' Leases), so each node decides alone
// and they agree without talking — MetalLB's L2 mode with its memberlist replaced by Leases.
//   live speakers: a Lease `netkube-lb-speaker-<node>` whose renewTime was seen changing
//     within the lease duration (observed on the local clock, as client-go's leader election
//     does: no clock agreement needed), on a node that is not NotReady/cordoned-out;
//   eligible: every live node, or with `externalTrafficPolicy: Local` only live nodes with a
//     ready endpoint of the Service (traffic elsewhere would be dropped);
//   the announcer: the eligible node with the highest sha256(node + "#" + ip) — rendezvous
//     hashing, so one node's death moves only its own addresses.
import { createHash } from 'node:crypto'
import type { EndpointSlice, Node, Service } from '../api/types.js'
import { isIp4 } from '../net/ip.js'
import { handledClass } from './allocate-core.js'

export const SPEAKER_LEASE_PREFIX = 'netkube-lb-speaker-'
export const SPEAKER_LABEL = 'netkube.io/lb-speaker'
/** Upstream's node label: a node carrying it is never given LoadBalancer traffic. */
export const EXCLUDE_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers'

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

/** When the next of the `live` peers (not `self`) stops being live: its seenAt + the lease. Infinity when none. */
export function nextExpiry(seen: Iterable<SpeakerSeen>, live: ReadonlySet<string>, self: string, leaseMs: number): number {
  let next = Infinity
  for (const s of seen) if (live.has(s.node) && s.node !== self) next = Math.min(next, s.seenAt + leaseMs)
  return next
}

/**
 * How far the Lease watch is behind this speaker's own renewals (ms), or 0: our renewal went
 * through at `lastRenewOk` but its echo was last seen at `echoSeenAt`. Beyond half the lease
 * the watch — not the peers — is what is slow, and peers' silence proves nothing.
 */
export function leaseWatchLag(echoSeenAt: number | undefined, lastRenewOk: number, leaseMs: number): number {
  if (echoSeenAt === undefined) return 0
  const lag = lastRenewOk - echoSeenAt
  return lag > leaseMs / 2 ? lag : 0
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
      const node = rendezvousWinner(ing.ip, eligible)
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
