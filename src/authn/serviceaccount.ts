// ServiceAccount tokens: bound, expiring JWTs (TokenRequest), as upstream's
// pkg/serviceaccount. The apiserver signs them with its key (ES256, `sa.key` in the PKI
// directory, shared by every apiserver of a cluster like the CA) and validates them on
// every request: signature with exactly the expected algorithm (so `alg: none` and HS256
// made with the public key are refused), issuer, audience, time, then the objects the
// token is bound to — the ServiceAccount and the Pod (or Secret, Node) must still exist with
// the UIDs in the token. Deleting either revokes the token on the next request.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT, jwtVerify, decodeProtectedHeader } from 'jose'
import type { UserInfo } from '../apiserver/auth.js'
import type { KubeObject } from '../api/types.js'

export const SA_KEY_FILE = 'sa.key'
export const SA_PUB_FILE = 'sa.pub'
/** kubeadm's default `--service-account-issuer`; also the default API audience. */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local'
const ALG = 'ES256'

export const SA_GROUP = 'system:serviceaccounts'
export function serviceAccountUsername(ns: string, name: string): string {
  return `system:serviceaccount:${ns}:${name}`
}

/** The signing key in `dir`, made once (Node crypto; kubeadm's sa.key/sa.pub). */
export function ensureServiceAccountKey(dir: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const keyPath = join(dir, SA_KEY_FILE)
  const pubPath = join(dir, SA_PUB_FILE)
  if (!existsSync(keyPath)) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }))
  }
  const privateKey = createPrivateKey(readFileSync(keyPath, 'utf8'))
  return { privateKey, publicKey: createPublicKey(privateKey) }
}

export interface BoundRef {
  kind: 'Pod' | 'Secret' | 'Node'
  name: string
  uid: string
}

export interface TokenClaimsInput {
  namespace: string
  serviceAccount: { name: string; uid: string }
  audiences: string[]
  expirationSeconds: number
  bound?: BoundRef
  /** The node a bound pod runs on (upstream adds it for pod-bound tokens). */
  node?: { name: string; uid: string }
}

interface KubeClaims {
  namespace: string
  serviceaccount: { name: string; uid: string }
  pod?: { name: string; uid: string }
  secret?: { name: string; uid: string }
  node?: { name: string; uid: string }
}

/** Looks an object up by resource, straight from storage (strongly consistent). */
export type ObjectGetter = (plural: 'serviceaccounts' | 'pods' | 'secrets' | 'nodes', namespace: string | undefined, name: string) => Promise<KubeObject | undefined>

/** How long a pod being deleted keeps its tokens (upstream's grace after deletionTimestamp). */
const DELETION_GRACE_MS = 60_000

export class ServiceAccountTokens {
  private readonly kid: string
  constructor(
    private readonly keys: { privateKey: KeyObject; publicKey: KeyObject },
    private readonly getObject: ObjectGetter,
    readonly issuer = DEFAULT_ISSUER,
    /** What a token must be meant for to authenticate here (`--api-audiences`). */
    readonly apiAudiences: string[] = [issuer],
    private readonly now: () => number = Date.now,
  ) {
    // Upstream's key id: base64url(sha256(DER of the public key)).
    this.kid = createHash('sha256').update(keys.publicKey.export({ type: 'spki', format: 'der' })).digest('base64url')
  }

