// The Job core as tables: pods in, actions out, on a fake clock.
import t from 'tap'
import type { Job, JobStatus, Pod } from '../../src/api/types.js'
import { FINALIZER_JOB_TRACKING } from '../../src/api/types.js'
import { formatIndexes, parseIndexes, podForJob, reconcileJob, remainingBackoffMs, type JobAction } from '../../src/controllers/job-core.js'

const NOW = Date.parse('2026-01-01T00:10:00Z')
const iso = (secAgo: number): string => new Date(NOW - secAgo * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')

function job(spec: Partial<Job['spec']> = {}, status: JobStatus = { startTime: iso(100) }): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'd', uid: 'j1', generation: 1 },
    spec: {
      completions: 5,
      parallelism: 2,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'j1' } },
      template: { metadata: { labels: { 'batch.kubernetes.io/controller-uid': 'j1', 'batch.kubernetes.io/job-name': 'pi' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } },
      ...spec,
    },
    status,
  }
}

interface P {
  name: string
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed'
  fin?: boolean
  index?: number
  finishedAgo?: number
  deleting?: boolean
  restarts?: number
}
function pod(o: P): Pod {
  const p: Pod = {
    metadata: {
      name: o.name,
      namespace: 'd',
      uid: `u-${o.name}`,
      labels: { 'batch.kubernetes.io/controller-uid': 'j1' },
      creationTimestamp: iso(50),
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'j1', controller: true }],
      ...(o.fin === false ? {} : { finalizers: [FINALIZER_JOB_TRACKING] }),
      ...(o.index !== undefined ? { annotations: { 'batch.kubernetes.io/job-completion-index': String(o.index) } } : {}),
      ...(o.deleting ? { deletionTimestamp: iso(1) } : {}),
    },
    spec: { nodeName: 'n', containers: [] },
    status: { phase: o.phase ?? 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: o.restarts ?? 0, image: '', imageID: '' }] },
  }
  if (o.finishedAgo !== undefined) p.status!.containerStatuses![0]!.state = { terminated: { exitCode: o.phase === 'Failed' ? 1 : 0, finishedAt: iso(o.finishedAgo) } }
  return p
}

const kinds = (as: JobAction[]): string[] => as.map((a) => (a.kind === 'create' ? `create ${a.pods.length}` : a.kind === 'event' ? `event ${a.reason}` : a.kind === 'delete' || a.kind === 'removeFinalizers' ? `${a.kind} ${a.pods.join(',')}` : a.kind))
const statusOf = (as: JobAction[]): JobStatus | undefined => (as.find((a) => a.kind === 'status') as { status: JobStatus } | undefined)?.status

t.test('parallelism and completions decide how many pods start', async (t) => {
  const cases: { name: string; j: Job; pods: Pod[]; want: string[] }[] = [
    { name: 'fresh Job: parallelism 2', j: job({}, {}), pods: [], want: ['status', 'create 2'] },
    { name: '2 running: nothing to do but status', j: job(), pods: [pod({ name: 'a' }), pod({ name: 'b' })], want: ['status'] },
    { name: '4 succeeded (counted), 1 left: one pod, not two', j: job({}, { startTime: iso(100), succeeded: 4, active: 0 }), pods: [], want: ['status', 'create 1'] },
    { name: 'parallelism lowered to 1: the extra (pending) pod goes', j: job({ parallelism: 1 }, { startTime: iso(100), active: 2, ready: 2, terminating: 0, succeeded: 0, failed: 0, uncountedTerminatedPods: { succeeded: [], failed: [] } }), pods: [pod({ name: 'a' }), pod({ name: 'b', phase: 'Pending' })], want: ['delete b', 'status'] },
    { name: 'completions unset: one success ends it, no new pods', j: job({ completions: undefined, parallelism: 3 }), pods: [pod({ name: 'a', phase: 'Succeeded', finishedAgo: 1 }), pod({ name: 'b' })], want: ['status', 'removeFinalizers a'] },
    { name: 'suspended: active pods are deleted, no creates', j: job({ suspend: true }), pods: [pod({ name: 'a' })], want: ['event Suspended', 'delete a', 'status'] },
  ]
  for (const c of cases) t.same(kinds(reconcileJob({ job: c.j, pods: c.pods, now: NOW }).actions), c.want, c.name)
})

