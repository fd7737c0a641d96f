// certificates.k8s.io/v1 CertificateSigningRequest (pkg/apis/certificates/validation): any name,
// a request that parses and verifies, known non-duplicate usages, a qualified signerName (not the
// legacy one), expirationSeconds ≥ 600, well-formed conditions, CERTIFICATE blocks only; on update
// no removed Approved/Denied/Failed condition, approval conditions only through `/approval`, the
// certificate only through `/status` and only once. Compatibility allowances for objects already
// stored with a fault are upstream's (the same fault on the old object is tolerated).
import { X509Certificate } from 'node:crypto'
import { duplicate, forbidden, invalid, notSupported, required, tooLong } from '../field-errors.js'
import { isDNS1123Label, isDNS1123Subdomain } from '../names.js'
import { deepEqual } from '../equal.js'
import { asArray, asInt, asObj, asString, isObj, type Errs, type Obj } from './common.js'
import { firstPemBlock, LEGACY_UNKNOWN_SIGNER, MIN_EXPIRATION_SECONDS, parseCsrPem } from '../../certificates/csr.js'

export const KEY_USAGES = [
  'any', 'cert sign', 'client auth', 'code signing', 'content commitment', 'crl sign', 'data encipherment', 'decipher only',
  'digital signature', 'email protection', 'encipher only', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'key agreement',
  'key encipherment', 'microsoft sgc', 'netscape sgc', 'ocsp signing', 's/mime', 'server auth', 'signing', 'timestamping',
] as const

const TRUE_ONLY = new Set(['Approved', 'Denied', 'Failed'])

/** ValidateCertificateRequestName: "We don't care what you call your certificate requests." */
export const anyName = (): string[] => []

