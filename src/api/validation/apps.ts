// Deployment and ReplicaSet rules (pkg/apis/apps/validation).
import { forbidden, invalid, notSupported, required } from '../field-errors.js'
import { isQualifiedName, isValidLabelValue } from '../names.js'
import { labelSelectorMatches } from '../selectors.js'
import type { LabelSelector } from '../types.js'
import {
  absent,
  asArray,
  asBool,
  asInt,
  asObj,
  asString,
  asStringMap,
  immutable,
  isObj,
  nonNegative,
  validatePositiveIntOrPercent,
  type Errs,
  type Obj,
} from './common.js'
import { validateObjectMeta } from './meta.js'
import { validatePodSpec } from './pod.js'
import { isDNS1123Subdomain } from '../names.js'
import type { ResourceInfo } from '../resources.js'

/** metav1 LabelSelector shape and contents; returns whether it is usable for matching. */
export function validateLabelSelector(v: unknown, path: string, errs: Errs): boolean {
  const sel = asObj(v, path, errs)
  if (!sel) return false
  const before = errs.length
  const ml = asStringMap(sel.matchLabels, `${path}.matchLabels`, errs)
  for (const [k, val] of Object.entries(ml)) {
    for (const m of isQualifiedName(k)) errs.push(invalid(`${path}.matchLabels`, k, m))
    for (const m of isValidLabelValue(val)) errs.push(invalid(`${path}.matchLabels`, val, m))
  }
  asArray(sel.matchExpressions, `${path}.matchExpressions`, errs).forEach((raw, i) => {
    const p = `${path}.matchExpressions[${i}]`
    const e = asObj(raw, p, errs)
    if (!e) return
    const key = asString(e.key, `${p}.key`, errs)
    if (!key) errs.push(required(`${p}.key`))
    else for (const m of isQualifiedName(key)) errs.push(invalid(`${p}.key`, key, m))
    const op = asString(e.operator, `${p}.operator`, errs)
    const values = asArray(e.values, `${p}.values`, errs)
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) errs.push(required(`${p}.values`, 'must be specified when `operator` is \'In\' or \'NotIn\''))
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length > 0) errs.push(forbidden(`${p}.values`, 'may not be specified when `operator` is \'Exists\' or \'DoesNotExist\''))
    } else errs.push(invalid(`${p}.operator`, op ?? '', 'not a valid selector operator'))
    values.forEach((x, j) => {
      const s = asString(x, `${p}.values[${j}]`, errs)
      if (s !== undefined) for (const m of isValidLabelValue(s)) errs.push(invalid(`${p}.values[${j}]`, s, m))
    })
  })
  return errs.length === before
}

function selectorIsEmpty(sel: Obj): boolean {
  return (!isObj(sel.matchLabels) || Object.keys(sel.matchLabels).length === 0) && (!Array.isArray(sel.matchExpressions) || sel.matchExpressions.length === 0)
}

/**
 * Shared by Deployment, ReplicaSet and StatefulSet: selector, template, and their agreement.
 * `podSpecOf` lets a StatefulSet add its claim volumes before the pod spec is validated.
 */
export function validateSelectorAndTemplate(
  r: ResourceInfo,
  spec: Obj,
  errs: Errs,
  emptySelectorMsg = 'empty selector is invalid for deployment',
  podSpecOf: (tpl: Obj) => unknown = (tpl) => tpl.spec,
): void {
  const selOk = absent(spec.selector) ? false : validateLabelSelector(spec.selector, 'spec.selector', errs)
  if (absent(spec.selector)) errs.push(required('spec.selector'))
  else if (isObj(spec.selector) && selectorIsEmpty(spec.selector)) errs.push(invalid('spec.selector', spec.selector, emptySelectorMsg))

  const tpl = asObj(spec.template, 'spec.template', errs)
  if (!tpl) {
    errs.push(required('spec.template'))
    return
  }
  const meta = asObj(tpl.metadata, 'spec.template.metadata', errs) ?? {}
  // Template metadata: labels/annotations are validated; the name is not required.
  validateObjectMeta({ ...r, namespaced: false }, { ...meta, name: 'x', namespace: undefined }, isDNS1123Subdomain, errs, 'spec.template.metadata')
  const labels = isObj(meta.labels) ? (meta.labels as Record<string, string>) : {}
  if (selOk && isObj(spec.selector) && !selectorIsEmpty(spec.selector) && !labelSelectorMatches(spec.selector as LabelSelector, labels))
    errs.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'))
  validatePodSpec(podSpecOf(tpl), 'spec.template.spec', errs, { template: true })
}

