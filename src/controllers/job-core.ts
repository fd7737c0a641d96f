// Job reconcile core: from a Job and the pods of its namespace (informer caches), what to do.
// No I/O: the shell (job.ts) applies the actions in order.
//
// Follows kube-controller-manager's Job controller as of v1.33 (JobPodReplacementPolicy and
// JobManagedBy on, so terminal conditions are delayed):
// - Pods carry the `batch.kubernetes.io/job-tracking` finalizer. A finished pod is first written
//   into `status.uncountedTerminatedPods` (a status write), then its finalizer is removed; an
//   uncounted UID whose pod no longer has the finalizer moves into `succeeded`/`failed`. A pod
//   is so counted exactly once, whatever crashes or stale caches happen in between.
// - `parallelism` active pods at most, never more than the completions still missing; Indexed
//   Jobs fill the lowest missing indexes. Replacements for failed pods wait upstream's
//   exponential back-off (10 s doubling, capped at 10 min: `DefaultJobPodFailureBackOff`,
//   `MaxJobPodFailureBackOff`), counted from the failures since the last success.
// - Failure (`failed > backoffLimit`, OnFailure restarts ≥ backoffLimit, or `activeDeadlineSeconds`
//   past) first adds `FailureTarget` and deletes the active pods; `Failed` (same reason) follows
//   once no pod is left running or uncounted. Success adds `SuccessCriteriaMet`, then `Complete`.
import type { Container, EnvVar, Job, JobCondition, JobStatus, OwnerReference, Pod } from '../api/types.js'
import { ANNOTATION_JOB_COMPLETION_INDEX, FINALIZER_JOB_TRACKING, LABEL_JOB_COMPLETION_INDEX } from '../api/types.js'
import { controllerRef, getCondition, isPodActive, isPodTerminal, podIsReady } from './apiutil.js'
import { claimPods, compareForDeletion } from './replicaset-core.js'
import { canonicalJSON, isDeleting } from './util.js'

export const DEFAULT_BACKOFF_MS = 10_000
export const MAX_BACKOFF_MS = 10 * 60_000
/** MaxPodCreateDeletePerSync: a huge Job does not starve the others. */
const MAX_CREATE_DELETE_PER_SYNC = 500

export type JobAction =
  | { kind: 'adopt'; pod: string }
  | { kind: 'release'; pod: string }
  | { kind: 'create'; pods: Pod[] }
  /** Remove the tracking finalizer, then delete (deleteJobPods). */
  | { kind: 'delete'; pods: string[] }
  | { kind: 'status'; status: JobStatus }
  | { kind: 'removeFinalizers'; pods: string[] }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string }

export interface JobResult {
  actions: JobAction[]
  requeueAfterMs?: number
}

export interface JobInput {
  job: Job
  /** Every pod of the Job's namespace. */
  pods: Pod[]
  now: number
  /** False while earlier creates/deletes are not yet observed: no new creates or deletes. */
  expectationsSatisfied?: boolean
  /** UIDs whose finalizer removal was sent but not yet seen in the cache. */
  expectedRmFinalizers?: ReadonlySet<string>
  backoffBaseMs?: number
  backoffMaxMs?: number
}

export const hasTrackingFinalizer = (p: Pod): boolean => (p.metadata.finalizers ?? []).includes(FINALIZER_JOB_TRACKING)

const condTrue = (job: Job, type: string): JobCondition | undefined => {
  const c = getCondition(job.status?.conditions, type)
  return c?.status === 'True' ? c : undefined
}

export function isJobFinished(job: Job): boolean {
  return !!(condTrue(job, 'Complete') || condTrue(job, 'Failed'))
}

