// The informer against the in-memory fake API: sync, indexes, handlers, and convergence after
// dropped streams, server restarts and compaction (410). The same scenarios run against the
// real apiserver in apiserver-informer.test.ts.
import t from 'tap'
import type { Test } from 'tap'
import type { KubeObject, WatchEvent } from '../../src/api/types.js'
import { Backoff, createInformer, waitForCacheSync, type Informer } from '../../src/client/informer.js'
import { objectKey, type ResourceClient } from '../../src/client/interfaces.js'
import { createClient } from '../../src/client/rest.js'
import { FakeApi } from './fakeapi.js'

const CM = { group: '', version: 'v1', plural: 'configmaps', namespaced: true }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** What the handlers saw, replayed into a map: must equal the store and the server. */
function mirror(inf: Informer<KubeObject>) {
  const m = new Map<string, string>()
  const counts = { add: 0, update: 0, delete: 0 }
  inf.addEventHandler({
    onAdd: (o) => {
      counts.add++
      m.set(objectKey(o), o.metadata.resourceVersion!)
    },
    onUpdate: (_old, o) => {
      counts.update++
      m.set(objectKey(o), o.metadata.resourceVersion!)
    },
    onDelete: (o) => {
      counts.delete++
      m.delete(objectKey(o))
    },
  })
  return { m, counts }
}

function storeView(inf: Informer<KubeObject>): Map<string, string> {
  return new Map(inf.store.list().map((o) => [objectKey(o), o.metadata.resourceVersion!]))
}

const sorted = (m: Map<string, string>) => [...m].sort(([a], [b]) => a.localeCompare(b))

async function setup(t: Test, opts: Parameters<typeof createInformer<KubeObject>>[1] = {}) {
  const f = new FakeApi()
  await f.start()
  t.teardown(() => f.stop())
  const c = createClient({ server: f.url })
  t.teardown(() => c.close())
  const inf = createInformer<KubeObject>(c.resource(CM), { backoff: { initialMs: 20, maxMs: 200 }, ...opts })
  t.teardown(() => inf.stop())
  return { f, c, inf }
}

function churn(f: FakeApi, round: number, n = 10): void {
  for (let i = 0; i < n; i++) f.put({ metadata: { name: `r${round}-${i}`, namespace: i % 2 ? 'a' : 'b', labels: { round: String(round) } } })
  for (const k of [...f.objects.keys()].filter((_, i) => i % 3 === 0)) {
    const o = f.objects.get(k)!
    f.put({ ...o, data: { touched: String(round) } })
  }
  for (const k of [...f.objects.keys()].filter((_, i) => i % 4 === 1)) {
    const [ns, name] = k.split('/')
    f.remove(ns, name!)
  }
}

async function converged(t: Test, f: FakeApi, inf: Informer<KubeObject>, seen: Map<string, string>, what: string) {
  await until(`${what}: cache = server`, () => JSON.stringify(sorted(storeView(inf))) === JSON.stringify(sorted(f.snapshot())))
  t.same(sorted(storeView(inf)), sorted(f.snapshot()), `${what}: store has the server's names and resourceVersions`)
  t.same(sorted(seen), sorted(f.snapshot()), `${what}: handlers saw the same`)
}

t.test('list then watch: sync, handlers, indexes, late handlers get synthetic adds', async (t) => {
  const { f, inf } = await setup(t, {
    pageSize: 2,
    indexers: { byLabel: (o) => Object.values(o.metadata.labels ?? {}) },
  })
  for (let i = 0; i < 5; i++) f.put({ metadata: { name: `cm${i}`, namespace: i < 3 ? 'x' : 'y', labels: { app: i % 2 ? 'odd' : 'even' } } })
  const { m, counts } = mirror(inf)
  await inf.start()
  t.ok(inf.hasSynced())
  t.equal(inf.store.keys().length, 5, 'paged list gathered all pages')
  t.equal(counts.add, 5)
  t.equal(inf.lastResourceVersion(), String(f.rev))
  t.same(inf.store.byIndex('namespace', 'y').map((o) => o.metadata.name).sort(), ['cm3', 'cm4'])
  t.same(inf.store.byIndex('byLabel', 'odd').map((o) => o.metadata.name).sort(), ['cm1', 'cm3'])
  f.put({ metadata: { name: 'cm1', namespace: 'x', labels: { app: 'even' } } })
  f.remove('y', 'cm4')
  f.put({ metadata: { name: 'cm9', namespace: 'y' } })
  await until('events applied', () => inf.store.keys().length === 5 && !!inf.store.get('y/cm9'))
  t.same(inf.store.byIndex('byLabel', 'odd').map((o) => o.metadata.name), ['cm3'], 'index follows updates')
  t.same(counts, { add: 6, update: 1, delete: 1 })
  t.same(sorted(m), sorted(f.snapshot()))
  const late: string[] = []
  inf.addEventHandler({ onAdd: (o) => late.push(objectKey(o)) })
  t.same(late.sort(), inf.store.keys().sort(), 'late handler caught up')
  t.throws(() => inf.store.byIndex('nope', 'x'), /no index named/)
  await waitForCacheSync(inf)
})

