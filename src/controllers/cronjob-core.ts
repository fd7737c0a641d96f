// CronJob reconcile core (kube-controller-manager's cronjob controller v2): from a CronJob, the
// Jobs of its namespace and the time, what to do. No I/O; the shell (cronjob.ts) applies it.
//
// - The active list follows the owned Jobs: finished ones leave it (SawCompletedJob), vanished
//   ones too (MissingJob, after the shell confirmed with a live read).
// - The most recent unmet schedule time after `lastScheduleTime` (or creation) runs once, unless
//   it is older than `startingDeadlineSeconds` (MissSchedule), already processed, or Forbid sees
//   an active Job (JobAlreadyActive); Replace deletes the active Jobs first.
// - The Job is `<cronjob>-<minutes since the epoch of the scheduled time>`, so a retried or
//   duplicated create of the same slot is AlreadyExists, never a second run.
// - Finished Jobs beyond successful/failedJobsHistoryLimit go, oldest first.
import type { CronJob, CronJobStatus, Job, ObjectReference } from '../api/types.js'
import { ANNOTATION_CRONJOB_SCHEDULED_TIMESTAMP } from '../api/types.js'
import { isKnownTimeZone, parseSchedule, ScheduleError, type Schedule } from '../api/cron.js'
import { controllerRef, getCondition } from './apiutil.js'
import { isJobFinished } from './job-core.js'
import { canonicalJSON, isDeleting } from './util.js'

export interface CronJobEvent {
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

export interface CronJobInput {
  cj: CronJob
  /** Every Job of the CronJob's namespace. */
  jobs: Job[]
  now: number
  /** UIDs of active refs the shell confirmed absent with a live read. */
  goneActive?: ReadonlySet<string>
}

export interface CronJobResult {
  /** The status after this pass (without the Job about to be created). */
  status: CronJobStatus
  statusChanged: boolean
  /** Active Jobs to delete before creating (concurrencyPolicy Replace). */
  replace: ObjectReference[]
  create?: { job: Job; scheduledTime: string }
  events: CronJobEvent[]
  requeueAfterMs?: number
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

/** Go's RFC1123Z in UTC, as in MissSchedule events: `Mon, 02 Jan 2006 15:04:05 +0000`. */
function rfc1123z(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000')
}

export function jobRef(j: Job): ObjectReference {
  return { kind: 'Job', namespace: j.metadata.namespace!, name: j.metadata.name!, uid: j.metadata.uid!, apiVersion: 'batch/v1', resourceVersion: j.metadata.resourceVersion! }
}

export function jobNameFor(cj: CronJob, scheduledMs: number): string {
  return `${cj.metadata.name}-${Math.floor(scheduledMs / 60_000)}`
}

/** RFC 3339 in the schedule's zone, as upstream's cronjob-scheduled-timestamp annotation. */
export function zonedRfc3339(ms: number, tz: string | undefined): string {
  if (!tz || tz === 'UTC') return iso(ms)
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  )
  const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second))
  const off = Math.round((local - Math.floor(ms / 1000) * 1000) / 60_000)
  if (off === 0) return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}Z`
  const sign = off < 0 ? '-' : '+'
  const a = Math.abs(off)
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`
}

/** getJobFromTemplate2. */
export function jobForCronJob(cj: CronJob, scheduledMs: number): Job {
  const t = cj.spec.jobTemplate
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameFor(cj, scheduledMs),
      namespace: cj.metadata.namespace!,
      labels: { ...(t.metadata?.labels ?? {}) },
      annotations: { ...(t.metadata?.annotations ?? {}), [ANNOTATION_CRONJOB_SCHEDULED_TIMESTAMP]: zonedRfc3339(scheduledMs, cj.spec.timeZone) },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name!, uid: cj.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: structuredClone(t.spec),
  }
}

export interface MostRecent {
  /** The latest activation in (earliest, now], if any. */
  mostRecent?: number
  missed: number
}

/** mostRecentScheduleTime, counting missed activations (walks at most ~20 steps, then estimates). */
export function mostRecentScheduleTime(cj: CronJob, sched: Schedule, now: number): MostRecent {
  let earliest = Date.parse(cj.status?.lastScheduleTime ?? cj.metadata.creationTimestamp ?? '') || now
  const sds = cj.spec.startingDeadlineSeconds
  if (sds !== undefined && sds !== null) earliest = Math.max(earliest, now - sds * 1000)
  const t1 = sched.next(new Date(earliest))?.getTime()
  if (t1 === undefined || now < t1) return { missed: 0 }
  const t2 = sched.next(new Date(t1))?.getTime()
  if (t2 === undefined || now < t2) return { mostRecent: t1, missed: 1 }
  let cur = t1
  let missed = 1
  for (let i = 0; i < 20; i++) {
    const n = sched.next(new Date(cur))?.getTime()
    if (n === undefined || n > now) return { mostRecent: cur, missed }
    cur = n
    missed++
  }
  // Many missed: estimate from the spacing of the first two, then walk the last stretch.
  const step = Math.max(1000, t2 - t1)
  missed = 1 + Math.floor((now - t1) / step)
  cur = Math.max(cur, now - 2 * step)
  let last: number | undefined
  for (let n = sched.next(new Date(cur - 1))?.getTime(); n !== undefined && n <= now; n = sched.next(new Date(n))?.getTime()) last = n
  return { mostRecent: last ?? cur, missed }
}

