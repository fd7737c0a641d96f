// StatefulSet rules (pkg/apis/apps/validation: ValidateStatefulSet, ValidateStatefulSetUpdate,
// ValidateStatefulSetStatusUpdate), with v1.33's field paths and texts.
import { forbidden, invalid, notSupported, required } from '../field-errors.js'
import { isDNS1123Subdomain } from '../names.js'
import type { ResourceInfo } from '../resources.js'
import { validateSelectorAndTemplate } from './apps.js'
import { absent, asArray, asInt, asObj, asString, deepEqual, isObj, nonNegative, validatePositiveIntOrPercent, type Errs, type Obj } from './common.js'

const RETENTION = ['Retain', 'Delete'] as const

/** The spec fields an update may change; everything else in the spec is frozen. */
const MUTABLE_SPEC_FIELDS = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'] as const
const FROZEN_SPEC_MSG =
  "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

function validateUpdateStrategy(v: unknown, errs: Errs): void {
  const p = 'spec.updateStrategy'
  const us = asObj(v, p, errs)
  if (!us) {
    errs.push(required(p))
    return
  }
  const type = asString(us.type, `${p}.type`, errs)
  const ru = asObj(us.rollingUpdate, `${p}.rollingUpdate`, errs)
  if (type === undefined || type === '') errs.push(required(p))
  else if (type === 'OnDelete') {
    if (ru) errs.push(invalid(`${p}.rollingUpdate`, ru, "only allowed for updateStrategy 'RollingUpdate'"))
  } else if (type === 'RollingUpdate') {
    if (ru) {
      nonNegative(asInt(ru.partition, `${p}.rollingUpdate.partition`, errs), `${p}.rollingUpdate.partition`, errs)
      const mu = ru.maxUnavailable
      if (!absent(mu)) {
        const before = errs.length
        validatePositiveIntOrPercent(mu, `${p}.rollingUpdate.maxUnavailable`, errs)
        if (errs.length === before) {
          if (typeof mu === 'string' && Number(mu.slice(0, -1)) > 100) errs.push(invalid(`${p}.rollingUpdate.maxUnavailable`, mu, 'must not be greater than 100%'))
          if (mu === 0 || mu === '0%') errs.push(invalid(`${p}.rollingUpdate.maxUnavailable`, mu, 'must be greater than 0'))
        }
      }
    }
  } else errs.push(invalid(p, us, "must be 'RollingUpdate' or 'OnDelete'"))
}

function validateRetentionPolicy(v: unknown, errs: Errs): void {
  const p = 'spec.persistentVolumeClaimRetentionPolicy'
  const rp = asObj(v, p, errs)
  if (!rp) return
  for (const f of ['whenDeleted', 'whenScaled'] as const) {
    const x = asString(rp[f], `${p}.${f}`, errs)
    if (x !== undefined && !(RETENTION as readonly string[]).includes(x)) errs.push(notSupported(`${p}.${f}`, x, RETENTION))
  }
}

/** Claim templates: a valid name, at least one access mode and a storage request (as for a PVC). */
function validateClaimTemplates(v: unknown, errs: Errs): string[] {
  const names: string[] = []
  asArray(v, 'spec.volumeClaimTemplates', errs).forEach((raw, i) => {
    const p = `spec.volumeClaimTemplates[${i}]`
    const c = asObj(raw, p, errs)
    if (!c) return
    const meta = asObj(c.metadata, `${p}.metadata`, errs) ?? {}
    const name = asString(meta.name, `${p}.metadata.name`, errs)
    if (!name) errs.push(required(`${p}.metadata.name`, 'name or generateName is required'))
    else {
      for (const m of isDNS1123Subdomain(name)) errs.push(invalid(`${p}.metadata.name`, name, m))
      names.push(name)
    }
    const spec = asObj(c.spec, `${p}.spec`, errs) ?? {}
    if (asArray(spec.accessModes, `${p}.spec.accessModes`, errs).length === 0) errs.push(required(`${p}.spec.accessModes`, 'at least 1 access mode is required'))
    const res = asObj(spec.resources, `${p}.spec.resources`, errs)
    const req = res ? asObj(res.requests, `${p}.spec.resources.requests`, errs) : undefined
    if (!req || absent(req.storage)) errs.push(required(`${p}.spec.resources[storage]`))
  })
  return names
}

