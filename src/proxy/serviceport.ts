// From API objects to what every proxy backend programs: one ServicePort per (service, port)
// with its endpoints already filtered the way upstream kube-proxy does (CategorizeEndpoints):
// ready endpoints get new connections; when none is ready, serving-and-terminating ones do
// (graceful termination fallback); `Local` traffic policies keep only this node's endpoints.
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
}

export interface EndpointInfo {
  ip: string
  port: number
  ready: boolean
  serving: boolean
  terminating: boolean
  local: boolean
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
export function buildServicePorts(svc: Service, slices: Iterable<EndpointSlice>, nodeName: string): ServicePortInfo[] {
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
        endpoints.push({ ip, port, ready, serving: c.serving ?? ready, terminating, local: ep.nodeName === nodeName })
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

export interface CategorizedEndpoints {
  /** Endpoints for traffic subject to the cluster policy. */
  cluster: EndpointInfo[]
  /** This node's usable endpoints (for Local policies). */
  local: EndpointInfo[]
  /** What ClusterIP traffic is balanced over. */
  internal: EndpointInfo[]
  /** What NodePort/externalIP traffic is balanced over. */
  external: EndpointInfo[]
}

export function categorize(sp: ServicePortInfo): CategorizedEndpoints {
  const cluster = usableEndpoints(sp.endpoints)
  const local = usableEndpoints(sp.endpoints.filter((e) => e.local))
  return { cluster, local, internal: sp.internalLocal ? local : cluster, external: sp.externalLocal ? local : cluster }
}
