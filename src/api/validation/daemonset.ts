// apps/v1 DaemonSet rules (pkg/apis/apps/validation: ValidateDaemonSet*, with upstream's texts).
import { invalid, notSupported, required } from '../field-errors.js'
import { isDNS1123Subdomain } from '../names.js'
import type { ResourceInfo } from '../resources.js'
import { labelSelectorMatches } from '../selectors.js'
import type { LabelSelector } from '../types.js'
import { validateLabelSelector } from './apps.js'
import { absent, asInt, asObj, asString, immutable, isObj, nonNegative, validatePositiveIntOrPercent, type Errs, type Obj } from './common.js'
import { validateObjectMeta } from './meta.js'
import { validatePodSpec } from './pod.js'

/** getIntOrPercentValue: "30%" → 30, 2 → 2 (a malformed string counts as non-zero, as upstream's IntValue fallback). */
function intOrPercentValue(v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'string') {
    const n = Number(v.endsWith('%') ? v.slice(0, -1) : v)
    return Number.isNaN(n) ? 1 : n
  }
  return 0
}

function notMoreThan100Percent(v: unknown, path: string, errs: Errs): void {
  if (typeof v === 'string' && /^[0-9]+%$/.test(v) && Number(v.slice(0, -1)) > 100) errs.push(invalid(path, v, 'must not be greater than 100%'))
}

function validateUpdateStrategy(v: unknown, errs: Errs): void {
  const path = 'spec.updateStrategy'
  const s = asObj(v, path, errs) ?? {}
  const type = asString(s.type, `${path}.type`, errs)
  if (type === 'OnDelete') return
  if (type !== 'RollingUpdate') {
    errs.push(notSupported(path, s, ['RollingUpdate', 'OnDelete']))
    return
  }
  const ru = asObj(s.rollingUpdate, `${path}.rollingUpdate`, errs)
  if (!ru) {
    errs.push(required(`${path}.rollingUpdate`))
    return
  }
  const p = `${path}.rollingUpdate`
  validatePositiveIntOrPercent(ru.maxUnavailable, `${p}.maxUnavailable`, errs)
  validatePositiveIntOrPercent(ru.maxSurge, `${p}.maxSurge`, errs)
  notMoreThan100Percent(ru.maxUnavailable, `${p}.maxUnavailable`, errs)
  notMoreThan100Percent(ru.maxSurge, `${p}.maxSurge`, errs)
  // Exactly one of the two is non-zero: surge creates before deleting, unavailable the reverse.
  const hasUnavailable = intOrPercentValue(ru.maxUnavailable) !== 0
  const hasSurge = intOrPercentValue(ru.maxSurge) !== 0
  if (hasUnavailable && hasSurge) errs.push(invalid(`${p}.maxSurge`, ru.maxSurge, 'may not be set when maxUnavailable is non-zero'))
  else if (!hasUnavailable && !hasSurge) errs.push(required(`${p}.maxUnavailable`, 'cannot be 0 when maxSurge is 0'))
}

export function validateDaemonSet(r: ResourceInfo, ds: Obj, errs: Errs): void {
  const spec = asObj(ds.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec'))
    return
  }
  let selOk = false
  if (absent(spec.selector)) errs.push(required('spec.selector'))
  else {
    selOk = validateLabelSelector(spec.selector, 'spec.selector', errs)
    const sel = spec.selector as Obj
    const empty = isObj(sel) && (!isObj(sel.matchLabels) || Object.keys(sel.matchLabels).length === 0) && (!Array.isArray(sel.matchExpressions) || sel.matchExpressions.length === 0)
    if (empty) {
      errs.push(invalid('spec.selector', sel, 'empty selector is invalid for daemonset'))
      selOk = false
    }
  }
  const tpl = asObj(spec.template, 'spec.template', errs)
  if (!tpl) errs.push(required('spec.template'))
  else {
    const meta = asObj(tpl.metadata, 'spec.template.metadata', errs) ?? {}
    validateObjectMeta({ ...r, namespaced: false }, { ...meta, name: 'x', namespace: undefined }, isDNS1123Subdomain, errs, 'spec.template.metadata')
    const labels = isObj(meta.labels) ? (meta.labels as Record<string, string>) : {}
    if (selOk && !labelSelectorMatches(spec.selector as LabelSelector, labels))
      errs.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'))
    validatePodSpec(tpl.spec, 'spec.template.spec', errs)
    const ps = isObj(tpl.spec) ? tpl.spec : {}
    // Defaulting sets Always; an absent one is only seen by callers that skip defaulting.
    if (!absent(ps.restartPolicy) && ps.restartPolicy !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', ps.restartPolicy, ['Always']))
    if (!absent(ps.activeDeadlineSeconds)) errs.push(invalid('spec.template.spec.activeDeadlineSeconds', ps.activeDeadlineSeconds, 'activeDeadlineSeconds in DaemonSet is not Supported'))
  }
  nonNegative(asInt(spec.minReadySeconds, 'spec.minReadySeconds', errs), 'spec.minReadySeconds', errs)
  validateUpdateStrategy(spec.updateStrategy, errs)
  nonNegative(asInt(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', errs), 'spec.revisionHistoryLimit', errs)
}

/** ValidateDaemonSetUpdate: the selector may not change. */
export function validateDaemonSetUpdate(obj: Obj, old: Obj, errs: Errs): void {
  immutable(isObj(obj.spec) ? obj.spec.selector : undefined, isObj(old.spec) ? old.spec.selector : undefined, 'spec.selector', errs)
}

/** ValidateDaemonSetStatus: every count non-negative. */
export function validateDaemonSetStatus(obj: Obj, errs: Errs): void {
  const st = asObj(obj.status, 'status', errs)
  if (!st) return
  for (const f of ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'collisionCount'])
    nonNegative(asInt(st[f], `status.${f}`, errs), `status.${f}`, errs)
}
