// src/authn: who sent a request. Design note.
//
// kube-apiserver authenticates with a union of authenticators, tried in order; the first that
// recognises the credential decides, errors of the others are kept only for the log. netkube
// has the same chain:
//   1. x509 client certificate (x509.ts): verified by TLS against the cluster CA; CN = user,
//      O = groups. Components' credentials (certs.ts issues them from pki.ts).
//   2. the static token file (apiserver/auth.ts): the admin's token for humans and tests.
//   3. ServiceAccount JWTs (serviceaccount.ts): bound, expiring tokens from TokenRequest.
//   4. bootstrap tokens (bootstrap-token.ts): `<id>.<secret>` for nodes joining.
// A request whose credentials nothing accepts is 401 (upstream's Status body), also on the
// public paths; one with no credentials is `system:anonymous` there and 401 elsewhere (the
// server's hook decides). Every authenticated user gains `system:authenticated`, as upstream's
// group adder does. The chain never throws: a lookup failure is an error outcome, so odd
// input ends in 401 and never in a 500.
import type { UserInfo, TokenAuthenticator } from '../apiserver/auth.js'
import { authenticateClientCert, type AuthnOutcome } from './x509.js'
import type { BootstrapTokenAuthenticator } from './bootstrap-token.js'
import type { ServiceAccountTokens } from './serviceaccount.js'
import { logger } from '../util/log.js'

const log = logger('authn')

export const AUTHENTICATED_GROUP = 'system:authenticated'

export interface AuthnRequest {
  authorization: string | undefined
  /** The TLS socket (undefined in `inject` tests). */
  socket: unknown
}

export interface ChainOptions {
  tokenFile: TokenAuthenticator
  serviceAccounts?: ServiceAccountTokens
  bootstrapTokens?: BootstrapTokenAuthenticator
  /** Accept client certificates (on by default; the TLS server must request them). */
  clientCerts?: boolean
}

/** RFC 6750 bearer credential: `Bearer <token>` with a token of printable characters. */
function bearer(header: string): string | undefined {
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header)
  return m ? m[1] : undefined
}

function withAuthenticated(u: UserInfo): UserInfo {
  return u.groups.includes(AUTHENTICATED_GROUP) ? u : { ...u, groups: [...u.groups, AUTHENTICATED_GROUP] }
}

export class AuthenticatorChain {
  constructor(private readonly o: ChainOptions) {}

  /**
   * The user, or `undefined` when the request carries no credential at all, or
   * `{ error }` when it carries one that nothing accepted (401).
   */
  async authenticate(req: AuthnRequest): Promise<{ user: UserInfo } | { error: string } | undefined> {
    const errors: string[] = []
    let presented = false
    if (this.o.clientCerts !== false) {
      const c = authenticateClientCert(req.socket)
      if (c && 'user' in c) return { user: withAuthenticated(c.user) }
      if (c) {
        presented = true
        errors.push(c.error)
      }
    }
    const header = req.authorization
    if (header !== undefined) {
      presented = true
      const token = bearer(header)
      if (token === undefined) errors.push('no bearer token in the Authorization header')
      else {
        const fromFile = this.o.tokenFile.authenticate(`Bearer ${token}`)
        if (fromFile) return { user: withAuthenticated(fromFile) }
        for (const a of [this.o.serviceAccounts, this.o.bootstrapTokens]) {
          if (!a) continue
          let out: AuthnOutcome
          try {
            out = await a.authenticate(token)
          } catch (err) {
            out = { error: (err as Error).message }
          }
          if (out && 'user' in out) return { user: withAuthenticated(out.user) }
          if (out) errors.push(out.error)
        }
        if (errors.length === 0) errors.push('invalid bearer token')
      }
    }
    if (!presented) return undefined
    log.debug({ errors }, 'unable to authenticate the request')
    return { error: errors.join('; ') }
  }
}