export function jobFinishedAt(job: Job): number | undefined {
  const c = condTrue(job, 'Complete') ?? condTrue(job, 'Failed')
  const t = c?.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN
  return Number.isNaN(t) ? undefined : t
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

function newCondition(type: string, reason: string, message: string, now: number): JobCondition {
  return { type, status: 'True', lastProbeTime: iso(now), lastTransitionTime: iso(now), reason, message }
}

// ---------- completion indexes ("1,3-5,7") ----------

export function parseIndexes(s: string | undefined, completions: number): Set<number> {
  const out = new Set<number>()
  for (const part of (s ?? '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (!m) continue
    const a = Number(m[1])
    const b = m[2] === undefined ? a : Number(m[2])
    for (let i = a; i <= b && i < completions; i++) out.add(i)
  }
  return out
}

export function formatIndexes(set: ReadonlySet<number>): string {
  const xs = [...set].sort((a, b) => a - b)
  const parts: string[] = []
  for (let i = 0; i < xs.length; ) {
    let j = i
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++
    parts.push(j === i ? `${xs[i]}` : `${xs[i]}-${xs[j]}`)
    i = j + 1
  }
  return parts.join(',')
}

/** The pod's completion index, or undefined if it has none (or a malformed one). */
export function completionIndex(p: Pod): number | undefined {
  const v = p.metadata.annotations?.[ANNOTATION_JOB_COMPLETION_INDEX]
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined
}

// ---------- pods ----------

/** The pod a Job creates (getPodFromTemplate + the Indexed additions). */
export function podForJob(job: Job, index: number | undefined): Pod {
  const t = job.spec.template
  const name = job.metadata.name!
  const annotations: Record<string, string> = { ...(t.metadata?.annotations ?? {}) }
  const labels: Record<string, string> = { ...(t.metadata?.labels ?? {}) }
  const spec = structuredClone(t.spec)
  if (index !== undefined) {
    annotations[ANNOTATION_JOB_COMPLETION_INDEX] = String(index)
    labels[LABEL_JOB_COMPLETION_INDEX] = String(index)
    // Stable per-index hostnames, as upstream (`<job>-<index>`).
    spec.hostname ??= `${name}-${index}`
    const env: EnvVar = { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${ANNOTATION_JOB_COMPLETION_INDEX}']` } } }
    const add = (c: Container): void => {
      if (!(c.env ?? []).some((e) => e.name === env.name)) c.env = [...(c.env ?? []), structuredClone(env)]
    }
    spec.containers.forEach(add)
    spec.initContainers?.forEach(add)
  }
  const ref: OwnerReference = { apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid!, controller: true, blockOwnerDeletion: true }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: index === undefined ? `${name}-` : `${name}-${index}-`,
      namespace: job.metadata.namespace!,
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      finalizers: [FINALIZER_JOB_TRACKING],
      ownerReferences: [ref],
    },
    spec,
  }
}

/** Adopting also adds the tracking finalizer (the shell patches it on). */
const withTrackingFinalizer = (p: Pod): Pod => ({ ...p, metadata: { ...p.metadata, finalizers: [...(p.metadata.finalizers ?? []), FINALIZER_JOB_TRACKING] } })

/** isPodFailed with podReplacementPolicy TerminatingOrFailed: a deleted pod that did not succeed failed. */
function isPodFailed(p: Pod, job: Job): boolean {
  if (p.status?.phase === 'Failed') return true
  if (job.spec.podReplacementPolicy === 'Failed') return false
  // Pods removed because the Job was suspended are not failures of the Job.
  if (job.spec.suspend) return false
  return isDeleting(p) && p.status?.phase !== 'Succeeded'
}

function finishedMs(p: Pod): number {
  let t = 0
  for (const c of [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])]) {
    const f = c.state?.terminated?.finishedAt
    if (f) t = Math.max(t, Date.parse(f) || 0)
  }
  if (!t && p.metadata.deletionTimestamp) t = Date.parse(p.metadata.deletionTimestamp) || 0
  return t
}

/** Time left before a replacement may be created: base·2^(failures since last success − 1), capped. */
export function remainingBackoffMs(job: Job, owned: Pod[], now: number, baseMs: number, maxMs: number): number {
  const finished = owned
    .filter((p) => p.status?.phase === 'Succeeded' || isPodFailed(p, job))
    .map((p) => ({ ok: p.status?.phase === 'Succeeded', at: finishedMs(p) }))
    .sort((a, b) => a.at - b.at)
  let failures = 0
  let last = 0
  for (const f of finished) {
    if (f.ok) failures = 0
    else {
      failures++
      last = Math.max(last, f.at)
    }
  }
  if (failures === 0) return 0
  const delay = Math.min(baseMs * 2 ** Math.min(failures - 1, 30), maxMs)
  return Math.max(0, last + delay - now)
}