t.test('watch dropped mid-stream: re-watch from the last resourceVersion, nothing replayed or lost', async (t) => {
  const { f, inf } = await setup(t)
  const { m, counts } = mirror(inf)
  await inf.start()
  for (let round = 0; round < 5; round++) {
    await until('watching', () => f.watcherCount() === 1)
    churn(f, round)
    f.dropWatches()
    churn(f, round + 100) // while the informer reconnects
  }
  await converged(t, f, inf, m, 'after 5 drops')
  t.equal(inf.stats.lists, 1, 'no relist was needed')
  t.ok(inf.stats.watches >= 6, `re-watched (${inf.stats.watches} watches)`)
  // Each object version was delivered once: adds + updates == number of puts observed.
  t.equal(counts.add - counts.delete, f.objects.size)
})

t.test('server down, churn, server back on the same port: back-off, then the cache equals the server', async (t) => {
  const { f, inf } = await setup(t)
  const { m } = mirror(inf)
  await inf.start()
  churn(f, 1)
  await converged(t, f, inf, m, 'before')
  await f.stop()
  churn(f, 2)
  churn(f, 3)
  await sleep(400)
  t.ok(inf.stats.reconnectWaits >= 2, `waited between attempts (${inf.stats.reconnectWaits})`)
  await f.start()
  await converged(t, f, inf, m, 'after restart')
  t.equal(inf.stats.relistsAfterGone, 0)
})

t.test('410 while disconnected: relist, deletes for vanished, updates for changed', async (t) => {
  const { f, inf } = await setup(t)
  for (let i = 0; i < 6; i++) f.put({ metadata: { name: `k${i}`, namespace: 'n' } })
  const { m, counts } = mirror(inf)
  await inf.start()
  await until('watching', () => f.watcherCount() === 1)
  await f.stop()
  f.remove('n', 'k0')
  f.remove('n', 'k1')
  f.put({ metadata: { name: 'k2', namespace: 'n' }, data: { v: 'changed' } })
  f.put({ metadata: { name: 'new', namespace: 'n' } })
  f.compact()
  const before = { ...counts }
  await f.start()
  await converged(t, f, inf, m, 'after compaction')
  t.equal(inf.stats.relistsAfterGone, 1, 'relisted once after 410')
  t.same({ add: counts.add - before.add, update: counts.update - before.update, delete: counts.delete - before.delete }, { add: 1, update: 1, delete: 2 }, 'only the differences were emitted')
})

t.test('resync: onUpdate(obj, obj) for every cached object', async (t) => {
  const { f, inf } = await setup(t, { resyncMs: 100 })
  f.put({ metadata: { name: 'a', namespace: 'n' } })
  f.put({ metadata: { name: 'b', namespace: 'n' } })
  const same: string[] = []
  inf.addEventHandler({ onUpdate: (o, n) => o === n && same.push(n.metadata.name!) })
  await inf.start()
  await until('two resyncs', () => same.length >= 4, 3000)
  t.same([...new Set(same)].sort(), ['a', 'b'])
})

t.test('a throwing handler does not stop the informer or the others', async (t) => {
  const { f, inf } = await setup(t)
  const got: string[] = []
  inf.addEventHandler({ onAdd: () => { throw new Error('boom') } })
  inf.addEventHandler({ onAdd: (o) => got.push(o.metadata.name!) })
  await inf.start()
  f.put({ metadata: { name: 'x', namespace: 'n' } })
  f.put({ metadata: { name: 'y', namespace: 'n' } })
  await until('both delivered', () => got.length === 2)
  t.same(got, ['x', 'y'])
})

