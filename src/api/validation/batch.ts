// Job and CronJob rules (pkg/apis/batch/validation), with upstream's field paths and texts.
import { invalid, notSupported, required } from '../field-errors.js'
import { isDNS1123Subdomain } from '../names.js'
import { labelSelectorMatches } from '../selectors.js'
import type { ResourceInfo } from '../resources.js'
import type { LabelSelector } from '../types.js'
import { LABEL_JOB_CONTROLLER_UID, LABEL_JOB_NAME, LABEL_LEGACY_JOB_CONTROLLER_UID, LABEL_LEGACY_JOB_NAME } from '../types.js'
import { isKnownTimeZone, scheduleError } from '../cron.js'
import { absent, asBool, asInt, asObj, asString, deepEqual, immutable, isObj, nonNegative, type Errs, type Obj } from './common.js'
import { validateLabelSelector } from './apps.js'
import { validateObjectMeta } from './meta.js'
import { validatePodSpec } from './pod.js'

/** Indexed Jobs: completions and parallelism are capped (maxParallelismForIndexedJob, maxCompletionsForIndexedJob). */
const MAX_INDEXED = 100_000
const COMPLETION_MODES = ['NonIndexed', 'Indexed']
const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace']
const REPLACEMENT_POLICIES = ['Failed', 'TerminatingOrFailed']
/** A CronJob's name plus `-<11 digits>` must stay a valid Job name of 63 characters. */
const CRONJOB_NAME_MAX = 52

function selectorIsEmpty(sel: Obj): boolean {
  return (!isObj(sel.matchLabels) || Object.keys(sel.matchLabels).length === 0) && (!Array.isArray(sel.matchExpressions) || sel.matchExpressions.length === 0)
}

/** JobSpec rules shared by Jobs and CronJob job templates; `path` is `spec` or `spec.jobTemplate.spec`. */
function validateJobSpec(r: ResourceInfo, spec: Obj, path: string, errs: Errs, opts: { template: boolean }): void {
  const parallelism = asInt(spec.parallelism, `${path}.parallelism`, errs)
  nonNegative(parallelism, `${path}.parallelism`, errs)
  const completions = asInt(spec.completions, `${path}.completions`, errs)
  nonNegative(completions, `${path}.completions`, errs)
  nonNegative(asInt(spec.activeDeadlineSeconds, `${path}.activeDeadlineSeconds`, errs), `${path}.activeDeadlineSeconds`, errs)
  nonNegative(asInt(spec.backoffLimit, `${path}.backoffLimit`, errs), `${path}.backoffLimit`, errs)
  nonNegative(asInt(spec.ttlSecondsAfterFinished, `${path}.ttlSecondsAfterFinished`, errs), `${path}.ttlSecondsAfterFinished`, errs)
  asBool(spec.suspend, `${path}.suspend`, errs)
  asBool(spec.manualSelector, `${path}.manualSelector`, errs)
  const mode = asString(spec.completionMode, `${path}.completionMode`, errs)
  if (mode !== undefined && !COMPLETION_MODES.includes(mode)) errs.push(notSupported(`${path}.completionMode`, mode, COMPLETION_MODES))
  if (mode === 'Indexed') {
    if (completions === undefined) errs.push(required(`${path}.completions`, 'when completion mode is Indexed'))
    else if (completions > MAX_INDEXED) errs.push(invalid(`${path}.completions`, completions, `must be less than or equal to ${MAX_INDEXED} when completion mode is Indexed`))
    if (parallelism !== undefined && parallelism > MAX_INDEXED)
      errs.push(invalid(`${path}.parallelism`, parallelism, `must be less than or equal to ${MAX_INDEXED} when completion mode is Indexed`))
  }
  const repl = asString(spec.podReplacementPolicy, `${path}.podReplacementPolicy`, errs)
  if (repl !== undefined && !REPLACEMENT_POLICIES.includes(repl)) errs.push(notSupported(`${path}.podReplacementPolicy`, repl, REPLACEMENT_POLICIES))

  let selOk = false
  if (opts.template) {
    // The CronJob controller stamps out Jobs whose selector the apiserver generates.
    if (!absent(spec.selector)) errs.push(invalid(`${path}.selector`, spec.selector, '`selector` will be auto-generated'))
  } else if (absent(spec.selector)) errs.push(required(`${path}.selector`))
  else {
    selOk = validateLabelSelector(spec.selector, `${path}.selector`, errs)
    if (isObj(spec.selector) && selectorIsEmpty(spec.selector)) {
      errs.push(invalid(`${path}.selector`, spec.selector, 'empty selector is invalid for deployment'))
      selOk = false
    }
  }
  const tpl = asObj(spec.template, `${path}.template`, errs)
  if (!tpl) {
    errs.push(required(`${path}.template`))
    return
  }
  const meta = asObj(tpl.metadata, `${path}.template.metadata`, errs) ?? {}
  validateObjectMeta({ ...r, namespaced: false }, { ...meta, name: 'x', namespace: undefined }, isDNS1123Subdomain, errs, `${path}.template.metadata`)
  const labels = isObj(meta.labels) ? (meta.labels as Record<string, string>) : {}
  if (selOk && !labelSelectorMatches(spec.selector as LabelSelector, labels))
    errs.push(invalid(`${path}.template.metadata.labels`, labels, '`selector` does not match template `labels`'))
  validatePodSpec(tpl.spec, `${path}.template.spec`, errs, { jobTemplate: true })
}