/** apivalidation.ValidateSignerName. */
export function validateSignerName(path: string, name: string, errs: Errs): void {
  if (name === '') {
    errs.push(required(path))
    return
  }
  const seg = name.split('/')
  if (seg.length !== 2) {
    errs.push(invalid(path, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'"))
    return
  }
  const [domain, rest] = seg as [string, string]
  if (domain.length > 253) errs.push(tooLong(path, domain, 253))
  const labels = domain.split('.')
  for (const l of labels) {
    const bad = isDNS1123Label(l)
    if (bad.length) {
      for (const m of bad) errs.push(invalid(path, domain, `validating label ${JSON.stringify(l)}: ${m}`))
      break
    }
  }
  if (labels.length < 2) errs.push(invalid(path, domain, 'should be a domain with at least two segments separated by dots'))
  if (rest.length > 63) errs.push(tooLong(path, rest, 63))
  for (const m of isDNS1123Subdomain(rest)) errs.push(invalid(path, rest, `validating path: ${m}`))
}

/** Go's %#v of a []byte, which is how field.Invalid prints spec.request. */
function goBytes(b: Buffer): string {
  return `[]byte{${[...b].map((x) => `0x${x.toString(16)}`).join(', ')}}`
}

/** validateCertificate: empty, or CERTIFICATE blocks without headers that parse. */
export function certificateError(pem: string): string | undefined {
  if (pem === '') return undefined
  let rest = pem
  let blocks = 0
  for (;;) {
    const at = rest.indexOf('-----BEGIN ')
    if (at < 0) break
    const block = firstPemBlock(rest.slice(at))
    if (!block) break
    if (block.type !== 'CERTIFICATE') return `only CERTIFICATE PEM blocks are allowed, found ${JSON.stringify(block.type)}`
    if (block.der.length === 0) return 'no PEM block headers are permitted'
    try {
      new X509Certificate(block.der)
    } catch {
      return 'x509: malformed certificate'
    }
    blocks++
    rest = rest.slice(at + rest.slice(at).indexOf('-----END CERTIFICATE-----') + 25)
  }
  return blocks === 0 ? 'must contain at least one CERTIFICATE PEM block' : undefined
}

const b64 = (v: unknown): string => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : '')

function conditions(obj: Obj): Obj[] {
  const st = isObj(obj.status) ? obj.status : {}
  return Array.isArray(st.conditions) ? (st.conditions.filter(isObj) as Obj[]) : []
}

interface Opts {
  allowBothApprovedAndDenied: boolean
  allowLegacySignerName: boolean
  allowDuplicateConditionTypes: boolean
  allowEmptyConditionType: boolean
  allowArbitraryCertificate: boolean
  allowUnknownUsages: boolean
  allowDuplicateUsages: boolean
}

function usagesOf(o: Obj | undefined): unknown[] {
  const spec = o && isObj(o.spec) ? o.spec : {}
  return Array.isArray(spec.usages) ? spec.usages : []
}

/** getValidationOptions: what the stored object already holds is tolerated. */
function optionsFor(next: Obj, old: Obj | undefined): Opts {
  const oc = old ? conditions(old) : []
  const types = oc.map((c) => c.type)
  const oldUsages = usagesOf(old)
  const certOf = (o: Obj): string => b64(isObj(o.status) ? o.status.certificate : undefined)
  return {
    allowBothApprovedAndDenied: types.includes('Approved') && types.includes('Denied'),
    allowLegacySignerName: !!old && isObj(old.spec) && old.spec.signerName === LEGACY_UNKNOWN_SIGNER,
    allowDuplicateConditionTypes: new Set(types).size !== types.length,
    allowEmptyConditionType: types.some((t) => t === '' || t === undefined),
    allowArbitraryCertificate: !!old && (certOf(next) === certOf(old) || certificateError(certOf(old)) !== undefined),
    allowUnknownUsages: oldUsages.some((u) => !(KEY_USAGES as readonly unknown[]).includes(u)),
    allowDuplicateUsages: new Set(oldUsages).size !== oldUsages.length,
  }
}

function validateCsr(obj: Obj, o: Opts, errs: Errs): void {
  const spec = asObj(obj.spec, 'spec', errs) ?? {}
  const request = asString(spec.request, 'spec.request', errs) ?? ''
  const raw = Buffer.from(request, 'base64')
  try {
    parseCsrPem(raw.toString('latin1'))
  } catch (err) {
    errs.push({ type: 'FieldValueInvalid', field: 'spec.request', value: request, message: `Invalid value: ${goBytes(raw)}: ${(err as Error).message}` })
  }
  const usages = asArray(spec.usages, 'spec.usages', errs)
  if (usages.length === 0) errs.push(required('spec.usages'))
  if (!o.allowUnknownUsages)
    usages.forEach((u, i) => {
      if (!(KEY_USAGES as readonly unknown[]).includes(u)) errs.push(notSupported(`spec.usages[${i}]`, u, KEY_USAGES))
    })
  if (!o.allowDuplicateUsages) {
    const seen = new Set<unknown>()
    usages.forEach((u, i) => {
      if (seen.has(u)) errs.push(duplicate(`spec.usages[${i}]`, u))
      seen.add(u)
    })
  }
  const signer = asString(spec.signerName, 'spec.signerName', errs) ?? ''
  if (!o.allowLegacySignerName && signer === LEGACY_UNKNOWN_SIGNER)
    errs.push(invalid('spec.signerName', signer, 'the legacy signerName is not allowed via this API version'))
  else validateSignerName('spec.signerName', signer, errs)
  const exp = asInt(spec.expirationSeconds, 'spec.expirationSeconds', errs)
  if (exp !== undefined && exp < MIN_EXPIRATION_SECONDS)
    errs.push(invalid('spec.expirationSeconds', exp, `may not specify a duration less than ${MIN_EXPIRATION_SECONDS} seconds (10 minutes)`))
  const status = asObj(obj.status, 'status', errs) ?? {}
  let approved = false
  let denied = false
  const seen = new Set<unknown>()
  asArray(status.conditions, 'status.conditions', errs).forEach((raw, i) => {
    const c = asObj(raw, `status.conditions[${i}]`, errs)
    if (!c) return
    const path = `status.conditions[${i}]`
    if (!o.allowEmptyConditionType && (c.type === undefined || c.type === '')) errs.push(required(`${path}.type`))
    const allowed = TRUE_ONLY.has(String(c.type)) ? ['True'] : ['False', 'True', 'Unknown']
    if (c.status === undefined || c.status === '') errs.push(required(`${path}.status`))
    else if (!allowed.includes(String(c.status))) errs.push(notSupported(`${path}.status`, c.status, allowed))
    if (!o.allowBothApprovedAndDenied) {
      if (c.type === 'Approved') {
        approved = true
        if (denied) errs.push(invalid(`${path}.type`, c.type, 'Approved and Denied conditions are mutually exclusive'))
      } else if (c.type === 'Denied') {
        denied = true
        if (approved) errs.push(invalid(`${path}.type`, c.type, 'Approved and Denied conditions are mutually exclusive'))
      }
    }
    if (!o.allowDuplicateConditionTypes) {
      if (seen.has(c.type)) errs.push(duplicate(`${path}.type`, c.type))
      seen.add(c.type)
    }
  })
  if (!o.allowArbitraryCertificate) {
    const e = certificateError(b64(asString(status.certificate, 'status.certificate', errs)))
    if (e) errs.push(invalid('status.certificate', '<certificate data>', e))
  }
}

export function validateCertificateSigningRequest(obj: Obj, errs: Errs): void {
  validateCsr(obj, optionsFor(obj, undefined), errs)
}

export type CsrWritePath = 'main' | 'status' | 'approval'

/** The update rules for each write path (main, `/status`, `/approval`). */
export function validateCertificateSigningRequestUpdate(obj: Obj, old: Obj, path: CsrWritePath, errs: Errs): void {
  validateCsr(obj, optionsFor(obj, old), errs)
  const of = (o: Obj, t: string): Obj[] => conditions(o).filter((c) => c.type === t)
  for (const t of ['Approved', 'Denied', 'Failed']) {
    if (of(obj, t).length < of(old, t).length) errs.push(forbidden('status.conditions', `updates may not remove a condition of type ${JSON.stringify(t)}`))
  }
  if (path !== 'approval') {
    for (const t of ['Approved', 'Denied']) {
      const n = of(obj, t)
      const o = of(old, t)
      if (n.length > o.length) errs.push(forbidden('status.conditions', `updates may not add a condition of type ${JSON.stringify(t)}`))
      else if (n.length === o.length && !deepEqual(n, o)) errs.push(forbidden('status.conditions', `updates may not modify a condition of type ${JSON.stringify(t)}`))
    }
  }
  const cert = (o: Obj): unknown => (isObj(o.status) ? o.status.certificate : undefined)
  if ((cert(obj) ?? '') !== (cert(old) ?? '')) {
    if (path !== 'status') errs.push(forbidden('status.certificate', 'updates may not set certificate content'))
    else if ((cert(old) ?? '') !== '') errs.push(forbidden('status.certificate', 'updates may not modify existing certificate content'))
  }
}
