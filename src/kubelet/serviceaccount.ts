// The pod's API credentials, as the kubelet projects upstream's `kube-api-access-*` volume:
// `token` (a TokenRequest bound to the pod, for the API audience), `ca.crt` (the cluster CA)
// and `namespace`, at /var/run/secrets/kubernetes.io/serviceaccount in every container, unless
// the pod (or, when the pod says nothing, its ServiceAccount) sets
// automountServiceAccountToken: false or a container already mounts that path. The token is
// requested again when 80 % of its life has passed (the kubelet's token manager rule).
import type { Container, Pod } from '../api/types.js'

export const SA_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount'
export const SA_VOLUME_NAME = 'kube-api-access'

export interface IssuedToken {
  token: string
  /** ms since the epoch */
  issuedAt: number
  expiresAt: number
}

export interface ServiceAccountSource {
  /** A token for the pod's ServiceAccount, bound to the pod (TokenRequest). */
  token(pod: Pod): Promise<IssuedToken>
  caPem: string
}

/**
 * Pure: does this pod get the projected credentials? The pod's field decides; admission wrote
 * false into it when the pod left it unset and its ServiceAccount says false (the kubelet, like
 * upstream's, may not read ServiceAccounts).
 */
export function wantsServiceAccountMount(pod: Pod): boolean {
  return (pod.spec as { automountServiceAccountToken?: boolean }).automountServiceAccountToken !== false
}

/** Pure: a container that mounts something at the path itself keeps its own. */
export function containerGetsMount(c: Container): boolean {
  return !(c.volumeMounts ?? []).some((m) => m.mountPath.replace(/\/+$/, '') === SA_MOUNT_PATH)
}

/** Pure: time to ask for a new token (80 % of its life gone, or expired). */
export function tokenNeedsRefresh(t: IssuedToken | undefined, now: number): boolean {
  if (!t) return true
  return now >= t.issuedAt + (t.expiresAt - t.issuedAt) * 0.8
}

/** The files of the volume. */
export function serviceAccountFiles(t: IssuedToken, caPem: string, namespace: string): { path: string; data: Buffer; mode: number }[] {
  return [
    { path: 'token', data: Buffer.from(t.token), mode: 0o644 },
    { path: 'ca.crt', data: Buffer.from(caPem), mode: 0o644 },
    { path: 'namespace', data: Buffer.from(namespace), mode: 0o644 },
  ]
}