export function validateStatefulSet(r: ResourceInfo, sts: Obj, errs: Errs): void {
  const spec = asObj(sts.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec'))
    return
  }
  const pmp = asString(spec.podManagementPolicy, 'spec.podManagementPolicy', errs)
  if (pmp === undefined || pmp === '') errs.push(required('spec.podManagementPolicy'))
  else if (pmp !== 'OrderedReady' && pmp !== 'Parallel') errs.push(invalid('spec.podManagementPolicy', pmp, "must be 'OrderedReady' or 'Parallel'"))
  validateUpdateStrategy(spec.updateStrategy, errs)
  validateRetentionPolicy(spec.persistentVolumeClaimRetentionPolicy, errs)
  nonNegative(asInt(spec.replicas, 'spec.replicas', errs), 'spec.replicas', errs)
  nonNegative(asInt(spec.minReadySeconds, 'spec.minReadySeconds', errs), 'spec.minReadySeconds', errs)
  nonNegative(asInt(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', errs), 'spec.revisionHistoryLimit', errs)
  const ord = asObj(spec.ordinals, 'spec.ordinals', errs)
  if (ord) nonNegative(asInt(ord.start, 'spec.ordinals.start', errs), 'spec.ordinals.start', errs)
  const svc = asString(spec.serviceName, 'spec.serviceName', errs)
  if (svc) for (const m of isDNS1123Subdomain(svc)) errs.push(invalid('spec.serviceName', svc, m))
  const claims = validateClaimTemplates(spec.volumeClaimTemplates, errs)

  // The pods get one volume per claim template, so mounts of a claim name are valid.
  validateSelectorAndTemplate(r, spec, errs, 'empty selector is invalid for statefulset', (tpl) => {
    const podSpec = tpl.spec
    if (!isObj(podSpec) || claims.length === 0 || !(absent(podSpec.volumes) || Array.isArray(podSpec.volumes))) return podSpec
    const vols = (podSpec.volumes as unknown[] | undefined) ?? []
    const have = new Set(vols.map((x) => (isObj(x) ? x.name : undefined)))
    return { ...podSpec, volumes: [...vols, ...claims.filter((n) => !have.has(n)).map((n) => ({ name: n, persistentVolumeClaim: { claimName: n } }))] }
  })
}

export function validateStatefulSetUpdate(obj: Obj, old: Obj, errs: Errs): void {
  if (!isObj(obj.spec) || !isObj(old.spec)) return
  const frozen = (s: Obj): Obj => {
    const c = { ...s }
    for (const f of MUTABLE_SPEC_FIELDS) delete c[f]
    return c
  }
  if (!deepEqual(frozen(obj.spec), frozen(old.spec))) errs.push(forbidden('spec', FROZEN_SPEC_MSG))
}

export function validateStatefulSetStatus(obj: Obj, old: Obj | undefined, errs: Errs): void {
  const st = asObj(obj.status, 'status', errs)
  if (!st) return
  const n: Record<string, number | undefined> = {}
  for (const f of ['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas', 'observedGeneration', 'collisionCount']) {
    n[f] = asInt(st[f], `status.${f}`, errs)
    nonNegative(n[f], `status.${f}`, errs)
  }
  for (const f of ['readyReplicas', 'currentReplicas', 'updatedReplicas'])
    if ((n[f] ?? 0) > (n.replicas ?? 0)) errs.push(invalid(`status.${f}`, n[f], 'cannot be greater than status.replicas'))
  if ((n.availableReplicas ?? 0) > (n.readyReplicas ?? 0)) errs.push(invalid('status.availableReplicas', n.availableReplicas, 'cannot be greater than status.readyReplicas'))
  const oldCC = old && isObj(old.status) && typeof old.status.collisionCount === 'number' ? old.status.collisionCount : undefined
  if (oldCC !== undefined && (n.collisionCount ?? 0) < oldCC) errs.push(invalid('status.collisionCount', n.collisionCount ?? 0, 'cannot be decremented'))
}