t.test('start() waits for a server that is not up yet; stop() ends everything', async (t) => {
  const { f, inf } = await setup(t)
  await f.stop()
  let synced = false
  const p = inf.start().then(() => (synced = true))
  await sleep(150)
  t.notOk(synced)
  await f.start()
  await p
  t.ok(inf.hasSynced())
  inf.stop()
  await inf.waitStopped()
  await until('watch closed', () => f.watcherCount() === 0)
  t.pass('loop exited')
})

t.test('back-off grows to the cap with jitter and resets', async (t) => {
  const b = new Backoff(100, 1000, 0.5, () => 0.5)
  t.same(Array.from({ length: 6 }, () => b.next()), [100, 200, 400, 800, 1000, 1000])
  b.reset()
  t.equal(b.next(), 100)
  const lo = new Backoff(100, 1000, 0.5, () => 0)
  const hi = new Backoff(100, 1000, 0.5, () => 1)
  t.same([lo.next(), hi.next()], [50, 150], 'jitter ±50 %')
  for (let i = 0; i < 10; i++) hi.next()
  t.equal(hi.next(), 1000, 'never above the cap')
})

t.test('scripted client: synchronous events, stale events ignored, non-410 ERROR backs off and re-watches', async (t) => {
  const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'n', resourceVersion: rv } })
  const scripts: WatchEvent<KubeObject>[][] = [
    [
      { type: 'MODIFIED', object: obj('a', '12') },
      { type: 'MODIFIED', object: obj('a', '11') }, // older than the cache: ignored
      { type: 'ERROR', object: { kind: 'Status', metadata: {}, status: 'Failure', code: 500, reason: 'InternalError' } as unknown as KubeObject },
      { type: 'ADDED', object: obj('never', '13') }, // after the error on the same stream: ignored
    ],
    [{ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } }],
  ]
  const watchRVs: string[] = []
  const client = {
    list: async () => ({ metadata: { resourceVersion: '10' }, items: [obj('a', '10')] }),
    watch: (o: { resourceVersion?: string }, onEvent: (e: WatchEvent<KubeObject>) => void) => {
      watchRVs.push(o.resourceVersion ?? '')
      for (const e of scripts.shift() ?? []) onEvent(e) // synchronously, before watch() returns
      return { stop: () => {}, done: scripts.length === 0 && watchRVs.length > 2 ? new Promise<void>(() => {}) : Promise.resolve() }
    },
  } as unknown as ResourceClient<KubeObject>
  const inf = createInformer<KubeObject>(client, { backoff: { initialMs: 10, maxMs: 20 } })
  t.teardown(() => inf.stop())
  await inf.start()
  await until('bookmark applied', () => inf.lastResourceVersion() === '20')
  t.equal(inf.store.get('n/a')!.metadata.resourceVersion, '12', 'stale event did not regress the cache')
  t.notOk(inf.store.get('n/never'))
  t.same(watchRVs.slice(0, 3), ['10', '12', '20'], 're-watched from the last resourceVersion (bookmark included)')
  t.ok(inf.stats.reconnectWaits >= 1, 'the 500 ERROR backed off')
  t.equal(inf.stats.lists, 1, 'no relist for a non-410 error')
})

t.test('continue token expired during a paged list: list again unpaged, then sync', async (t) => {
  const f = new FakeApi()
  await f.start()
  t.teardown(() => f.stop())
  const c = createClient({ server: f.url })
  t.teardown(() => c.close())
  for (let i = 0; i < 5; i++) f.put({ metadata: { name: `p${i}`, namespace: 'n' } })
  const real = c.resource<KubeObject>(CM)
  const limits: (number | undefined)[] = []
  const wrapped: ResourceClient<KubeObject> = Object.create(real)
  wrapped.list = async (o) => {
    limits.push(o?.limit)
    const page = await real.list(o)
    if (limits.length === 1) {
      f.put({ metadata: { name: 'late', namespace: 'n' } })
      f.compact() // the continue token of page 1 is now too old
    }
    return page
  }
  const inf = createInformer<KubeObject>(wrapped, { pageSize: 2, backoff: { initialMs: 10, maxMs: 50 } })
  t.teardown(() => inf.stop())
  await inf.start()
  t.same(limits, [2, 2, undefined], 'page 1, expired page 2, then one unpaged list')
  t.equal(inf.store.keys().length, 6)
  t.equal(inf.lastResourceVersion(), String(f.rev))
})
