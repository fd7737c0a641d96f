// Bootstrap tokens (kubeadm's node-join credential): `<id>.<secret>` bearer tokens backed by
// Secrets `kube-system/bootstrap-token-<id>` of type bootstrap.kubernetes.io/token. A token
// authenticates as `system:bootstrap:<id>` in `system:bootstrappers` (plus the Secret's
// auth-extra-groups) while the Secret exists, is not being deleted, allows
// usage-bootstrap-authentication and has not passed its expiration — the checks of upstream's
// plugin/pkg/auth/authenticator/token/bootstrap.
import { timingSafeEqual } from 'node:crypto'
import type { UserInfo } from '../apiserver/auth.js'
import type { KubeObject } from '../api/types.js'

export const BOOTSTRAP_TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/
export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token'
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers'
const EXTRA_GROUP_RE = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/

interface SecretLike extends KubeObject {
  type?: string
  data?: Record<string, string>
}

export type SecretGetter = (namespace: string, name: string) => Promise<KubeObject | undefined>

function field(s: SecretLike, key: string): string {
  const v = s.data?.[key]
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : ''
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Pure: the user a bootstrap-token Secret grants for `token` at `now`, or why not. */
export function judgeBootstrapToken(token: string, secret: SecretLike | undefined, now: Date): { user: UserInfo } | { error: string } {
  const m = BOOTSTRAP_TOKEN_RE.exec(token)
  if (!m) return { error: 'not a bootstrap token' }
  const [, id, sec] = m as unknown as [string, string, string]
  if (!secret) return { error: `secret bootstrap-token-${id} not found` }
  if (secret.metadata.deletionTimestamp) return { error: `secret bootstrap-token-${id} is being deleted` }
  if (secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE) return { error: `secret bootstrap-token-${id} has type ${secret.type ?? ''}` }
  if (!same(field(secret, 'token-secret'), sec) || field(secret, 'token-id') !== id) return { error: 'bootstrap token does not match its secret' }
  const exp = field(secret, 'expiration')
  if (exp) {
    const t = Date.parse(exp)
    if (Number.isNaN(t) || t <= now.getTime()) return { error: `bootstrap token ${id} has expired` }
  }
  if (field(secret, 'usage-bootstrap-authentication') !== 'true') return { error: `bootstrap token ${id} is not usable for authentication` }
  const extra = field(secret, 'auth-extra-groups').split(',').map((g) => g.trim()).filter(Boolean)
  if (extra.some((g) => !EXTRA_GROUP_RE.test(g))) return { error: `bootstrap token ${id} has invalid auth-extra-groups` }
  return { user: { name: `system:bootstrap:${id}`, uid: '', groups: [BOOTSTRAPPERS_GROUP, ...extra] } }
}

export class BootstrapTokenAuthenticator {
  constructor(private readonly getSecret: SecretGetter, private readonly now: () => Date = () => new Date()) {}

  async authenticate(token: string): Promise<{ user: UserInfo } | { error: string } | undefined> {
    const m = BOOTSTRAP_TOKEN_RE.exec(token)
    if (!m) return undefined
    const secret = (await this.getSecret('kube-system', `bootstrap-token-${m[1]}`)) as SecretLike | undefined
    return judgeBootstrapToken(token, secret, this.now())
  }
}
