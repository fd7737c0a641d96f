// PersistentVolume, PersistentVolumeClaim (pkg/apis/core/validation) and StorageClass
// (pkg/apis/storage/validation) rules, with upstream's field paths and texts. The claim spec is
// immutable except what upstream lets move: volumeName once (the binder), the class from nil
// (retroactive default), and — for a bound claim — resources.requests.storage, which may not
// drop to status.capacity or below (whether the class allows expansion at all is the resize
// admission's 403, see src/apiserver/storage-admission.ts).
import { forbidden, invalid, notSupported, required, typeInvalid } from '../field-errors.js'
import { isDNS1123Subdomain, isQualifiedName } from '../names.js'
import { parseQuantity } from '../quantity.js'
import { validateLabelSelector } from './apps.js'
import { quantityValue } from '../storage.js'
import { absent, asArray, asBool, asObj, asString, deepEqual, isObj, type Errs, type Obj } from './common.js'

const SUPPORTED_ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod']
const SUPPORTED_VOLUME_MODES = ['Block', 'Filesystem']
const PV_RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain']
const SC_RECLAIM_POLICIES = ['Delete', 'Retain']
const BINDING_MODES = ['Immediate', 'WaitForFirstConsumer']
const NODE_SELECTOR_OPS = ['DoesNotExist', 'Exists', 'Gt', 'In', 'Lt', 'NotIn']

function validateAccessModes(v: unknown, path: string, requiredDetail: string | undefined, errs: Errs): void {
  const modes = asArray(v, path, errs)
  if (modes.length === 0 && (absent(v) || Array.isArray(v))) errs.push(required(path, requiredDetail))
  let rwop = false
  modes.forEach((m, i) => {
    const s = asString(m, `${path}[${i}]`, errs)
    if (s === undefined) return
    if (!SUPPORTED_ACCESS_MODES.includes(s)) errs.push(notSupported(path, s, SUPPORTED_ACCESS_MODES))
    if (s === 'ReadWriteOncePod') rwop = true
  })
  if (rwop && modes.length > 1) errs.push(forbidden(path, 'may not use ReadWriteOncePod with other access modes'))
}

/** ValidatePositiveQuantityValue on a quantity string. */
function validatePositiveQuantity(v: unknown, path: string, errs: Errs): void {
  if (typeof v !== 'string' && typeof v !== 'number') {
    errs.push(typeInvalid(path, v, 'must be a quantity'))
    return
  }
  let n: number
  try {
    n = parseQuantity(v)
  } catch (err) {
    errs.push(invalid(path, v, (err as Error).message))
    return
  }
  if (!(n > 0)) errs.push(invalid(path, String(v), 'must be greater than zero'))
}

function validateClassName(v: unknown, path: string, errs: Errs): void {
  const s = asString(v, path, errs)
  if (s) for (const m of isDNS1123Subdomain(s)) errs.push(invalid(path, s, m))
}

function validateVolumeMode(v: unknown, path: string, errs: Errs): void {
  const s = asString(v, path, errs)
  if (s !== undefined && !SUPPORTED_VOLUME_MODES.includes(s)) errs.push(notSupported(path, s, SUPPORTED_VOLUME_MODES))
}

// ---------- PersistentVolumeClaim ----------

export function validatePersistentVolumeClaim(obj: Obj, errs: Errs): void {
  const spec = asObj(obj.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec.accessModes', 'at least 1 access mode is required'))
    errs.push(required('spec.resources[storage]'))
    return
  }
  validateAccessModes(spec.accessModes, 'spec.accessModes', 'at least 1 access mode is required', errs)
  if (!absent(spec.selector)) validateLabelSelector(spec.selector, 'spec.selector', errs)
  const res = asObj(spec.resources, 'spec.resources', errs)
  const requests = res ? asObj(res.requests, 'spec.resources.requests', errs) : undefined
  if (!requests || absent(requests.storage)) errs.push(required('spec.resources[storage]'))
  else validatePositiveQuantity(requests.storage, 'spec.resources[storage]', errs)
  validateClassName(spec.storageClassName, 'spec.storageClassName', errs)
  validateVolumeMode(spec.volumeMode, 'spec.volumeMode', errs)
  asString(spec.volumeName, 'spec.volumeName', errs)
}

function storageOf(spec: unknown): unknown {
  return isObj(spec) && isObj(spec.resources) && isObj(spec.resources.requests) ? spec.resources.requests.storage : undefined
}

