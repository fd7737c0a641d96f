// The kubelet's HTTPS identity and who may call it. Upstream's kubelet serves
// kubelet.crt/kubelet.key from --cert-dir (or --tls-cert-file/--tls-private-key-file) and
// authenticates callers by x509 client certificate against --client-ca-file. Here the one
// caller is the apiserver: a client certificate chained to the cluster CA whose subject is
// the apiserver's kubelet-client identity (kubeadm: CN kube-apiserver-kubelet-client,
// O kubeadm:cluster-admins; system:masters in older clusters). Anything else is refused
// with the kubelet's own Forbidden text.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'

export interface KubeletTLS {
  certPem: string
  keyPem: string
  /** CA that signs the apiserver's kubelet-client certificate. */
  clientCaPem: string
}

export const KUBELET_CLIENT_CN = 'kube-apiserver-kubelet-client'
const ADMIN_GROUPS = ['kubeadm:cluster-admins', 'system:masters']

export interface TLSFlags {
  certDir: string
  tlsCertFile?: string
  tlsPrivateKeyFile?: string
  clientCaFile?: string
  /** The CA from the kubelet's kubeconfig: the default client CA (one cluster CA signs both). */
  kubeconfigCaPem?: string
}

/** Resolves the kubelet's flags to PEMs, or says exactly what is missing. */
export function loadKubeletTLS(f: TLSFlags): KubeletTLS {
  const certFile = f.tlsCertFile ?? join(f.certDir, 'kubelet.crt')
  const keyFile = f.tlsPrivateKeyFile ?? join(f.certDir, 'kubelet.key')
  for (const p of [certFile, keyFile])
    if (!existsSync(p)) throw new Error(`kubelet serving certificate ${p} not found: issue kubelet.crt/kubelet.key from the cluster CA into --cert-dir (${f.certDir}) or pass --tls-cert-file/--tls-private-key-file`)
  const clientCaPem = f.clientCaFile ? readFileSync(f.clientCaFile, 'utf8') : f.kubeconfigCaPem
  if (!clientCaPem) throw new Error('no --client-ca-file and no certificate-authority in the kubeconfig: the kubelet could not authenticate the apiserver')
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), clientCaPem }
}

export interface Caller {
  user: string
  groups: string[]
}

/** The verified client identity of a TLS connection (undefined: none or not chained to the CA). */
export function callerOf(socket: unknown): Caller | undefined {
  const s = socket as Partial<TLSSocket>
  if (typeof s.getPeerCertificate !== 'function' || !s.authorized) return undefined
  const cert = s.getPeerCertificate()
  const cn = cert?.subject?.CN
  if (!cn) return undefined
  const o = cert.subject.O
  return { user: Array.isArray(cn) ? cn[0]! : cn, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] }
}

/** Only the apiserver's kubelet-client identity (or a cluster admin) may use the kubelet API. */
export function mayCall(c: Caller | undefined): boolean {
  return !!c && (c.user === KUBELET_CLIENT_CN || c.groups.some((g) => ADMIN_GROUPS.includes(g)))
}

/** The kubelet's refusal, as upstream words it (verb/resource of the nodes/proxy check). */
export function forbiddenText(c: Caller | undefined, method: string, subresource: string): string {
  const verb = method === 'GET' || method === 'HEAD' ? 'get' : 'create'
  return `Forbidden (user=${c?.user ?? 'system:anonymous'}, verb=${verb}, resource=nodes, subresource=${subresource})`
}

/** Which nodes/* subresource a kubelet path is (upstream's kubelet authorizer mapping). */
export function subresourceOf(path: string): string {
  if (path.startsWith('/metrics')) return 'metrics'
  if (path.startsWith('/stats')) return 'stats'
  if (path.startsWith('/logs')) return 'log'
  if (path.startsWith('/healthz')) return 'healthz'
  return 'proxy'
}