t.test('the uncounted protocol: record, remove the finalizer, then count — each pod once', async (t) => {
  const j = job({ completions: 2, parallelism: 1 })
  // 1. a pod succeeded: it is written into uncountedTerminatedPods before its finalizer goes.
  const done = pod({ name: 'a', phase: 'Succeeded', finishedAgo: 2 })
  const r1 = reconcileJob({ job: j, pods: [done], now: NOW })
  t.same(kinds(r1.actions), ['status', 'removeFinalizers a', 'create 1'])
  const s1 = statusOf(r1.actions)!
  t.same(s1.uncountedTerminatedPods, { succeeded: ['u-a'], failed: [] })
  t.equal(s1.succeeded, 0, 'not counted before the finalizer is gone')
  // 1b. the removal failed (the pod still has its finalizer): it stays uncounted, and is retried.
  const r1b = reconcileJob({ job: { ...j, status: s1 }, pods: [done, pod({ name: 'b' })], now: NOW })
  t.equal(statusOf(r1b.actions)?.succeeded ?? s1.succeeded, 0, 'not counted while the finalizer is there')
  t.same((statusOf(r1b.actions) ?? s1).uncountedTerminatedPods?.succeeded, ['u-a'], 'recorded once')
  t.ok(r1b.actions.some((a) => a.kind === 'removeFinalizers' && a.pods.includes('a')), 'removal retried')
  // 2. the same pod seen again (removal not yet observed, but expected): nothing is counted twice.
  const r2 = reconcileJob({ job: { ...j, status: s1 }, pods: [done, pod({ name: 'b' })], now: NOW, expectedRmFinalizers: new Set(['u-a']) })
  t.equal(statusOf(r2.actions)?.succeeded ?? s1.succeeded, 1, 'an expected removal counts as removed')
  // 3. finalizer gone: counted.
  const r3 = reconcileJob({ job: { ...j, status: s1 }, pods: [pod({ name: 'a', phase: 'Succeeded', fin: false, finishedAgo: 2 }), pod({ name: 'b' })], now: NOW })
  const s3 = statusOf(r3.actions)!
  t.equal(s3.succeeded, 1)
  t.same(s3.uncountedTerminatedPods, { succeeded: [], failed: [] })
  t.notOk(r3.actions.some((a) => a.kind === 'create'), 'b is running: no extra pod for the 2nd completion')
})

t.test('success: SuccessCriteriaMet first, Complete once nothing is uncounted', async (t) => {
  const j = job({ completions: 1, parallelism: 1 })
  const r1 = reconcileJob({ job: j, pods: [pod({ name: 'a', phase: 'Succeeded', finishedAgo: 1 })], now: NOW })
  const s1 = statusOf(r1.actions)!
  t.same(s1.conditions?.map((c) => [c.type, c.status, c.reason]), [['SuccessCriteriaMet', 'True', 'CompletionsReached']])
  t.notOk(r1.actions.some((a) => a.kind === 'event' && a.reason === 'Completed'))
  const r2 = reconcileJob({ job: { ...j, status: s1 }, pods: [pod({ name: 'a', phase: 'Succeeded', fin: false, finishedAgo: 1 })], now: NOW })
  const s2 = statusOf(r2.actions)!
  t.same(s2.conditions?.map((c) => [c.type, c.reason, c.message]), [
    ['SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'],
    ['Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'],
  ])
  t.equal(s2.succeeded, 1)
  t.equal(s2.completionTime, iso(0))
  t.ok(r2.actions.some((a) => a.kind === 'event' && a.reason === 'Completed' && a.message === 'Job completed'))
  // 3. finished Jobs are left alone (apart from stray finalizers).
  t.same(reconcileJob({ job: { ...j, status: s2 }, pods: [pod({ name: 'late', phase: 'Succeeded' })], now: NOW }).actions, [{ kind: 'removeFinalizers', pods: ['late'] }])
})