export function validatePersistentVolumeClaimUpdate(obj: Obj, old: Obj, errs: Errs): void {
  if (!isObj(obj.spec) || !isObj(old.spec)) return
  const next = structuredClone(obj.spec)
  const prev = structuredClone(old.spec)
  // The binder sets volumeName once; the retroactive default sets a class on a class-less claim.
  if (absent(prev.volumeName) || prev.volumeName === '') prev.volumeName = next.volumeName
  if (absent(prev.storageClassName) && (absent(prev.volumeName) || prev.volumeName === '' || prev.volumeName === next.volumeName)) prev.storageClassName = next.storageClassName
  const oldStatus = isObj(old.status) ? old.status : {}
  const bound = oldStatus.phase === 'Bound'
  // A bound claim may change its storage request (the size checks follow).
  if (bound && isObj(next.resources) && isObj(next.resources.requests)) {
    const o = storageOf(prev)
    if (o === undefined) delete next.resources.requests.storage
    else next.resources.requests.storage = o
  }
  if (!deepEqual(next, prev)) errs.push(forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'))
  const newSize = quantityValue(storageOf(obj.spec))
  const oldSize = quantityValue(storageOf(old.spec))
  const statusSize = quantityValue(isObj(oldStatus.capacity) ? oldStatus.capacity.storage : undefined)
  // RecoverVolumeExpansionFailure: shrinking back towards status.capacity is allowed, reaching it is not.
  if (bound && newSize !== undefined && oldSize !== undefined && newSize < oldSize && newSize <= (statusSize ?? oldSize))
    errs.push(forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'))
}

export function validatePersistentVolumeClaimStatus(obj: Obj, errs: Errs): void {
  const st = asObj(obj.status, 'status', errs)
  if (!st) return
  const phase = asString(st.phase, 'status.phase', errs)
  if (phase !== undefined && !['Bound', 'Lost', 'Pending'].includes(phase)) errs.push(notSupported('status.phase', phase, ['Bound', 'Lost', 'Pending']))
  if (!absent(st.accessModes)) validateAccessModes(st.accessModes, 'status.accessModes', undefined, errs)
  const cap = asObj(st.capacity, 'status.capacity', errs)
  if (cap && !absent(cap.storage)) validatePositiveQuantity(cap.storage, 'status.capacity[storage]', errs)
}

// ---------- PersistentVolume ----------

function validateNodeSelectorTerms(v: unknown, path: string, errs: Errs): void {
  const terms = asArray(v, path, errs)
  if (terms.length === 0) {
    errs.push(required(path, 'must have at least one node selector term'))
    return
  }
  terms.forEach((raw, i) => {
    const t = asObj(raw, `${path}[${i}]`, errs)
    if (!t) return
    for (const kind of ['matchExpressions', 'matchFields'] as const) {
      asArray(t[kind], `${path}[${i}].${kind}`, errs).forEach((rr, j) => {
        const p = `${path}[${i}].${kind}[${j}]`
        const r = asObj(rr, p, errs)
        if (!r) return
        const key = asString(r.key, `${p}.key`, errs)
        if (!key) errs.push(required(`${p}.key`))
        else if (kind === 'matchExpressions') for (const m of isQualifiedName(key)) errs.push(invalid(`${p}.key`, key, m))
        const op = asString(r.operator, `${p}.operator`, errs)
        const values = asArray(r.values, `${p}.values`, errs)
        if (op === undefined || !NODE_SELECTOR_OPS.includes(op)) errs.push(invalid(`${p}.operator`, op ?? '', 'not a valid selector operator'))
        else if ((op === 'In' || op === 'NotIn') && values.length === 0) errs.push(required(`${p}.values`, 'must be specified when `operator` is \'In\' or \'NotIn\''))
        else if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) errs.push(forbidden(`${p}.values`, 'may not be specified when `operator` is \'Exists\' or \'DoesNotExist\''))
        else if ((op === 'Gt' || op === 'Lt') && values.length !== 1) errs.push(required(`${p}.values`, 'must be specified single value when `operator` is \'Lt\' or \'Gt\''))
      })
    }
  })
}

const PV_SOURCES = ['hostPath', 'local', 'nfs', 'csi', 'iscsi', 'fc', 'flexVolume', 'cephfs', 'rbd'] as const

export function validatePersistentVolume(obj: Obj, errs: Errs): void {
  const spec = asObj(obj.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec.accessModes'))
    errs.push(required('spec.capacity'))
    errs.push(required('spec', 'must specify a volume type'))
    return
  }
  validateAccessModes(spec.accessModes, 'spec.accessModes', undefined, errs)
  const cap = asObj(spec.capacity, 'spec.capacity', errs)
  if (!cap || Object.keys(cap).length === 0) errs.push(required('spec.capacity'))
  if (cap && (absent(cap.storage) || Object.keys(cap).length > 1)) errs.push(notSupported('spec.capacity', cap, ['storage']))
  if (cap) for (const [k, q] of Object.entries(cap)) validatePositiveQuantity(q, `spec.capacity[${k}]`, errs)
  validateClassName(spec.storageClassName, 'spec.storageClassName', errs)
  validateVolumeMode(spec.volumeMode, 'spec.volumeMode', errs)
  const policy = asString(spec.persistentVolumeReclaimPolicy, 'spec.persistentVolumeReclaimPolicy', errs)
  if (policy && !PV_RECLAIM_POLICIES.includes(policy)) errs.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, PV_RECLAIM_POLICIES))
  let affinity = false
  const na = asObj(spec.nodeAffinity, 'spec.nodeAffinity', errs)
  if (na) {
    const req = asObj(na.required, 'spec.nodeAffinity.required', errs)
    if (!req) errs.push(required('spec.nodeAffinity.required', 'must specify required node constraints'))
    else {
      affinity = true
      validateNodeSelectorTerms(req.nodeSelectorTerms, 'spec.nodeAffinity.required.nodeSelectorTerms', errs)
    }
  }
  let n = 0
  for (const s of PV_SOURCES) {
    if (absent(spec[s])) continue
    if (n++ > 0) {
      errs.push(forbidden(`spec.${s}`, 'may not specify more than 1 volume type'))
      continue
    }
    if (s === 'hostPath' || s === 'local') {
      const src = asObj(spec[s], `spec.${s}`, errs)
      if (src && !asString(src.path, `spec.${s}.path`, errs)) errs.push(required(`spec.${s}.path`))
    }
  }
  if (n === 0) errs.push(required('spec', 'must specify a volume type'))
  const hp = isObj(spec.hostPath) ? spec.hostPath : undefined
  if (hp && typeof hp.path === 'string' && hp.path.replace(/\/+$/, '') === '' && hp.path.startsWith('/') && policy === 'Recycle')
    errs.push(forbidden('spec.persistentVolumeReclaimPolicy', "may not be 'recycle' for a hostPath mount of '/'"))
  if (!absent(spec.local) && !affinity) errs.push(required('spec.nodeAffinity', 'Local volume requires node affinity'))
  const ref = asObj(spec.claimRef, 'spec.claimRef', errs)
  if (ref) {
    asString(ref.name, 'spec.claimRef.name', errs)
    asString(ref.namespace, 'spec.claimRef.namespace', errs)
  }
}

