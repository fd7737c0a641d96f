// Leader election decisions on a coordination.k8s.io/v1 Lease, as client-go's `leaderelection`
// takes them (tryAcquireOrRenew, release), with no I/O: the loop in leaderelection.ts reads and
// writes the Lease and feeds what it saw in here.
//
// Design notes
// - Expiry is judged on the *observer's* clock, never the holder's: a candidate remembers when
//   it last saw the record change (`Observed.time`) and the lease is valid until that moment +
//   the record's leaseDurationSeconds. Clock offsets between machines do not matter, only rates.
// - "Changed" is a comparison of the record as read (all five fields), so a holder that keeps
//   renewing keeps moving renewTime and therefore keeps its lease valid in everyone's eyes.
// - A write that succeeds resets the observed time to now without touching the raw text of the
//   last read, exactly as upstream does (the next read then always counts as a change).
// - leaseTransitions grows by one whenever the holder changes to us; a renewal keeps
//   acquireTime and leaseTransitions from the record it renews.
// - A release writes an empty holder and leaseDurationSeconds 1 so a successor acquires at its
//   next try instead of waiting out the lease.
import type { Lease } from '../api/types.js'
import { microTime } from '../events/recorder.js'

/** What a Lease's spec says, with client-go's zero values for absent fields. */
export interface LeaderElectionRecord {
  holderIdentity: string
  leaseDurationSeconds: number
  /** metav1.MicroTime text ('' when absent). */
  acquireTime: string
  renewTime: string
  leaseTransitions: number
}

/** What this candidate last saw: the record, its text as read, and when it was seen to change. */
export interface Observed {
  record: LeaderElectionRecord | undefined
  /** Canonical text of the record as last read (writes do not update it). */
  raw: string | undefined
  /** Local clock (ms) when the record was last seen to change or was last written by us. */
  time: number
}

export const NOTHING_OBSERVED: Observed = { record: undefined, raw: undefined, time: 0 }

export interface Timing {
  /** Candidates wait this long after the last observed change before taking over. */
  leaseDurationMs: number
  /** The leader gives up when it could not renew for this long. */
  renewDeadlineMs: number
  /** Time between tries. */
  retryPeriodMs: number
}

/** client-go's jitter for the acquire loop: each wait is retryPeriod·(1 + rand·1.2). */
export const JITTER_FACTOR = 1.2

/** NewLeaderElector's checks, with its wording. */
export function validateTiming(t: Timing): string | undefined {
  if (t.leaseDurationMs <= t.renewDeadlineMs) return 'leaseDuration must be greater than renewDeadline'
  if (t.renewDeadlineMs <= JITTER_FACTOR * t.retryPeriodMs) return 'renewDeadline must be greater than retryPeriod*JitterFactor'
  if (t.leaseDurationMs < 1) return 'leaseDuration must be greater than zero'
  if (t.renewDeadlineMs < 1) return 'renewDeadline must be greater than zero'
  if (t.retryPeriodMs < 1) return 'retryPeriod must be greater than zero'
  // Ours: the Lease keeps whole seconds and validation refuses 0, so a shorter lease could never be written.
  if (t.leaseDurationMs < 1000) return 'leaseDuration must be at least 1s'
  return undefined
}

export { microTime }

export function recordFromLease(lease: Lease): LeaderElectionRecord {
  const s = lease.spec ?? {}
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: s.acquireTime ?? '',
    renewTime: s.renewTime ?? '',
    leaseTransitions: s.leaseTransitions ?? 0,
  }
}

/** The Lease spec a record is written as (client-go's LeaderElectionRecordToLeaseSpec). */
export function leaseSpec(r: LeaderElectionRecord): NonNullable<Lease['spec']> {
  const spec: NonNullable<Lease['spec']> = {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    leaseTransitions: r.leaseTransitions,
  }
  if (r.acquireTime) spec.acquireTime = r.acquireTime
  if (r.renewTime) spec.renewTime = r.renewTime
  return spec
}

