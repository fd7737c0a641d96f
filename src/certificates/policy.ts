// Pure decisions of the CSR controllers: what each kubernetes.io signer accepts (upstream's
// ValidateKubeletClientCSR / ValidateKubeletServingCSR / validAPIServerClientUsages), which node
// CSRs the approver recognises (sarapprove's recognizers) and how long a certificate lives.
import type { ParsedRequest, CertificateSigningRequest } from './csr.js'
import { SIGNER_APISERVER_CLIENT, SIGNER_KUBELET_CLIENT, SIGNER_KUBELET_SERVING } from './csr.js'

export const EKU = { clientAuth: '1.3.6.1.5.5.7.3.2', serverAuth: '1.3.6.1.5.5.7.3.1' } as const
export const NODE_USER_PREFIX = 'system:node:'
export const NODES_GROUP = 'system:nodes'

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && new Set(a).size === b.length && b.every((x) => a.includes(x))
const kinds = (p: ParsedRequest, k: string): string[] => p.sans.filter((s) => s.startsWith(`${k}:`))

const KUBELET_CLIENT_USAGES = ['client auth', 'digital signature', 'key encipherment']
const KUBELET_CLIENT_USAGES_NO_RSA = ['client auth', 'digital signature']
const KUBELET_SERVING_USAGES = ['digital signature', 'key encipherment', 'server auth']
const KUBELET_SERVING_USAGES_NO_RSA = ['digital signature', 'server auth']

/** Why a kubelet client CSR is not one, or undefined (upstream's texts). */
export function kubeletClientError(p: ParsedRequest, usages: readonly string[]): string | undefined {
  if (!sameSet(p.organizations, [NODES_GROUP])) return 'subject organization is not system:nodes'
  if (kinds(p, 'DNS').length) return 'DNS subjectAltNames are not allowed'
  if (kinds(p, 'email').length) return 'Email subjectAltNames are not allowed'
  if (kinds(p, 'IP').length) return 'IP subjectAltNames are not allowed'
  if (kinds(p, 'URI').length) return 'URI subjectAltNames are not allowed'
  if (!p.commonName.startsWith(NODE_USER_PREFIX)) return "subject common name does not begin with 'system:node:'"
  if (!sameSet([...usages], KUBELET_CLIENT_USAGES) && !sameSet([...usages], KUBELET_CLIENT_USAGES_NO_RSA)) return `usages did not match [${KUBELET_CLIENT_USAGES.join(' ')}]`
  return undefined
}

export function kubeletServingError(p: ParsedRequest, usages: readonly string[]): string | undefined {
  if (!sameSet(p.organizations, [NODES_GROUP])) return 'subject organization is not system:nodes'
  if (!kinds(p, 'DNS').length && !kinds(p, 'IP').length) return 'DNS or IP subjectAltName is required'
  if (kinds(p, 'email').length) return 'Email subjectAltNames are not allowed'
  if (kinds(p, 'URI').length) return 'URI subjectAltNames are not allowed'
  if (!sameSet([...usages], KUBELET_SERVING_USAGES) && !sameSet([...usages], KUBELET_SERVING_USAGES_NO_RSA)) return `usages did not match [${KUBELET_SERVING_USAGES.join(' ')}]`
  if (!p.commonName.startsWith(NODE_USER_PREFIX)) return "subject common name does not begin with 'system:node:'"
  return undefined
}

export function apiserverClientError(usages: readonly string[]): string | undefined {
  let clientAuth = false
  for (const u of usages) {
    if (u === 'client auth') clientAuth = true
    else if (u !== 'digital signature' && u !== 'key encipherment') return `invalid usage for client certificate: ${u}`
  }
  return clientAuth ? undefined : 'missing required usage for client certificate: client auth'
}

export type SignPlan = { sign: true; validSeconds: number; ekus: string[] } | { sign: false; fail?: string }

/**
 * What the signer does with an approved, unissued CSR: sign it for `validSeconds` (the requested
 * duration clamped to [600 s, maxSeconds], upstream's `duration`), refuse it (a Failed condition
 * with reason SignerValidationFailure), or leave it (not a signer of ours).
 */
export function signPlan(csr: CertificateSigningRequest, parsed: ParsedRequest, maxSeconds: number): SignPlan {
  const usages = Array.isArray(csr.spec.usages) ? csr.spec.usages : []
  let err: string | undefined
  let ekus: string[]
  switch (csr.spec.signerName) {
    case SIGNER_KUBELET_CLIENT:
      err = kubeletClientError(parsed, usages)
      ekus = [EKU.clientAuth]
      break
    case SIGNER_KUBELET_SERVING:
      err = kubeletServingError(parsed, usages)
      ekus = [EKU.serverAuth]
      break
    case SIGNER_APISERVER_CLIENT:
      err = apiserverClientError(usages)
      ekus = [EKU.clientAuth]
      break
    default:
      return { sign: false }
  }
  if (err) return { sign: false, fail: err }
  const want = csr.spec.expirationSeconds
  const validSeconds = want === undefined ? maxSeconds : Math.min(maxSeconds, Math.max(600, want))
  return { sign: true, validSeconds, ekus }
}

/** The approver's recognizers, most specific first: the subresource its SubjectAccessReview asks `create` on, and the approval message. */
export interface Recognized {
  subresource: 'selfnodeclient' | 'nodeclient'
  message: string
}

export function recognize(csr: CertificateSigningRequest, parsed: ParsedRequest): Recognized[] {
  if (csr.spec.signerName !== SIGNER_KUBELET_CLIENT) return []
  if (kubeletClientError(parsed, Array.isArray(csr.spec.usages) ? csr.spec.usages : []) !== undefined) return []
  const out: Recognized[] = []
  if (csr.spec.username === parsed.commonName) out.push({ subresource: 'selfnodeclient', message: 'Auto approving self kubelet client certificate after SubjectAccessReview.' })
  out.push({ subresource: 'nodeclient', message: 'Auto approving kubelet client certificate after SubjectAccessReview.' })
  return out
}
