// certificates.k8s.io/v1 CertificateSigningRequest: the object, its strategy and the sync parse
// validation needs. Design note for src/certificates:
//
// A CSR goes through three hands, as upstream:
//   1. a client creates it; the apiserver writes who asked into spec.username/uid/groups/extra
//      (PrepareForCreate), so an approver can trust the requester fields, never the body's;
//   2. an approver adds Approved or Denied through `/approval` (approver.ts auto-approves node
//      client certificates; everything else waits for `kubectl certificate approve|deny`);
//   3. the signer of spec.signerName issues status.certificate through `/status` (signer.ts, from
//      the cluster CA), or adds Failed.
// The three write paths keep each other's fields: a main update changes neither spec nor status,
// `/status` keeps spec, `/approval` keeps spec and the certificate; validation (src/api/validation/
// certificates.ts) refuses the rest with upstream's texts. Admission (admission.ts) checks the
// `approve` / `sign` verbs on `certificates.k8s.io/signers` and refuses system:masters certificates.
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { CertificationRequest } from '@peculiar/asn1-csr'
import { Extensions, ExtendedKeyUsage, Name as AsnName, SubjectAlternativeName, id_ce_extKeyUsage, id_ce_subjectAltName } from '@peculiar/asn1-x509'
import type { KubeObject } from '../api/types.js'
import type { UserInfo } from '../apiserver/auth.js'

export const CERTIFICATES_GROUP = 'certificates.k8s.io'
export const SIGNER_KUBELET_CLIENT = 'kubernetes.io/kube-apiserver-client-kubelet'
export const SIGNER_APISERVER_CLIENT = 'kubernetes.io/kube-apiserver-client'
export const SIGNER_KUBELET_SERVING = 'kubernetes.io/kubelet-serving'
export const LEGACY_UNKNOWN_SIGNER = 'kubernetes.io/legacy-unknown'
/** The smallest spec.expirationSeconds the API accepts (and the signers honour): 10 minutes. */
export const MIN_EXPIRATION_SECONDS = 600

export type ConditionType = 'Approved' | 'Denied' | 'Failed' | string

export interface CsrCondition {
  type: ConditionType
  status: 'True' | 'False' | 'Unknown' | string
  reason?: string
  message?: string
  lastUpdateTime?: string
  lastTransitionTime?: string
}

export interface CertificateSigningRequest extends KubeObject {
  spec: {
    /** base64 of a PEM "CERTIFICATE REQUEST" block. */
    request: string
    signerName: string
    expirationSeconds?: number
    usages?: string[]
    username?: string
    uid?: string
    groups?: string[]
    extra?: Record<string, string[]>
  }
  status?: {
    conditions?: CsrCondition[]
    /** base64 of PEM "CERTIFICATE" blocks. */
    certificate?: string
  }
}

export function conditionOf(csr: CertificateSigningRequest, type: ConditionType): CsrCondition | undefined {
  const cs = csr.status?.conditions
  return Array.isArray(cs) ? cs.find((c) => c && c.type === type) : undefined
}

export const isApproved = (csr: CertificateSigningRequest): boolean => conditionOf(csr, 'Approved') !== undefined
export const isDenied = (csr: CertificateSigningRequest): boolean => conditionOf(csr, 'Denied') !== undefined
export const isFailed = (csr: CertificateSigningRequest): boolean => conditionOf(csr, 'Failed') !== undefined
export const isIssued = (csr: CertificateSigningRequest): boolean => typeof csr.status?.certificate === 'string' && csr.status.certificate !== ''

/** kubectl's CONDITION column (printers.extractCSRStatus): Denied beats Approved; Failed and Issued are appended. */
export function csrCondition(csr: CertificateSigningRequest): string {
  let s = isDenied(csr) ? 'Denied' : isApproved(csr) ? 'Approved' : 'Pending'
  if (isFailed(csr)) s += ',Failed'
  if (isIssued(csr)) s += ',Issued'
  return s
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** PrepareForCreate: the requester comes from the request's user, status starts empty. */
export function prepareCsrCreate(obj: KubeObject, user: UserInfo | undefined): void {
  const csr = obj as CertificateSigningRequest
  if (!isRecord(csr.spec)) return // validation answers
  delete csr.spec.username
  delete csr.spec.uid
  delete csr.spec.groups
  delete csr.spec.extra
  if (user) {
    csr.spec.username = user.name
    if (user.uid) csr.spec.uid = user.uid
    csr.spec.groups = [...user.groups]
    if (user.extra && Object.keys(user.extra).length > 0) csr.spec.extra = structuredClone(user.extra)
  }
  csr.status = {}
}

/**
 * Upstream's condition timestamps: lastUpdateTime defaults to now; lastTransitionTime is set when
 * a condition is new or its status changed, else carried from the stored one.
 */
function populateConditionTimes(next: CertificateSigningRequest, old: CertificateSigningRequest | undefined, now: string): void {
  const cs = next.status?.conditions
  if (!Array.isArray(cs)) return
  for (const c of cs) {
    if (!isRecord(c)) continue
    if (!c.lastUpdateTime) c.lastUpdateTime = now
    if (c.lastTransitionTime) continue
    const before = old ? conditionOf(old, c.type) : undefined
    c.lastTransitionTime = before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now
  }
}

/** A main-resource update changes metadata only (spec is immutable, status has its subresources). */
export function prepareCsrUpdate(next: KubeObject, old: KubeObject): void {
  const n = next as CertificateSigningRequest
  const o = old as CertificateSigningRequest
  n.spec = structuredClone(o.spec)
  if (o.status === undefined) delete n.status
  else n.status = structuredClone(o.status)
}

/** `/status` (the signer's path): spec stays; conditions get their times. */
export function prepareCsrStatus(next: KubeObject, old: KubeObject, now: string): void {
  const n = next as CertificateSigningRequest
  n.spec = structuredClone((old as CertificateSigningRequest).spec)
  populateConditionTimes(n, old as CertificateSigningRequest, now)
}

/** `/approval` (the approver's path): spec and the certificate stay; conditions get their times. */
export function prepareCsrApproval(next: KubeObject, old: KubeObject, now: string): void {
  const n = next as CertificateSigningRequest
  const o = old as CertificateSigningRequest
  n.spec = structuredClone(o.spec)
  const status = isRecord(n.status) ? n.status : {}
  n.status = status
  if (o.status?.certificate !== undefined) status.certificate = o.status.certificate
  else delete status.certificate
  populateConditionTimes(n, o, now)
}

export interface ParsedRequest {
  commonName: string
  organizations: string[]
  /** `DNS:x`, `IP:1.2.3.4`, `email:x`, `URI:x`. */
  sans: string[]
  ekus: string[]
  publicKey: KeyObject
}

const OID_CN = '2.5.4.3'
const OID_O = '2.5.4.10'
// Signature algorithms Go's x509.CheckSignature accepts for a CSR, by OID → node hash.
const SIG_HASH: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null, // Ed25519
}

