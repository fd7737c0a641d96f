// Certificates signed by the cluster CA, in-process (Node's WebCrypto + @peculiar/x509; no
// openssl per certificate). The CA itself is made once by apiserver/certs.ts and shared by every
// apiserver of the cluster; this module loads it and issues what the cluster needs from it:
// client certificates for the component identities (CN = user, O = groups, as kubeadm writes
// them) and certificates for approved CertificateSigningRequests.
import 'reflect-metadata'
import { createPrivateKey, createHash, randomBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as x509 from '@peculiar/x509'
import { AttributeTypeAndValue, AttributeValue, Name as AsnName, RelativeDistinguishedName } from '@peculiar/asn1-x509'
import { AsnConvert } from '@peculiar/asn1-schema'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
/** id-kp-clientAuth: what the x509 authenticator requires of a client certificate (as upstream). */
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

export interface ClusterCA {
  certPem: string
  cert: x509.X509Certificate
  key: CryptoKey
}

export interface IssuedCert {
  certPem: string
  keyPem: string
  notAfter: Date
}

export interface Subject {
  /** CN: the user name. */
  commonName: string
  /** O: the groups. */
  organizations?: string[]
}

/** Loads the CA from its PEM files (the key as openssl writes it: SEC1 or PKCS#8). */
export async function loadClusterCA(caCrtPath: string, caKeyPath: string): Promise<ClusterCA> {
  const certPem = readFileSync(caCrtPath, 'utf8')
  const der = createPrivateKey(readFileSync(caKeyPath, 'utf8')).export({ type: 'pkcs8', format: 'der' })
  const key = await webcrypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign'])
  return { certPem, cert: new x509.X509Certificate(certPem), key: key as unknown as CryptoKey }
}

/** kubeadm's `--discovery-token-ca-cert-hash`: sha256 of the CA's SubjectPublicKeyInfo, hex. */
export function caCertHash(caPem: string): string {
  const spki = new NodeX509(caPem).publicKey.export({ type: 'spki', format: 'der' })
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`
}

const OID_CN = '2.5.4.3'
const OID_O = '2.5.4.10'

/**
 * A Name encoded from values as UTF8Strings, never parsed from a DN string: quotes, commas,
 * `=`, newlines in a subject stay part of the value (the string forms would strip or split them).
 */
function subjectName(s: Subject): x509.Name {
  const rdn = (type: string, v: string): RelativeDistinguishedName =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: v }) })])
  const name = new AsnName([rdn(OID_CN, s.commonName), ...(s.organizations ?? []).map((o) => rdn(OID_O, o))])
  return new x509.Name(AsnConvert.serialize(name))
}

function serialNumber(): string {
  const b = randomBytes(16)
  b[0] = b[0]! & 0x7f // positive INTEGER
  return b.toString('hex')
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey))
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`
}

async function signCert(ca: ClusterCA, subject: x509.Name, publicKey: CryptoKey, validSeconds: number, ekus: string[], extra: x509.Extension[] = []): Promise<x509.X509Certificate> {
  // Back-dated a little: a node whose clock is slightly behind still accepts it (kubeadm does 5 min).
  const notBefore = new Date(Date.now() - 5 * 60_000)
  const notAfter = new Date(Date.now() + validSeconds * 1000)
  const caNotAfter = ca.cert.notAfter
  return x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: ca.cert.subjectName,
    notBefore,
    // Never beyond the CA's own life (upstream's signer clamps to it too).
    notAfter: notAfter > caNotAfter ? caNotAfter : notAfter,
    signingAlgorithm: EC_ALG,
    publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(ekus),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
      ...extra,
    ],
  })
}

/** A new key pair and a client certificate for it (CN = user, O = groups). */
export async function issueClientCert(ca: ClusterCA, s: Subject, validSeconds = 365 * 86400): Promise<IssuedCert> {
  const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair
  const cert = await signCert(ca, subjectName(s), keys.publicKey, validSeconds, [EKU_CLIENT_AUTH])
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey), notAfter: cert.notAfter }
}

export interface ParsedCsr {
  commonName: string
  organizations: string[]
  publicKey: CryptoKey
  /** DNS/IP/email/URI SANs requested (a kubelet client CSR must carry none). */
  sans: string[]
  ekus: string[]
}

/** Reads a PKCS#10 request (PEM) and checks its self-signature; throws on anything malformed. */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  const csr = new x509.Pkcs10CertificateRequest(pem)
  if (!(await csr.verify())) throw new Error('the CSR signature does not verify')
  const cn = csr.subjectName.getField('CN')
  const sanExt = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension)
  const sans = sanExt ? sanExt.names.items.map((n: x509.GeneralName) => `${n.type}:${n.value}`) : []
  const ekuExt = csr.extensions.find((e): e is x509.ExtendedKeyUsageExtension => e instanceof x509.ExtendedKeyUsageExtension)
  return {
    commonName: cn.length === 1 ? cn[0]! : cn.length === 0 ? '' : cn[cn.length - 1]!,
    organizations: csr.subjectName.getField('O'),
    publicKey: await csr.publicKey.export(EC_ALG, ['verify']).catch(async () => csr.publicKey.export()),
    sans,
    ekus: ekuExt ? ekuExt.usages.map(String) : [],
  }
}

/**
 * Signs an approved CSR's public key for `validSeconds` with the given extended key usages; the
 * subject and the requested subjectAltNames are the CSR's (a serving certificate needs its SANs).
 */
export async function signCsr(ca: ClusterCA, pem: string, validSeconds: number, ekus: string[]): Promise<string> {
  const csr = new x509.Pkcs10CertificateRequest(pem)
  const pub = await csr.publicKey.export(EC_ALG, ['verify']).catch(async () => csr.publicKey.export())
  const san = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension)
  const cert = await signCert(ca, csr.subjectName, pub, validSeconds, ekus, san ? [new x509.SubjectAlternativeNameExtension(san.names.toJSON(), false)] : [])
  return cert.toString('pem') + '\n'
}

/** A new key and a PKCS#10 request for it (the node's side of a kubelet client CSR). */
export async function createCsr(s: Subject): Promise<{ csrPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subjectName(s), keys, signingAlgorithm: EC_ALG })
  return { csrPem: csr.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) }
}
