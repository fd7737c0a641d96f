// List and watch semantics over real HTTPS streams: selectors, pagination, watch from a
// list's resourceVersion with nothing lost, selector-leaving objects, bookmarks, 410 after
// compaction, timeoutSeconds, Table watch.
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { apiRequest, apiWatch, withApiServer } from '../helpers/apiserver.js'
import { cm, inj, pod } from './util.js'

t.test('list and watch', async (t) => {
  const srv = await withApiServer(t, { bookmarkIntervalMs: 300 })
  const ns = '/api/v1/namespaces/default'

  t.test('label and field selectors; unknown field is 400', async (t) => {
    await inj(srv, 'POST', `${ns}/pods`, pod('sel-a', { app: 'web', tier: 'fe' }))
    await inj(srv, 'POST', `${ns}/pods`, pod('sel-b', { app: 'web', tier: 'be' }))
    await inj(srv, 'POST', `${ns}/pods`, pod('sel-c', { app: 'db' }))
    const names = async (q: string): Promise<string[]> => {
      const r = await inj(srv, 'GET', `${ns}/pods?${q}`)
      t.equal(r.status, 200, `${q}: ${r.text.slice(0, 200)}`)
      return (r.body.items ?? []).map((i: any) => i.metadata.name).filter((n: string) => n.startsWith('sel-')).sort()
    }
    t.same(await names('labelSelector=app%3Dweb'), ['sel-a', 'sel-b'])
    t.same(await names('labelSelector=app%3D%3Dweb,tier!%3Dfe'), ['sel-b'])
    t.same(await names('labelSelector=app%20in%20(web,db)'), ['sel-a', 'sel-b', 'sel-c'])
    t.same(await names('labelSelector=app%20notin%20(web)'), ['sel-c'])
    t.same(await names('labelSelector=tier'), ['sel-a', 'sel-b'])
    t.same(await names('labelSelector=!tier'), ['sel-c'])
    t.same(await names('fieldSelector=metadata.name%3Dsel-b'), ['sel-b'])
    t.same(await names('fieldSelector=status.phase%3DPending,metadata.name!%3Dsel-a'), ['sel-b', 'sel-c'])
    t.same(await names('fieldSelector=spec.nodeName%3D'), ['sel-a', 'sel-b', 'sel-c'])
    const bad = await inj(srv, 'GET', `${ns}/pods?fieldSelector=spec.bogus%3Dx`)
    t.equal(bad.status, 400)
    t.equal(bad.body.reason, 'BadRequest')
    t.match(bad.body.message, /field label not supported: spec.bogus/)
    const all = await inj(srv, 'GET', '/api/v1/pods?labelSelector=app%3Ddb')
    t.same(all.body.items.map((i: any) => i.metadata.namespace), ['default'], 'all-namespaces list')
  })

  t.test('limit/continue pages through a consistent snapshot', async (t) => {
    await inj(srv, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'pages' } })
    for (let i = 0; i < 7; i++) await inj(srv, 'POST', '/api/v1/namespaces/pages/configmaps', cm(`p${i}`))
    const seen: string[] = []
    let cont = ''
    let rv = ''
    let pages = 0
    do {
      const r = await inj(srv, 'GET', `/api/v1/namespaces/pages/configmaps?limit=3${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`)
      t.equal(r.status, 200, r.text)
      t.ok(r.body.items.length <= 3)
      seen.push(...r.body.items.map((i: any) => i.metadata.name))
      if (pages === 0) {
        rv = r.body.metadata.resourceVersion
        t.equal(r.body.metadata.remainingItemCount, 4)
        // A write after the first page must not show up in later pages (snapshot at rv).
        await inj(srv, 'POST', '/api/v1/namespaces/pages/configmaps', cm('p9-late'))
      } else t.equal(r.body.metadata.resourceVersion, rv, 'same snapshot revision')
      cont = r.body.metadata.continue ?? ''
      pages++
    } while (cont && pages < 10)
    t.equal(pages, 3)
    t.same(seen, ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6'])
    const junk = await inj(srv, 'GET', '/api/v1/namespaces/pages/configmaps?limit=3&continue=garbage')
    t.equal(junk.status, 400)
    const foreign = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: 1, start: '/registry/secrets/x' })).toString('base64url')
    t.equal((await inj(srv, 'GET', `/api/v1/namespaces/pages/configmaps?limit=1&continue=${foreign}`)).status, 400, 'token cannot escape its prefix')
  })

  t.test('list at an exact resourceVersion sees the past', async (t) => {
    await inj(srv, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'exact' } })
    const first = await inj(srv, 'POST', '/api/v1/namespaces/exact/configmaps', cm('e1'))
    await inj(srv, 'POST', '/api/v1/namespaces/exact/configmaps', cm('e2'))
    const rv = first.body.metadata.resourceVersion
    const past = await inj(srv, 'GET', `/api/v1/namespaces/exact/configmaps?resourceVersion=${rv}&resourceVersionMatch=Exact`)
    t.same(past.body.items.map((i: any) => i.metadata.name), ['e1'])
    t.equal(past.body.metadata.resourceVersion, rv)
    const now = await inj(srv, 'GET', `/api/v1/namespaces/exact/configmaps?resourceVersion=${rv}&resourceVersionMatch=NotOlderThan`)
    t.same(now.body.items.map((i: any) => i.metadata.name), ['e1', 'e2'])
    t.equal((await inj(srv, 'GET', `/api/v1/namespaces/exact/configmaps?resourceVersionMatch=Exact`)).status, 400)
    t.equal((await inj(srv, 'GET', `/api/v1/namespaces/exact/configmaps?resourceVersion=1&resourceVersionMatch=Sometimes`)).status, 400)
  })

  t.test('watch from a list RV loses nothing written in between', async (t) => {
    const list = await inj(srv, 'GET', `${ns}/configmaps`)
    const rv = list.body.metadata.resourceVersion
    // Writes that land after the list but before the watch is opened.
    for (let i = 0; i < 5; i++) await inj(srv, 'POST', `${ns}/configmaps`, cm(`gap${i}`))
    await inj(srv, 'PUT', `${ns}/configmaps/gap0`, cm('gap0', { v: '2' }))
    await inj(srv, 'DELETE', `${ns}/configmaps/gap1`)
    const w = await apiWatch(srv, `${ns}/configmaps?watch=true&resourceVersion=${rv}`)
    t.teardown(() => w.close())
    await inj(srv, 'POST', `${ns}/configmaps`, cm('after'))
    await w.next((e) => e.object.metadata.name === 'after')
    const got = w.events.map((e) => `${e.type} ${e.object.metadata.name}`)
    t.same(got, ['ADDED gap0', 'ADDED gap1', 'ADDED gap2', 'ADDED gap3', 'ADDED gap4', 'MODIFIED gap0', 'DELETED gap1', 'ADDED after'])
    const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion))
    t.ok(rvs.every((v, i) => i === 0 || v > rvs[i - 1]!), 'resourceVersions increase')
    t.ok(rvs[0]! > Number(rv))
    t.equal(w.events[6].object.data?.v, undefined, 'DELETED carries the last state')
  })

  t.test('watch without RV starts with the current state as ADDED', async (t) => {
    const w = await apiWatch(srv, `${ns}/pods?watch=1&labelSelector=app%3Dweb`)
    t.teardown(() => w.close())
    await w.next((e) => e.object.metadata.name === 'sel-b')
    t.same(w.events.map((e) => e.type), ['ADDED', 'ADDED'])
  })

  t.test('selector watch: leaving the selector is DELETED, entering is ADDED', async (t) => {
    await inj(srv, 'POST', `${ns}/configmaps`, cm('mover', {}, { team: 'a' }))
    const l = await inj(srv, 'GET', `${ns}/configmaps?labelSelector=team%3Da`)
    const w = await apiWatch(srv, `${ns}/configmaps?watch=true&labelSelector=team%3Da&resourceVersion=${l.body.metadata.resourceVersion}`)
    t.teardown(() => w.close())
    const patch = (team: string) => inj(srv, 'PATCH', `${ns}/configmaps/mover`, { metadata: { labels: { team } } }, { contentType: 'application/merge-patch+json' })
    await patch('b')
    const del = await w.next((e) => e.type === 'DELETED')
    t.equal(del.object.metadata.labels.team, 'b', 'the DELETED object is the new state')
    await patch('a')
    await w.next((e) => e.type === 'ADDED')
    await inj(srv, 'PATCH', `${ns}/configmaps/mover`, { data: { k: 'v' } }, { contentType: 'application/merge-patch+json' })
    await w.next((e) => e.type === 'MODIFIED')
    t.same(w.events.map((e) => e.type), ['DELETED', 'ADDED', 'MODIFIED'])
  })

  t.test('watch a single object by name via the /watch/ path', async (t) => {
    await inj(srv, 'POST', `${ns}/configmaps`, cm('single'))
    const w = await apiWatch(srv, `/api/v1/watch/namespaces/default/configmaps/single`)
    t.teardown(() => w.close())
    await w.next((e) => e.type === 'ADDED')
    await inj(srv, 'POST', `${ns}/configmaps`, cm('other-one'))
    await inj(srv, 'DELETE', `${ns}/configmaps/single`)
    await w.next((e) => e.type === 'DELETED')
    t.same(w.events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED single', 'DELETED single'])
  })

  t.test('a kubelet-style watch (fieldSelector spec.nodeName) sees a pod when it is bound', async (t) => {
    const l = await inj(srv, 'GET', `/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a`)
    t.equal(l.body.items.length, 0)
    const w = await apiWatch(srv, `/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dnode-a&resourceVersion=${l.body.metadata.resourceVersion}`)
    t.teardown(() => w.close())
    await inj(srv, 'POST', `${ns}/pods`, pod('tobind'))
    await inj(srv, 'POST', `${ns}/pods`, pod('elsewhere', {}, { nodeName: 'node-b' }))
    const b = await inj(srv, 'POST', `${ns}/pods/tobind/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'tobind' }, target: { kind: 'Node', name: 'node-a' } })
    t.equal(b.status, 201)
    const ev = await w.next((e) => e.type === 'ADDED')
    t.equal(ev.object.metadata.name, 'tobind')
    t.equal(ev.object.spec.nodeName, 'node-a')
    await inj(srv, 'DELETE', `${ns}/pods/tobind`)
    const del = await w.next((e) => e.object.metadata.name === 'tobind' && e.type !== 'ADDED')
    t.equal(del.type, 'MODIFIED', 'graceful delete of a bound pod is a MODIFIED (deletionTimestamp set)')
    t.ok(del.object.metadata.deletionTimestamp)
    await inj(srv, 'DELETE', `${ns}/pods/tobind?gracePeriodSeconds=0`)
    await w.next((e) => e.type === 'DELETED')
    t.notOk(w.events.some((e) => e.object.metadata.name === 'elsewhere'), 'other nodes\' pods are not sent')
  })

  t.test('bookmarks with allowWatchBookmarks carry a resourceVersion that resumes correctly', async (t) => {
    const l = await inj(srv, 'GET', `${ns}/configmaps`)
    const w = await apiWatch(srv, `${ns}/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${l.body.metadata.resourceVersion}`)
    t.teardown(() => w.close())
    // Writes elsewhere move the revision; bookmarks tell the watcher it has seen up to there.
    await inj(srv, 'POST', `${ns}/pods`, pod('bm-elsewhere'))
    const bm = await w.next((e) => e.type === 'BOOKMARK' && Number(e.object.metadata.resourceVersion) > Number(l.body.metadata.resourceVersion), 10_000)
    t.equal(bm.object.kind, 'ConfigMap')
    t.same(Object.keys(bm.object.metadata), ['resourceVersion'])
    const plain = await apiWatch(srv, `${ns}/configmaps?watch=true&resourceVersion=${l.body.metadata.resourceVersion}`)
    t.teardown(() => plain.close())
    await new Promise((r) => setTimeout(r, 900))
    t.equal(plain.events.filter((e) => e.type === 'BOOKMARK').length, 0, 'no bookmarks unless asked')
    // Resuming from the bookmark sees the next change and nothing older.
    const w2 = await apiWatch(srv, `${ns}/configmaps?watch=true&resourceVersion=${bm.object.metadata.resourceVersion}`)
    t.teardown(() => w2.close())
    await inj(srv, 'POST', `${ns}/configmaps`, cm('post-bookmark'))
    const ev = await w2.next((e) => e.type !== 'BOOKMARK')
    t.equal(ev.object.metadata.name, 'post-bookmark')
  })

  t.test('timeoutSeconds ends the stream', async (t) => {
    const start = Date.now()
    const w = await apiWatch(srv, `${ns}/configmaps?watch=true&timeoutSeconds=1&resourceVersion=${(await inj(srv, 'GET', `${ns}/configmaps`)).body.metadata.resourceVersion}`)
    await w.ended
    t.ok(Date.now() - start >= 900 && Date.now() - start < 5000)
  })

  t.test('watch as Table (kubectl get -w)', async (t) => {
    const l = await inj(srv, 'GET', `${ns}/configmaps`)
    const w = await apiWatch(srv, `${ns}/configmaps?watch=true&resourceVersion=${l.body.metadata.resourceVersion}`, {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    })
    t.teardown(() => w.close())
    await inj(srv, 'POST', `${ns}/configmaps`, cm('tablewatch'))
    const ev = await w.next()
    t.equal(ev.type, 'ADDED')
    t.equal(ev.object.kind, 'Table')
    t.equal(ev.object.rows.length, 1)
  })

  t.test('410 Gone: a watch or continue from a compacted revision', async (t) => {
    const first = await inj(srv, 'GET', `${ns}/configmaps?limit=1`)
    const oldRv = Number(first.body.metadata.resourceVersion)
    for (let i = 0; i < 3; i++) await inj(srv, 'POST', `${ns}/configmaps`, cm(`compact${i}`))
    const now = await inj(srv, 'GET', `${ns}/configmaps`)
    const etcd = new Etcd3({ hosts: srv.etcdEndpoint })
    t.teardown(() => etcd.close())
    await etcd.kv.compact({ revision: Number(now.body.metadata.resourceVersion), physical: true })
    const w = await apiWatch(srv, `${ns}/configmaps?watch=true&resourceVersion=${oldRv}`)
    const ev = await w.next()
    await w.ended
    t.equal(ev.type, 'ERROR')
    t.equal(ev.object.kind, 'Status')
    t.equal(ev.object.code, 410)
    t.equal(ev.object.reason, 'Expired')
    t.match(ev.object.message, new RegExp(`^too old resource version: ${oldRv} \\(\\d+\\)$`))
    const cont = await inj(srv, 'GET', `${ns}/configmaps?limit=1&continue=${encodeURIComponent(first.body.metadata.continue)}`)
    t.equal(cont.status, 410)
    t.equal(cont.body.reason, 'Expired')
    const exact = await inj(srv, 'GET', `${ns}/configmaps?resourceVersion=${oldRv}&resourceVersionMatch=Exact`)
    t.equal(exact.status, 410, 'exact list at a compacted revision')
    // The current revision still watches fine.
    const ok = await apiWatch(srv, `${ns}/configmaps?watch=true&resourceVersion=${now.body.metadata.resourceVersion}`)
    t.teardown(() => ok.close())
    await inj(srv, 'POST', `${ns}/configmaps`, cm('after-compact'))
    t.equal((await ok.next()).object.metadata.name, 'after-compact')
  })

  t.test('watch over HTTPS needs a token too', async (t) => {
    const r = await apiRequest(srv, 'GET', `${ns}/configmaps?watch=true`, undefined, { token: null })
    t.equal(r.status, 401)
  })
})
