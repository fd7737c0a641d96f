// Bootstrap tokens as kubeadm makes them (`kubeadm token create|list`): `<id>.<secret>` with a
// 6-character id and a 16-character secret of [a-z0-9], stored as the Secret
// kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token. The authenticator
// (src/authn/bootstrap-token.ts) reads the same Secret; the bootstrap signer (bootstrap-signer.ts)
// signs cluster-info with every token allowed to sign.
import { randomInt } from 'node:crypto'
import type { KubeObject } from '../api/types.js'
import { BOOTSTRAP_TOKEN_SECRET_TYPE } from '../authn/bootstrap-token.js'
import { humanDuration } from '../api/table.js'

export const TOKEN_NAMESPACE = 'kube-system'
export const TOKEN_SECRET_PREFIX = 'bootstrap-token-'
/** kubeadm's default extra group for node-join tokens (netkube's name in it). */
export const DEFAULT_TOKEN_GROUP = 'system:bootstrappers:netkube:default-node-token'
export const DEFAULT_TOKEN_TTL_MS = 24 * 3600_000

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const randomString = (n: number): string => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('')

export interface BootstrapToken {
  id: string
  secret: string
  /** Absent: never expires (`--ttl 0`). */
  expires?: Date
  usages: string[]
  groups: string[]
  description?: string
}

export const tokenString = (t: Pick<BootstrapToken, 'id' | 'secret'>): string => `${t.id}.${t.secret}`

/** kubeadm's bootstrapapi.BootstrapTokenPattern. */
export const TOKEN_PATTERN = '\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z'

/** `<id>.<secret>` → its parts, or kubeadm's error for anything else. */
export function parseToken(s: string): Pick<BootstrapToken, 'id' | 'secret'> {
  const m = /^([a-z0-9]{6})\.([a-z0-9]{16})$/.exec(s)
  if (!m) throw new Error(`the bootstrap token ${JSON.stringify(s)} was not of the form ${JSON.stringify(TOKEN_PATTERN)}`)
  return { id: m[1]!, secret: m[2]! }
}

/** A new token; `token` (kubeadm's `token create [token]`) fixes its id and secret instead of random ones. */
export function newToken(o: { ttlMs?: number; description?: string; now?: Date; token?: string } = {}): BootstrapToken {
  const ttl = o.ttlMs ?? DEFAULT_TOKEN_TTL_MS
  const now = o.now ?? new Date()
  const given = o.token !== undefined ? parseToken(o.token) : undefined
  return {
    id: given?.id ?? randomString(6),
    secret: given?.secret ?? randomString(16),
    ...(ttl > 0 ? { expires: new Date(now.getTime() + ttl) } : {}),
    usages: ['authentication', 'signing'],
    groups: [DEFAULT_TOKEN_GROUP],
    ...(o.description ? { description: o.description } : {}),
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64')
const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

export function tokenSecret(t: BootstrapToken): KubeObject & { type: string; data: Record<string, string> } {
  const data: Record<string, string> = { 'token-id': b64(t.id), 'token-secret': b64(t.secret) }
  if (t.expires) data.expiration = b64(rfc3339(t.expires))
  for (const u of t.usages) data[`usage-bootstrap-${u}`] = b64('true')
  if (t.groups.length) data['auth-extra-groups'] = b64(t.groups.join(','))
  if (t.description) data.description = b64(t.description)
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${TOKEN_SECRET_PREFIX}${t.id}`, namespace: TOKEN_NAMESPACE },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    data,
  }
}

/** The token a Secret holds, or undefined when it is not a well-formed bootstrap-token Secret. */
export function tokenFromSecret(s: KubeObject & { type?: string; data?: Record<string, string> }): BootstrapToken | undefined {
  if (s.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || !s.metadata.name?.startsWith(TOKEN_SECRET_PREFIX)) return undefined
  const f = (k: string): string => (typeof s.data?.[k] === 'string' ? Buffer.from(s.data[k]!, 'base64').toString('utf8') : '')
  const id = f('token-id')
  const secret = f('token-secret')
  if (!/^[a-z0-9]{6}$/.test(id) || !/^[a-z0-9]{16}$/.test(secret) || s.metadata.name !== `${TOKEN_SECRET_PREFIX}${id}`) return undefined
  const exp = f('expiration')
  const t = exp ? new Date(exp) : undefined
  const usages = Object.keys(s.data ?? {}).filter((k) => k.startsWith('usage-bootstrap-') && f(k) === 'true').map((k) => k.slice('usage-bootstrap-'.length)).sort()
  return {
    id,
    secret,
    ...(t && !Number.isNaN(t.getTime()) ? { expires: t } : {}),
    usages,
    groups: f('auth-extra-groups').split(',').map((g) => g.trim()).filter(Boolean),
    ...(f('description') ? { description: f('description') } : {}),
  }
}

export const isExpired = (t: BootstrapToken, now: Date): boolean => t.expires !== undefined && t.expires.getTime() <= now.getTime()

/** `kubeadm token list` columns: TOKEN TTL EXPIRES USAGES DESCRIPTION EXTRA GROUPS. */
export function tokenTable(tokens: BootstrapToken[], now: Date): string {
  const rows = [['TOKEN', 'TTL', 'EXPIRES', 'USAGES', 'DESCRIPTION', 'EXTRA GROUPS']]
  for (const t of tokens) {
    const ttl = !t.expires ? '<forever>' : isExpired(t, now) ? '<invalid>' : humanDuration(t.expires.getTime() - now.getTime())
    rows.push([tokenString(t), ttl, t.expires ? rfc3339(t.expires) : '<never>', t.usages.join(',') || '<none>', t.description ?? '<none>', t.groups.join(',') || '<none>'])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n'
}
