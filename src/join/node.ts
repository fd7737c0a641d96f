// The node's side of the join, as the kubelet's TLS bootstrap and certificate manager:
// 1. bootstrap: with a valid kubeconfig already at --kubeconfig nothing happens (a restart);
//    else discovery (discovery.ts) gives the pinned CA, a key and a CSR for system:node:<name>
//    (O system:nodes, signer kube-apiserver-client-kubelet) are sent with the bootstrap token,
//    and once issued the node writes its own kubeconfig (its certificate and key, the CA);
// 2. rotation: at a jittered 70–90 % of the certificate's life (kubelet's jitteryDuration) a
//    new key and CSR are sent as the node itself (auto-approved as `selfnodeclient`) and the
//    kubeconfig is rewritten in place; clients built from it re-read it (client/kubeconfig.ts).
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { parse as parseYaml } from 'yaml'
import { createCsr } from '../authn/pki.js'
import { kubeletIdentity } from '../authn/identities.js'
import { writeKubeconfig } from '../apiserver/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import type { Client, ClientConfig } from '../client/interfaces.js'
import { findResource } from '../api/resources.js'
import { logger } from '../util/log.js'
import { SIGNER_KUBELET_CLIENT, conditionOf, type CertificateSigningRequest } from '../certificates/csr.js'
import { discover } from './discovery.js'

const log = logger('join')
const CSRS = findResource('certificates.k8s.io', 'v1', 'certificatesigningrequests')!

export interface NodeCert {
  certPem: string
  keyPem: string
  caPem: string
  server: string
  notBefore: number
  notAfter: number
}

/** The node's certificate in a kubeconfig, if it is one for system:node:<name> that is still valid. */
export function readNodeKubeconfig(path: string, nodeName: string, now = Date.now()): NodeCert | undefined {
  if (!existsSync(path)) return undefined
  try {
    const doc = parseYaml(readFileSync(path, 'utf8')) as { users?: { user?: Record<string, string> }[]; clusters?: { cluster?: Record<string, string> }[] }
    const u = doc.users?.[0]?.user ?? {}
    const c = doc.clusters?.[0]?.cluster ?? {}
    const dec = (v: string | undefined): string => Buffer.from(v ?? '', 'base64').toString('utf8')
    const certPem = dec(u['client-certificate-data'])
    const cert = new X509Certificate(certPem)
    if (!cert.subject.split('\n').includes(`CN=system:node:${nodeName}`)) return undefined
    const notBefore = Date.parse(cert.validFrom)
    const notAfter = Date.parse(cert.validTo)
    if (now >= notAfter || !c.server) return undefined
    return { certPem, keyPem: dec(u['client-key-data']), caPem: dec(c['certificate-authority-data']), server: c.server, notBefore, notAfter }
  } catch {
    return undefined
  }
}

/** kubelet's jitteryDuration: somewhere in 70–90 % of the certificate's life. */
export function rotationDeadline(notBefore: number, notAfter: number, rand = Math.random()): number {
  const total = notAfter - notBefore
  return notBefore + total * (0.7 + 0.2 * rand)
}

export interface RequestOptions {
  nodeName: string
  /** spec.expirationSeconds (≥ 600); the signer's maximum when absent. */
  expirationSeconds?: number
  timeoutMs?: number
  pollMs?: number
}

/** Sends a node client CSR with `client`, waits for its certificate; throws on Denied/Failed/timeout. */
export async function requestNodeCertificate(client: Client, o: RequestOptions): Promise<{ certPem: string; keyPem: string; csrName: string }> {
  const { csrPem, keyPem } = await createCsr(kubeletIdentity(o.nodeName))
  const csrs = client.resource<CertificateSigningRequest>(CSRS)
  const created = await csrs.create({
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: 'node-csr-' },
    spec: {
      request: Buffer.from(csrPem).toString('base64'),
      signerName: SIGNER_KUBELET_CLIENT,
      // An EC key: no key encipherment (the kubelet asks the same for non-RSA keys).
      usages: ['digital signature', 'client auth'],
      ...(o.expirationSeconds ? { expirationSeconds: o.expirationSeconds } : {}),
    },
  })
  const name = created.metadata.name!
  log.info({ csr: name, node: o.nodeName }, 'certificate signing request created, waiting for approval and issue')
  const deadline = Date.now() + (o.timeoutMs ?? 300_000)
  for (;;) {
    const cur = await csrs.get(name)
    const denied = conditionOf(cur, 'Denied')
    if (denied) throw new Error(`certificate signing request ${name} is denied, reason: ${denied.reason ?? ''}, message: ${denied.message ?? ''}`)
    const failed = conditionOf(cur, 'Failed')
    if (failed) throw new Error(`certificate signing request ${name} failed, reason: ${failed.reason ?? ''}, message: ${failed.message ?? ''}`)
    if (cur.status?.certificate) return { certPem: Buffer.from(cur.status.certificate, 'base64').toString('utf8'), keyPem, csrName: name }
    if (Date.now() > deadline) throw new Error(`timed out waiting for certificate signing request ${name} to be approved and issued`)
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500))
  }
}

