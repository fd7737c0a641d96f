// The CronJob core as tables on a fake clock: what runs when, and what is skipped.
import t from 'tap'
import type { CronJob, Job } from '../../src/api/types.js'
import { jobsToPrune, mostRecentScheduleTime, reconcileCronJob, zonedRfc3339 } from '../../src/controllers/cronjob-core.js'
import { parseSchedule } from '../../src/api/cron.js'
import { ttlDecision } from '../../src/controllers/ttlafterfinished-core.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const at = (min: number, sec = 0): number => T0 + min * 60_000 + sec * 1000
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

function cron(spec: Partial<CronJob['spec']> = {}, status: CronJob['status'] = {}): CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'tick', namespace: 'd', uid: 'cj1', creationTimestamp: iso(at(0, 10)) },
    spec: {
      schedule: '*/1 * * * *',
      concurrencyPolicy: 'Allow',
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: { metadata: { labels: { app: 'tick' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } },
      ...spec,
    },
    status,
  }
}

function job(name: string, o: { done?: 'Complete' | 'Failed'; startMin?: number; owner?: string } = {}): Job {
  return {
    metadata: { name, namespace: 'd', uid: `u-${name}`, resourceVersion: '7', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: o.owner ?? 'cj1', controller: true }] },
    spec: { template: { spec: { containers: [] } } },
    status: {
      ...(o.startMin !== undefined ? { startTime: iso(at(o.startMin)) } : {}),
      ...(o.done ? { conditions: [{ type: o.done, status: 'True' as const }], ...(o.done === 'Complete' ? { completionTime: iso(at(o.startMin ?? 0, 30)) } : {}) } : {}),
    },
  }
}

const ref = (j: Job) => ({ kind: 'Job', namespace: 'd', name: j.metadata.name!, uid: j.metadata.uid!, apiVersion: 'batch/v1', resourceVersion: '7' })

t.test('when a Job is created', async (t) => {
  const cases: { name: string; cj: CronJob; jobs?: Job[]; now: number; create?: string; events?: string[]; requeue?: number }[] = [
    { name: 'before the first slot: wait for it', cj: cron(), now: at(0, 40), requeue: 20_100 },
    { name: 'first slot reached: <name>-<minutes since epoch>', cj: cron(), now: at(1, 2), create: `tick-${at(1) / 60_000}`, requeue: 58_100 },
    { name: 'slot already taken (lastScheduleTime)', cj: cron({}, { lastScheduleTime: iso(at(1)) }), now: at(1, 30), requeue: 30_100 },
    { name: 'missed slots: only the most recent runs', cj: cron(), now: at(5, 1), create: `tick-${at(5) / 60_000}` },
    // Upstream counts slots only from now − startingDeadlineSeconds on: older ones pass silently.
    { name: 'slot older than startingDeadlineSeconds: skipped', cj: cron({ startingDeadlineSeconds: 10 }, { lastScheduleTime: iso(at(1)) }), now: at(2, 20), requeue: 40_100 },
    { name: 'slot within startingDeadlineSeconds: runs', cj: cron({ startingDeadlineSeconds: 30 }, { lastScheduleTime: iso(at(1)) }), now: at(2, 20), create: `tick-${at(2) / 60_000}` },
    { name: 'suspended: nothing', cj: cron({ suspend: true }), now: at(3) },
    {
      name: 'Forbid with an active Job: JobAlreadyActive, no create',
      cj: cron({ concurrencyPolicy: 'Forbid' }, { lastScheduleTime: iso(at(1)), active: [ref(job('tick-a'))] }),
      jobs: [job('tick-a', { startMin: 1 })],
      now: at(2, 1),
      events: ['JobAlreadyActive'],
    },
    {
      name: 'Allow with an active Job: runs beside it',
      cj: cron({}, { lastScheduleTime: iso(at(1)), active: [ref(job('tick-a'))] }),
      jobs: [job('tick-a', { startMin: 1 })],
      now: at(2, 1),
      create: `tick-${at(2) / 60_000}`,
    },
  ]
  for (const c of cases) {
    const r = reconcileCronJob({ cj: c.cj, jobs: c.jobs ?? [], now: c.now })
    t.equal(r.create?.job.metadata.name, c.create, `${c.name}: create`)
    t.same(r.events.map((e) => e.reason), c.events ?? [], `${c.name}: events`)
    if (c.requeue !== undefined) t.equal(r.requeueAfterMs, c.requeue, `${c.name}: requeue`)
  }
})

