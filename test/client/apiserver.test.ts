// The client library against the REAL netkube apiserver (real etcd): REST semantics, and
// the informer converging after a watch dropped mid-stream, an apiserver restart, and a
// compaction (410) while it was disconnected. A TCP proxy between informer and server lets
// the test cut streams and make the server unreachable while the churn goes on directly.
import t from 'tap'
import type { Test } from 'tap'
import { Etcd3 } from 'etcd3'
import type { KubeObject } from '../../src/api/types.js'
import { isConflict, isNotFound, isAlreadyExists, isInvalid } from '../../src/client/errors.js'
import { createInformer, type Informer } from '../../src/client/informer.js'
import { objectKey, type Client } from '../../src/client/interfaces.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { createClient } from '../../src/client/rest.js'
import { withApiServer, type TestApiServer } from '../helpers/apiserver.js'
import { TcpProxy } from './tcpproxy.js'

const CM = { group: '', version: 'v1', plural: 'configmaps', namespaced: true }
const NS = { group: '', version: 'v1', plural: 'namespaces', namespaced: false }
const DEPLOY = { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

function cm(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { test: 'client' } }, data }
}

async function serverView(c: Client): Promise<[string, string][]> {
  const l = await c.resource(CM).list()
  return l.items.map((o) => [objectKey(o), o.metadata.resourceVersion!] as [string, string]).sort(([a], [b]) => a.localeCompare(b))
}

function cacheView(inf: Informer<KubeObject>): [string, string][] {
  return inf.store.list().map((o) => [objectKey(o), o.metadata.resourceVersion!] as [string, string]).sort(([a], [b]) => a.localeCompare(b))
}

/** Handler-side mirror: what a controller would have rebuilt from the events. */
function mirror(inf: Informer<KubeObject>) {
  const m = new Map<string, string>()
  const counts = { add: 0, update: 0, delete: 0 }
  inf.addEventHandler({
    onAdd: (o) => (counts.add++, m.set(objectKey(o), o.metadata.resourceVersion!)),
    onUpdate: (_o, n) => (counts.update++, m.set(objectKey(n), n.metadata.resourceVersion!)),
    onDelete: (o) => (counts.delete++, m.delete(objectKey(o))),
  })
  return { view: () => [...m].sort(([a], [b]) => a.localeCompare(b)), counts }
}

async function converged(t: Test, c: Client, inf: Informer<KubeObject>, seen: () => [string, string][], what: string): Promise<void> {
  let want: [string, string][] = []
  await until(`${what}: cache = server`, async () => {
    want = await serverView(c)
    return JSON.stringify(cacheView(inf)) === JSON.stringify(want)
  })
  t.same(cacheView(inf), want, `${what}: cache has the server's names and resourceVersions (${want.length} objects)`)
  t.same(seen(), want, `${what}: the handlers saw the same`)
}

/** Creates, updates and deletes in two namespaces. */
async function churn(c: Client, tag: string): Promise<void> {
  const a = c.resource<KubeObject>(CM, 'default')
  const b = c.resource<KubeObject>(CM, 'kube-public')
  for (let i = 0; i < 8; i++) await (i % 2 ? a : b).create(cm(`${tag}-${i}`, { i: String(i) }))
  for (let i = 0; i < 8; i += 3) await (i % 2 ? a : b).patch(`${tag}-${i}`, { data: { touched: 'yes' } })
  for (let i = 1; i < 8; i += 4) await (i % 2 ? a : b).delete(`${tag}-${i}`)
}

async function setup(t: Test, opts: Parameters<typeof withApiServer>[1] = {}) {
  const srv = await withApiServer(t, opts)
  const c = createClient({ ...loadKubeconfig(srv.kubeconfigPath), userAgent: 'client-test/1' })
  t.teardown(() => c.close())
  return { srv, c }
}