  /** Signs a token; returns it with its expiry. */
  async issue(c: TokenClaimsInput): Promise<{ token: string; expirationTimestamp: Date }> {
    const iat = Math.floor(this.now() / 1000)
    const exp = iat + c.expirationSeconds
    const kube: KubeClaims = { namespace: c.namespace, serviceaccount: c.serviceAccount }
    if (c.bound?.kind === 'Pod') kube.pod = { name: c.bound.name, uid: c.bound.uid }
    if (c.bound?.kind === 'Secret') kube.secret = { name: c.bound.name, uid: c.bound.uid }
    if (c.bound?.kind === 'Node') kube.node = { name: c.bound.name, uid: c.bound.uid }
    else if (c.node) kube.node = c.node
    const token = await new SignJWT({ 'kubernetes.io': kube })
      .setProtectedHeader({ alg: ALG, kid: this.kid })
      .setIssuer(this.issuer)
      .setSubject(serviceAccountUsername(c.namespace, c.serviceAccount.name))
      .setAudience(c.audiences)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.keys.privateKey)
    return { token, expirationTimestamp: new Date(exp * 1000) }
  }

  /** A bearer token that looks like a JWT; undefined = not ours to judge, error = ours and invalid. */
  async authenticate(token: string): Promise<{ user: UserInfo } | { error: string } | undefined> {
    if (token.split('.').length !== 3) return undefined
    let header
    try {
      header = decodeProtectedHeader(token)
    } catch {
      return undefined
    }
    if (header.alg !== ALG) return { error: `service account token: unexpected signing algorithm ${JSON.stringify(header.alg)}` }
    let payload
    try {
      ;({ payload } = await jwtVerify(token, this.keys.publicKey, {
        algorithms: [ALG],
        issuer: this.issuer,
        audience: this.apiAudiences,
        currentDate: new Date(this.now()),
        clockTolerance: 0,
        // Every token this server issues expires; one without `exp` was never ours (the fuzz
        // signed one with the real key and jose, which checks `exp` only when present, took it).
        requiredClaims: ['exp'],
      }))
    } catch (err) {
      return { error: `service account token: ${(err as Error).message}` }
    }
    const kube = payload['kubernetes.io'] as KubeClaims | undefined
    if (!kube || typeof kube !== 'object' || typeof kube.namespace !== 'string' || !kube.serviceaccount || typeof kube.serviceaccount.name !== 'string') {
      return { error: 'service account token: no kubernetes.io claims' }
    }
    const ns = kube.namespace
    if (payload.sub !== serviceAccountUsername(ns, kube.serviceaccount.name)) return { error: 'service account token: subject does not match its claims' }
    const sa = await this.getObject('serviceaccounts', ns, kube.serviceaccount.name)
    if (!sa || sa.metadata.uid !== kube.serviceaccount.uid) return { error: `service account ${ns}/${kube.serviceaccount.name} has been deleted` }
    if (sa.metadata.deletionTimestamp) return { error: `service account ${ns}/${kube.serviceaccount.name} is being deleted` }
    const extra: Record<string, string[]> = {}
    if (kube.pod) {
      const pod = await this.getObject('pods', ns, kube.pod.name)
      if (!pod || pod.metadata.uid !== kube.pod.uid) return { error: `pod ${ns}/${kube.pod.name} has been deleted` }
      const del = pod.metadata.deletionTimestamp
      if (del && Date.parse(del) + DELETION_GRACE_MS < this.now()) return { error: `pod ${ns}/${kube.pod.name} is deleted and awaiting removal` }
      extra['authentication.kubernetes.io/pod-name'] = [kube.pod.name]
      extra['authentication.kubernetes.io/pod-uid'] = [kube.pod.uid]
    }
    if (kube.secret) {
      const s = await this.getObject('secrets', ns, kube.secret.name)
      if (!s || s.metadata.uid !== kube.secret.uid) return { error: `secret ${ns}/${kube.secret.name} has been deleted` }
    }
    if (kube.node) {
      // A node named in a pod-bound token is informative; a node-bound token needs the node.
      if (!kube.pod) {
        const n = await this.getObject('nodes', undefined, kube.node.name)
        if (!n || n.metadata.uid !== kube.node.uid) return { error: `node ${kube.node.name} has been deleted` }
      }
      extra['authentication.kubernetes.io/node-name'] = [kube.node.name]
      extra['authentication.kubernetes.io/node-uid'] = [kube.node.uid]
    }
    if (typeof payload.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${payload.jti}`]
    return { user: { name: payload.sub, uid: kube.serviceaccount.uid, groups: [SA_GROUP, `${SA_GROUP}:${ns}`], extra } }
  }
}
