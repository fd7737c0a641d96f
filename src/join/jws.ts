// The detached JWS the bootstrap signer puts into cluster-info for each signing token
// (`jws-kubeconfig-<id>`): HS256 over the kubeconfig text, keyed by the token secret, `kid` the
// token id, the payload left out (`header..signature`). Whoever holds the token can check that
// the cluster-info they fetched over an unverified connection came from the cluster.
import { createHmac, timingSafeEqual } from 'node:crypto'

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

export function detachedJws(content: string, tokenId: string, tokenSecret: string): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', kid: tokenId }))
  const sig = createHmac('sha256', tokenSecret).update(`${header}.${b64url(content)}`).digest()
  return `${header}..${b64url(sig)}`
}

/** Whether `jws` is the detached signature of `content` by this token (header, alg and kid included). */
export function verifyDetachedJws(content: string, jws: string, tokenId: string, tokenSecret: string): boolean {
  const parts = jws.split('.')
  if (parts.length !== 3 || parts[1] !== '') return false
  let header: { alg?: unknown; kid?: unknown }
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: unknown; kid?: unknown }
  } catch {
    return false
  }
  if (header.alg !== 'HS256' || header.kid !== tokenId) return false
  const want = createHmac('sha256', tokenSecret).update(`${parts[0]}.${b64url(content)}`).digest()
  const got = Buffer.from(parts[2]!, 'base64url')
  return got.length === want.length && timingSafeEqual(got, want)
}
