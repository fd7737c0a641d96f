// Service helpers shared by defaulting, validation and the registry's type-switch strategy
// (upstream's pkg/api/service/util.go).
import type { ServiceSpec } from './types.js'

/** upstream's ExternallyAccessible: NodePort, LoadBalancer, or ClusterIP with external IPs. */
export function externallyAccessible(s: ServiceSpec): boolean {
  const t = s.type ?? 'ClusterIP'
  return t === 'NodePort' || t === 'LoadBalancer' || (t === 'ClusterIP' && Array.isArray(s.externalIPs) && s.externalIPs.length > 0)
}
