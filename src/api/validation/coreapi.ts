// Rules for Secret, ServiceAccount and Event (pkg/apis/core/validation: ValidateSecret,
// ValidateSecretUpdate, ValidateServiceAccount, events.go). Events are validated in their stored
// core/v1 form; `view` says which API the request came through, as upstream's requestVersion.
import { forbidden, invalid, required, tooLong } from '../field-errors.js'
import { isConfigMapKey, isDNS1123Subdomain, isQualifiedName } from '../names.js'
import { asBool, asInt, asObj, asString, asStringMap, deepEqual, immutable, type Errs, type Obj } from './common.js'

/** core.MaxSecretSize. */
export const SECRET_MAX_BYTES = 1024 * 1024

export const SECRET_TYPE_OPAQUE = 'Opaque'
export const SECRET_TYPE_TLS = 'kubernetes.io/tls'
export const SECRET_TYPE_DOCKER_CONFIG_JSON = 'kubernetes.io/dockerconfigjson'
export const SECRET_TYPE_DOCKERCFG = 'kubernetes.io/dockercfg'
export const SECRET_TYPE_SA_TOKEN = 'kubernetes.io/service-account-token'
export const SECRET_TYPE_BASIC_AUTH = 'kubernetes.io/basic-auth'
export const SECRET_TYPE_SSH_AUTH = 'kubernetes.io/ssh-auth'

/**
 * Where standard base64 (with padding, as Go's StdEncoding) first goes wrong: the index of an
 * illegal byte or of the quantum that is cut short, as Go's CorruptInputError reports it; -1 if valid.
 */
export function base64ErrorOffset(s: string): number {
  const clean = s.replace(/[\r\n]/g, '')
  let pad = 0
  for (let i = 0; i < clean.length; i++) {
    const c = clean.charCodeAt(i)
    const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47
    if (c === 61) {
      // '=' only in the last two places of the last quantum.
      if (i % 4 < 2 || (i % 4 === 2 && clean[i + 1] !== '=')) return i
      pad++
      continue
    }
    if (!alpha || pad > 0) return i
  }
  if (clean.length % 4 !== 0) return clean.length - (clean.length % 4)
  return -1
}

export function decodeBase64Strict(s: string): Buffer | undefined {
  return base64ErrorOffset(s) < 0 ? Buffer.from(s, 'base64') : undefined
}

export function validateSecret(secret: Obj, errs: Errs): void {
  const data = asStringMap(secret.data, 'data', errs)
  const bytes: Record<string, Buffer> = {}
  let total = 0
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(invalid(`data[${k}]`, k, m))
    const at = base64ErrorOffset(v)
    if (at >= 0) {
      errs.push(invalid(`data[${k}]`, '<secret contents redacted>', `illegal base64 data at input byte ${at}`))
      continue
    }
    bytes[k] = Buffer.from(v, 'base64')
    total += bytes[k].length
  }
  // stringData is merged into data before validation (defaults.ts); left over only when malformed.
  asStringMap(secret.stringData, 'stringData', errs)
  if (total > SECRET_MAX_BYTES) errs.push(tooLong('data', '', SECRET_MAX_BYTES))
  asBool(secret.immutable, 'immutable', errs)
  const type = asString(secret.type, 'type', errs)
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(data, k)
  const jsonKey = (k: string): void => {
    if (!has(k)) {
      errs.push(required(`data[${k}]`))
      return
    }
    const b = bytes[k]
    if (!b) return
    try {
      const v: unknown = JSON.parse(b.toString('utf8'))
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('json: cannot unmarshal into Go value of type map[string]interface {}')
    } catch (err) {
      errs.push(invalid(`data[${k}]`, '<secret contents redacted>', (err as Error).message))
    }
  }
  switch (type) {
    case SECRET_TYPE_SA_TOKEN: {
      const ann = isObjLike(secret.metadata) ? (secret.metadata as Obj).annotations : undefined
      const name = isObjLike(ann) ? (ann as Obj)['kubernetes.io/service-account.name'] : undefined
      if (typeof name !== 'string' || name === '') errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'))
      break
    }
    case SECRET_TYPE_DOCKERCFG:
      jsonKey('.dockercfg')
      break
    case SECRET_TYPE_DOCKER_CONFIG_JSON:
      jsonKey('.dockerconfigjson')
      break
    case SECRET_TYPE_BASIC_AUTH:
      if (!has('username') && !has('password')) errs.push(required('data[username]'), required('data[password]'))
      break
    case SECRET_TYPE_SSH_AUTH:
      if (!bytes['ssh-privatekey']?.length) errs.push(required('data[ssh-privatekey]'))
      break
    case SECRET_TYPE_TLS:
      if (!has('tls.crt')) errs.push(required('data[tls.crt]'))
      if (!has('tls.key')) errs.push(required('data[tls.key]'))
      break
    default:
      break
  }
}

const isObjLike = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v)

