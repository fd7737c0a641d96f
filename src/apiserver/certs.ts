// The apiserver's PKI: a CA and a serving certificate made with the openssl CLI on first
// start and kept in the state directory, so clients that trust the CA keep working across
// restarts. The serving certificate is re-issued (same CA) when the wanted SANs change.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run } from '../util/exec.js'
import { logger } from '../util/log.js'

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
