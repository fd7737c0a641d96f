// Token discovery, as `kubeadm join --discovery-token-ca-cert-hash`: the node does not know the
// cluster's CA yet, so the first read of cluster-info cannot verify the server. What makes it
// safe is what comes after: the kubeconfig read must carry a JWS that only a holder of the token
// can make, and its CA must hash (SubjectPublicKeyInfo, sha256) to the pinned value. Then
// cluster-info is read again over a connection verified with that CA, and must be the same.
// Nothing else ever talks to the apiserver unverified; no kubeconfig says insecure.
import https from 'node:https'
import { parse as parseYaml } from 'yaml'
import { caCertHash } from '../authn/pki.js'
import { BOOTSTRAP_TOKEN_RE } from '../authn/bootstrap-token.js'
import { CLUSTER_INFO_PATH, JWS_PREFIX } from './cluster-info.js'
import { verifyDetachedJws } from './jws.js'

export class DiscoveryError extends Error {
  override name = 'DiscoveryError'
}

export interface Discovered {
  /** The CA that signed the apiserver's certificate (pinned by hash). */
  caPem: string
  /** The server cluster-info names. */
  server: string
}

function get(url: URL, caPem: string | undefined, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 443,
        path: CLUSTER_INFO_PATH,
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: timeoutMs,
        // The first read only: its content is verified by JWS and the CA pin before anything trusts it.
        ...(caPem ? { ca: caPem } : { rejectUnauthorized: false }),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

async function readClusterInfo(url: URL, caPem: string | undefined, timeoutMs: number): Promise<Record<string, string>> {
  let res
  try {
    res = await get(url, caPem, timeoutMs)
  } catch (err) {
    throw new DiscoveryError(`failed to request the cluster-info ConfigMap from ${url.origin}: ${(err as Error).message}`)
  }
  if (res.status !== 200) throw new DiscoveryError(`failed to request the cluster-info ConfigMap from ${url.origin}: HTTP ${res.status}: ${res.body.slice(0, 300)}`)
  const cm = JSON.parse(res.body) as { data?: Record<string, string> }
  return cm.data ?? {}
}

/** Pure: check what cluster-info said against the token and the pins; the CA and server, or why not. */
export function verifyClusterInfo(data: Record<string, string>, token: string, pins: string[]): Discovered {
  const m = BOOTSTRAP_TOKEN_RE.exec(token)
  if (!m) throw new DiscoveryError('the bootstrap token must be of the form "[a-z0-9]{6}.[a-z0-9]{16}"')
  const [, id, secret] = m as unknown as [string, string, string]
  const content = data.kubeconfig
  if (typeof content !== 'string') throw new DiscoveryError('there is no kubeconfig in the cluster-info ConfigMap')
  const jws = data[`${JWS_PREFIX}${id}`]
  if (!jws) throw new DiscoveryError(`token id ${JSON.stringify(id)} is invalid for this cluster or it has expired. Use "netkube token create" on the control-plane node to create a new valid token`)
  if (!verifyDetachedJws(content, jws, id, secret)) throw new DiscoveryError("failed to verify JWS signature of received cluster info object, can't trust this API Server")
  const doc = parseYaml(content) as { clusters?: { cluster?: Record<string, string> }[] }
  const cluster = doc.clusters?.[0]?.cluster ?? {}
  const caData = cluster['certificate-authority-data']
  if (!caData || !cluster.server) throw new DiscoveryError('the kubeconfig in cluster-info names no server or certificate authority')
  const caPem = Buffer.from(caData, 'base64').toString('utf8')
  const hash = caCertHash(caPem)
  if (!pins.map((p) => p.toLowerCase()).includes(hash)) throw new DiscoveryError(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${hash}" are pinned`)
  return { caPem, server: cluster.server }
}

/** Discovery against `server` with `token`, the CA pinned by `pins` (`sha256:<hex>`). */
export async function discover(server: string, token: string, pins: string[], timeoutMs = 10_000): Promise<Discovered> {
  if (pins.length === 0) throw new DiscoveryError('--discovery-token-ca-cert-hash is required: netkube does not join a cluster whose CA it cannot pin')
  for (const p of pins) if (!/^sha256:[0-9a-fA-F]{64}$/.test(p)) throw new DiscoveryError(`invalid --discovery-token-ca-cert-hash ${JSON.stringify(p)}: want sha256:<64 hex digits>`)
  const url = new URL(server)
  const first = await readClusterInfo(url, undefined, timeoutMs)
  const found = verifyClusterInfo(first, token, pins)
  // kubeadm's second fetch: the same answer over a connection that verifies the server.
  const second = await readClusterInfo(url, found.caPem, timeoutMs)
  if (second.kubeconfig !== first.kubeconfig) throw new DiscoveryError('the cluster-info read over a verified connection differs from the first one')
  return found
}
