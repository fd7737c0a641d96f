// The Service update strategy's type switch (upstream's dropTypeDependentFields in
// pkg/registry/core/service): a Service is a union discriminated by `type`, and when an update
// moves it to a type that no longer uses a field the server may have filled in (clusterIP,
// nodePorts, externalTrafficPolicy…), the field is wiped — but only when the user left it as
// it was. A value the user changed in the same write is kept, so validation refuses it.
// Wiped clusterIPs/nodePorts are released by the allocator in the update's own etcd
// transaction (it diffs old against new), so a freed port can be taken again at once.
// Pure: mutates `next` only.
import type { Service, ServiceSpec } from '../api/types.js'
import { deepEqual } from '../api/equal.js'
import { externallyAccessible } from '../api/service.js'

type Spec = ServiceSpec & Record<string, unknown>

const typeOf = (s: ServiceSpec): string => s.type ?? 'ClusterIP'
const needsClusterIP = (s: ServiceSpec): boolean => typeOf(s) !== 'ExternalName'
const needsNodePort = (s: ServiceSpec): boolean => typeOf(s) === 'NodePort' || typeOf(s) === 'LoadBalancer'
const needsHCNodePort = (s: ServiceSpec): boolean => typeOf(s) === 'LoadBalancer' && s.externalTrafficPolicy === 'Local'

function nodePorts(s: ServiceSpec): Set<unknown> {
  const out = new Set<unknown>()
  if (Array.isArray(s.ports)) for (const p of s.ports) if (p !== null && typeof p === 'object' && p.nodePort) out.add(p.nodePort)
  return out
}

/** Users may add, remove or change ports while switching, as long as they add no new nodePort. */
function sameNodePorts(old: ServiceSpec, next: ServiceSpec): boolean {
  const before = nodePorts(old)
  return [...nodePorts(next)].every((p) => before.has(p))
}

export function dropTypeDependentFields(next: Service, old: Service): void {
  const n = next.spec as Spec | undefined
  const o = old.spec as Spec | undefined
  if (n === null || typeof n !== 'object' || o === null || typeof o !== 'object') return

  if (needsClusterIP(o) && !needsClusterIP(n)) {
    if ((n.clusterIP ?? '') === (o.clusterIP ?? '') && deepEqual(n.clusterIPs ?? [], o.clusterIPs ?? [])) {
      delete n.clusterIP
      delete n.clusterIPs
    }
    if (deepEqual(n.ipFamilies, o.ipFamilies)) delete n.ipFamilies
    if (n.ipFamilyPolicy === o.ipFamilyPolicy) delete n.ipFamilyPolicy
  }
  if (needsNodePort(o) && !needsNodePort(n) && sameNodePorts(o, n) && Array.isArray(n.ports)) {
    for (const p of n.ports) if (p !== null && typeof p === 'object') delete p.nodePort
  }
  if (needsHCNodePort(o) && !needsHCNodePort(n) && n.healthCheckNodePort === o.healthCheckNodePort) delete n.healthCheckNodePort
  if (typeOf(o) === 'LoadBalancer' && typeOf(n) !== 'LoadBalancer') {
    if (typeof n.allocateLoadBalancerNodePorts === 'boolean' && n.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts) delete n.allocateLoadBalancerNodePorts
    if (n.loadBalancerClass === o.loadBalancerClass) delete n.loadBalancerClass
  }
  if (externallyAccessible(o) && !externallyAccessible(n) && n.externalTrafficPolicy === o.externalTrafficPolicy) delete n.externalTrafficPolicy
  // A load balancer's status means nothing once the Service is no longer one.
  if (typeOf(n) !== 'LoadBalancer' && next.status !== undefined) next.status = { ...next.status, loadBalancer: {} }
}
