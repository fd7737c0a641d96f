// Issue 11 (Jobs and CronJobs), end to end in a lab with real kubelets and real kubectl 1.27 and
// 1.33: parallelism watched, a failing Job stopped at backoffLimit, Indexed pods that see their
// index, and a `*/1 * * * *` CronJob that runs within 70 s and, with Forbid, skips a slot while
// its Job still runs.
import t from 'tap'
import type { CoreEvent, CronJob, Job, Pod } from '../../src/api/types.js'
import { getCondition } from '../../src/api/meta.js'
import { run } from '../../src/util/exec.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { withLab, waitUntil, res, followPods } from '../helpers/lab.js'

const job = (name: string, spec: string, script: string): string => `
apiVersion: batch/v1
kind: Job
metadata: {name: ${name}}
spec:
${spec}
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: w
        image: busybox
        command: ["sh", "-c", ${JSON.stringify(script)}]
`

t.test('Jobs and CronJobs in a lab', { skip: need('kubectl 1.27', 'kubectl 1.33', 'podman') }, async (t) => {
  const lab = await withLab(t, { nodes: 2, serverFlags: ['--no-dns', '--job-pod-failure-backoff', '1s'], agentFlags: ['--backoff-initial', '1s'] })
  const kc = async (v: '1.27' | '1.33', args: string[], input?: string): Promise<string> => {
    const r = await run(kubectlPath(v), ['--kubeconfig', lab.kubeconfig, ...args], { allowFailure: true, timeoutMs: 150_000, ...(input !== undefined ? { input } : {}) })
    if (r.code !== 0) throw new Error(`kubectl ${v} ${args.join(' ')}: ${r.stderr || r.stdout}`)
    return r.stdout
  }
  const jobs = lab.client.resource<Job>(res('jobs'), 'default')
  const cronjobs = lab.client.resource<CronJob>(res('cronjobs'), 'default')

  // Started first: its minutes tick while the Jobs below run.
  t.match(await kc('1.27', ['create', 'cronjob', 'tick', '--image=busybox', '--schedule=*/1 * * * *', '--', 'sh', '-c', 'sleep 95']), /cronjob.batch\/tick created/)
  await kc('1.33', ['patch', 'cronjob', 'tick', '--type=merge', '-p', '{"spec":{"concurrencyPolicy":"Forbid"}}'])
  const cronCreated = Date.now()

  await t.test('completions 5 / parallelism 2 completes with never more than 2 running', async (t) => {
    const counts: number[] = []
    const unfollow = await followPods(lab.client, 'default', 'batch.kubernetes.io/job-name=five', (list) =>
      counts.push(list.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed').length),
    )
    t.teardown(unfollow)
    t.match(await kc('1.33', ['apply', '-f', '-'], job('five', '  completions: 5\n  parallelism: 2', 'sleep 1')), /job.batch\/five created/)
    t.match(await kc('1.27', ['wait', '--for=condition=complete', 'job/five', '--timeout=120s']), /job.batch\/five condition met/)
    unfollow()
    const j = await jobs.get('five')
    t.equal(j.status?.succeeded, 5)
    t.ok(counts.length >= 10, `the watch saw the pods come and go (${counts.length} events)`)
    t.ok(Math.max(...counts) <= 2, `never more than 2 active (max ${Math.max(...counts)})`)
    t.equal(Math.max(...counts), 2, 'and 2 did run side by side')
    t.match(await kc('1.33', ['get', 'job', 'five']), /five\s+Complete\s+5\/5\s/)
  })

  await t.test('a failing Job stops at backoffLimit with BackoffLimitExceeded', async (t) => {
    await kc('1.27', ['apply', '-f', '-'], job('fails', '  backoffLimit: 2', 'echo failing; exit 3'))
    await waitUntil('fails Failed', async () => getCondition((await jobs.get('fails')).status?.conditions, 'Failed')?.status === 'True', 120_000)
    t.equal(await kc('1.33', ['get', 'job', 'fails', '-o', 'jsonpath={.status.conditions[?(@.type=="Failed")].reason}']), 'BackoffLimitExceeded')
    const j = await jobs.get('fails')
    t.equal(j.status?.failed, 3)
    const pods = (await lab.client.resource<Pod>(res('pods'), 'default').list({ labelSelector: 'batch.kubernetes.io/job-name=fails' })).items
    t.equal(pods.length, 3, 'one pod per try, none after the limit')
    t.ok(pods.every((p) => p.status?.phase === 'Failed' && p.status.containerStatuses?.[0]?.state?.terminated?.exitCode === 3), 'each ran and exited 3 (restartPolicy Never: not restarted)')
  })

  await t.test("an Indexed Job's pods see their index", async (t) => {
    await kc('1.33', ['apply', '-f', '-'], job('idx', '  completionMode: Indexed\n  completions: 3\n  parallelism: 3', 'echo "index=$JOB_COMPLETION_INDEX host=$HOSTNAME"'))
    await kc('1.33', ['wait', '--for=condition=complete', 'job/idx', '--timeout=120s'])
    const pods = (await lab.client.resource<Pod>(res('pods'), 'default').list({ labelSelector: 'batch.kubernetes.io/job-name=idx' })).items
    const seen: string[] = []
    for (const p of pods) {
      const ix = p.metadata.annotations?.['batch.kubernetes.io/job-completion-index']
      const out = (await kc('1.27', ['logs', p.metadata.name!])).trim()
      t.equal(out, `index=${ix} host=idx-${ix}`, `${p.metadata.name} printed its own index`)
      seen.push(ix!)
    }
    t.same(seen.sort(), ['0', '1', '2'])
    t.equal((await jobs.get('idx')).status?.completedIndexes, '0-2')
  })

  await t.test('*/1 CronJob: a Job within 70 s, and Forbid skips the next slot while it runs', async (t) => {
    const fromTick = async (): Promise<Job[]> => (await jobs.list()).items.filter((j) => j.metadata.ownerReferences?.[0]?.name === 'tick')
    await waitUntil('a Job from tick', async () => (await fromTick()).length > 0, Math.max(1000, cronCreated + 70_000 - Date.now()))
    const first = (await fromTick())[0]!
    const slot = Date.parse((await cronjobs.get('tick')).status!.lastScheduleTime!)
    t.equal(first.metadata.name, `tick-${slot / 60_000}`, 'named <cronjob>-<minutes since the epoch>')
    t.ok(slot - cronCreated < 70_000, 'within 70 s of creation')
    // The Job sleeps 95 s: the next slot comes while it is active.
    // Forbid's skip is an Event (JobAlreadyActive) at the next slot: waiting for it instead of a fixed
    // pause after the slot ends the check as soon as the controller has decided.
    const next = slot + 60_000
    const skipped = async (): Promise<boolean> =>
      (await lab.client.resource<CoreEvent>(res('events'), 'default').list()).items.some((e) => e.involvedObject.name === 'tick' && e.reason === 'JobAlreadyActive' && Date.parse(e.lastTimestamp ?? e.eventTime ?? '') >= next)
    await waitUntil('tick skipped the next slot (JobAlreadyActive)', skipped, Math.max(1000, next + 15_000 - Date.now()))
    const mine = await fromTick()
    t.same(mine.map((j) => j.metadata.name), [first.metadata.name], 'Forbid: no second Job while the first runs')
    const cj = await cronjobs.get('tick')
    t.equal(cj.status?.lastScheduleTime, new Date(slot).toISOString().replace(/\.\d{3}Z$/, 'Z'), 'the skipped slot is not recorded as scheduled')
    t.same(cj.status?.active?.map((a) => a.name), [first.metadata.name])
    t.match(await kc('1.33', ['get', 'cronjob', 'tick']), /tick\s+\*\/1 \* \* \* \*\s+<none>\s+False\s+1\s+\d+s\s/)
    await kc('1.27', ['delete', 'cronjob', 'tick'])
  })
})