t.test('the Job made from the template', async (t) => {
  const r = reconcileCronJob({ cj: cron({ timeZone: 'Europe/Berlin' }), jobs: [], now: at(1, 1) })
  const j = r.create!.job
  t.same(j.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: 'cj1', controller: true, blockOwnerDeletion: true }])
  t.same(j.metadata.labels, { app: 'tick' })
  t.equal(j.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-01-01T01:01:00+01:00', 'scheduled time in the CronJob zone')
  t.equal(r.create!.scheduledTime, '2026-01-01T00:01:00Z')
  t.equal(zonedRfc3339(at(0), undefined), '2026-01-01T00:00:00Z')
  t.equal(zonedRfc3339(Date.parse('2026-07-01T12:00:00Z'), 'America/New_York'), '2026-07-01T08:00:00-04:00')
})

t.test('Replace deletes the active Jobs first', async (t) => {
  const a = job('tick-a', { startMin: 1 })
  const r = reconcileCronJob({ cj: cron({ concurrencyPolicy: 'Replace' }, { lastScheduleTime: iso(at(1)), active: [ref(a)] }), jobs: [a], now: at(2, 1) })
  t.same(r.replace.map((x) => x.name), ['tick-a'])
  t.ok(r.create)
})

t.test('the active list follows the Jobs', async (t) => {
  const done = job('tick-done', { done: 'Complete', startMin: 1 })
  const gone = job('tick-gone')
  const stray = job('tick-stray', { startMin: 1 })
  const r = reconcileCronJob({
    cj: cron({ suspend: true }, { active: [ref(done), ref(gone)] }),
    jobs: [done, stray],
    now: at(3),
    goneActive: new Set(['u-tick-gone']),
  })
  t.same(r.events.map((e) => `${e.reason}: ${e.message}`), [
    'SawCompletedJob: Saw completed job: tick-done, condition: Complete',
    'UnexpectedJob: Saw a job that the controller did not create or forgot: tick-stray',
    'MissingJob: Active job went missing: tick-gone',
  ])
  t.equal(r.status.active, undefined, 'both left the active list')
  t.equal(r.status.lastSuccessfulTime, iso(at(1, 30)))
  t.ok(r.statusChanged)
  // An active ref missing from the cache but not confirmed gone stays (a slow watch is no proof).
  const keep = reconcileCronJob({ cj: cron({ suspend: true }, { active: [ref(gone)] }), jobs: [], now: at(3) })
  t.equal(keep.status.active?.length, 1)
})

t.test('history limits: oldest finished first, per outcome', async (t) => {
  const jobs = [
    job('s1', { done: 'Complete', startMin: 1 }),
    job('s2', { done: 'Complete', startMin: 2 }),
    job('s3', { done: 'Complete', startMin: 3 }),
    job('s4', { done: 'Complete', startMin: 4 }),
    job('f1', { done: 'Failed', startMin: 1 }),
    job('f2', { done: 'Failed', startMin: 2 }),
    job('run', { startMin: 5 }),
    job('other', { done: 'Complete', startMin: 0, owner: 'zzz' }),
  ]
  t.same(jobsToPrune(cron(), jobs).map((j) => j.metadata.name), ['s1', 'f1'])
  t.same(jobsToPrune(cron({ successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: 0 }), jobs).map((j) => j.metadata.name), ['s1', 's2', 's3', 's4', 'f1', 'f2'])
})

t.test('many missed times are estimated, not walked one by one', async (t) => {
  const year = Date.parse('2027-01-01T00:00:30Z')
  const r = mostRecentScheduleTime(cron(), parseSchedule('*/1 * * * *'), year)
  t.equal(iso(r.mostRecent!), '2027-01-01T00:00:00Z')
  t.ok(r.missed > 500_000, `missed ${r.missed}`)
  const rec = reconcileCronJob({ cj: cron(), jobs: [], now: year })
  t.ok(rec.events.some((e) => e.reason === 'TooManyMissedTimes'))
  t.equal(rec.create?.job.metadata.name, `tick-${Date.parse('2027-01-01T00:00:00Z') / 60_000}`)
})

t.test('ttlSecondsAfterFinished', async (t) => {
  const fin = (ttl: number | undefined, agoS: number): Job => ({
    metadata: { name: 'j', namespace: 'd' },
    spec: { template: { spec: { containers: [] } }, ...(ttl !== undefined ? { ttlSecondsAfterFinished: ttl } : {}) },
    status: { conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: iso(at(10) - agoS * 1000) }] },
  })
  t.same(ttlDecision(fin(undefined, 100), at(10)), { kind: 'none' })
  t.same(ttlDecision(fin(60, 100), at(10)), { kind: 'delete' })
  t.same(ttlDecision(fin(60, 20), at(10)), { kind: 'requeue', afterMs: 40_000 })
  t.same(ttlDecision({ ...fin(0, 0), status: {} }, at(10)), { kind: 'none' }, 'not finished')
})
