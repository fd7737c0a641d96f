// From API objects to what every proxy backend programs: one ServicePort per (service, port)
// with its endpoints already filtered the way upstream kube-proxy does (CategorizeEndpoints):
// ready endpoints get new connections; when none is ready, serving-and-terminating ones do
// (graceful termination fallback); `Local` traffic policies keep only this node's endpoints;
// Cluster-policy traffic keeps only the endpoints hinted for this node or its zone when every
// ready endpoint carries such hints (upstream's topologyModeFromHints, KEP-2433/KEP-4444).
import { createHash } from 'node:crypto'
import type { EndpointSlice, Service, ServicePort as ApiServicePort } from '../api/types.js'
import { canonicalCidr, compareIp, isIp4 } from '../net/ip.js'

export type Proto = 'tcp' | 'udp' | 'sctp'

export interface NodeInfo {
  name: string
  /** Addresses NodePorts answer on (informational: nft matches `fib daddr type local`). */
  ips: string[]
  /** Pod network: traffic from outside it to a ClusterIP is masqueraded. */
  clusterCIDR: string
  serviceCIDR: string
  /** The node's `topology.kubernetes.io/zone` label (topology hints are matched against it). */
  zone?: string
}

export interface EndpointInfo {
  ip: string
  port: number
  ready: boolean
  serving: boolean
  terminating: boolean
  local: boolean
  /** hints.forZones names (absent or empty: no zone hint). */
  forZones?: string[]
  /** Whether hints.forNodes names this node; undefined when the endpoint has no node hint. */
  forThisNode?: boolean
}

export interface ServicePortInfo {
  /** `ns/name:portName` (portName may be empty), upstream's ServicePortName. */
  id: string
  namespace: string
  name: string
  portName: string
  protocol: Proto
  /** undefined for headless services (nothing to program). */
  clusterIP?: string
  port: number
  nodePort?: number
  externalIPs: string[]
  /** status.loadBalancer.ingress IPs (ipMode VIP or unset: ipMode Proxy means the LB delivers to nodes itself). */
  loadBalancerIPs: string[]
  /** spec.loadBalancerSourceRanges (canonical CIDRs); empty = every source. */
  sourceRanges: string[]
  /** Served by the proxy's health check server for Local LoadBalancers. */
  healthCheckNodePort?: number
  /** ClientIP affinity timeout in seconds, undefined when affinity is off. */
  affinitySeconds?: number
  externalLocal: boolean
  internalLocal: boolean
  /** This node's zone (topology hints are matched against it). */
  zone?: string
  /** Every endpoint of this port (all conditions); use the helpers below to select. */
  endpoints: EndpointInfo[]
}

export const DEFAULT_AFFINITY_SECONDS = 10800

/** Readable, stable label used in chain names: `ns/name/tcp/portName-or-number`. */
export function portLabel(sp: ServicePortInfo): string {
  return `${sp.namespace}/${sp.name}/${sp.protocol}/${sp.portName || sp.port}`
}

/** Upstream's hashAndTruncate: base32(sha256(text)) cut to `len`; names stay unique and short. */
export function shortHash(text: string, len = 8): string {
  const digest = createHash('sha256').update(text).digest()
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of digest) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5 && out.length < len) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    if (out.length >= len) break
  }
  return out
}

