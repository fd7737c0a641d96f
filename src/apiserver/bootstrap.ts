// What exists in every cluster from the first start: the system namespaces, and the
// `kubernetes` Service (first IP of the service range, port 443) whose endpoints point at
// the live apiservers (lease-reconciler.ts). Re-run on every start and reconciled (get →
// create when absent → update when drifted): any number of restarts, or a start killed
// half-way, converges.
import { findResource, type ResourceInfo } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import { nthAddress } from '../net/ip.js'
import { reconcileObject, type Ownership } from './reconcile.js'
import { SYSTEM_NAMESPACES, type Registry } from './registry.js'

const R = {
  namespaces: findResource('', 'v1', 'namespaces')!,
  services: findResource('', 'v1', 'services')!,
}

export async function bootstrap(reg: Registry, port: number): Promise<void> {
  for (const name of SYSTEM_NAMESPACES) await reg.ensure(R.namespaces, undefined, { metadata: { name } })

  const labels = { component: 'apiserver', provider: 'kubernetes' }
  // targetPort follows the serving port (tests restart on a new port).
  await reconcileSystemObject(reg, R.services, {
    metadata: { name: 'kubernetes', namespace: 'default', labels },
    spec: {
      type: 'ClusterIP',
      clusterIP: nthAddress(reg.alloc.cidr, 1),
      ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: port }],
      sessionAffinity: 'None',
    },
  }, { immutable: ['spec.clusterIP'] })
  // Its Endpoints/EndpointSlice list every live apiserver: lease-reconciler.ts keeps them.
}

/** The apiserver's own objects are `system` writes (its loopback endpoints skip validation). */
export function reconcileSystemObject(reg: Registry, r: ResourceInfo, want: KubeObject, own: Ownership = {}): Promise<unknown> {
  const ns = want.metadata.namespace
  const name = want.metadata.name!
  return reconcileObject(
    {
      get: () => reg.get(r, ns, name),
      create: (o) => reg.create(r, ns, o, { system: true }),
      update: (o) => reg.update(r, ns, name, o, { system: true }),
      delete: (uid) => reg.delete(r, ns, name, { preconditions: { uid } }),
    },
    want,
    own,
  )
}