export function validatePersistentVolumeUpdate(obj: Obj, old: Obj, errs: Errs): void {
  if (!isObj(obj.spec) || !isObj(old.spec)) return
  const source = (s: Obj): Obj => Object.fromEntries(PV_SOURCES.filter((k) => !absent(s[k])).map((k) => [k, s[k]]))
  if (!deepEqual(source(obj.spec), source(old.spec))) errs.push(forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'))
  if (!deepEqual(obj.spec.volumeMode, old.spec.volumeMode)) errs.push(invalid('volumeMode', obj.spec.volumeMode ?? null, 'field is immutable'))
  if (!absent(old.spec.nodeAffinity) && !deepEqual(obj.spec.nodeAffinity, old.spec.nodeAffinity)) errs.push(invalid('nodeAffinity', obj.spec.nodeAffinity ?? null, 'field is immutable'))
}

export function validatePersistentVolumeStatus(obj: Obj, errs: Errs): void {
  const st = asObj(obj.status, 'status', errs)
  if (!st) return
  const phase = asString(st.phase, 'status.phase', errs)
  const phases = ['Available', 'Bound', 'Failed', 'Pending', 'Released']
  if (phase !== undefined && !phases.includes(phase)) errs.push(notSupported('status.phase', phase, phases))
}

// ---------- StorageClass ----------

export function validateStorageClass(obj: Obj, errs: Errs): void {
  const prov = asString(obj.provisioner, 'provisioner', errs)
  if (!prov) errs.push(required('provisioner'))
  else for (const m of isQualifiedName(prov.toLowerCase())) errs.push(invalid('provisioner', prov, m))
  const params = asObj(obj.parameters, 'parameters', errs)
  if (params) {
    let size = 0
    for (const [k, v] of Object.entries(params)) {
      if (k === '') errs.push(invalid('parameters', k, 'field can not be empty.'))
      if (typeof v !== 'string') errs.push(typeInvalid(`parameters[${k}]`, v, 'must be of type string'))
      else size += k.length + v.length
    }
    if (size > 256 * 1024) errs.push({ type: 'FieldValueTooLong', field: 'parameters', value: '', message: 'Too long: must have at most 262144 bytes' })
  }
  const policy = asString(obj.reclaimPolicy, 'reclaimPolicy', errs)
  if (policy && !SC_RECLAIM_POLICIES.includes(policy)) errs.push(notSupported('reclaimPolicy', policy, SC_RECLAIM_POLICIES))
  const mode = asString(obj.volumeBindingMode, 'volumeBindingMode', errs)
  if (mode === undefined) errs.push(required('volumeBindingMode'))
  else if (!BINDING_MODES.includes(mode)) errs.push(notSupported('volumeBindingMode', mode, BINDING_MODES))
  asBool(obj.allowVolumeExpansion, 'allowVolumeExpansion', errs)
  asArray(obj.mountOptions, 'mountOptions', errs)
}

export function validateStorageClassUpdate(obj: Obj, old: Obj, errs: Errs): void {
  if (!deepEqual(obj.parameters ?? {}, old.parameters ?? {})) errs.push(forbidden('parameters', 'updates to parameters are forbidden.'))
  if (obj.provisioner !== old.provisioner) errs.push(forbidden('provisioner', 'updates to provisioner are forbidden.'))
  if (obj.reclaimPolicy !== old.reclaimPolicy) errs.push(forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'))
  if (!deepEqual(obj.volumeBindingMode, old.volumeBindingMode)) errs.push(invalid('volumeBindingMode', obj.volumeBindingMode ?? null, 'field is immutable'))
}
