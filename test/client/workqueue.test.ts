import t from 'tap'
import {
  BucketRateLimiter,
  createWorkQueue,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  runWorkers,
  WorkQueue,
} from '../../src/client/workqueue.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('pending adds of the same key are merged, order is FIFO', async (t) => {
  const q = createWorkQueue<string>()
  for (const k of ['a', 'b', 'a', 'c', 'b', 'a']) q.add(k)
  t.equal(q.len(), 3)
  t.same([await q.get(), await q.get(), await q.get()], ['a', 'b', 'c'])
  t.equal(q.len(), 0)
})

t.test('a key being processed is not handed out again until done, then it is', async (t) => {
  const q = new WorkQueue<string>()
  q.add('k')
  const first = await q.get()
  t.equal(first, 'k')
  q.add('k') // re-added while processing: dirty, not queued
  q.add('k')
  t.equal(q.len(), 0, 'not queued while in progress')
  let second: string | undefined
  void q.get().then((k) => (second = k))
  await sleep(20)
  t.equal(second, undefined, 'a second worker waits')
  q.done('k')
  await sleep(0)
  t.equal(second, 'k', 'processed again after done (once)')
  q.done('k')
  t.equal(q.len(), 0)
})

t.test('runWorkers never runs one key on two workers at once', async (t) => {
  const q = createWorkQueue<string>()
  const active = new Set<string>()
  let overlap = 0
  let runs = 0
  const keys = ['a', 'b', 'c', 'd']
  const workers = runWorkers(q, 4, async (k) => {
    if (active.has(k)) overlap++
    active.add(k)
    runs++
    await sleep(2)
    active.delete(k)
  })
  for (let i = 0; i < 200; i++) {
    q.add(keys[i % keys.length]!)
    if (i % 7 === 0) await sleep(1)
  }
  while (q.len() > 0 || q.inProgress() > 0) await sleep(5)
  q.shutDown()
  await workers
  t.equal(overlap, 0, 'no concurrent processing of one key')
  t.ok(runs >= keys.length && runs < 200, `merged adds (${runs} runs for 200 adds)`)
})

t.test('per-item exponential back-off: 5 ms doubling, capped, forget resets', async (t) => {
  const rl = new ItemExponentialFailureRateLimiter<string>(5, 1_000_000)
  const seq = Array.from({ length: 8 }, () => rl.when('x'))
  t.same(seq, [5, 10, 20, 40, 80, 160, 320, 640])
  t.equal(rl.numRequeues('x'), 8)
  for (let i = 0; i < 100; i++) rl.when('x')
  t.equal(rl.when('x'), 1_000_000, 'capped at 1000 s')
  t.equal(rl.when('y'), 5, 'per item')
  rl.forget('x')
  t.equal(rl.when('x'), 5, 'forget resets')
})

t.test('token bucket: burst free, then paced at qps', async (t) => {
  let now = 0
  const b = new BucketRateLimiter<string>(10, 3, () => now)
  t.same([b.when('a'), b.when('b'), b.when('c')], [0, 0, 0])
  t.equal(b.when('d'), 100)
  t.equal(b.when('e'), 200)
  now = 1000 // a second refills 10 tokens: the debt is paid and the bucket is full (burst 3) again
  t.equal(b.when('f'), 0)
  const max = new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(10, 1, () => now))
  t.equal(max.when('z'), 5)
  t.equal(max.when('z'), 100, 'the larger of the two')
})

t.test('addRateLimited delays grow per failure and are forgotten on success', async (t) => {
  const q = createWorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter(20, 10_000) })
  const times: number[] = []
  let fails = 3
  const start = Date.now()
  const workers = runWorkers(
    q,
    1,
    async () => {
      times.push(Date.now() - start)
      if (fails-- > 0) throw new Error('not yet')
    },
    { onError: () => {} },
  )
  q.add('k')
  while (times.length < 4) await sleep(5)
  await sleep(5)
  t.equal(q.numRequeues('k'), 0, 'success forgets the back-off')
  q.shutDown()
  await workers
  const gaps = times.slice(1).map((v, i) => v - times[i]!)
  t.ok(gaps[0]! >= 18, `first retry after ~20 ms (${gaps[0]})`)
  t.ok(gaps[1]! >= 38, `second after ~40 ms (${gaps[1]})`)
  t.ok(gaps[2]! >= 78, `third after ~80 ms (${gaps[2]})`)
})

t.test('maxRetries drops a key that keeps failing', async (t) => {
  const q = createWorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter(1, 5) })
  let calls = 0
  const workers = runWorkers(q, 1, async () => {
    calls++
    throw new Error('always')
  }, { maxRetries: 3, onError: () => {} })
  q.add('bad')
  await sleep(100)
  t.equal(calls, 4, 'first try + 3 retries')
  t.equal(q.numRequeues('bad'), 0)
  q.shutDown()
  await workers
})

t.test('addAfter: ready after the delay; the earlier of two delays wins; superseded timers do not re-add', async (t) => {
  const q = createWorkQueue<string>()
  const t0 = Date.now()
  q.addAfter('x', 300)
  q.addAfter('x', 20) // earlier: replaces the 300 ms timer
  q.addAfter('x', 400) // later: ignored
  q.addAfter('y', 150)
  t.equal(q.len(), 0, 'nothing ready yet')
  t.equal(await q.get(), 'x', 'x (20 ms) comes before y (150 ms)')
  t.ok(Date.now() - t0 >= 18, 'not before its delay')
  q.done('x')
  t.equal(await q.get(), 'y')
  q.done('y')
  await sleep(450)
  t.equal(q.len(), 0, 'the superseded 300/400 ms timers did not add x again')
  q.addAfter('z', 0)
  t.equal(q.len(), 1, 'zero delay adds now')
  q.shutDown()
})

t.test('shutDown: waiters get undefined, adds are ignored, workers exit', async (t) => {
  const q = createWorkQueue<string>()
  const waiting = [q.get(), q.get()]
  q.addAfter('later', 10_000)
  q.shutDown()
  t.same(await Promise.all(waiting), [undefined, undefined])
  q.add('x')
  t.equal(q.len(), 0)
  t.equal(await q.get(), undefined)
  t.ok(q.shuttingDown())
})

t.test('shutDownWithDrain waits for the keys in progress', async (t) => {
  const q = createWorkQueue<string>()
  let finished = false
  q.add('slow')
  const workers = runWorkers(q, 2, async () => {
    await sleep(50)
    finished = true
  })
  await sleep(5)
  await q.shutDownWithDrain()
  t.ok(finished, 'drain returned after the handler finished')
  await workers
})