function finishedType(j: Job): string {
  return getCondition(j.status?.conditions, 'Complete')?.status === 'True' ? 'Complete' : 'Failed'
}

export function reconcileCronJob(input: CronJobInput): CronJobResult {
  const { cj, now } = input
  const events: CronJobEvent[] = []
  const status: CronJobStatus = structuredClone(cj.status ?? {})
  let active = [...(status.active ?? [])]
  const owned = input.jobs.filter((j) => controllerRef(j)?.uid === cj.metadata.uid)
  const ownedUids = new Set(owned.map((j) => j.metadata.uid!))
  for (const j of owned) {
    const found = active.some((a) => a.uid === j.metadata.uid)
    if (!found && !isJobFinished(j)) {
      events.push({ type: 'Warning', reason: 'UnexpectedJob', message: `Saw a job that the controller did not create or forgot: ${j.metadata.name}` })
    } else if (found && isJobFinished(j)) {
      active = active.filter((a) => a.uid !== j.metadata.uid)
      events.push({ type: 'Normal', reason: 'SawCompletedJob', message: `Saw completed job: ${j.metadata.name}, condition: ${finishedType(j)}` })
    }
    if (finishedType(j) === 'Complete' && isJobFinished(j) && j.status?.completionTime) {
      const ct = j.status.completionTime
      if (!status.lastSuccessfulTime || Date.parse(ct) > Date.parse(status.lastSuccessfulTime)) status.lastSuccessfulTime = ct
    }
  }
  for (const a of [...active]) {
    if (ownedUids.has(a.uid!) || !input.goneActive?.has(a.uid!)) continue
    events.push({ type: 'Normal', reason: 'MissingJob', message: `Active job went missing: ${a.name}` })
    active = active.filter((x) => x.uid !== a.uid)
  }
  if (active.length || status.active) status.active = active
  if (status.active?.length === 0) delete status.active
  const out = (extra: Partial<CronJobResult> = {}): CronJobResult => ({
    status,
    statusChanged: canonicalJSON(status) !== canonicalJSON(cj.status ?? {}),
    replace: [],
    events,
    ...extra,
  })

  if (isDeleting(cj)) return out()
  const tz = cj.spec.timeZone
  if (tz !== undefined && tz !== null && !isKnownTimeZone(tz)) {
    events.push({ type: 'Warning', reason: 'UnknownTimeZone', message: `invalid timeZone: ${JSON.stringify(tz)}: unknown time zone ${tz}` })
    return out()
  }
  if (cj.spec.suspend) return out()
  let sched: Schedule
  try {
    sched = parseSchedule(cj.spec.schedule, tz ?? undefined)
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err
    events.push({ type: 'Warning', reason: 'UnparseableSchedule', message: `unparseable schedule: ${JSON.stringify(cj.spec.schedule)} : ${err.message}` })
    return out()
  }
  const nextIn = (): number | undefined => {
    const n = sched.next(new Date(now))?.getTime()
    return n === undefined ? undefined : Math.max(0, n - now) + 100
  }
  const requeue = (extra: Partial<CronJobResult> = {}): CronJobResult => {
    const r = nextIn()
    return out(r === undefined ? extra : { ...extra, requeueAfterMs: r })
  }
  const { mostRecent, missed } = mostRecentScheduleTime(cj, sched, now)
  if (missed > 100)
    events.push({ type: 'Warning', reason: 'TooManyMissedTimes', message: `too many missed start times: ${missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew` })
  if (mostRecent === undefined) return requeue()
  const sds = cj.spec.startingDeadlineSeconds
  if (sds !== undefined && sds !== null && mostRecent + sds * 1000 < now) {
    events.push({ type: 'Warning', reason: 'MissSchedule', message: `Missed scheduled time to start a job: ${rfc1123z(mostRecent)}` })
    return requeue()
  }
  const name = jobNameFor(cj, mostRecent)
  if (active.some((a) => a.name === name) || (status.lastScheduleTime && Date.parse(status.lastScheduleTime) === mostRecent)) return requeue()
  if (cj.spec.concurrencyPolicy === 'Forbid' && active.length > 0) {
    events.push({ type: 'Normal', reason: 'JobAlreadyActive', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' })
    return requeue()
  }
  const replace = cj.spec.concurrencyPolicy === 'Replace' ? [...active] : []
  return requeue({ replace, create: { job: jobForCronJob(cj, mostRecent), scheduledTime: iso(mostRecent) } })
}

/** cleanupFinishedJobs: finished Jobs beyond the history limits, oldest start first. */
export function jobsToPrune(cj: CronJob, jobs: Job[]): Job[] {
  const owned = jobs.filter((j) => controllerRef(j)?.uid === cj.metadata.uid && isJobFinished(j) && !isDeleting(j))
  const start = (j: Job): number => (j.status?.startTime ? Date.parse(j.status.startTime) : Number.POSITIVE_INFINITY)
  const byStart = (a: Job, b: Job): number => start(a) - start(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')
  const prune = (list: Job[], limit: number | undefined): Job[] => {
    if (limit === undefined || limit === null) return []
    const sorted = [...list].sort(byStart)
    return sorted.slice(0, Math.max(0, sorted.length - limit))
  }
  const ok = owned.filter((j) => finishedType(j) === 'Complete')
  const bad = owned.filter((j) => finishedType(j) !== 'Complete')
  return [...prune(ok, cj.spec.successfulJobsHistoryLimit), ...prune(bad, cj.spec.failedJobsHistoryLimit)]
}
