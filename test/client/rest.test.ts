import t from 'tap'
import type { KubeObject, WatchEvent } from '../../src/api/types.js'
import { isAlreadyExists, isConflict, isGone, isNotFound, ApiStatusErrorImpl } from '../../src/client/errors.js'
import { createClient, LineSplitter, resourcePath, type RestWatchHandle } from '../../src/client/rest.js'
import { FakeApi } from './fakeapi.js'

const CM = { group: '', version: 'v1', plural: 'configmaps', namespaced: true }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function fake(t: Tap, opts: ConstructorParameters<typeof FakeApi>[0] = {}): Promise<FakeApi> {
  const f = new FakeApi(opts)
  await f.start()
  t.teardown(() => f.stop())
  return f
}
/** The part of a tap test this helper needs. */
type Tap = { teardown(fn: () => unknown): void }

t.test('resource paths: core and groups, namespaced or not, subresources', async (t) => {
  const table: [Parameters<typeof resourcePath>, string][] = [
    [[CM], '/api/v1/configmaps'],
    [[CM, 'ns1'], '/api/v1/namespaces/ns1/configmaps'],
    [[CM, 'ns1', 'a b'], '/api/v1/namespaces/ns1/configmaps/a%20b'],
    [[{ group: '', version: 'v1', plural: 'nodes', namespaced: false }, 'ignored', 'n1', 'status'], '/api/v1/nodes/n1/status'],
    [[{ group: 'apps', version: 'v1', plural: 'deployments', namespaced: true }, 'd', 'web', 'scale'], '/apis/apps/v1/namespaces/d/deployments/web/scale'],
    [[{ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true }], '/apis/coordination.k8s.io/v1/leases'],
  ]
  for (const [args, want] of table) t.equal(resourcePath(...args), want)
})

t.test('line splitter: lines cut anywhere, even inside a UTF-8 character', async (t) => {
  const events = [{ type: 'ADDED', n: 'é€😀' }, { type: 'MODIFIED', n: 'x'.repeat(5000) }, { type: 'DELETED', n: '' }]
  const bytes = Buffer.from(events.map((e) => JSON.stringify(e) + '\n').join('') + '\n')
  for (const size of [1, 2, 3, 7, 64, 4096, bytes.length]) {
    const s = new LineSplitter()
    const got: unknown[] = []
    for (let i = 0; i < bytes.length; i += size) for (const l of s.push(bytes.subarray(i, i + size))) got.push(JSON.parse(l))
    got.push(...s.end().map((l) => JSON.parse(l)))
    t.same(got, events, `chunk size ${size}`)
  }
  const s = new LineSplitter()
  t.same(s.push('{"a":1}\r\n{"b"'), ['{"a":1}'])
  t.same(s.end(), ['{"b"'], 'an unterminated last line is handed out at the end')
})

t.test('CRUD, bearer token, content types, Status errors', async (t) => {
  const f = await fake(t, { token: 's3cret' })
  const c = createClient({ server: f.url, token: 's3cret', userAgent: 'tester/1' })
  t.teardown(() => c.close())
  const cms = c.resource<KubeObject>(CM, 'default')
  const created = await cms.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { k: 'v' } })
  t.equal(created.metadata.namespace, 'default')
  t.ok(created.metadata.resourceVersion)
  const got = await cms.get('a')
  t.same(got.data, { k: 'v' })
  const dup = await cms.create({ metadata: { name: 'a' } }).catch((e: unknown) => e)
  t.ok(isAlreadyExists(dup) && !isConflict(dup) && (dup as ApiStatusErrorImpl).code === 409, 'AlreadyExists, 409')
  const updated = await cms.update({ ...got, data: { k: 'v2' } })
  t.not(updated.metadata.resourceVersion, got.metadata.resourceVersion)
  const stale = await cms.update({ ...got, data: { k: 'v3' } }).catch((e: unknown) => e)
  t.ok(isConflict(stale), 'stale resourceVersion is a Conflict')
  await cms.patch('a', { data: { p: '1' } })
  await cms.patch('a', { data: { p: '2' } }, 'strategic')
  await cms.patch('a', [{ op: 'add', path: '/data/q', value: '3' }], 'json')
  await cms.patch('a', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }, 'apply')
  const patches = f.requests.filter((r) => r.method === 'PATCH')
  t.same(patches.map((r) => r.contentType), [
    'application/merge-patch+json',
    'application/strategic-merge-patch+json',
    'application/json-patch+json',
    'application/apply-patch+yaml',
  ])
  t.match(patches[3]!.url, /fieldManager=tester/)
  t.ok(f.requests.every((r) => r.auth === 'Bearer s3cret'))
  const all = c.resource<KubeObject>(CM)
  t.equal((await all.get('default/a')).metadata.name, 'a', 'unbound client takes namespace/name')
  t.equal((await all.list()).items.length, 1)
  await cms.delete('a', { propagationPolicy: 'Background' })
  const err = await cms.get('a').catch((e: unknown) => e)
  t.ok(isNotFound(err), 'NotFound after delete')
  t.equal((err as ApiStatusErrorImpl).message, 'configmaps "a" not found', 'the server message is the error message')
  t.equal((err as ApiStatusErrorImpl).status.reason, 'NotFound')
  const raw = await c.raw('GET', '/nope')
  t.equal(raw.status, 404)
  const anon = createClient({ server: f.url })
  t.teardown(() => anon.close())
  await t.rejects(anon.resource(CM, 'default').list(), { code: 401, reason: 'Unauthorized' })
})

