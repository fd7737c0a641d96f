// Jobs and CronJobs against a real apiserver + etcd, the controller manager and the scheduler,
// with fake nodes; a "workload" here finishes each running pod (Succeeded, or Failed when its
// args say `fail`). kubectl 1.27 and 1.33 drive the batch API.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { CronJob, Job, Pod } from '../../src/api/types.js'
import { FINALIZER_JOB_TRACKING } from '../../src/api/types.js'
import { getCondition } from '../../src/api/meta.js'
import { createInformer } from '../../src/client/informer.js'
import { isNotFound } from '../../src/client/errors.js'
import { R } from '../../src/controllers/informers.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { eventually, withCluster } from './fakecluster.js'

const exec = promisify(execFile)
const KUBECTL = kubectlPath

function job(name: string, spec: Partial<Job['spec']> & { args?: string[] } = {}): Job {
  const { args, ...rest } = spec
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: {
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'w', image: 'busybox', args: args ?? ['ok'] }] } },
      ...rest,
    },
  }
}

t.test('Jobs and CronJobs with fake nodes', { skip: need('kubectl 1.27', 'kubectl 1.33') }, async (t) => {
  const { api, client, kubelet } = await withCluster(t, { graceMs: 12_000, jobBackoffMs: 200 })
  await kubelet.addNode('node1')
  await kubelet.addNode('node2')
  const pods = client.resource<Pod>(R.pods, 'default')
  const jobs = client.resource<Job>(R.jobs, 'default')
  const kubectl = async (v: string, ...args: string[]): Promise<string> => (await exec(KUBECTL(v), ['--kubeconfig', api.kubeconfigPath, ...args], { timeout: 90_000 })).stdout

  // The workload: a running pod of a Job finishes 300 ms later.
  const done = new Set<string>()
  const workload = createInformer(client.resource<Pod>(R.pods), { name: 'workload' })
  const finish = (p: Pod): void => {
    if (p.status?.phase !== 'Running' || p.metadata.deletionTimestamp || done.has(p.metadata.uid!) || !p.metadata.labels?.['batch.kubernetes.io/job-name']) return
    if (p.spec.containers[0]?.args?.includes('hold')) return
    done.add(p.metadata.uid!)
    const fail = p.spec.containers[0]?.args?.includes('fail')
    setTimeout(() => {
      const now = new Date().toISOString()
      void client.resource<Pod>(R.pods, p.metadata.namespace).patchStatus(p.metadata.name!, {
        status: {
          phase: fail ? 'Failed' : 'Succeeded',
          conditions: [{ type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now }],
          containerStatuses: [{ name: 'w', ready: false, restartCount: 0, image: 'busybox', imageID: '', state: { terminated: { exitCode: fail ? 1 : 0, reason: fail ? 'Error' : 'Completed', finishedAt: now } } }],
        },
      }, 'merge').catch(() => done.delete(p.metadata.uid!))
    }, 300)
  }
  workload.addEventHandler({ onAdd: finish, onUpdate: (_o, p) => finish(p) })
  await workload.start()
  t.teardown(() => workload.stop())

  await t.test('completions 5 / parallelism 2: never more than 2 running, Complete, kubectl wait', async (t) => {
    let maxActive = 0
    const seen = new Set<string>()
    const watcher = createInformer(client.resource<Pod>(R.pods, 'default'), { name: 'watch-five', labelSelector: 'batch.kubernetes.io/job-name=five' })
    watcher.addEventHandler({
      onAdd: (p) => seen.add(p.metadata.name!),
      onUpdate: () => {
        const running = watcher.store.list().filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
        maxActive = Math.max(maxActive, running.length)
      },
    })
    await watcher.start()
    t.teardown(() => watcher.stop())
    await jobs.create(job('five', { completions: 5, parallelism: 2 }))
    const wait = await exec(KUBECTL('1.33'), ['--kubeconfig', api.kubeconfigPath, 'wait', '--for=condition=complete', 'job/five', '--timeout=60s'], { timeout: 70_000 })
    t.match(wait.stdout, /job.batch\/five condition met/)
    const j = await jobs.get('five')
    t.equal(j.status?.succeeded, 5)
    t.equal(j.status?.failed ?? 0, 0)
    t.equal(j.metadata.generation, 1, 'status writes do not move generation')
    t.same(j.status?.uncountedTerminatedPods, { succeeded: [], failed: [] })
    t.same(j.status?.conditions?.map((c) => c.type), ['SuccessCriteriaMet', 'Complete'])
    t.ok(j.status?.completionTime && j.status.startTime)
    t.equal(seen.size, 5, 'exactly 5 pods were created')
    t.ok(maxActive <= 2 && maxActive >= 1, `at most 2 pods active at once (max seen ${maxActive})`)
    const left = (await pods.list({ labelSelector: 'batch.kubernetes.io/job-name=five' })).items
    t.same(left.filter((p) => p.metadata.finalizers?.includes(FINALIZER_JOB_TRACKING)).map((p) => p.metadata.name), [], 'no pod keeps the tracking finalizer')
    const events = await eventually('Events on the Job', async () => {
      const out = await kubectl('1.33', 'get', 'events', '--field-selector', 'involvedObject.name=five', '-o', 'jsonpath={range .items[*]}{.reason}{"/"}{.source.component}{"\\n"}{end}')
      return out.includes('Completed/') && out
    })
    t.equal(events.split('\n').filter((l) => l === 'SuccessfulCreate/job-controller').length, 5, 'SuccessfulCreate per pod, from job-controller')
    t.match(events, /Completed\/job-controller/)
    for (const v of ['1.27', '1.33']) t.match(await kubectl(v, 'get', 'jobs', 'five'), /^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\nfive\s+Complete\s+5\/5\s+\d+s\s+\d+s\n$/, `kubectl ${v} get jobs`)
  })

  await t.test('a failing Job stops at backoffLimit with BackoffLimitExceeded', async (t) => {
    await jobs.create(job('fails', { backoffLimit: 2, args: ['fail'] }))
    const j = await eventually('Failed condition', async () => {
      const j = await jobs.get('fails')
      return getCondition(j.status?.conditions, 'Failed')?.status === 'True' && j
    }, 60_000)
    const c = getCondition(j.status?.conditions, 'Failed')!
    t.same([c.reason, c.message], ['BackoffLimitExceeded', 'Job has reached the specified backoff limit'])
    t.equal(j.status?.failed, 3, 'backoffLimit 2: the third failure ends it')
    t.equal((await pods.list({ labelSelector: 'batch.kubernetes.io/job-name=fails' })).items.length, 3, 'no fourth pod')
    t.match(await kubectl('1.33', 'get', 'job', 'fails', '--no-headers'), /^fails\s+Failed\s+0\/1\s/)
    await eventually('a BackoffLimitExceeded Warning', async () =>
      (await kubectl('1.33', 'get', 'events', '--field-selector', 'involvedObject.name=fails,reason=BackoffLimitExceeded', '-o', 'jsonpath={.items[*].type}')).includes('Warning'),
    )
  })

  await t.test('Indexed: one pod per index, each told its index', async (t) => {
    await jobs.create(job('idx', { completionMode: 'Indexed', completions: 3, parallelism: 3 }))
    const j = await eventually('Complete', async () => {
      const j = await jobs.get('idx')
      return getCondition(j.status?.conditions, 'Complete')?.status === 'True' && j
    }, 60_000)
    t.equal(j.status?.completedIndexes, '0-2')
    const ps = (await pods.list({ labelSelector: 'batch.kubernetes.io/job-name=idx' })).items
    t.same(ps.map((p) => p.metadata.annotations?.['batch.kubernetes.io/job-completion-index']).sort(), ['0', '1', '2'])
    for (const p of ps) {
      const ix = p.metadata.annotations!['batch.kubernetes.io/job-completion-index']
      t.equal(p.spec.hostname, `idx-${ix}`)
      t.same(p.spec.containers[0]!.env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }])
    }
  })

  await t.test('suspend, resume, ttlSecondsAfterFinished', async (t) => {
    await jobs.create(job('later', { suspend: true, ttlSecondsAfterFinished: 1 }))
    await eventually('Suspended', async () => getCondition((await jobs.get('later')).status?.conditions, 'Suspended')?.status === 'True')
    t.equal((await pods.list({ labelSelector: 'batch.kubernetes.io/job-name=later' })).items.length, 0, 'no pods while suspended')
    t.notOk((await jobs.get('later')).status?.startTime, 'not started')
    await jobs.patch('later', { spec: { suspend: false } }, 'merge')
    await eventually('Job deleted after its TTL', async () => {
      try {
        await jobs.get('later')
        return false
      } catch (err) {
        if (isNotFound(err)) return true
        throw err
      }
    }, 60_000)
    await eventually('its pods gone too', async () => (await pods.list({ labelSelector: 'batch.kubernetes.io/job-name=later' })).items.length === 0, 30_000)
    t.pass('resumed, completed, deleted with its pods')
  })

  await t.test('deleting a running Job: the GC deletes its pods, the controller lets their finalizer go', async (t) => {
    await jobs.create(job('held', { args: ['hold'] }))
    const running = await eventually('a running pod with the tracking finalizer', async () => {
      const l = (await pods.list({ labelSelector: 'batch.kubernetes.io/job-name=held' })).items
      return l.find((p) => p.status?.phase === 'Running' && p.metadata.finalizers?.includes(FINALIZER_JOB_TRACKING))
    })
    t.ok(running)
    await jobs.delete('held', { propagationPolicy: 'Background' })
    await eventually('held pods gone', async () => (await pods.list({ labelSelector: 'batch.kubernetes.io/job-name=held' })).items.length === 0, 30_000)
    t.pass('no pod left behind by its finalizer')
  })

  await t.test('kubectl create job (1.27 JSON, 1.33 protobuf) and delete', async (t) => {
    for (const v of ['1.27', '1.33']) {
      const name = `kc${v.replace('.', '')}`
      t.match(await kubectl(v, 'create', 'job', name, '--image=busybox', '--', 'sh', '-c', 'true'), new RegExp(`job.batch/${name} created`))
      const j = await jobs.get(name)
      t.same(j.spec.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': j.metadata.uid } }, `${v}: generated selector`)
      t.equal(j.spec.template.spec.restartPolicy, 'Never')
      t.equal(j.metadata.labels?.['batch.kubernetes.io/job-name'], name)
      await kubectl(v, 'wait', '--for=condition=complete', `job/${name}`, '--timeout=60s')
      t.match(await kubectl(v, 'delete', 'job', name), new RegExp(`job.batch "${name}" deleted`))
      await eventually(`${name}'s pods gone (the finalizer let go)`, async () => (await pods.list({ labelSelector: `batch.kubernetes.io/job-name=${name}` })).items.length === 0, 30_000)
    }
  })

  await t.test('CronJobs through kubectl: create, bad schedule 422, create job --from', async (t) => {
    const cjs = client.resource<CronJob>(R.cronjobs, 'default')
    for (const v of ['1.27', '1.33']) {
      const name = `cron${v.replace('.', '')}`
      t.match(await kubectl(v, 'create', 'cronjob', name, '--image=busybox', '--schedule=0 3 * * *', '--', 'date'), new RegExp(`cronjob.batch/${name} created`))
      const cj = await cjs.get(name)
      t.same([cj.spec.schedule, cj.spec.concurrencyPolicy, cj.spec.jobTemplate.spec.template.spec.restartPolicy], ['0 3 * * *', 'Allow', 'OnFailure'])
      t.match(await kubectl(v, 'get', 'cronjob', name), new RegExp(`^NAME\\s+SCHEDULE\\s+TIMEZONE\\s+SUSPEND\\s+ACTIVE\\s+LAST SCHEDULE\\s+AGE\\n${name}\\s+0 3 \\* \\* \\*\\s+<none>\\s+False\\s+0\\s+<none>\\s+\\d+s\\n$`))
      const bad = await exec(KUBECTL(v), ['--kubeconfig', api.kubeconfigPath, 'create', 'cronjob', `bad${name}`, '--image=busybox', '--schedule=61 * * * *'], { timeout: 30_000 }).catch((e: { stderr: string; code: number }) => e)
      t.match((bad as { stderr: string }).stderr, `error: failed to create cronjob: CronJob.batch "bad${name}" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`, `${v}: 422 with robfig's text`)
      t.match(await kubectl(v, 'create', 'job', `${name}-manual`, `--from=cronjob/${name}`), new RegExp(`job.batch/${name}-manual created`))
      const j = await jobs.get(`${name}-manual`)
      t.equal(j.metadata.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual')
      t.equal(j.metadata.ownerReferences?.[0]?.kind, 'CronJob')
    }
  })
})