export function validateSecretUpdate(secret: Obj, old: Obj, errs: Errs): void {
  immutable(secret.type, old.type, 'type', errs)
  if (old.immutable !== true) return
  if (secret.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'))
  if (!deepEqual(secret.data ?? {}, old.data ?? {})) errs.push(forbidden('data', 'field is immutable when `immutable` is set'))
}

export function validateServiceAccount(sa: Obj, errs: Errs): void {
  asBool(sa.automountServiceAccountToken, 'automountServiceAccountToken', errs)
}

const REPORTING_INSTANCE_MAX = 128
const ACTION_MAX = 128
const REASON_MAX = 128
const NOTE_MAX = 1024

export type EventView = 'v1' | 'events.k8s.io/v1'

const set = (v: unknown): boolean => v !== undefined && v !== null && v !== ''

/** legacyValidateEvent plus, for events.k8s.io/v1, the strict rules of ValidateEventCreate. */
export function validateEvent(ev: Obj, view: EventView, errs: Errs): void {
  const meta = asObj(ev.metadata, 'metadata', errs) ?? {}
  const ns = typeof meta.namespace === 'string' ? meta.namespace : ''
  const inv = asObj(ev.involvedObject, 'involvedObject', errs) ?? {}
  const invNs = asString(inv.namespace, 'involvedObject.namespace', errs) ?? ''
  const reason = asString(ev.reason, 'reason', errs) ?? ''
  const message = asString(ev.message, 'message', errs) ?? ''
  const controller = asString(ev.reportingComponent, view === 'v1' ? 'source' : 'reportingController', errs) ?? ''
  const instance = asString(ev.reportingInstance, 'reportingInstance', errs) ?? ''
  const action = asString(ev.action, 'action', errs) ?? ''
  const type = asString(ev.type, 'type', errs) ?? ''
  const count = asInt(ev.count, 'count', errs)
  const source = asObj(ev.source, 'source', errs)
  const series = asObj(ev.series, 'series', errs)
  if (!set(ev.eventTime)) {
    // An "old" event: its namespace must agree with the object's (or be default for cluster objects).
    if (invNs === '' ? ns !== '' && ns !== 'default' : ns !== invNs) errs.push(invalid('involvedObject.namespace', invNs, 'does not match event.namespace'))
  } else {
    if (invNs === '' && ns !== 'default' && ns !== 'kube-system') errs.push(invalid('involvedObject.namespace', invNs, 'does not match event.namespace'))
    const ctlPath = view === 'v1' ? 'source' : 'reportingController'
    if (controller === '') errs.push(required(ctlPath))
    for (const m of isQualifiedName(controller)) errs.push(invalid(ctlPath, controller, m))
    if (instance === '') errs.push(required('reportingInstance'))
    if (instance.length > REPORTING_INSTANCE_MAX) errs.push(invalid('reportingInstance', '', `can have at most ${REPORTING_INSTANCE_MAX} characters`))
    if (action === '') errs.push(required('action'))
    if (action.length > ACTION_MAX) errs.push(invalid('action', '', `can have at most ${ACTION_MAX} characters`))
    if (reason === '') errs.push(required('reason'))
    if (reason.length > REASON_MAX) errs.push(invalid('reason', '', `can have at most ${REASON_MAX} characters`))
    if (message.length > NOTE_MAX) errs.push(invalid('message', '', `can have at most ${NOTE_MAX} characters`))
  }
  for (const m of isDNS1123Subdomain(ns)) errs.push(invalid('namespace', ns, m))
  if (view === 'v1') return
  // Strict rules for events created through events.k8s.io/v1.
  if (series) {
    const c = asInt(series.count, 'series.count', errs)
    if (c === undefined || c < 2) errs.push(invalid('series.count', '', 'should be at least 2'))
    if (!set(series.lastObservedTime)) errs.push(required('series.lastObservedTime'))
  }
  if (!set(ev.eventTime)) errs.push(required('eventTime'))
  if (type !== 'Normal' && type !== 'Warning') errs.push(invalid('type', '', `has invalid value: ${type}`))
  if (set(ev.firstTimestamp)) errs.push(invalid('deprecatedFirstTimestamp', '', 'needs to be unset'))
  if (set(ev.lastTimestamp)) errs.push(invalid('deprecatedLastTimestamp', '', 'needs to be unset'))
  if (count !== undefined && count !== 0) errs.push(invalid('deprecatedCount', '', 'needs to be unset'))
  if (source && (set(source.component) || set(source.host))) errs.push(invalid('deprecatedSource', '', 'needs to be unset'))
}

/** ValidateEventUpdate: core/v1 stays lenient (old clients rewrite whole events); events.k8s.io/v1 freezes the event's identity. */
export function validateEventUpdate(ev: Obj, old: Obj, view: EventView, errs: Errs): void {
  if (view === 'v1') return
  for (const f of ['involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'action', 'related', 'reportingInstance'])
    immutable(ev[f], old[f], f, errs)
  immutable(ev.reportingComponent, old.reportingComponent, 'reportingController', errs)
}