t.test('backoffLimit: FailureTarget, active pods deleted, then Failed with BackoffLimitExceeded', async (t) => {
  const j = job({ completions: 3, parallelism: 2, backoffLimit: 1 }, { startTime: iso(100), failed: 1 })
  const pods = [pod({ name: 'f2', phase: 'Failed', finishedAgo: 1 }), pod({ name: 'run' })]
  const r1 = reconcileJob({ job: j, pods, now: NOW })
  t.same(kinds(r1.actions), ['delete run', 'status', 'removeFinalizers f2'])
  const s1 = statusOf(r1.actions)!
  t.same(s1.conditions?.map((c) => [c.type, c.reason, c.message]), [['FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit']])
  t.same(s1.uncountedTerminatedPods?.failed, ['u-f2'], 'the deleted running pod is not counted: its finalizer went before the delete')
  t.equal(s1.terminating, 1)
  // The deleted pod is still terminating: no Failed yet.
  const s1b = { ...s1, failed: 2, uncountedTerminatedPods: { succeeded: [], failed: [] } }
  const r2 = reconcileJob({ job: { ...j, status: s1b }, pods: [pod({ name: 'f2', phase: 'Failed', fin: false, finishedAgo: 1 }), pod({ name: 'run', fin: false, deleting: true })], now: NOW })
  t.notOk(statusOf(r2.actions)?.conditions?.some((c) => c.type === 'Failed'), 'not Failed while a pod terminates')
  const r3 = reconcileJob({ job: { ...j, status: s1b }, pods: [pod({ name: 'f2', phase: 'Failed', fin: false, finishedAgo: 1 })], now: NOW })
  const s3 = statusOf(r3.actions)!
  t.same(s3.conditions?.map((c) => [c.type, c.reason]), [['FailureTarget', 'BackoffLimitExceeded'], ['Failed', 'BackoffLimitExceeded']])
  t.ok(r3.actions.some((a) => a.kind === 'event' && a.type === 'Warning' && a.reason === 'BackoffLimitExceeded'))
  t.equal(s3.completionTime, undefined, 'a failed Job has no completionTime')
})

