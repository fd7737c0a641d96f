// Events as kube-apiserver serves them: one storage, two views (core/v1 and events.k8s.io/v1),
// field selectors under both names, Tables with kubectl's columns, upstream's validation, and
// expiry through an etcd lease (--event-ttl). Real etcd, requests through inject.
import t from 'tap'
import { withApiServer } from '../helpers/apiserver.js'
import { waitUntil } from '../helpers/wait.js'
import { inj } from './util.js'

const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io'
const CORE = '/api/v1/namespaces/default/events'
const V1 = '/apis/events.k8s.io/v1/namespaces/default/events'

const coreEvent = (name: string, pod: string, reason: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name },
  involvedObject: { kind: 'Pod', namespace: 'default', name: pod, uid: `uid-${pod}`, apiVersion: 'v1' },
  reason,
  message: `${reason} happened to ${pod}`,
  type: 'Normal',
  source: { component: 'kubelet', host: 'n1' },
  firstTimestamp: '2026-01-01T00:00:00Z',
  lastTimestamp: '2026-01-01T00:00:00Z',
  count: 1,
  ...extra,
})

t.test('events', async (t) => {
  const srv = await withApiServer(t, { eventTtlSeconds: 3 })

  t.test('one storage, two views', async (t) => {
    const c = await inj(srv, 'POST', CORE, coreEvent('web-1.a', 'web-1', 'Started'))
    t.equal(c.status, 201, c.text)
    const v = await inj(srv, 'GET', `${V1}/web-1.a`)
    t.equal(v.status, 200, v.text)
    t.equal(v.body.apiVersion, 'events.k8s.io/v1')
    t.equal(v.body.note, 'Started happened to web-1')
    t.equal(v.body.regarding.name, 'web-1')
    t.equal(v.body.deprecatedCount, 1)
    t.same(v.body.deprecatedSource, { component: 'kubelet', host: 'n1' })
    t.equal(v.body.involvedObject, undefined, 'no core field names in the v1 view')
    t.equal(v.body.metadata.resourceVersion, c.body.metadata.resourceVersion)

    // Created through events.k8s.io/v1, read through core/v1.
    const n = await inj(srv, 'POST', V1, {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'web-1.b' },
      eventTime: '2026-01-01T00:00:01.000000Z',
      reportingController: 'default-scheduler',
      reportingInstance: 'default-scheduler-n1',
      action: 'Binding',
      reason: 'Scheduled',
      regarding: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'uid-web-1', apiVersion: 'v1' },
      note: 'Successfully assigned default/web-1 to n1',
      type: 'Normal',
      series: { count: 2, lastObservedTime: '2026-01-01T00:00:02.000000Z' },
    })
    t.equal(n.status, 201, n.text)
    t.equal(n.body.apiVersion, 'events.k8s.io/v1')
    t.equal(n.body.note, 'Successfully assigned default/web-1 to n1')
    const core = await inj(srv, 'GET', `${CORE}/web-1.b`)
    t.equal(core.body.apiVersion, 'v1')
    t.equal(core.body.message, 'Successfully assigned default/web-1 to n1')
    t.equal(core.body.reportingComponent, 'default-scheduler')
    t.equal(core.body.involvedObject.name, 'web-1')
    t.same(core.body.series, { count: 2, lastObservedTime: '2026-01-01T00:00:02.000000Z' })

    // A merge patch through the v1 view lands in the stored object.
    const p = await inj(srv, 'PATCH', `${V1}/web-1.b`, { series: { count: 3, lastObservedTime: '2026-01-01T00:00:03.000000Z' } }, { contentType: 'application/merge-patch+json' })
    t.equal(p.status, 200, p.text)
    t.equal((await inj(srv, 'GET', `${CORE}/web-1.b`)).body.series.count, 3)
  })

  t.test('field selectors: core names and events.k8s.io names', async (t) => {
    await inj(srv, 'POST', CORE, coreEvent('db-0.a', 'db-0', 'Pulled'))
    await inj(srv, 'POST', CORE, coreEvent('db-0.b', 'db-0', 'BackOff', { type: 'Warning' }))
    const names = (r: { body: { items: { metadata: { name: string } }[] } }) => r.body.items.map((i) => i.metadata.name).sort()
    t.same(names(await inj(srv, 'GET', `${CORE}?fieldSelector=involvedObject.name%3Ddb-0`)), ['db-0.a', 'db-0.b'])
    t.same(names(await inj(srv, 'GET', `${CORE}?fieldSelector=involvedObject.name%3Ddb-0,type%3DWarning`)), ['db-0.b'])
    t.same(names(await inj(srv, 'GET', `${CORE}?fieldSelector=reason%3DPulled`)), ['db-0.a'])
    t.same(
      names(await inj(srv, 'GET', `${CORE}?fieldSelector=involvedObject.kind%3DPod,involvedObject.namespace%3Ddefault,involvedObject.uid%3Duid-db-0,involvedObject.name%3Ddb-0`)),
      ['db-0.a', 'db-0.b'],
      'the selector kubectl describe sends',
    )
    t.same(names(await inj(srv, 'GET', `${V1}?fieldSelector=regarding.name%3Ddb-0,type%3DWarning`)), ['db-0.b'])
    const bad = await inj(srv, 'GET', `${V1}?fieldSelector=involvedObject.name%3Ddb-0`)
    t.equal(bad.status, 400)
    t.equal(bad.body.message, 'field label not supported: involvedObject.name')
  })

  t.test('Table: kubectl get events columns', async (t) => {
    const r = await inj(srv, 'GET', `${CORE}?fieldSelector=involvedObject.name%3Ddb-0`, undefined, { accept: TABLE })
    t.equal(r.status, 200)
    t.same(
      r.body.columnDefinitions.map((c: { name: string; priority: number }) => `${c.name}/${c.priority}`),
      ['Last Seen/0', 'Type/0', 'Reason/0', 'Object/0', 'Subobject/1', 'Source/1', 'Message/0', 'First Seen/1', 'Count/1', 'Name/1'],
    )
    const row = r.body.rows.find((x: { cells: unknown[] }) => x.cells[2] === 'BackOff')
    t.same(row.cells.slice(1, 7), ['Warning', 'BackOff', 'pod/db-0', '', 'kubelet, n1', 'BackOff happened to db-0'])
    t.equal(row.cells[8], 1)
    const v = await inj(srv, 'GET', `${V1}/web-1.b`, undefined, { accept: TABLE })
    t.equal(v.body.rows[0].cells[8], 3, 'series count wins')
    t.equal(v.body.rows[0].cells[5], 'default-scheduler, default-scheduler-n1')
  })

  t.test('validation as upstream', async (t) => {
    const wrongNs = await inj(srv, 'POST', CORE, coreEvent('x.1', 'x', 'Started', { involvedObject: { kind: 'Pod', namespace: 'other', name: 'x' } }))
    t.equal(wrongNs.status, 422)
    t.equal(wrongNs.body.message, 'Event "x.1" is invalid: involvedObject.namespace: Invalid value: "other": does not match event.namespace')
    const v1bad = await inj(srv, 'POST', V1, {
      metadata: { name: 'x.2' },
      regarding: { kind: 'Pod', namespace: 'default', name: 'x' },
      reason: 'Started',
      type: 'Sideways',
      deprecatedCount: 4,
    })
    t.equal(v1bad.status, 422)
    t.equal(
      v1bad.body.message,
      'Event.events.k8s.io "x.2" is invalid: [eventTime: Required value, type: Invalid value: "": has invalid value: Sideways, deprecatedCount: Invalid value: "": needs to be unset]',
    )
    t.equal((await inj(srv, 'GET', `${CORE}/x.2`)).status, 404, 'nothing half-written')
    // events.k8s.io/v1 freezes what an event says; core/v1 stays lenient for old clients.
    const upd = await inj(srv, 'PATCH', `${V1}/web-1.b`, { note: 'rewritten' }, { contentType: 'application/merge-patch+json' })
    t.equal(upd.status, 422)
    t.match(upd.body.message, /message: Invalid value: "rewritten": field is immutable/)
    const legacy = await inj(srv, 'PATCH', `${CORE}/web-1.a`, { message: 'rewritten', count: 2 }, { contentType: 'application/merge-patch+json' })
    t.equal(legacy.status, 200)
  })

  t.test('events expire after --event-ttl (etcd lease), even after updates', async (t) => {
    const c = await inj(srv, 'POST', CORE, coreEvent('ttl.a', 'ttl', 'Started'))
    t.equal(c.status, 201)
    const cm = await inj(srv, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'stays' } })
    t.equal(cm.status, 201)
    await new Promise((r) => setTimeout(r, 1500))
    // An update re-attaches a lease: a put without one would make the event immortal.
    const u = await inj(srv, 'PATCH', `${CORE}/ttl.a`, { count: 2 }, { contentType: 'application/merge-patch+json' })
    t.equal(u.status, 200)
    const t0 = Date.now()
    await waitUntil('event expiry', async () => (await inj(srv, 'GET', `${CORE}/ttl.a`)).status === 404, 20_000)
    t.ok(Date.now() - t0 >= 1000, 'lived on after the update')
    t.equal((await inj(srv, 'GET', '/api/v1/namespaces/default/configmaps/stays')).status, 200, 'other kinds do not expire')
  })

  t.test('discovery lists both Event resources', async (t) => {
    const core = await inj(srv, 'GET', '/api/v1')
    const ev = core.body.resources.find((r: { name: string }) => r.name === 'events')
    t.same(ev.shortNames, ['ev'])
    const g = await inj(srv, 'GET', '/apis/events.k8s.io/v1')
    t.equal(g.status, 200)
    t.equal(g.body.resources[0].kind, 'Event')
  })
})