async function proxied(t: Test, srv: TestApiServer, c: Client) {
  const proxy = new TcpProxy(srv.port)
  await proxy.start()
  t.teardown(() => proxy.stop())
  const pc = createClient({ ...c.config, server: proxy.url })
  t.teardown(() => pc.close())
  return { proxy, pc }
}

t.test('REST against the real apiserver: kubeconfig, CRUD, patches, Status errors, subresources', async (t) => {
  const { srv, c } = await setup(t)
  t.match(c.config, { server: srv.url, token: srv.token })
  const cms = c.resource<KubeObject>(CM, 'default')
  const a = await cms.create(cm('a', { k: 'v' }))
  t.equal(a.metadata.namespace, 'default')
  t.ok(isAlreadyExists(await cms.create(cm('a')).catch((e: unknown) => e)), '409 AlreadyExists')
  const stale = { ...a, data: { k: 'old' } }
  await cms.update({ ...a, data: { k: 'v2' } })
  t.ok(isConflict(await cms.update(stale).catch((e: unknown) => e)), '409 Conflict on a stale resourceVersion')
  t.same((await cms.patch('a', { data: { m: '1' } })).data, { k: 'v2', m: '1' }, 'merge patch')
  t.same((await cms.patch('a', { data: { s: '2' } }, 'strategic')).data, { k: 'v2', m: '1', s: '2' }, 'strategic merge patch')
  t.same((await cms.patch('a', [{ op: 'remove', path: '/data/k' }], 'json')).data, { m: '1', s: '2' }, 'json patch')
  const inv = await cms.create(cm('Not_A_Name')).catch((e: unknown) => e)
  t.ok(isInvalid(inv), '422 Invalid')
  await cms.delete('a', { propagationPolicy: 'Background', gracePeriodSeconds: 0 }) // DeleteOptions body
  const nf = await cms.get('a').catch((e: unknown) => e)
  t.ok(isNotFound(nf))
  t.equal((nf as Error).message, 'configmaps "a" not found', 'the server message, as kubectl prints it')
  const d = c.resource<KubeObject>(DEPLOY, 'default')
  await d.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
  })
  const st = await d.patchStatus('web', { status: { replicas: 1, readyReplicas: 1 } })
  t.match(st, { status: { readyReplicas: 1 } }, 'status subresource patch')
  const ns = await c.resource(NS).get('kube-system')
  t.equal(ns.metadata.name, 'kube-system', 'cluster-scoped get')
  const v = await c.raw('GET', '/version')
  t.equal(v.status, 200)
  const anon = createClient({ server: srv.url, caPem: srv.caPem })
  t.teardown(() => anon.close())
  t.match(await anon.resource(CM).list().catch((e: unknown) => e), { code: 401 }, 'no token: 401')
  const wrongCA = createClient({ server: srv.url, token: srv.token })
  t.teardown(() => wrongCA.close())
  t.ok(await wrongCA.resource(CM).list().then(() => false, () => true), 'an unknown CA is refused')
})

t.test('informer: watch dropped mid-stream, churn while reconnecting: cache ends identical to the server', async (t) => {
  const { srv, c } = await setup(t, { bookmarkIntervalMs: 200 })
  const { proxy, pc } = await proxied(t, srv, c)
  const inf = createInformer<KubeObject>(pc.resource(CM), { backoff: { initialMs: 50, maxMs: 500 } })
  t.teardown(() => inf.stop())
  const { view, counts } = mirror(inf)
  await churn(c, 'pre')
  await inf.start()
  await converged(t, c, inf, view, 'initial sync')
  for (let round = 0; round < 3; round++) {
    await until('watch open', () => proxy.connections() > 0)
    const p = churn(c, `r${round}`)
    await sleep(5)
    proxy.dropAll() // mid-churn: some events were delivered, some not yet
    await p
  }
  await converged(t, c, inf, view, 'after 3 drops')
  t.equal(inf.stats.lists, 1, 'resumed from the last resourceVersion, no relist')
  t.ok(inf.stats.watches >= 4, `re-watched (${inf.stats.watches})`)
  t.ok(counts.delete > 0 && counts.update > 0)
  // Bookmarks advance the resourceVersion past changes to other resources.
  const before = Number(inf.lastResourceVersion())
  await c.resource(NS).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookmark-bump' } })
  await until('bookmark moved the resourceVersion', () => Number(inf.lastResourceVersion()) > before, 5000)
  t.pass(`bookmark: ${before} → ${inf.lastResourceVersion()}`)
})