/** The selector the apiserver generated must still be there (validateGeneratedSelector). */
function validateGeneratedSelector(job: Obj, errs: Errs): void {
  const spec = isObj(job.spec) ? job.spec : {}
  if (spec.manualSelector === true || !isObj(spec.selector)) return
  const meta = isObj(job.metadata) ? job.metadata : {}
  const uid = typeof meta.uid === 'string' ? meta.uid : ''
  if (!uid) errs.push(required('metadata.uid'))
  const tplMeta = isObj(spec.template) && isObj(spec.template.metadata) ? spec.template.metadata : {}
  const labels = isObj(tplMeta.labels) ? tplMeta.labels : {}
  for (const k of [LABEL_LEGACY_JOB_CONTROLLER_UID, LABEL_JOB_CONTROLLER_UID])
    if (labels[k] !== undefined && labels[k] !== uid) errs.push(invalid('spec.template.metadata.labels', labels, 'must have matching uid'))
  for (const k of [LABEL_LEGACY_JOB_NAME, LABEL_JOB_NAME])
    if (labels[k] !== undefined && labels[k] !== meta.name) errs.push(invalid('spec.template.metadata.labels', labels, `must have matching ${k === LABEL_JOB_NAME ? 'batch.kubernetes.io/' : ''}job-name`))
  const ml = isObj(spec.selector.matchLabels) ? spec.selector.matchLabels : {}
  if (ml[LABEL_JOB_CONTROLLER_UID] !== uid) errs.push(invalid('spec.selector', spec.selector, '`selector` not auto-generated'))
}

export function validateJob(r: ResourceInfo, job: Obj, errs: Errs): void {
  const spec = asObj(job.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec'))
    return
  }
  validateGeneratedSelector(job, errs)
  validateJobSpec(r, spec, 'spec', errs, { template: false })
}

/** The scheduling directives a suspended, never started Job may still change (JobMutableSchedulingDirectives). */
const MUTABLE_WHILE_SUSPENDED = ['nodeSelector', 'tolerations', 'affinity', 'schedulingGates']

export function validateJobUpdate(job: Obj, old: Obj, errs: Errs): void {
  const s = isObj(job.spec) ? job.spec : {}
  const o = isObj(old.spec) ? old.spec : {}
  immutable(s.selector, o.selector, 'spec.selector', errs)
  immutable(s.completionMode ?? 'NonIndexed', o.completionMode ?? 'NonIndexed', 'spec.completionMode', errs)
  // Elastic Indexed Jobs: completions may follow parallelism when both were and stay equal.
  const elastic = s.completionMode === 'Indexed' && s.completions === s.parallelism && o.completions === o.parallelism
  if (!elastic) immutable(s.completions, o.completions, 'spec.completions', errs)
  const st = isObj(old.status) ? old.status : {}
  const neverStarted = o.suspend === true && absent(st.startTime)
  const strip = (t: unknown): unknown => {
    if (!neverStarted || !isObj(t)) return t
    const meta = isObj(t.metadata) ? { ...t.metadata, labels: undefined, annotations: undefined } : t.metadata
    const ps = isObj(t.spec) ? { ...t.spec } : t.spec
    if (isObj(ps)) for (const k of MUTABLE_WHILE_SUSPENDED) delete ps[k]
    return { ...t, metadata: meta, spec: ps }
  }
  if (!deepEqual(strip(s.template), strip(o.template))) errs.push(invalid('spec.template', s.template ?? null, 'field is immutable'))
}

