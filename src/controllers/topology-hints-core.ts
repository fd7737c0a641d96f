// Topology hints on EndpointSlice endpoints, after upstream's endpointslice reconciler
// (staging/src/k8s.io/endpointslice: topologycache for KEP-2433's
// `service.kubernetes.io/topology-mode: Auto`, trafficdist for KEP-4444's
// `spec.trafficDistribution`). Pure: endpoints of one Service (every slice of it, one address
// type) and the nodes in → the same endpoints with `hints` set or removed, plus the Event the
// controller should record. kube-proxy then keeps only the endpoints hinted for its zone when
// every ready endpoint carries a hint (src/proxy/serviceport.ts).
//
// Auto: zones get endpoints in proportion to their ready nodes' allocatable CPU; each
// endpoint starts hinted for its own zone, then over-served zones give endpoints to
// under-served ones; no zone may be served below 1/(1+0.2) of its share, else no hints.
// Deterministic (zones and endpoints in sorted order) where upstream walks Go maps: the same
// inputs always give the same slices, so an unchanged Service causes no writes.
import { LABEL_TOPOLOGY_ZONE, type Endpoint, type Node, type Service } from '../api/types.js'
import { parseQuantity } from '../api/quantity.js'

export const ANNOTATION_TOPOLOGY_MODE = 'service.kubernetes.io/topology-mode'
/** The annotation before 1.27; read when topology-mode is absent. */
export const ANNOTATION_TOPOLOGY_AWARE_HINTS = 'service.kubernetes.io/topology-aware-hints'
/** Values of spec.trafficDistribution (PreferClose is the older name of PreferSameZone). */
export const TRAFFIC_DISTRIBUTIONS = ['PreferClose', 'PreferSameZone', 'PreferSameNode'] as const
const OVERLOAD_THRESHOLD = 0.2

// upstream's event messages (topologycache/event.go)
export const MSG = {
  insufficientNodeInfo: 'Insufficient Node information: allocatable CPU or zone not specified on one or more nodes',
  oneZoneOnly: 'Nodes only ready in one zone',
  insufficientEndpoints: 'Insufficient number of endpoints',
  minAllocation: 'Unable to allocate minimum required endpoints to each zone without exceeding overload threshold',
  noZone: 'One or more endpoints do not have a zone specified',
  noAllocated: 'No hints allocated for zones',
  enabled: 'Topology Aware Hints has been enabled',
} as const

export interface HintEvent {
  type: 'Normal' | 'Warning'
  reason: 'TopologyAwareHintsEnabled' | 'TopologyAwareHintsDisabled'
  message: string
}

/** Upstream's hintsEnabled: topology-mode (else the deprecated annotation) is Auto/auto. */
export function autoHintsEnabled(svc: Service): boolean {
  const a = svc.metadata.annotations ?? {}
  const v = a[ANNOTATION_TOPOLOGY_MODE] ?? a[ANNOTATION_TOPOLOGY_AWARE_HINTS]
  return v === 'Auto' || v === 'auto'
}