/** restartPolicy OnFailure: container restarts of running pods count against backoffLimit. */
function pastBackoffLimitOnFailure(job: Job, active: Pod[]): boolean {
  if (job.spec.template.spec.restartPolicy !== 'OnFailure') return false
  let restarts = 0
  for (const p of active) {
    const ph = p.status?.phase
    if (ph !== 'Running' && ph !== 'Pending') continue
    for (const c of [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])]) restarts += c.restartCount ?? 0
  }
  const limit = job.spec.backoffLimit ?? 6
  return limit === 0 ? restarts > 0 : restarts >= limit
}

export function reconcileJob(input: JobInput): JobResult {
  const { job, now } = input
  const actions: JobAction[] = []
  const { owned, actions: claim } = claimPods(job, job.spec.selector, input.pods, withTrackingFinalizer)
  const expectedRm = input.expectedRmFinalizers ?? new Set<string>()
  const withFinalizer = (p: Pod): boolean => hasTrackingFinalizer(p) && !expectedRm.has(p.metadata.uid!)

  if (isJobFinished(job)) {
    // Finalizers of pods that finished after the Job did (or whose removal failed) still go.
    const left = owned.filter(withFinalizer).map((p) => p.metadata.name!)
    return { actions: left.length ? [{ kind: 'removeFinalizers', pods: left }] : [] }
  }
  actions.push(...claim)

  const spec = job.spec
  const indexed = spec.completionMode === 'Indexed'
  const completions = spec.completions
  const suspended = spec.suspend === true
  const status: JobStatus = structuredClone(job.status ?? {})
  const uncounted = { succeeded: [...(status.uncountedTerminatedPods?.succeeded ?? [])], failed: [...(status.uncountedTerminatedPods?.failed ?? [])] }
  const finalizerUids = new Set(owned.filter(withFinalizer).map((p) => p.metadata.uid!))

  // 1. Uncounted pods whose finalizer is gone are counted now.
  const stillS = uncounted.succeeded.filter((u) => finalizerUids.has(u))
  const stillF = uncounted.failed.filter((u) => finalizerUids.has(u))
  status.succeeded = (status.succeeded ?? 0) + (uncounted.succeeded.length - stillS.length)
  status.failed = (status.failed ?? 0) + (uncounted.failed.length - stillF.length)
  uncounted.succeeded = stillS
  uncounted.failed = stillF

  const active = owned.filter(isPodActive)
  const terminatingCount = owned.filter((p) => isDeleting(p) && !isPodTerminal(p)).length

  // 2. Newly finished pods (still carrying the finalizer) join the uncounted lists.
  const prevIndexes = indexed ? parseIndexes(status.completedIndexes, completions ?? 0) : new Set<number>()
  const succeededIndexes = new Set(prevIndexes)
  const toRemove: Pod[] = []
  const inUncounted = new Set([...uncounted.succeeded, ...uncounted.failed])
  for (const p of owned) {
    if (!withFinalizer(p)) continue
    const uid = p.metadata.uid!
    if (p.status?.phase === 'Succeeded') {
      toRemove.push(p)
      if (indexed) {
        const ix = completionIndex(p)
        if (ix !== undefined && ix < (completions ?? 0)) succeededIndexes.add(ix)
      } else if (!inUncounted.has(uid)) uncounted.succeeded.push(uid)
    } else if (isPodFailed(p, job)) {
      toRemove.push(p)
      const ix = completionIndex(p)
      if (!inUncounted.has(uid) && (!indexed || (ix !== undefined && ix < (completions ?? 0)))) uncounted.failed.push(uid)
    }
  }
  const succeeded = indexed ? succeededIndexes.size : status.succeeded + uncounted.succeeded.length
  const failed = status.failed + uncounted.failed.length
  if (indexed) {
    status.completedIndexes = formatIndexes(succeededIndexes)
    status.succeeded = succeededIndexes.size
  }

  if (!status.startTime && !suspended) status.startTime = iso(now)

  // 3. Is the Job done, one way or the other?
  let requeueAfterMs: number | undefined
  let finishing: JobCondition | undefined
  const interimFailure = condTrue(job, 'FailureTarget')
  const interimSuccess = condTrue(job, 'SuccessCriteriaMet')
  if (interimSuccess) finishing = interimSuccess
  else if (interimFailure) finishing = interimFailure
  else if (failed > (spec.backoffLimit ?? 6) || pastBackoffLimitOnFailure(job, active))
    finishing = newCondition('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now)
  else if (spec.activeDeadlineSeconds !== undefined && !suspended && status.startTime) {
    const deadline = Date.parse(status.startTime) + spec.activeDeadlineSeconds * 1000
    if (now >= deadline) finishing = newCondition('FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline', now)
    else requeueAfterMs = deadline - now
  }

  const canAct = input.expectationsSatisfied !== false
  let activeLeft = active.length
  let ready = active.filter(podIsReady).length
  const creates: Pod[] = []
  const deletes: Pod[] = []
  if (finishing?.type === 'FailureTarget') {
    deletes.push(...active)
    activeLeft = 0
    ready = 0
  } else if (!finishing) {
    if (canAct && !isDeleting(job)) {
      const m = manage(job, active, succeeded, succeededIndexes, now, input)
      creates.push(...m.creates)
      deletes.push(...m.deletes)
      activeLeft = active.length - m.deletes.length + m.creates.length
      ready -= m.deletes.filter(podIsReady).length
      if (m.requeueAfterMs !== undefined) requeueAfterMs = requeueAfterMs === undefined ? m.requeueAfterMs : Math.min(requeueAfterMs, m.requeueAfterMs)
    }
    const complete = completions === undefined ? succeeded > 0 && activeLeft === 0 : succeeded >= completions && activeLeft === 0
    if (complete) finishing = newCondition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods', now)
    else if (canAct && !isDeleting(job)) {
      const susp = getCondition(status.conditions, 'Suspended')
      if (suspended && susp?.status !== 'True') {
        status.conditions = upsert(status.conditions, { ...newCondition('Suspended', 'JobSuspended', 'Job suspended', now) })
        actions.push({ kind: 'event', type: 'Normal', reason: 'Suspended', message: 'Job suspended' })
      } else if (!suspended && susp?.status === 'True') {
        status.conditions = upsert(status.conditions, { ...newCondition('Suspended', 'JobResumed', 'Job resumed', now), status: 'False' })
        actions.push({ kind: 'event', type: 'Normal', reason: 'Resumed', message: 'Job resumed' })
        // activeDeadlineSeconds counts continuous activity: it restarts on resume.
        status.startTime = iso(now)
      }
    }
  }
  // Once the Job is finishing, every pod's finalizer may go; running pods then count as failed.
  if (finishing) {
    const removing = new Set(toRemove)
    const deleting = new Set(deletes)
    for (const p of owned) {
      if (!withFinalizer(p) || removing.has(p)) continue
      toRemove.push(p)
      if (finishing.type === 'FailureTarget' && !inUncounted.has(p.metadata.uid!) && !isPodTerminal(p) && !deleting.has(p)) uncounted.failed.push(p.metadata.uid!)
    }
    if (!getCondition(status.conditions, finishing.type)) status.conditions = [...(status.conditions ?? []), finishing]
  }

  status.active = activeLeft
  status.ready = ready
  status.terminating = terminatingCount + (finishing?.type === 'FailureTarget' ? deletes.length : 0)
  status.uncountedTerminatedPods = uncounted

  // 4. The terminal condition, once nothing is left running, terminating or uncounted.
  const deletedNow = new Set(deletes.map((p) => p.metadata.uid!))
  const pendingRemoval = toRemove.filter((p) => !deletedNow.has(p.metadata.uid!)).length
  let finishedEvent: JobAction | undefined
  if (finishing && canAct && activeLeft === 0 && terminatingCount === 0 && deletes.length === 0 && pendingRemoval === 0 && uncounted.succeeded.length + uncounted.failed.length === 0) {
    const type = finishing.type === 'SuccessCriteriaMet' ? 'Complete' : 'Failed'
    status.conditions = upsert(status.conditions, { ...newCondition(type, finishing.reason ?? '', finishing.message ?? '', now) })
    if (type === 'Complete') status.completionTime = iso(now)
    finishedEvent = type === 'Complete' ? { kind: 'event', type: 'Normal', reason: 'Completed', message: 'Job completed' } : { kind: 'event', type: 'Warning', reason: finishing.reason ?? 'Failed', message: finishing.message ?? '' }
  }

  if (deletes.length) actions.push({ kind: 'delete', pods: deletes.map((p) => p.metadata.name!) })
  // Status (with the newly uncounted pods) is written before any finalizer goes: the protocol's order.
  if (canonicalJSON(status) !== canonicalJSON(job.status ?? {})) actions.push({ kind: 'status', status })
  const rm = toRemove.filter((p) => !deletedNow.has(p.metadata.uid!)).map((p) => p.metadata.name!)
  if (rm.length) actions.push({ kind: 'removeFinalizers', pods: rm })
  if (creates.length) actions.push({ kind: 'create', pods: creates })
  if (finishedEvent) actions.push(finishedEvent)
  return requeueAfterMs === undefined ? { actions } : { actions, requeueAfterMs }
}

function upsert(conds: JobCondition[] | undefined, c: JobCondition): JobCondition[] {
  const list = [...(conds ?? [])]
  const i = list.findIndex((x) => x.type === c.type)
  if (i < 0) list.push(c)
  else list[i] = c
  return list
}

/** manageJob: how many pods to start or stop towards `parallelism`. */
function manage(
  job: Job,
  active: Pod[],
  succeeded: number,
  succeededIndexes: ReadonlySet<number>,
  now: number,
  input: JobInput,
): { creates: Pod[]; deletes: Pod[]; requeueAfterMs?: number } {
  const spec = job.spec
  if (spec.suspend) return { creates: [], deletes: [...active].sort(compareForDeletion) }
  const parallelism = spec.parallelism ?? 1
  const completions = spec.completions
  let wantActive: number
  if (completions === undefined) wantActive = succeeded > 0 ? active.length : parallelism
  else wantActive = Math.max(0, Math.min(parallelism, completions - succeeded))

  const deletes: Pod[] = []
  let keep = active
  if (spec.completionMode === 'Indexed') {
    // Pods with a bad, succeeded or duplicated index go first.
    const seen = new Set<number>()
    keep = []
    for (const p of [...active].sort((a, b) => compareForDeletion(b, a))) {
      const ix = completionIndex(p)
      if (ix === undefined || ix >= (completions ?? 0) || succeededIndexes.has(ix) || seen.has(ix)) deletes.push(p)
      else {
        seen.add(ix)
        keep.push(p)
      }
    }
  }
  const excess = keep.length - wantActive
  if (excess > 0) deletes.push(...[...keep].sort(compareForDeletion).slice(0, excess))
  const remaining = keep.length - Math.max(0, excess)
  let diff = Math.min(wantActive - remaining, MAX_CREATE_DELETE_PER_SYNC)
  if (diff <= 0) return { creates: [], deletes: deletes.slice(0, MAX_CREATE_DELETE_PER_SYNC) }

  const owned = input.pods.filter((p) => controllerRef(p)?.uid === job.metadata.uid)
  const wait = remainingBackoffMs(job, owned, now, input.backoffBaseMs ?? DEFAULT_BACKOFF_MS, input.backoffMaxMs ?? MAX_BACKOFF_MS)
  if (wait > 0) return { creates: [], deletes, requeueAfterMs: wait }
  const creates: Pod[] = []
  if (spec.completionMode === 'Indexed') {
    const gone = new Set(deletes)
    const taken = new Set(keep.filter((p) => !gone.has(p)).map(completionIndex))
    for (let i = 0; i < (completions ?? 0) && diff > 0; i++) {
      if (succeededIndexes.has(i) || taken.has(i)) continue
      creates.push(podForJob(job, i))
      diff--
    }
  } else for (let i = 0; i < diff; i++) creates.push(podForJob(job, undefined))
  return { creates, deletes }
}