export function validateJobStatus(job: Obj, errs: Errs): void {
  const st = asObj(job.status, 'status', errs)
  if (!st) return
  for (const f of ['active', 'succeeded', 'failed', 'ready', 'terminating']) nonNegative(asInt(st[f], `status.${f}`, errs), `status.${f}`, errs)
}

export function validateCronJob(r: ResourceInfo, cj: Obj, errs: Errs): void {
  const meta = isObj(cj.metadata) ? cj.metadata : {}
  if (typeof meta.name === 'string' && meta.name.length > CRONJOB_NAME_MAX)
    errs.push(invalid('metadata.name', meta.name, `must be no more than ${CRONJOB_NAME_MAX} characters`))
  const spec = asObj(cj.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec'))
    return
  }
  const tz = asString(spec.timeZone, 'spec.timeZone', errs)
  const schedule = asString(spec.schedule, 'spec.schedule', errs)
  if (!schedule) errs.push(required('spec.schedule'))
  else {
    const msg = scheduleError(schedule)
    if (msg) errs.push(invalid('spec.schedule', schedule, msg))
    // TZ in the schedule is refused on create since 1.27 (the timeZone field replaces it).
    if (schedule.includes('TZ')) errs.push(invalid('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'))
  }
  if (tz !== undefined) {
    if (tz === '') errs.push(invalid('spec.timeZone', tz, 'timeZone must be nil or non-empty string'))
    else if (tz.toLowerCase() === 'local') errs.push(invalid('spec.timeZone', tz, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'))
    else if (!isKnownTimeZone(tz)) errs.push(invalid('spec.timeZone', tz, `unknown time zone ${tz}`))
  }
  const cp = asString(spec.concurrencyPolicy, 'spec.concurrencyPolicy', errs)
  if (!cp) errs.push(required('spec.concurrencyPolicy'))
  else if (!CONCURRENCY_POLICIES.includes(cp)) errs.push(notSupported('spec.concurrencyPolicy', cp, CONCURRENCY_POLICIES))
  asBool(spec.suspend, 'spec.suspend', errs)
  for (const f of ['startingDeadlineSeconds', 'successfulJobsHistoryLimit', 'failedJobsHistoryLimit']) nonNegative(asInt(spec[f], `spec.${f}`, errs), `spec.${f}`, errs)
  const jt = asObj(spec.jobTemplate, 'spec.jobTemplate', errs)
  if (!jt) {
    errs.push(required('spec.jobTemplate'))
    return
  }
  const jtMeta = asObj(jt.metadata, 'spec.jobTemplate.metadata', errs)
  if (jtMeta) validateObjectMeta({ ...r, namespaced: false }, { ...jtMeta, name: 'x', namespace: undefined }, isDNS1123Subdomain, errs, 'spec.jobTemplate.metadata')
  const js = asObj(jt.spec, 'spec.jobTemplate.spec', errs)
  if (!js) errs.push(required('spec.jobTemplate.spec'))
  else validateJobSpec(r, js, 'spec.jobTemplate.spec', errs, { template: true })
}

export function validateCronJobStatus(cj: Obj, errs: Errs): void {
  const st = asObj(cj.status, 'status', errs)
  if (!st) return
  if (!absent(st.active) && !Array.isArray(st.active)) errs.push(invalid('status.active', st.active, 'must be of type array'))
  for (const f of ['lastScheduleTime', 'lastSuccessfulTime']) {
    const v = asString(st[f], `status.${f}`, errs)
    if (v !== undefined && Number.isNaN(Date.parse(v))) errs.push(invalid(`status.${f}`, v, 'must be an RFC 3339 time'))
  }
}
