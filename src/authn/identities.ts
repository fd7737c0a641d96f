// The cluster's component identities (agreed with the RBAC policy in src/rbac: keep the names)
// and the kubeconfigs that carry them. Each is a client certificate from the cluster CA, as
// kubeadm writes controller-manager.conf, scheduler.conf and kubelet.conf.
import { existsSync, readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { writeKubeconfig } from '../apiserver/kubeconfig.js'
import { issueClientCert, type ClusterCA, type Subject } from './pki.js'
import { parse as parseYaml } from 'yaml'

export const ADMIN_USER = 'kubernetes-admin'
export const MASTERS_GROUP = 'system:masters'
export const NODES_GROUP = 'system:nodes'
export const AGENTS_GROUP = 'system:netkube:agents'

export const IDENTITIES = {
  admin: { commonName: ADMIN_USER, organizations: [MASTERS_GROUP] },
  controllerManager: { commonName: 'system:kube-controller-manager' },
  scheduler: { commonName: 'system:kube-scheduler' },
  kubeProxy: { commonName: 'system:kube-proxy' },
  /**
   * `netkube server`'s add-on manager applies the cluster's add-ons (DNS, ingress, the default
   * StorageClass, cluster-info): a named user whose ClusterRole (src/rbac/bootstrap-policy.ts)
   * covers exactly those objects; only the admin kubeconfig is in system:masters.
   */
  addonManager: { commonName: 'system:netkube:addon-manager' },
} as const satisfies Record<string, Subject>

export function kubeletIdentity(nodeName: string): Subject {
  return { commonName: `system:node:${nodeName}`, organizations: [NODES_GROUP] }
}

/** The agent's network loops (overlay lease, NetworkPolicy, LB speaker, local-path). */
export function agentIdentity(nodeName: string): Subject {
  return { commonName: `system:netkube:agent:${nodeName}`, organizations: [AGENTS_GROUP] }
}

/** Renew a certificate with less than this share of its life left (kubelet's rotation point is 70-90 %). */
const RENEW_FRACTION = 0.2

/** Whether a kubeconfig names `server` and holds a client certificate for `s`, from this CA, with life left. */
export function kubeconfigIsCurrent(path: string, server: string, s: Subject, ca: ClusterCA, now = Date.now()): boolean {
  if (!existsSync(path)) return false
  try {
    const doc = parseYaml(readFileSync(path, 'utf8')) as { users?: { user?: Record<string, string> }[]; clusters?: { cluster?: Record<string, string> }[] }
    const data = doc.users?.[0]?.user?.['client-certificate-data']
    const caData = doc.clusters?.[0]?.cluster?.['certificate-authority-data']
    if (doc.clusters?.[0]?.cluster?.server !== server) return false
    if (!data || !caData || Buffer.from(caData, 'base64').toString('utf8').trim() !== ca.certPem.trim()) return false
    const cert = new X509Certificate(Buffer.from(data, 'base64').toString('utf8'))
    const want = [`CN=${s.commonName}`, ...(s.organizations ?? []).map((o) => `O=${o}`)].sort().join('\n')
    if (cert.subject.split('\n').sort().join('\n') !== want) return false
    const from = Date.parse(cert.validFrom)
    const to = Date.parse(cert.validTo)
    return now < to - (to - from) * RENEW_FRACTION
  } catch {
    return false
  }
}

/** Writes (or keeps, when current) a kubeconfig for `s` at `path`; true when it wrote one. */
export async function ensureIdentityKubeconfig(path: string, server: string, ca: ClusterCA, s: Subject, user = s.commonName): Promise<boolean> {
  if (kubeconfigIsCurrent(path, server, s, ca)) return false
  const c = await issueClientCert(ca, s)
  writeKubeconfig(path, server, ca.certPem, { certPem: c.certPem, keyPem: c.keyPem }, user)
  return true
}