function nameValues(name: AsnName, oid: string): string[] {
  const out: string[] = []
  for (const rdn of name) for (const atv of rdn) if (atv.type === oid) out.push(atv.value.toString())
  return out
}

/** The PEM block of `pem` (its type and DER), as Go's pem.Decode finds the first one. */
export function firstPemBlock(pem: string): { type: string; der: Buffer } | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(pem)
  if (!m) return undefined
  const body = m[2]!
  if (/^[A-Za-z-]+:/m.test(body)) return { type: m[1]!, der: Buffer.alloc(0) } // headers: callers refuse
  return { type: m[1]!, der: Buffer.from(body.replace(/\s+/g, ''), 'base64') }
}

/**
 * certificates.ParseCSR + CheckSignature, synchronously (validation is synchronous): the first PEM
 * block must be a CERTIFICATE REQUEST whose self-signature verifies. Throws Go's error texts.
 */
export function parseCsrPem(pem: string): ParsedRequest {
  const block = firstPemBlock(pem)
  if (!block || block.type !== 'CERTIFICATE REQUEST') throw new Error('PEM block type must be CERTIFICATE REQUEST')
  let req: CertificationRequest
  try {
    req = AsnConvert.parse(block.der, CertificationRequest)
  } catch {
    throw new Error('x509: malformed certificate request')
  }
  const info = req.certificationRequestInfo
  const spki = Buffer.from(AsnConvert.serialize(info.subjectPKInfo))
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' })
  } catch {
    throw new Error('x509: unsupported public key algorithm')
  }
  const oid = req.signatureAlgorithm.algorithm
  if (!(oid in SIG_HASH)) throw new Error('x509: cannot verify signature: algorithm unimplemented')
  const tbs = Buffer.from(req.certificationRequestInfoRaw ?? AsnConvert.serialize(info))
  let ok = false
  try {
    ok = verify(SIG_HASH[oid] ?? null, tbs, publicKey, Buffer.from(req.signature))
  } catch {
    ok = false
  }
  if (!ok) throw new Error(publicKey.asymmetricKeyType === 'ec' ? 'x509: ECDSA verification failure' : 'crypto/rsa: verification error')
  const sans: string[] = []
  const ekus: string[] = []
  for (const attr of info.attributes) {
    if (attr.type !== '1.2.840.113549.1.9.14') continue // extensionRequest
    for (const raw of attr.values) {
      const exts = AsnConvert.parse(raw, Extensions)
      for (const e of exts) {
        if (e.extnID === id_ce_subjectAltName) {
          for (const n of AsnConvert.parse(e.extnValue.buffer, SubjectAlternativeName)) {
            if (n.dNSName !== undefined) sans.push(`DNS:${n.dNSName}`)
            else if (n.iPAddress !== undefined) sans.push(`IP:${n.iPAddress}`)
            else if (n.rfc822Name !== undefined) sans.push(`email:${n.rfc822Name}`)
            else if (n.uniformResourceIdentifier !== undefined) sans.push(`URI:${n.uniformResourceIdentifier}`)
            else sans.push('other')
          }
        } else if (e.extnID === id_ce_extKeyUsage) {
          for (const u of AsnConvert.parse(e.extnValue.buffer, ExtendedKeyUsage)) ekus.push(String(u))
        }
      }
    }
  }
  const cns = nameValues(info.subject, OID_CN)
  // Go's pkix.Name keeps the last CN when several are given.
  return { commonName: cns[cns.length - 1] ?? '', organizations: nameValues(info.subject, OID_O), sans, ekus, publicKey }
}

/** The request's PEM from spec.request (base64); throws like parseCsrPem. */
export function parseCsrObject(csr: CertificateSigningRequest): ParsedRequest {
  return parseCsrPem(Buffer.from(typeof csr.spec?.request === 'string' ? csr.spec.request : '', 'base64').toString('latin1'))
}
