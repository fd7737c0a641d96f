// The apiserver's PKI: a CA and a serving certificate made with the openssl CLI on first
// start and kept in the state directory, so clients that trust the CA keep working across
// restarts. The serving certificate is re-issued (same CA) when the wanted SANs change.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../util/exec.js'
import { logger } from '../util/log.js'
import { KUBELET_CLIENT_CN } from '../kubelet/tls.js'

const log = logger('apiserver-certs')

export interface ServingCerts {
  caPem: string
  certPem: string
  keyPem: string
  caCertPath: string
}

function isIP(s: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(s) || s.includes(':')
}

export function defaultSANs(advertise: string[], serviceIP: string): string[] {
  const names = ['127.0.0.1', 'localhost', serviceIP, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', ...advertise]
  return [...new Set(names.filter(Boolean))]
}

/** The files a second apiserver must share with the first (kubeadm's copy-certs): the CA and the ServiceAccount signing key. */
export const SHARED_PKI_FILES = ['ca.key', 'ca.crt', 'sa.key', 'sa.pub'] as const

/** The cluster CA in `dir`, made once. Apiservers of one cluster share it (copied before their first start). */
export async function ensureClusterCA(dir: string): Promise<{ caKey: string; caCrt: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const caKey = join(dir, 'ca.key')
  const caCrt = join(dir, 'ca.crt')
  if (!existsSync(caKey) || !existsSync(caCrt)) {
    log.info({ dir }, 'generating cluster CA')
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey])
    await run('openssl', ['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '3650', '-subj', '/CN=netkube-ca', '-out', caCrt,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'])
  }
  return { caKey, caCrt }
}

export interface IssuedCert {
  certPem: string
  keyPem: string
  certPath: string
  keyPath: string
}

/**
 * A leaf certificate from the cluster CA in `caDir`, written to `outDir/base.{crt,key}` and
 * kept there: issued again only when the wanted subject/SANs/usage change. openssl runs at
 * issue time only (start-up, node add), never per request.
 */
export async function issueCert(
  caDir: string,
  outDir: string,
  base: string,
  o: { cn: string; orgs?: string[]; usage: 'serverAuth' | 'clientAuth'; sans?: string[] },
): Promise<IssuedCert> {
  const { caKey, caCrt } = await ensureClusterCA(caDir)
  mkdirSync(outDir, { recursive: true, mode: 0o700 })
  const keyPath = join(outDir, `${base}.key`)
  const certPath = join(outDir, `${base}.crt`)
  const specFile = join(outDir, `${base}.spec`)
  const subj = `/${(o.orgs ?? []).map((g) => `O=${g}/`).join('')}CN=${o.cn}`
  const sans = o.sans ?? []
  const wanted = JSON.stringify({ subj, usage: o.usage, sans })
  const have = existsSync(specFile) ? readFileSync(specFile, 'utf8') : ''
  if (!existsSync(keyPath) || !existsSync(certPath) || have !== wanted) {
    log.info({ cn: o.cn, sans }, `issuing ${base} certificate`)
    const csr = join(outDir, `${base}.csr`)
    const ext = join(outDir, `${base}.ext`)
    const alt = sans.map((s) => (isIP(s) ? `IP:${s}` : `DNS:${s}`)).join(',')
    writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${o.usage}\n${alt ? `subjectAltName=${alt}\n` : ''}`)
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPath])
    await run('openssl', ['req', '-new', '-key', keyPath, '-subj', subj, '-out', csr])
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', ext, '-out', certPath])
    writeFileSync(specFile, wanted)
  }
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8'), certPath, keyPath }
}

/**
 * The identity the apiserver presents to kubelets (kubeadm's apiserver-kubelet-client.crt:
 * CN kube-apiserver-kubelet-client, O kubeadm:cluster-admins). Kubelets accept only it.
 */
const KUBELET_CLIENT_ORG = 'kubeadm:cluster-admins'
export function ensureKubeletClientCert(pkiDir: string): Promise<IssuedCert> {
  return issueCert(pkiDir, pkiDir, 'apiserver-kubelet-client', { cn: KUBELET_CLIENT_CN, orgs: [KUBELET_CLIENT_ORG], usage: 'clientAuth' })
}

/**
 * A kubelet's serving certificate (what upstream's kubelet-serving signer issues: CN
 * system:node:NAME, O system:nodes, SANs = the node's name and addresses), written to the
 * kubelet's cert dir as kubelet.crt/kubelet.key, the file names the kubelet looks for.
 */
export function issueKubeletServingCert(pkiDir: string, certDir: string, nodeName: string, addresses: string[]): Promise<IssuedCert> {
  return issueCert(pkiDir, certDir, 'kubelet', { cn: `system:node:${nodeName}`, orgs: ['system:nodes'], usage: 'serverAuth', sans: [nodeName, ...addresses] })
}

export async function ensureServingCerts(dir: string, sans: string[]): Promise<ServingCerts> {
  const { caKey, caCrt } = await ensureClusterCA(dir)
  const key = join(dir, 'apiserver.key')
  const crt = join(dir, 'apiserver.crt')
  const sanFile = join(dir, 'apiserver.sans')
  const wanted = sans.join(',')
  const have = existsSync(sanFile) ? readFileSync(sanFile, 'utf8') : ''
  if (!existsSync(key) || !existsSync(crt) || have !== wanted) {
    log.info({ sans }, 'issuing apiserver serving certificate')
    const csr = join(dir, 'apiserver.csr')
    const ext = join(dir, 'apiserver.ext')
    const alt = sans.map((s) => (isIP(s) ? `IP:${s}` : `DNS:${s}`)).join(',')
    writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${alt}\n`)
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key])
    await run('openssl', ['req', '-new', '-key', key, '-subj', '/CN=kube-apiserver', '-out', csr])
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-days', '3650', '-sha256', '-extfile', ext, '-out', crt])
    writeFileSync(sanFile, wanted)
  }
  return { caPem: readFileSync(caCrt, 'utf8'), certPem: readFileSync(crt, 'utf8'), keyPem: readFileSync(key, 'utf8'), caCertPath: caCrt }
}
