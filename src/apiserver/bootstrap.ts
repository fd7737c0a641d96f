// What exists in every cluster from the first start: the system namespaces, and the
// `kubernetes` Service (first IP of the service range, port 443) whose endpoints point at
// this apiserver. Re-run on every start and reconciled each time (get → create when absent →
// update when drifted), so any number of restarts, or a start killed half-way, converges.
import { findResource } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import { nthAddress } from '../net/ip.js'
import { reconcileObject } from './reconcile.js'
import { SYSTEM_NAMESPACES, type Registry } from './registry.js'

const R = {
  namespaces: findResource('', 'v1', 'namespaces')!,
  services: findResource('', 'v1', 'services')!,
  endpoints: findResource('', 'v1', 'endpoints')!,
  endpointslices: findResource('discovery.k8s.io', 'v1', 'endpointslices')!,
}

export async function bootstrap(reg: Registry, advertise: string, port: number): Promise<void> {
  for (const name of SYSTEM_NAMESPACES) await reg.ensure(R.namespaces, undefined, { metadata: { name } })

  const labels = { component: 'apiserver', provider: 'kubernetes' }
  // targetPort follows the serving port (tests restart on a new port).
  await reconcile(reg, R.services, {
    metadata: { name: 'kubernetes', namespace: 'default', labels },
    spec: {
      type: 'ClusterIP',
      clusterIP: nthAddress(reg.alloc.cidr, 1),
      ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: port }],
      sessionAffinity: 'None',
    },
  })
  await reconcile(reg, R.endpoints, {
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: advertise }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
  })
  await reconcile(reg, R.endpointslices, {
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'netkube-apiserver' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [advertise], conditions: { ready: true, serving: true, terminating: false } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  })
}

/** The apiserver's own objects are `system` writes (its loopback endpoints skip validation). */
function reconcile(reg: Registry, r: (typeof R)[keyof typeof R], want: KubeObject): Promise<unknown> {
  const ns = want.metadata.namespace
  const name = want.metadata.name!
  return reconcileObject(
    {
      get: () => reg.get(r, ns, name),
      create: (o) => reg.create(r, ns, o, { system: true }),
      update: (o) => reg.update(r, ns, name, o, { system: true }),
    },
    want,
  )
}