/** Share of allocatable CPU per zone over ready, non-control-plane nodes; undefined = not enough node information. */
export function cpuRatiosByZone(nodes: readonly Node[]): Map<string, number> | undefined {
  const byZone = new Map<string, number>()
  let total = 0
  for (const n of nodes) {
    const labels = n.metadata.labels ?? {}
    if ('node-role.kubernetes.io/control-plane' in labels || 'node-role.kubernetes.io/master' in labels) continue
    if (n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') continue
    const zone = labels[LABEL_TOPOLOGY_ZONE]
    let cpu = 0
    try {
      cpu = parseQuantity(n.status?.allocatable?.cpu ?? '0')
    } catch {
      cpu = 0
    }
    // one ready node without a zone or CPU and upstream gives up on every Service
    if (!zone || !(cpu > 0)) return undefined
    byZone.set(zone, (byZone.get(zone) ?? 0) + cpu)
    total += cpu
  }
  if (total <= 0 || byZone.size < 2) return undefined
  return new Map([...byZone].sort(([a], [b]) => a.localeCompare(b)).map(([z, c]) => [z, c / total]))
}

const isReady = (e: Endpoint): boolean => e.conditions?.ready === true
const withoutHints = (e: Endpoint): Endpoint => {
  if (!e.hints) return e
  const { hints: _h, ...rest } = e
  return rest
}
const zoneHint = (e: Endpoint, zone: string): Endpoint => ({ ...e, hints: { forZones: [{ name: zone }] } })

interface Allocation {
  minimum: number
  maximum: number
  desired: number
}

/** Upstream's getAllocations: per-zone minimum/desired endpoint counts, or why hints cannot be given. */
export function allocations(ratios: Map<string, number> | undefined, ready: number): Map<string, Allocation> | string {
  if (!ratios) return MSG.insufficientNodeInfo
  if (ratios.size < 2) return MSG.oneZoneOnly
  if (ratios.size > ready) return `${MSG.insufficientEndpoints} (${ready} endpoints, ${ratios.size} zones)`
  const out = new Map<string, Allocation>()
  let remaining = ready
  let minTotal = 0
  for (const [zone, ratio] of ratios) {
    const desired = ratio * ready
    // a float product like 0.6666…×3 must not round 2 up to 3 minimum endpoints
    const minimum = Math.ceil(Number((desired / (1 + OVERLOAD_THRESHOLD)).toFixed(9)))
    out.set(zone, { minimum, maximum: 0, desired: Math.max(desired, minimum) })
    minTotal += minimum
    remaining -= minimum
    if (remaining < 0) return `${MSG.minAllocation} (${ready} endpoints, ${ratios.size} zones)`
  }
  for (const a of out.values()) a.maximum = a.minimum + ready - minTotal
  return out
}

/** Upstream's getGivingAndReceivingZones: whole endpoints to move from over- to under-served zones. */
function givingAndReceiving(allocs: Map<string, Allocation>, hinted: Map<string, number>): { giving: Map<string, number>; receiving: Map<string, number> } {
  const giveWant = new Map<string, number>()
  const takeWant = new Map<string, number>()
  for (const [zone, a] of allocs) {
    const have = hinted.get(zone) ?? 0
    if (have > a.desired) giveWant.set(zone, have - a.desired)
    else if (have < a.desired) takeWant.set(zone, a.desired - have)
  }
  const most = (m: Map<string, number>): [string, number] => {
    let best: [string, number] = ['', 0]
    for (const [z, n] of m) if (n > best[1]) best = [z, n]
    return best
  }
  const giving = new Map<string, number>()
  const receiving = new Map<string, number>()
  for (;;) {
    const [gz, gn] = most(giveWant)
    const [rz, rn] = most(takeWant)
    if (!gz || !rz || (gn < 1 && rn < 1) || gn < 0.5 || rn < 0.5) break
    giving.set(gz, (giving.get(gz) ?? 0) + 1)
    giveWant.set(gz, gn - 1)
    receiving.set(rz, (receiving.get(rz) ?? 0) + 1)
    takeWant.set(rz, rn - 1)
  }
  return { giving, receiving }
}

/** KEP-2433 Auto: hints in proportion to zone CPU, or none (with the reason as a Warning). */
export function autoHints(endpoints: readonly Endpoint[], ratios: Map<string, number> | undefined): { endpoints: Endpoint[]; error?: string } {
  const ready = endpoints.filter(isReady).length
  const allocs = allocations(ratios, ready)
  if (typeof allocs === 'string') return { endpoints: endpoints.map(withoutHints), error: allocs }
  if (endpoints.some((e) => isReady(e) && !e.zone)) return { endpoints: endpoints.map(withoutHints), error: MSG.noZone }
  const hinted = new Map<string, number>()
  // step 1: every ready endpoint serves its own zone
  const out = endpoints.map((e) => {
    if (!isReady(e)) return withoutHints(e)
    hinted.set(e.zone!, (hinted.get(e.zone!) ?? 0) + 1)
    return zoneHint(e, e.zone!)
  })
  // steps 2–3: over-served zones give endpoints to under-served ones
  const { giving, receiving } = givingAndReceiving(allocs, hinted)
  for (let i = 0; i < out.length && giving.size && receiving.size; i++) {
    const e = out[i]!
    if (!isReady(e)) continue
    const left = giving.get(e.zone!)
    if (!left) continue
    const [to, need] = [...receiving][0]!
    out[i] = zoneHint(e, to)
    if (left === 1) giving.delete(e.zone!)
    else giving.set(e.zone!, left - 1)
    if (need === 1) receiving.delete(to)
    else receiving.set(to, need - 1)
    hinted.set(to, (hinted.get(to) ?? 0) + 1)
    hinted.set(e.zone!, hinted.get(e.zone!)! - 1)
  }
  if (![...hinted.values()].some((n) => n > 0)) return { endpoints: endpoints.map(withoutHints), error: MSG.noAllocated }
  return { endpoints: out }
}

/** KEP-4444 (trafficdist's preferCloseHeuristic): each ready endpoint hinted for its own zone (and node, for PreferSameNode). */
export function preferCloseHints(endpoints: readonly Endpoint[], sameNode: boolean): Endpoint[] {
  return endpoints.map((e) => {
    if (!isReady(e)) return e // upstream leaves a not-ready endpoint's hints as they are
    const forZones = e.zone ? [{ name: e.zone }] : undefined
    const forNodes = sameNode && e.nodeName ? [{ name: e.nodeName }] : undefined
    const base = withoutHints(e)
    return forZones || forNodes ? { ...base, hints: { ...(forZones ? { forZones } : {}), ...(forNodes ? { forNodes } : {}) } } : base
  })
}

export interface HintsResult {
  endpoints: Endpoint[]
  /** Auto's state: 'enabled', or the reason hints were not given; undefined when Auto is off. */
  auto?: { enabled: true } | { enabled: false; reason: string }
}

/**
 * Hints for every endpoint of a Service, as the reconciler decides: the topology-mode
 * annotation (Auto) wins; else trafficDistribution; else no hints at all.
 */
export function reconcileHints(svc: Service, endpoints: readonly Endpoint[], ratios: Map<string, number> | undefined): HintsResult {
  if (autoHintsEnabled(svc)) {
    const r = autoHints(endpoints, ratios)
    return { endpoints: r.endpoints, auto: r.error ? { enabled: false, reason: r.error } : { enabled: true } }
  }
  const td = svc.spec.trafficDistribution
  if (td && (TRAFFIC_DISTRIBUTIONS as readonly string[]).includes(td)) return { endpoints: preferCloseHints(endpoints, td === 'PreferSameNode') }
  return { endpoints: endpoints.map(withoutHints) }
}

/** The Event for a change of Auto's state (upstream: Enabled once, Disabled with its reason). */
export function hintEvent(prev: HintsResult['auto'] | undefined, cur: HintsResult['auto'], addressType: string): HintEvent | undefined {
  if (!cur) return undefined
  if (cur.enabled) return prev?.enabled ? undefined : { type: 'Normal', reason: 'TopologyAwareHintsEnabled', message: `${MSG.enabled}, addressType: ${addressType}` }
  if (prev && !prev.enabled && prev.reason === cur.reason) return undefined
  return { type: 'Warning', reason: 'TopologyAwareHintsDisabled', message: `${cur.reason}, addressType: ${addressType}` }
}
