// Client-certificate authentication. The TLS server asks every client for a certificate
// (requestCert) and verifies it against the cluster CA, but does not refuse the handshake:
// like kube-apiserver (tls.RequestClientCert, then the x509 authenticator's Verify), a
// certificate from another CA is not a TLS failure but a failed authenticator, so the request
// ends in 401 unless another credential (a bearer token) authenticates it.
import type { TLSSocket } from 'node:tls'
import type { UserInfo } from '../apiserver/auth.js'
import { EKU_CLIENT_AUTH } from './pki.js'

export type AuthnOutcome = { user: UserInfo } | { error: string } | undefined

function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return []
  return Array.isArray(v) ? v : [v]
}

/** The user a verified peer certificate names, as upstream's CommonNameUserConversion. */
function userOf(sock: TLSSocket): AuthnOutcome {
  const cert = sock.getPeerCertificate()
  if (!cert || Object.keys(cert).length === 0) return undefined
  if (!sock.authorized) return { error: `x509: ${String(sock.authorizationError ?? 'certificate not verified')}` }
  const x = sock.getPeerX509Certificate()
  // A CA-signed certificate for a server is not a client credential (upstream checks ExtKeyUsageClientAuth).
  const ekus = x?.keyUsage ?? []
  if (!ekus.includes(EKU_CLIENT_AUTH)) return { error: 'x509: certificate specifies an incompatible key usage' }
  // Go's pkix.Name keeps the last CN when a subject carries several.
  const cns = values(cert.subject?.CN)
  const cn = cns[cns.length - 1] ?? ''
  if (cn === '') return undefined
  return { user: { name: cn, uid: '', groups: values(cert.subject?.O) } }
}

// A keep-alive connection carries one certificate: judge it once per socket.
const perSocket = new WeakMap<object, AuthnOutcome | null>()

export function authenticateClientCert(socket: unknown): AuthnOutcome {
  const sock = socket as TLSSocket | undefined
  if (!sock || typeof sock.getPeerCertificate !== 'function') return undefined
  const seen = perSocket.get(sock)
  if (seen !== undefined) return seen ?? undefined
  let out: AuthnOutcome
  try {
    out = userOf(sock)
  } catch (err) {
    out = { error: `x509: ${(err as Error).message}` }
  }
  perSocket.set(sock, out ?? null)
  return out
}
