// TTL-after-finished core (pkg/controller/ttlafterfinished): a finished Job with
// `ttlSecondsAfterFinished` is deleted that long after its Complete/Failed condition.
import type { Job } from '../api/types.js'
import { isJobFinished, jobFinishedAt } from './job-core.js'

export type TTLDecision = { kind: 'none' } | { kind: 'delete' } | { kind: 'requeue'; afterMs: number }

export function ttlDecision(job: Job, now: number): TTLDecision {
  const ttl = job.spec?.ttlSecondsAfterFinished
  if (ttl === undefined || ttl === null || job.metadata.deletionTimestamp || !isJobFinished(job)) return { kind: 'none' }
  const at = jobFinishedAt(job)
  if (at === undefined) return { kind: 'none' }
  const expireAt = at + ttl * 1000
  return now >= expireAt ? { kind: 'delete' } : { kind: 'requeue', afterMs: expireAt - now }
}