export function validateDeployment(r: ResourceInfo, d: Obj, errs: Errs): void {
  const spec = asObj(d.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec'))
    return
  }
  nonNegative(asInt(spec.replicas, 'spec.replicas', errs), 'spec.replicas', errs)
  validateSelectorAndTemplate(r, spec, errs)

  const strategy = asObj(spec.strategy, 'spec.strategy', errs)
  if (strategy) {
    const type = asString(strategy.type, 'spec.strategy.type', errs)
    const ru = asObj(strategy.rollingUpdate, 'spec.strategy.rollingUpdate', errs)
    if (type === undefined) errs.push(required('spec.strategy.type'))
    else if (type === 'Recreate') {
      if (ru) errs.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"))
    } else if (type === 'RollingUpdate') {
      if (ru) validateRollingUpdate(ru, 'spec.strategy.rollingUpdate', errs)
    } else errs.push(notSupported('spec.strategy.type', type, ['Recreate', 'RollingUpdate']))
  }
  const mrs = asInt(spec.minReadySeconds, 'spec.minReadySeconds', errs)
  nonNegative(mrs, 'spec.minReadySeconds', errs)
  nonNegative(asInt(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', errs), 'spec.revisionHistoryLimit', errs)
  const pds = asInt(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds', errs)
  nonNegative(pds, 'spec.progressDeadlineSeconds', errs)
  if (pds !== undefined && pds <= (mrs ?? 0)) errs.push(invalid('spec.progressDeadlineSeconds', pds, 'must be greater than minReadySeconds'))
  asBool(spec.paused, 'spec.paused', errs)
}

function isZero(v: unknown): boolean {
  return v === 0 || v === '0%'
}

function validateRollingUpdate(ru: Obj, path: string, errs: Errs): void {
  validatePositiveIntOrPercent(ru.maxUnavailable, `${path}.maxUnavailable`, errs)
  validatePositiveIntOrPercent(ru.maxSurge, `${path}.maxSurge`, errs)
  const mu = ru.maxUnavailable
  if (typeof mu === 'string' && /^[0-9]+%$/.test(mu) && Number(mu.slice(0, -1)) > 100)
    errs.push(invalid(`${path}.maxUnavailable`, mu, 'must not be greater than 100%'))
  if (isZero(ru.maxSurge) && isZero(mu)) errs.push(invalid(`${path}.maxUnavailable`, mu, 'may not be 0 when `maxSurge` is 0'))
}

export function validateReplicaSet(r: ResourceInfo, rs: Obj, errs: Errs): void {
  const spec = asObj(rs.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec'))
    return
  }
  nonNegative(asInt(spec.replicas, 'spec.replicas', errs), 'spec.replicas', errs)
  nonNegative(asInt(spec.minReadySeconds, 'spec.minReadySeconds', errs), 'spec.minReadySeconds', errs)
  validateSelectorAndTemplate(r, spec, errs)
}

/** apps/v1: the selector of a Deployment or ReplicaSet is immutable. */
export function validateSelectorUpdate(obj: Obj, old: Obj, errs: Errs): void {
  const s = isObj(obj.spec) ? obj.spec.selector : undefined
  const o = isObj(old.spec) ? old.spec.selector : undefined
  immutable(s, o, 'spec.selector', errs)
}

export function validateWorkloadStatus(kind: 'Deployment' | 'ReplicaSet', obj: Obj, errs: Errs): void {
  const st = asObj(obj.status, 'status', errs)
  if (!st) return
  const fields =
    kind === 'Deployment'
      ? ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas', 'observedGeneration', 'collisionCount']
      : ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration']
  const n: Record<string, number | undefined> = {}
  for (const f of fields) {
    n[f] = asInt(st[f], `status.${f}`, errs)
    nonNegative(n[f], `status.${f}`, errs)
  }
  if (kind === 'ReplicaSet') {
    if (n.fullyLabeledReplicas !== undefined && n.fullyLabeledReplicas > (n.replicas ?? 0))
      errs.push(invalid('status.fullyLabeledReplicas', n.fullyLabeledReplicas, 'cannot be greater than status.replicas'))
    if (n.readyReplicas !== undefined && n.readyReplicas > (n.replicas ?? 0))
      errs.push(invalid('status.readyReplicas', n.readyReplicas, 'cannot be greater than status.replicas'))
    if (n.availableReplicas !== undefined && n.availableReplicas > (n.replicas ?? 0))
      errs.push(invalid('status.availableReplicas', n.availableReplicas, 'cannot be greater than status.replicas'))
  } else {
    if (n.updatedReplicas !== undefined && n.updatedReplicas > (n.replicas ?? 0))
      errs.push(invalid('status.updatedReplicas', n.updatedReplicas, 'cannot be greater than status.replicas'))
    if (n.readyReplicas !== undefined && n.readyReplicas > (n.replicas ?? 0))
      errs.push(invalid('status.readyReplicas', n.readyReplicas, 'cannot be greater than status.replicas'))
  }
  if (n.availableReplicas !== undefined && n.availableReplicas > (n.readyReplicas ?? 0))
    errs.push(invalid('status.availableReplicas', n.availableReplicas, 'cannot be greater than readyReplicas'))
}

// ---------- ControllerRevision (ValidateControllerRevision / …Update) ----------

export function validateControllerRevision(cr: Obj, errs: Errs): void {
  if (cr.data === undefined || cr.data === null) errs.push(required('data', 'data is mandatory'))
  nonNegative(asInt(cr.revision ?? 0, 'revision', errs), 'revision', errs)
}

/** The snapshot never changes; only its revision number may (a rollback re-numbers it). */
export function validateControllerRevisionUpdate(cr: Obj, old: Obj, errs: Errs): void {
  immutable(cr.data, old.data, 'data', errs)
}