t.test('informer: paged initial list (limit/continue) under concurrent writes', async (t) => {
  const { c } = await setup(t)
  for (let i = 0; i < 10; i++) await c.resource<KubeObject>(CM, 'default').create(cm(`p-${i}`))
  const inf = createInformer<KubeObject>(c.resource(CM), { pageSize: 3 })
  t.teardown(() => inf.stop())
  const { view } = mirror(inf)
  const writes = churn(c, 'during') // races the paged list
  await inf.start()
  await writes
  await converged(t, c, inf, view, 'paged list + watch')
})

t.test('informer: apiserver restart with churn while it was unreachable', async (t) => {
  const { srv, c } = await setup(t)
  const { proxy, pc } = await proxied(t, srv, c)
  const inf = createInformer<KubeObject>(pc.resource(CM), { backoff: { initialMs: 50, maxMs: 500 } })
  t.teardown(() => inf.stop())
  const { view } = mirror(inf)
  await inf.start()
  await churn(c, 'a')
  await converged(t, c, inf, view, 'before restart')
  await proxy.stop() // informer cut off
  await srv.restart()
  await churn(c, 'b') // creates/updates/deletes it cannot see
  await sleep(300)
  const waits = inf.stats.reconnectWaits
  t.ok(waits >= 1, `backing off while unreachable (${waits} waits)`)
  await proxy.start()
  await converged(t, c, inf, view, 'after restart')

  // And a plain restart with the informer connected directly (no proxy).
  const direct = createInformer<KubeObject>(c.resource(CM), { backoff: { initialMs: 50, maxMs: 500 } })
  t.teardown(() => direct.stop())
  const d = mirror(direct)
  await direct.start()
  const restarting = srv.restart()
  await restarting
  await churn(c, 'c')
  await converged(t, c, direct, d.view, 'direct informer after restart')
})

t.test('informer: etcd compacted while disconnected → 410 → relist with the differences', async (t) => {
  const { srv, c } = await setup(t)
  const { proxy, pc } = await proxied(t, srv, c)
  const inf = createInformer<KubeObject>(pc.resource(CM), { backoff: { initialMs: 50, maxMs: 500 } })
  t.teardown(() => inf.stop())
  const { view, counts } = mirror(inf)
  await churn(c, 'x')
  await inf.start()
  await converged(t, c, inf, view, 'before')
  await proxy.stop()
  const before = { ...counts }
  await churn(c, 'y') // 8 created, 2 of them deleted again: 6 new objects the informer never saw…
  await c.resource(CM, 'default').patch('x-3', { data: { changed: 'while away' } }) // …one old one changed…
  await c.resource(CM, 'kube-public').delete('x-0') // …and one old one gone
  const rv = Number((await c.resource(CM).list()).metadata.resourceVersion)
  const etcd = new Etcd3({ hosts: srv.etcdEndpoint })
  t.teardown(() => etcd.close())
  await etcd.kv.compact({ revision: rv, physical: true })
  t.ok(Number(inf.lastResourceVersion()) < rv, 'the informer revision is now compacted')
  await proxy.start()
  await converged(t, c, inf, view, 'after 410')
  t.ok(inf.stats.relistsAfterGone >= 1, `relisted after 410 (${inf.stats.relistsAfterGone})`)
  t.same(
    { add: counts.add - before.add, update: counts.update - before.update, delete: counts.delete - before.delete },
    { add: 6, update: 1, delete: 1 },
    'exactly the differences: 6 adds, x-3 updated, x-0 deleted',
  )
})
