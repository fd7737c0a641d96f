// kube-public/cluster-info (kubeadm's discovery ConfigMap): `kubeconfig` names the cluster (its
// server and CA, no user) and `jws-kubeconfig-<id>` holds each signing token's signature of it.
// Readable anonymously (a Role and RoleBinding for system:anonymous, src/apiserver/bootstrap.ts).
// Pure: what the ConfigMap's data should be.
import { stringify } from 'yaml'
import { detachedJws } from './jws.js'
import { isExpired, type BootstrapToken } from './tokens.js'

export const CLUSTER_INFO_NAMESPACE = 'kube-public'
export const CLUSTER_INFO_NAME = 'cluster-info'
export const CLUSTER_INFO_PATH = `/api/v1/namespaces/${CLUSTER_INFO_NAMESPACE}/configmaps/${CLUSTER_INFO_NAME}`
export const JWS_PREFIX = 'jws-kubeconfig-'

/** The kubeconfig kubeadm puts there: one unnamed cluster, no users or contexts. */
export function clusterInfoKubeconfig(server: string, caPem: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: '', cluster: { 'certificate-authority-data': Buffer.from(caPem).toString('base64'), server } }],
    contexts: null,
    'current-context': '',
    preferences: {},
    users: null,
  })
}

/**
 * The bootstrap signer's decision: the kubeconfig kept, one signature per unexpired token with
 * usage `signing`, signatures of other tokens dropped. Undefined when there is no kubeconfig.
 */
export function signedClusterInfoData(data: Record<string, string> | undefined, tokens: BootstrapToken[], now: Date): Record<string, string> | undefined {
  const content = data?.kubeconfig
  if (typeof content !== 'string') return undefined
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(data ?? {})) if (!k.startsWith(JWS_PREFIX)) out[k] = v
  for (const t of tokens) if (t.usages.includes('signing') && !isExpired(t, now)) out[`${JWS_PREFIX}${t.id}`] = detachedJws(content, t.id, t.secret)
  return out
}