/** Resolve a service port's target port against a slice port list (match by name). */
function slicePortFor(sp: ApiServicePort, slice: EndpointSlice): number | undefined {
  const proto = sp.protocol ?? 'TCP'
  for (const p of slice.ports ?? []) {
    if ((p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === proto) return p.port
  }
  return undefined
}

/** Expand one Service + its slices into ServicePorts. IPv4 only (netkube's cluster is IPv4). */
export function buildServicePorts(svc: Service, slices: Iterable<EndpointSlice>, nodeName: string, zone?: string): ServicePortInfo[] {
  const spec = svc.spec
  const ns = svc.metadata.namespace ?? 'default'
  const name = svc.metadata.name ?? ''
  if (spec.type === 'ExternalName') return []
  const clusterIP = spec.clusterIP && spec.clusterIP !== 'None' && isIp4(spec.clusterIP) ? spec.clusterIP : undefined
  if (!clusterIP) return [] // headless: DNS only
  const sliceList = [...slices].filter((s) => s.addressType === 'IPv4')
  const affinity =
    spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) : undefined
  const hasExternal = spec.type === 'NodePort' || spec.type === 'LoadBalancer' || (spec.externalIPs?.length ?? 0) > 0
  const lb = spec.type === 'LoadBalancer'
  const lbIPs = lb ? [...new Set((svc.status?.loadBalancer?.ingress ?? []).filter((i) => i.ipMode !== 'Proxy' && i.ip && isIp4(i.ip)).map((i) => i.ip!))] : []
  const sourceRanges = lb && lbIPs.length ? sourceRangesOf(spec.loadBalancerSourceRanges) : []
  const out: ServicePortInfo[] = []
  for (const p of spec.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP').toLowerCase() as Proto
    const endpoints: EndpointInfo[] = []
    const seen = new Set<string>()
    for (const slice of sliceList) {
      const port = slicePortFor(p, slice)
      if (port === undefined) continue
      for (const ep of slice.endpoints ?? []) {
        const ip = ep.addresses?.[0]
        if (!ip || !isIp4(ip)) continue
        const id = `${ip}:${port}`
        if (seen.has(id)) continue // an endpoint may briefly appear in two slices
        seen.add(id)
        const c = ep.conditions ?? {}
        const terminating = c.terminating === true
        // upstream: nil ready means ready; a terminating endpoint is never "ready" for new traffic
        const ready = c.ready !== false && !terminating
        const forNodes = ep.hints?.forNodes ?? []
        endpoints.push({
          ip,
          port,
          ready,
          serving: c.serving ?? ready,
          terminating,
          local: ep.nodeName === nodeName,
          ...(ep.hints?.forZones?.length ? { forZones: ep.hints.forZones.map((z) => z.name) } : {}),
          ...(forNodes.length ? { forThisNode: forNodes.some((n) => n.name === nodeName) } : {}),
        })
      }
    }
    endpoints.sort((a, b) => (a.ip === b.ip ? a.port - b.port : compareIp(a.ip, b.ip)))
    out.push({
      id: `${ns}/${name}:${p.name ?? ''}`,
      namespace: ns,
      name,
      portName: p.name ?? '',
      protocol,
      clusterIP,
      port: p.port,
      nodePort: (spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort ? p.nodePort : undefined,
      externalIPs: (spec.externalIPs ?? []).filter(isIp4),
      loadBalancerIPs: lbIPs,
      sourceRanges,
      healthCheckNodePort: lb && spec.externalTrafficPolicy === 'Local' && spec.healthCheckNodePort ? spec.healthCheckNodePort : undefined,
      affinitySeconds: affinity,
      externalLocal: hasExternal && spec.externalTrafficPolicy === 'Local',
      internalLocal: spec.internalTrafficPolicy === 'Local',
      ...(zone ? { zone } : {}),
      endpoints,
    })
  }
  return out
}

/** IPv4 source ranges, canonical; an unparsable one is skipped (validation refuses them at the API). */
function sourceRangesOf(ranges: string[] | undefined): string[] {
  const out = new Set<string>()
  for (const r of ranges ?? []) {
    try {
      const c = canonicalCidr(r.trim())
      if (!c.includes(':')) out.add(c)
    } catch {
      /* skipped */
    }
  }
  return [...out].sort()
}

/** Endpoints that may receive new connections: ready ones, else serving+terminating ones. */
export function usableEndpoints(eps: readonly EndpointInfo[]): EndpointInfo[] {
  const ready = eps.filter((e) => e.ready)
  if (ready.length) return ready
  return eps.filter((e) => e.serving && e.terminating)
}

/** '' = every endpoint; else which hints narrow the cluster endpoints on this node. */
export type TopologyMode = '' | 'PreferSameZone' | 'PreferSameNode'

/**
 * Upstream's topologyModeFromHints: hints are used only when EVERY ready endpoint carries
 * them and at least one is hinted for this node (node hints) or its zone (zone hints);
 * otherwise all endpoints (a half-hinted Service or a zone nobody serves falls back).
 */
export function topologyMode(eps: readonly EndpointInfo[], zone: string | undefined): TopologyMode {
  const ready = eps.filter((e) => e.ready)
  if (!ready.length) return ''
  if (ready.every((e) => e.forThisNode !== undefined) && ready.some((e) => e.forThisNode)) return 'PreferSameNode'
  if (zone && ready.every((e) => e.forZones?.length) && ready.some((e) => e.forZones!.includes(zone))) return 'PreferSameZone'
  return ''
}

function availableForTopology(ep: EndpointInfo, mode: TopologyMode, zone: string | undefined): boolean {
  if (mode === 'PreferSameNode') return ep.forThisNode === true
  if (mode === 'PreferSameZone') return zone !== undefined && (ep.forZones ?? []).includes(zone)
  return true
}

export interface CategorizedEndpoints {
  /** Endpoints for traffic subject to the cluster policy (narrowed by topology hints). */
  cluster: EndpointInfo[]
  /** This node's usable endpoints (for Local policies; hints do not apply). */
  local: EndpointInfo[]
  /** What ClusterIP traffic is balanced over. */
  internal: EndpointInfo[]
  /** What NodePort/externalIP traffic is balanced over. */
  external: EndpointInfo[]
  /** The topology decision behind `cluster`. */
  topology: TopologyMode
}

export function categorize(sp: ServicePortInfo): CategorizedEndpoints {
  const topology = topologyMode(sp.endpoints, sp.zone)
  // The topology mode is only chosen when this node's share has ready endpoints, so the
  // serving+terminating fallback below means there are no ready endpoints anywhere.
  let cluster = sp.endpoints.filter((e) => e.ready && availableForTopology(e, topology, sp.zone))
  if (!cluster.length) cluster = sp.endpoints.filter((e) => e.serving && e.terminating)
  const local = usableEndpoints(sp.endpoints.filter((e) => e.local))
  return { cluster, local, internal: sp.internalLocal ? local : cluster, external: sp.externalLocal ? local : cluster, topology }
}
