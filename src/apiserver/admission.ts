// Mutating admission on create, after defaulting and before validation (kube-apiserver's order).
// The ServiceAccount plugin's defaulting: a pod without spec.serviceAccountName runs as
// `default`. Its refusal of a pod naming a missing ServiceAccount needs the store, so it is
// the registry's (Registry.admitServiceAccount): 403 `error looking up service account …`,
// except for a missing `default` (netkube mounts no tokens yet; see there).
import type { ResourceInfo } from '../api/resources.js'
import type { KubeObject, Pod } from '../api/types.js'

export const DEFAULT_SERVICE_ACCOUNT = 'default'
/** Mirror pods (a kubelet's static pods) are not held to a ServiceAccount, as upstream. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror'

export function admitCreate(r: ResourceInfo, obj: KubeObject): void {
  if (r.group === '' && r.kind === 'Pod') {
    const spec = (obj as Pod).spec as Pod['spec'] | undefined
    if (spec && typeof spec === 'object' && !Array.isArray(spec) && (spec.serviceAccountName === undefined || spec.serviceAccountName === ''))
      spec.serviceAccountName = DEFAULT_SERVICE_ACCOUNT
  }
}
