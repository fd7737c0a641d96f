// Which apiservers back the `kubernetes` Service, as upstream's lease endpoint reconciler
// (pkg/controlplane/reconcilers/lease.go) decides it: every apiserver keeps a key with a
// TTL under /masterleases/; the live keys are the endpoint list. A server killed with -9
// stops refreshing its key and drops out within the TTL. Pure: keys in, objects out.
import type { KubeObject } from '../api/types.js'
import { ipToBigInt, isIp } from '../net/ip.js'

export const LEASE_PREFIX = '/registry/masterleases/'

export const leaseKey = (ip: string): string => LEASE_PREFIX + ip

/** The apiserver addresses the lease keys name, sorted numerically and deduplicated; `self` is always in. */
export function liveAddresses(keys: readonly string[], self: string): string[] {
  const ips = new Set(keys.filter((k) => k.startsWith(LEASE_PREFIX)).map((k) => k.slice(LEASE_PREFIX.length)).filter((ip) => isIp(ip)))
  ips.add(self)
  return [...ips].sort((a, b) => (ipToBigInt(a) < ipToBigInt(b) ? -1 : ipToBigInt(a) > ipToBigInt(b) ? 1 : 0))
}

/** The `kubernetes` Endpoints and EndpointSlice for these addresses (all apiservers serve one port, as upstream assumes). */
export function apiserverEndpoints(ips: readonly string[], port: number): { endpoints: KubeObject; slice: KubeObject } {
  const ports = [{ name: 'https', port, protocol: 'TCP' }]
  return {
    endpoints: {
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      // No live apiserver (the last one stopping) is no subset, not a subset without addresses.
      subsets: ips.length ? [{ addresses: ips.map((ip) => ({ ip })), ports }] : [],
    },
    slice: {
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'netkube-apiserver' } },
      addressType: 'IPv4',
      endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false } })),
      ports,
    },
  }
}
