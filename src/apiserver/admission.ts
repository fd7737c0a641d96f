// Mutating admission on create, after defaulting and before validation (kube-apiserver's order).
// Only the ServiceAccount plugin's defaulting: a pod without spec.serviceAccountName runs as
// `default`. Upstream also refuses a pod whose ServiceAccount does not exist yet; netkube does
// not, so a pod created in the instant before the ServiceAccount controller has filled a new
// namespace is not refused (tokens and RBAC, which make that check matter, come later).
import type { ResourceInfo } from '../api/resources.js'
import type { KubeObject, Pod } from '../api/types.js'

export const DEFAULT_SERVICE_ACCOUNT = 'default'

export function admitCreate(r: ResourceInfo, obj: KubeObject): void {
  if (r.group === '' && r.kind === 'Pod') {
    const spec = (obj as Pod).spec as Pod['spec'] | undefined
    if (spec && typeof spec === 'object' && !Array.isArray(spec) && (spec.serviceAccountName === undefined || spec.serviceAccountName === ''))
      spec.serviceAccountName = DEFAULT_SERVICE_ACCOUNT
  }
}