export interface BootstrapOptions extends RequestOptions {
  kubeconfigPath: string
  server: string
  token: string
  caCertHashes: string[]
}

/** TLS bootstrap: the kubeconfig at `kubeconfigPath` holds the node's own certificate afterwards. */
export async function bootstrapNode(o: BootstrapOptions): Promise<'existing' | 'joined'> {
  if (readNodeKubeconfig(o.kubeconfigPath, o.nodeName)) return 'existing'
  const found = await discover(o.server, o.token, o.caCertHashes)
  const cfg: ClientConfig = { server: o.server, caPem: found.caPem, token: o.token, userAgent: `netkube-agent/${o.nodeName} (bootstrap)` }
  const issued = await requestNodeCertificate(createClient(cfg), o)
  mkdirSync(dirname(o.kubeconfigPath), { recursive: true })
  writeKubeconfig(o.kubeconfigPath, o.server, found.caPem, { certPem: issued.certPem, keyPem: issued.keyPem }, `system:node:${o.nodeName}`)
  log.info({ node: o.nodeName, csr: issued.csrName, kubeconfig: o.kubeconfigPath }, 'joined: the kubeconfig holds the node certificate')
  return 'joined'
}

export interface Rotation {
  stop(): void
  /** Resolves after the next successful rotation (tests). */
  readonly rotations: number
}

/** Rotates the node certificate in `kubeconfigPath` before it expires, for as long as it runs. */
export function startCertRotation(o: { kubeconfigPath: string; nodeName: string; expirationSeconds?: number; retryMs?: number; onRotated?: (c: NodeCert) => void }): Rotation {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let rotations = 0
  let failures = 0
  const schedule = (): void => {
    if (stopped) return
    const cur = readNodeKubeconfig(o.kubeconfigPath, o.nodeName)
    const at = cur ? rotationDeadline(cur.notBefore, cur.notAfter) : Date.now()
    // setTimeout holds at most 2^31-1 ms: a far deadline is looked at again then.
    const wait = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1)
    log.info({ node: o.nodeName, rotateAt: new Date(Date.now() + wait).toISOString() }, 'certificate rotation scheduled')
    timer = setTimeout(() => void rotate(), wait)
    timer.unref()
  }
  const rotate = async (): Promise<void> => {
    if (stopped) return
    const cur = readNodeKubeconfig(o.kubeconfigPath, o.nodeName)
    if (!cur) {
      log.error({ node: o.nodeName }, 'the node certificate has expired: rotation cannot authenticate; join again with a bootstrap token')
      return
    }
    try {
      const client = createClient({ ...loadKubeconfig(o.kubeconfigPath), userAgent: `netkube-agent/${o.nodeName} (certificate rotation)` })
      const issued = await requestNodeCertificate(client, { nodeName: o.nodeName, ...(o.expirationSeconds ? { expirationSeconds: o.expirationSeconds } : {}) })
      if (stopped) return
      writeKubeconfig(o.kubeconfigPath, cur.server, cur.caPem, { certPem: issued.certPem, keyPem: issued.keyPem }, `system:node:${o.nodeName}`)
      rotations++
      failures = 0
      const next = readNodeKubeconfig(o.kubeconfigPath, o.nodeName)!
      log.info({ node: o.nodeName, csr: issued.csrName, notAfter: new Date(next.notAfter).toISOString() }, 'node certificate rotated')
      o.onRotated?.(next)
      schedule()
    } catch (err) {
      failures++
      // The kubelet backs off exponentially up to 5 minutes between attempts.
      const wait = Math.min((o.retryMs ?? 2000) * 2 ** (failures - 1), 300_000)
      log.warn({ node: o.nodeName, err: (err as Error).message, retryInMs: wait }, 'certificate rotation failed')
      timer = setTimeout(() => void rotate(), wait)
      timer.unref()
    }
  }
  schedule()
  return {
    stop: () => {
      stopped = true
      if (timer) clearTimeout(timer)
    },
    get rotations() {
      return rotations
    },
  }
}
