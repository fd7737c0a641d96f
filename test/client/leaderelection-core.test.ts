// The pure half of leader election: what a candidate does given the Lease it read, what it
// observed before, its clock and identity (client-go's tryAcquireOrRenew / release rules).
import t from 'tap'
import type { Lease } from '../../src/api/types.js'
import {
  NOTHING_OBSERVED,
  afterWrite,
  decide,
  fastRenew,
  isLeaseValid,
  leaseSpec,
  microTime,
  recordFromLease,
  releaseRecord,
  validateTiming,
  type LeaderElectionRecord,
  type Observed,
} from '../../src/client/leaderelection-core.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const ME = 'host-a_1111'
const OTHER = 'host-b_2222'
const LEASE_MS = 15_000

const lease = (spec: Lease['spec']): Lease => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'x', namespace: 'kube-system', resourceVersion: '7' }, ...(spec ? { spec } : {}) })
const held = (holder: string, renewAt: number, extra: Partial<NonNullable<Lease['spec']>> = {}): Lease =>
  lease({ holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: microTime(T0 - 60_000), renewTime: microTime(renewAt), leaseTransitions: 3, ...extra })
/** The state after having read `l` at time `at`. */
const sawAt = (l: Lease, at: number): Observed => decide({ lease: l, observed: NOTHING_OBSERVED, now: at, identity: 'nobody', leaseDurationMs: LEASE_MS }).observed

t.test('decide: one row per situation', async (t) => {
  type Row = { name: string; lease: Lease | undefined; observed: Observed; now: number; want: string; holder?: string; transitions?: number; acquireTime?: string }
  const otherLease = held(OTHER, T0)
  const rows: Row[] = [
    { name: 'no Lease: create it, holding it', lease: undefined, observed: NOTHING_OBSERVED, now: T0, want: 'create', holder: ME, transitions: 0, acquireTime: microTime(T0) },
    { name: 'first sight of a held lease: wait (its clock starts now, whatever renewTime says)', lease: held(OTHER, T0 - 3600_000), observed: NOTHING_OBSERVED, now: T0, want: 'wait', holder: OTHER },
    { name: 'unchanged for less than the lease: wait', lease: otherLease, observed: sawAt(otherLease, T0), now: T0 + 14_999, want: 'wait', holder: OTHER },
    { name: 'unchanged for the whole lease: acquire, transitions + 1', lease: otherLease, observed: sawAt(otherLease, T0), now: T0 + 15_000, want: 'acquire', holder: ME, transitions: 4, acquireTime: microTime(T0 + 15_000) },
    { name: 'renewed meanwhile: the clock restarts, wait', lease: held(OTHER, T0 + 10_000), observed: sawAt(otherLease, T0), now: T0 + 16_000, want: 'wait', holder: OTHER },
    { name: 'released (empty holder): acquire at once', lease: lease({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 5, renewTime: microTime(T0), acquireTime: microTime(T0) }), observed: NOTHING_OBSERVED, now: T0, want: 'acquire', holder: ME, transitions: 6 },
    { name: 'a Lease with no spec: acquire', lease: lease(undefined), observed: NOTHING_OBSERVED, now: T0, want: 'acquire', holder: ME, transitions: 1 },
    { name: 'ours: renew, keeping acquireTime and transitions', lease: held(ME, T0), observed: sawAt(held(ME, T0), T0), now: T0 + 2000, want: 'renew', holder: ME, transitions: 3, acquireTime: microTime(T0 - 60_000) },
    { name: 'ours even past its expiry (nobody took it): renew', lease: held(ME, T0), observed: sawAt(held(ME, T0), T0), now: T0 + 60_000, want: 'renew', holder: ME, transitions: 3 },
    { name: 'we led, another now holds it validly: lost', lease: held(OTHER, T0 + 1000), observed: afterWrite(sawAt(held(ME, T0), T0), recordFromLease(held(ME, T0)), T0), now: T0 + 2000, want: 'lost', holder: OTHER },
    { name: 'a short lease of another, expired: acquire', lease: held(OTHER, T0, { leaseDurationSeconds: 2 }), observed: sawAt(held(OTHER, T0, { leaseDurationSeconds: 2 }), T0), now: T0 + 2000, want: 'acquire', holder: ME, transitions: 4 },
  ]
  for (const r of rows) {
    const { step } = decide({ lease: r.lease, observed: r.observed, now: r.now, identity: ME, leaseDurationMs: LEASE_MS })
    t.equal(step.kind, r.want, r.name)
    if ('record' in step) {
      t.equal(step.record.holderIdentity, r.holder, `${r.name}: holder`)
      t.equal(step.record.leaseDurationSeconds, 15, `${r.name}: our duration`)
      t.equal(step.record.renewTime, microTime(r.now), `${r.name}: renewTime = now`)
      if (r.transitions !== undefined) t.equal(step.record.leaseTransitions, r.transitions, `${r.name}: transitions`)
      if (r.acquireTime !== undefined) t.equal(step.record.acquireTime, r.acquireTime, `${r.name}: acquireTime`)
    } else if (r.holder) t.equal(step.holder, r.holder, `${r.name}: holder`)
  }
})