const rawOf = (r: LeaderElectionRecord): string =>
  JSON.stringify([r.holderIdentity, r.leaseDurationSeconds, r.acquireTime, r.renewTime, r.leaseTransitions])

export const isLeader = (o: Observed, identity: string): boolean => o.record?.holderIdentity === identity

/** Valid until the last observed change + the observed record's own duration. */
export const validUntil = (o: Observed): number => o.time + (o.record?.leaseDurationSeconds ?? 0) * 1000
export const isLeaseValid = (o: Observed, now: number): boolean => validUntil(o) > now

/** Whole seconds, as upstream truncates LeaseDuration into leaseDurationSeconds. */
const durationSeconds = (ms: number): number => Math.floor(ms / 1000)

/** What we write once a write succeeds: the observed record becomes ours, seen now. */
export function afterWrite(o: Observed, record: LeaderElectionRecord, now: number): Observed {
  return { record, raw: o.raw, time: now }
}

/**
 * Fast path: a leader whose lease is still valid renews on the Lease it last wrote, without
 * reading first (an update conflict sends it to the slow path, `decide`).
 */
export function fastRenew(o: Observed, now: number, identity: string, leaseDurationMs: number): LeaderElectionRecord | undefined {
  if (!isLeader(o, identity) || !isLeaseValid(o, now)) return undefined
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds(leaseDurationMs),
    acquireTime: o.record!.acquireTime,
    renewTime: microTime(now),
    leaseTransitions: o.record!.leaseTransitions,
  }
}

export type Step =
  /** No Lease yet: create it, holding it. */
  | { kind: 'create'; record: LeaderElectionRecord }
  /** Take over a released or expired lease (leaseTransitions + 1). */
  | { kind: 'acquire'; record: LeaderElectionRecord; from: string }
  /** We hold it: write a new renewTime. */
  | { kind: 'renew'; record: LeaderElectionRecord }
  /** Someone else holds a valid lease. */
  | { kind: 'wait'; holder: string; expiresAt: number }
  /** We thought we held it, and someone else now holds it validly. */
  | { kind: 'lost'; holder: string }

export interface DecideInput {
  /** What the last read returned (undefined: NotFound). */
  lease: Lease | undefined
  observed: Observed
  now: number
  identity: string
  leaseDurationMs: number
}

/** The slow path of tryAcquireOrRenew, after a read. Returns the step and what is now observed. */
export function decide(i: DecideInput): { step: Step; observed: Observed } {
  const mine = (acquireTime: string, transitions: number): LeaderElectionRecord => ({
    holderIdentity: i.identity,
    leaseDurationSeconds: durationSeconds(i.leaseDurationMs),
    acquireTime,
    renewTime: microTime(i.now),
    leaseTransitions: transitions,
  })
  if (!i.lease) return { step: { kind: 'create', record: mine(microTime(i.now), 0) }, observed: i.observed }

  const wasLeader = isLeader(i.observed, i.identity)
  const current = recordFromLease(i.lease)
  const raw = rawOf(current)
  const observed: Observed = raw === i.observed.raw ? i.observed : { record: current, raw, time: i.now }

  if (current.holderIdentity !== '' && isLeaseValid(observed, i.now) && !isLeader(observed, i.identity)) {
    const step: Step = wasLeader
      ? { kind: 'lost', holder: current.holderIdentity }
      : { kind: 'wait', holder: current.holderIdentity, expiresAt: validUntil(observed) }
    return { step, observed }
  }
  if (isLeader(observed, i.identity)) {
    return { step: { kind: 'renew', record: mine(current.acquireTime, current.leaseTransitions) }, observed }
  }
  return { step: { kind: 'acquire', record: mine(microTime(i.now), current.leaseTransitions + 1), from: current.holderIdentity }, observed }
}

/** ReleaseOnCancel: the record that hands the lease on at once (undefined: not ours to release). */
export function releaseRecord(o: Observed, now: number, identity: string): LeaderElectionRecord | undefined {
  if (!isLeader(o, identity)) return undefined
  const t = microTime(now)
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: t, renewTime: t, leaseTransitions: o.record!.leaseTransitions }
}
