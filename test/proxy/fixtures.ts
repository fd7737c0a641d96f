// Service and EndpointSlice builders for proxy tests.
import type { EndpointSlice, Service, ServiceSpec } from '../../src/api/types.js'

export interface EpSpec {
  ip: string
  node?: string
  ready?: boolean
  serving?: boolean
  terminating?: boolean
  zone?: string
  /** hints.forZones / hints.forNodes names. */
  forZones?: string[]
  forNodes?: string[]
}

export function svc(name: string, spec: Partial<ServiceSpec> & { clusterIP: string }, ns = 'default'): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }], ...spec },
  }
}

export function slice(
  service: string,
  eps: EpSpec[],
  opts: { ns?: string; name?: string; port?: number; portName?: string; protocol?: 'TCP' | 'UDP' } = {},
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: opts.name ?? `${service}-abc`,
      namespace: opts.ns ?? 'default',
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType: 'IPv4',
    ports: [{ name: opts.portName ?? 'http', port: opts.port ?? 8080, protocol: opts.protocol ?? 'TCP' }],
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? 'node-a',
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
      ...(e.zone ? { zone: e.zone } : {}),
      ...(e.forZones || e.forNodes
        ? { hints: { ...(e.forZones ? { forZones: e.forZones.map((name) => ({ name })) } : {}), ...(e.forNodes ? { forNodes: e.forNodes.map((name) => ({ name })) } : {}) } }
        : {}),
    })),
  }
}

export const NODE = { name: 'node-a', ips: ['192.168.50.10'], clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12' }

/** startProxy options for NODE in nftables mode, syncing fast; the namespace is prepared (or unused) by the test. */
export const NODE_PROXY = {
  nodeName: NODE.name,
  mode: 'nftables',
  clusterCIDR: NODE.clusterCIDR,
  serviceCIDR: NODE.serviceCIDR,
  nodeIPs: NODE.ips,
  minSyncMs: 50,
  skipNodeSetup: true,
} as const
