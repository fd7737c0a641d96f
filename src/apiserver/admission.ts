// Mutating admission on create, after defaulting and before validation (kube-apiserver's order).
// The ServiceAccount plugin's defaulting: a pod without spec.serviceAccountName runs as
// `default`. Its refusal of a pod naming a missing ServiceAccount needs the store, so it is
// the registry's (Registry.admitServiceAccount): 403 `error looking up service account …`,
// except for a missing `default` (netkube mounts no tokens yet; see there).
import type { ResourceInfo } from '../api/resources.js'
import type { KubeObject, Pod } from '../api/types.js'
import type { UserInfo } from './auth.js'

/**
 * One write as validating admission plugins see it (upstream's admission.Attributes): after
 * defaulting and validation, before the store. A plugin refuses by throwing an ApiError.
 */
export interface AdmissionRequest {
  op: 'create' | 'update' | 'delete'
  r: ResourceInfo
  /** '' for the main resource, else `status`, `scale`. */
  sub: string
  namespace: string
  name: string
  /** The object to be written (create, update). */
  obj?: KubeObject
  /** The stored object (update, delete). */
  old?: KubeObject
  user: UserInfo
  dryRun: boolean
}

export type ValidatingAdmission = (a: AdmissionRequest) => void | Promise<void>

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