t.test('non-Status error bodies and refused connections', async (t) => {
  const e = ApiStatusErrorImpl.fromResponse(503, '<html>busy</html>', 'get x')
  t.equal(e.code, 503)
  t.equal(e.reason, 'ServiceUnavailable')
  t.ok(isGone(ApiStatusErrorImpl.fromResponse(410, '', 'w')))
  const f = await fake(t)
  const port = f.port
  await f.stop()
  const c = createClient({ server: `http://127.0.0.1:${port}` })
  await t.rejects(c.resource(CM, 'x').get('y'), { code: 'ECONNREFUSED' })
})

t.test('watch: events split across TCP writes arrive whole and in order; stop ends it', async (t) => {
  const f = await fake(t, { splitWritesMs: 3 })
  const c = createClient({ server: f.url })
  t.teardown(() => c.close())
  const cms = c.resource<KubeObject>(CM, 'default')
  const list = await cms.list()
  const seen: WatchEvent<KubeObject>[] = []
  const h = cms.watch({ resourceVersion: list.metadata.resourceVersion! }, (ev) => seen.push(ev))
  await sleep(50)
  for (let i = 0; i < 20; i++) f.put({ metadata: { name: `cm-${i}`, namespace: 'default' }, data: { v: 'é'.repeat(i) } })
  f.remove('default', 'cm-3')
  while (seen.length < 21) await sleep(10)
  t.same(seen.map((e) => `${e.type}:${e.object.metadata.name}`).slice(0, 3), ['ADDED:cm-0', 'ADDED:cm-1', 'ADDED:cm-2'])
  t.equal(seen[20]!.type, 'DELETED')
  t.equal((seen[19]!.object as unknown as { data: { v: string } }).data.v, 'é'.repeat(19), 'multi-byte text intact')
  h.stop()
  await h.done
  t.equal((h as RestWatchHandle).error, undefined, 'stop is not an error')
})

t.test('watch: done resolves when the server drops the stream or times it out', async (t) => {
  const f = await fake(t)
  const c = createClient({ server: f.url })
  t.teardown(() => c.close())
  const cms = c.resource<KubeObject>(CM, 'default')
  const h1 = cms.watch({ timeoutSeconds: 1 }, () => {})
  const t0 = Date.now()
  await h1.done
  t.ok(Date.now() - t0 >= 900, 'ended by the server timeout')
  const h2 = cms.watch({}, () => {})
  while (f.watcherCount() === 0) await sleep(5)
  f.dropWatches()
  await h2.done
  t.pass('ended when the socket was destroyed')
})

t.test('watch: 410 as HTTP answer and as an in-stream ERROR event', async (t) => {
  const f = await fake(t)
  const c = createClient({ server: f.url })
  t.teardown(() => c.close())
  const cms = c.resource<KubeObject>(CM, 'default')
  f.put({ metadata: { name: 'x', namespace: 'default' } })
  f.put({ metadata: { name: 'y', namespace: 'default' } })
  f.compact()
  for (const sel of ['http410', undefined]) {
    const evs: WatchEvent<KubeObject>[] = []
    const h = cms.watch({ resourceVersion: '1', ...(sel ? { labelSelector: sel } : {}) }, (e) => evs.push(e))
    await h.done
    t.equal(evs.length, 1)
    t.equal(evs[0]!.type, 'ERROR')
    t.equal((evs[0]!.object as unknown as { code: number }).code, 410)
    if (sel) t.ok(isGone((h as RestWatchHandle).error), 'HTTP 410 is also the handle error')
  }
})
