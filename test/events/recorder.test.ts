// The recorder against a real apiserver + etcd: what it writes (core/v1 and events.k8s.io/v1),
// repeats counted on one object, and that it never blocks or fails its caller.
import t from 'tap'
import { withApiServer } from '../helpers/apiserver.js'
import { createClient } from '../../src/client/index.js'
import { createEventRecorder } from '../../src/events/recorder.js'
import { resourceFor } from '../../src/api/resources.js'
import type { CoreEvent, KubeList, Pod } from '../../src/api/types.js'

t.test('event recorder', async (t) => {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const pod = (await client.resource<Pod>(resourceFor('pods'), 'default').create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web' },
    spec: { containers: [{ name: 'c', image: 'agnhost' }] },
  })) as Pod
  const events = client.resource<CoreEvent>(resourceFor('events'), 'default')
  const about = async (name: string): Promise<CoreEvent[]> => (await events.list({ fieldSelector: `involvedObject.name=${name}` }) as KubeList<CoreEvent>).items

  t.test('core/v1: fields as client-go writes them; a repeat counts on the same object', async (t) => {
    const rec = createEventRecorder({ client, component: 'kubelet', host: 'n1' })
    const ret = rec.event(pod, 'Normal', 'Pulled', 'Container image "agnhost" already present on machine', { fieldPath: 'spec.containers{c}' })
    t.equal(ret, undefined, 'returns nothing to wait for')
    await rec.flush()
    let evs = await about('web')
    t.equal(evs.length, 1)
    const e = evs[0]!
    t.match(e.metadata.name, /^web\.[0-9a-f]+$/)
    t.same(e.involvedObject, { kind: 'Pod', name: 'web', namespace: 'default', uid: pod.metadata.uid, apiVersion: 'v1', resourceVersion: pod.metadata.resourceVersion, fieldPath: 'spec.containers{c}' })
    t.same(e.source, { component: 'kubelet', host: 'n1' })
    t.equal(e.reportingComponent, 'kubelet')
    t.equal(e.count, 1)
    t.equal(e.type, 'Normal')
    await new Promise((r) => setTimeout(r, 1100))
    rec.event(pod, 'Normal', 'Pulled', 'Container image "agnhost" already present on machine', { fieldPath: 'spec.containers{c}' })
    rec.event(pod, 'Normal', 'Pulled', 'Container image "agnhost" already present on machine', { fieldPath: 'spec.containers{c}' })
    await rec.flush()
    evs = await about('web')
    t.equal(evs.length, 1, 'still one object')
    t.equal(evs[0]!.count, 3)
    t.equal(evs[0]!.firstTimestamp, e.firstTimestamp)
    t.ok(Date.parse(evs[0]!.lastTimestamp!) > Date.parse(e.firstTimestamp!), 'lastTimestamp moved')
    t.same(rec.stats, { written: 1, updated: 2, dropped: 0, failed: 0 })
    await rec.stop()
  })

  t.test('events.k8s.io/v1: eventTime, reportingController, action; repeats become a series', async (t) => {
    const rec = createEventRecorder({ client, component: 'default-scheduler', host: 'default-scheduler-n1', api: 'events.k8s.io/v1' })
    rec.event({ kind: 'Pod', apiVersion: 'v1', namespace: 'default', name: 'sched', uid: 'u1' }, 'Warning', 'FailedScheduling', '0/1 nodes are available', { action: 'Scheduling' })
    rec.event({ kind: 'Pod', apiVersion: 'v1', namespace: 'default', name: 'sched', uid: 'u1' }, 'Warning', 'FailedScheduling', '0/1 nodes are available', { action: 'Scheduling' })
    await rec.flush()
    const v1 = client.resource({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true }, 'default')
    const list = await v1.list({ fieldSelector: 'regarding.name=sched' })
    t.equal(list.items.length, 1)
    const e = list.items[0] as Record<string, any>
    t.equal(e.reportingController, 'default-scheduler')
    t.equal(e.reportingInstance, 'default-scheduler-n1')
    t.equal(e.action, 'Scheduling')
    t.match(e.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    t.equal(e.series.count, 2)
    t.match(e.series.lastObservedTime, /\.\d{6}Z$/)
    t.equal(e.deprecatedCount, undefined)
    await rec.stop()
  })

  t.test('spam filter: an object gets 25 events, the rest are dropped', async (t) => {
    const rec = createEventRecorder({ client, component: 'flood' })
    for (let i = 0; i < 40; i++) rec.event(pod, 'Normal', 'Tick', `tick ${i}`)
    await rec.flush()
    const mine = (await about('web')).filter((e) => e.source?.component === 'flood')
    // 10 distinct messages, then the aggregated one counting the other 15 that passed.
    t.equal(mine.length, 11)
    const agg = mine.find((e) => e.message!.startsWith('(combined from similar events): '))
    t.equal(agg?.count, 15)
    t.equal(rec.stats.dropped, 15)
    await rec.stop()
  })

  t.test('an unreachable apiserver never blocks or fails the caller', async (t) => {
    const dead = createClient({ server: 'https://127.0.0.1:1', token: 'x', insecureSkipTLSVerify: true })
    const rec = createEventRecorder({ client: dead, component: 'kubelet', maxTries: 2, retryDelayMs: 50 })
    const t0 = Date.now()
    for (let i = 0; i < 5; i++) rec.event(pod, 'Normal', 'Started', `s${i}`)
    t.ok(Date.now() - t0 < 50, 'event() returns at once')
    await rec.flush()
    t.equal(rec.stats.failed, 5)
    await rec.stop()
  })

  t.test('a server answer (422) is final, not retried', async (t) => {
    const rec = createEventRecorder({ client, component: 'kubelet', retryDelayMs: 60_000 })
    // involvedObject.namespace differs from the event's: 422 from the server.
    rec.event({ kind: 'Node', name: 'n1', namespace: '' }, 'Normal', 'Ok', 'fine')
    rec.event({ kind: 'Pod', name: 'x', namespace: 'no-such-ns' }, 'Normal', 'Bad', 'no namespace')
    const t0 = Date.now()
    await rec.flush()
    t.ok(Date.now() - t0 < 5000)
    t.equal(rec.stats.written, 1, 'the node event lands in default')
    t.equal(rec.stats.failed, 1)
    await rec.stop()
  })
})
