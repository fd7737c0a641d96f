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
  roles: findResource('rbac.authorization.k8s.io', 'v1', 'roles')!,
  rolebindings: findResource('rbac.authorization.k8s.io', 'v1', 'rolebindings')!,
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

  // kubeadm's bootstrap-signer-clusterinfo: anyone may read kube-public/cluster-info (a joining
  // node has only a bootstrap token, and verifies what it reads with it).
  const rbac = { apiGroup: 'rbac.authorization.k8s.io' }
  await reconcileSystemObject(reg, R.roles, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: CLUSTER_INFO_ROLE, namespace: 'kube-public' },
    rules: [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['cluster-info'] }],
  } as KubeObject)
  await reconcileSystemObject(reg, R.rolebindings, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: CLUSTER_INFO_ROLE, namespace: 'kube-public' },
    roleRef: { ...rbac, kind: 'Role', name: CLUSTER_INFO_ROLE },
    subjects: [{ ...rbac, kind: 'User', name: 'system:anonymous' }],
  } as KubeObject)
}

export const CLUSTER_INFO_ROLE = 'netkube:bootstrap-signer-clusterinfo'

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