t.test('expiry uses the observed record duration and the observer clock', async (t) => {
  const l = held(OTHER, T0, { leaseDurationSeconds: 40 })
  const o = sawAt(l, T0 + 5)
  t.ok(isLeaseValid(o, T0 + 40_004), 'valid just before observed time + 40 s')
  t.notOk(isLeaseValid(o, T0 + 40_005), 'expired at observed time + 40 s')
  const again = decide({ lease: l, observed: o, now: T0 + 30_000, identity: ME, leaseDurationMs: LEASE_MS })
  t.equal(again.observed.time, T0 + 5, 'reading the same record again does not move the observed time')
  const w = again.step
  t.same(w, { kind: 'wait', holder: OTHER, expiresAt: T0 + 40_005 })
})

t.test('fast path, writes and release', async (t) => {
  const mine: LeaderElectionRecord = { holderIdentity: ME, leaseDurationSeconds: 15, acquireTime: microTime(T0), renewTime: microTime(T0), leaseTransitions: 2 }
  const o = afterWrite(NOTHING_OBSERVED, mine, T0)
  t.same(fastRenew(o, T0 + 2000, ME, LEASE_MS), { ...mine, renewTime: microTime(T0 + 2000) }, 'the leader renews without reading')
  t.equal(fastRenew(o, T0 + 15_000, ME, LEASE_MS), undefined, 'not once its own lease ran out (read first)')
  t.equal(fastRenew(o, T0, OTHER, LEASE_MS), undefined, 'not for a non-leader')
  t.equal(fastRenew(afterWrite(o, mine, T0), T0 + 1, ME, 2500)?.leaseDurationSeconds, 2, 'durations are written in whole seconds')
  t.same(releaseRecord(o, T0 + 1, ME), { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: microTime(T0 + 1), renewTime: microTime(T0 + 1), leaseTransitions: 2 })
  t.equal(releaseRecord(o, T0, OTHER), undefined, 'a non-holder releases nothing')
  // After our own write the raw text of the last read is kept, so the next read counts as a change.
  const read = decide({ lease: lease(leaseSpec(mine)), observed: o, now: T0 + 9000, identity: ME, leaseDurationMs: LEASE_MS })
  t.equal(read.observed.time, T0 + 9000)
})

t.test('Lease <-> record', async (t) => {
  const r: LeaderElectionRecord = { holderIdentity: ME, leaseDurationSeconds: 15, acquireTime: microTime(T0), renewTime: microTime(T0 + 1), leaseTransitions: 0 }
  t.same(recordFromLease(lease(leaseSpec(r))), r, 'round trip')
  t.same(leaseSpec({ ...r, acquireTime: '', renewTime: '' }), { holderIdentity: ME, leaseDurationSeconds: 15, leaseTransitions: 0 }, 'absent times stay absent')
  t.equal(microTime(T0 + 123), '2026-01-01T00:00:00.123000Z', 'MicroTime has six fractional digits')
})

t.test('validateTiming, with upstream wording', async (t) => {
  const ok = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }
  t.equal(validateTiming(ok), undefined)
  t.equal(validateTiming({ ...ok, renewDeadlineMs: 15_000 }), 'leaseDuration must be greater than renewDeadline')
  t.equal(validateTiming({ ...ok, retryPeriodMs: 9000 }), 'renewDeadline must be greater than retryPeriod*JitterFactor')
  t.equal(validateTiming({ leaseDurationMs: 900, renewDeadlineMs: 500, retryPeriodMs: 100 }), 'leaseDuration must be at least 1s')
  t.equal(validateTiming({ leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 300 }), undefined, 'the short test timings are valid')
})