t.test('restartPolicy OnFailure: container restarts count against backoffLimit', async (t) => {
  const j = job({ completions: 1, parallelism: 1, backoffLimit: 2, template: { ...job().spec.template, spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c' }] } } })
  const under = reconcileJob({ job: j, pods: [pod({ name: 'a', restarts: 1 })], now: NOW })
  t.notOk(statusOf(under.actions)?.conditions?.length)
  const over = reconcileJob({ job: j, pods: [pod({ name: 'a', restarts: 2 })], now: NOW })
  t.equal(statusOf(over.actions)?.conditions?.[0]?.reason, 'BackoffLimitExceeded')
})

t.test('activeDeadlineSeconds: requeue until the deadline, then DeadlineExceeded', async (t) => {
  const j = job({ activeDeadlineSeconds: 120 }, { startTime: iso(100) })
  const before = reconcileJob({ job: j, pods: [pod({ name: 'a' }), pod({ name: 'b' })], now: NOW })
  t.equal(before.requeueAfterMs, 20_000)
  const after = reconcileJob({ job: j, pods: [pod({ name: 'a' }), pod({ name: 'b' })], now: NOW + 21_000 })
  t.same(kinds(after.actions), ['delete a,b', 'status'])
  t.same(statusOf(after.actions)?.conditions?.map((c) => [c.type, c.reason, c.message]), [['FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline']])
})

t.test('back-off: 10 s doubling after each failure, reset by a success, capped', async (t) => {
  const j = job()
  const B = 10_000
  const M = 600_000
  t.equal(remainingBackoffMs(j, [], NOW, B, M), 0)
  t.equal(remainingBackoffMs(j, [pod({ name: 'f', phase: 'Failed', finishedAgo: 3 })], NOW, B, M), 7_000, 'first failure: 10 s after it')
  t.equal(remainingBackoffMs(j, [pod({ name: 'f1', phase: 'Failed', finishedAgo: 30 }), pod({ name: 'f2', phase: 'Failed', finishedAgo: 5 })], NOW, B, M), 15_000, 'second: 20 s after the last')
  t.equal(remainingBackoffMs(j, [pod({ name: 'f1', phase: 'Failed', finishedAgo: 30 }), pod({ name: 's', phase: 'Succeeded', finishedAgo: 20 }), pod({ name: 'f2', phase: 'Failed', finishedAgo: 5 })], NOW, B, M), 5_000, 'a success resets the count')
  const many = Array.from({ length: 12 }, (_, i) => pod({ name: `f${i}`, phase: 'Failed', finishedAgo: 100 - i }))
  t.equal(remainingBackoffMs(j, many, NOW, B, M), M - 89_000, 'capped at the maximum')
  // The core holds the replacement back and asks to be called when the back-off ends.
  const r = reconcileJob({ job: job({ completions: 2, parallelism: 1 }), pods: [pod({ name: 'f', phase: 'Failed', finishedAgo: 3 })], now: NOW })
  t.notOk(r.actions.some((a) => a.kind === 'create'))
  t.equal(r.requeueAfterMs, 7_000)
  const later = reconcileJob({ job: job({ completions: 2, parallelism: 1 }), pods: [pod({ name: 'f', phase: 'Failed', finishedAgo: 11 })], now: NOW })
  t.ok(later.actions.some((a) => a.kind === 'create'))
})

t.test('Indexed: lowest missing indexes, duplicates removed, completedIndexes intervals', async (t) => {
  const j = job({ completionMode: 'Indexed', completions: 5, parallelism: 3 }, { startTime: iso(100), completedIndexes: '1' })
  const r = reconcileJob({ job: j, pods: [pod({ name: 'a', index: 0 }), pod({ name: 'dup', index: 0 }), pod({ name: 's3', index: 3, phase: 'Succeeded', finishedAgo: 1 })], now: NOW })
  const create = r.actions.find((a) => a.kind === 'create') as { pods: Pod[] }
  t.same(create.pods.map((p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index']), ['2', '4'], 'indexes 0 (running), 1 and 3 (done) are not recreated')
  t.ok(r.actions.some((a) => a.kind === 'delete' && a.pods.length === 1), 'one of the two index-0 pods goes')
  t.equal(statusOf(r.actions)?.completedIndexes, '1,3')
  t.same([formatIndexes(new Set([0, 1, 2, 4, 6, 7])), [...parseIndexes('0-2,4,6-7,9', 8)]], ['0-2,4,6-7', [0, 1, 2, 4, 6, 7]])
})

t.test('the pods a Job creates', async (t) => {
  const j = job({ completionMode: 'Indexed' })
  const p = podForJob(j, 3)
  t.equal(p.metadata.generateName, 'pi-3-')
  t.same(p.metadata.finalizers, [FINALIZER_JOB_TRACKING])
  t.same(p.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'j1', controller: true, blockOwnerDeletion: true }])
  t.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], '3')
  t.equal(p.spec.hostname, 'pi-3')
  t.same(p.spec.containers[0]!.env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }])
  t.equal(podForJob(job(), undefined).metadata.generateName, 'pi-')
  t.notOk(podForJob(job(), undefined).spec.containers[0]!.env)
})

t.test('adoption and release', async (t) => {
  const orphan = pod({ name: 'o', fin: false })
  orphan.metadata.ownerReferences = []
  const stray = pod({ name: 's' })
  stray.metadata.labels = { other: 'x' }
  const r = reconcileJob({ job: job({ completions: 5, parallelism: 2 }), pods: [orphan, stray, pod({ name: 'a' })], now: NOW })
  t.same(kinds(r.actions).slice(0, 2), ['adopt', 'release'])
  t.notOk(r.actions.some((a) => a.kind === 'create'), 'the adopted pod counts as active')
})
