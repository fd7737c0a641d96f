// Change trackers and the bounded-frequency runner.
import t from 'tap'
import { EndpointsChangeTracker, ServiceChangeTracker, TRIGGER_TIME_ANNOTATION } from '../../src/proxy/changes.js'
import { SyncRunner } from '../../src/proxy/runner.js'
import { slice, svc } from './fixtures.js'

t.test('service tracker keeps the first previous and the last current per service', async (t) => {
  const tr = new ServiceChangeTracker()
  const a = svc('web', { clusterIP: '10.96.0.20' })
  const b = svc('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP' })
  const c = svc('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP', externalIPs: ['1.2.3.4'] })
  tr.update(a, b)
  tr.update(b, c)
  const m = tr.take()
  t.equal(m.size, 1)
  t.equal(m.get('default/web')!.previous, a)
  t.equal(m.get('default/web')!.current, c)
  t.equal(tr.pending, 0)
  tr.update(a, b)
  tr.update(b, a)
  t.equal(tr.pending, 0, 'a change undone is dropped')
  const withStatus = { ...a, status: { loadBalancer: {} }, metadata: { ...a.metadata, resourceVersion: '9' } }
  tr.update(a, withStatus)
  t.equal(tr.pending, 0, 'metadata/status-only updates are ignored')
})

t.test('endpoints tracker groups slices by service and records trigger times', async (t) => {
  let now = 1000
  const tr = new EndpointsChangeTracker(() => now)
  const s1 = slice('web', [{ ip: '10.244.1.11' }], { name: 'web-1' })
  const s2 = slice('web', [{ ip: '10.244.1.12' }], { name: 'web-2' })
  s2.metadata.annotations = { [TRIGGER_TIME_ANNOTATION]: new Date(500).toISOString() }
  tr.update(undefined, s1)
  now = 2000
  tr.update(undefined, s2)
  t.same([...tr.slicesFor('default/web')!.keys()].sort(), ['web-1', 'web-2'])
  const { changes, triggerTimes } = tr.take()
  t.same([...changes.keys()], ['default/web'])
  t.equal(triggerTimes.get('default/web'), 1000, 'earliest change of the batch')
  tr.update(s1, undefined)
  t.same([...tr.slicesFor('default/web')!.keys()], ['web-2'])
  tr.update(undefined, s1)
  t.equal(tr.pending, 0, 'delete + re-add of the same slice is no change')
  const orphan = slice('x', [])
  delete orphan.metadata.labels
  t.notOk(tr.update(undefined, orphan), 'a slice without service label is ignored')
})

t.test('endpoints tracker: a relabelled slice leaves its old service and joins the new one', async (t) => {
  const tr = new EndpointsChangeTracker(() => 1000)
  const onA = slice('a', [{ ip: '10.244.1.11' }], { name: 'moving' })
  const stays = slice('a', [{ ip: '10.244.1.12' }], { name: 'stays' })
  tr.update(undefined, onA)
  tr.update(undefined, stays)
  tr.take()
  const onB = slice('b', [{ ip: '10.244.1.11' }], { name: 'moving' })
  t.ok(tr.update(onA, onB), 'a sync is needed')
  t.same([...tr.slicesFor('default/a')!.keys()], ['stays'], 'a keeps only its other slice')
  t.same([...tr.slicesFor('default/b')!.keys()], ['moving'])
  const { changes } = tr.take()
  t.same([...changes.keys()].sort(), ['default/a', 'default/b'], 'both services are re-synced')
  t.same([...changes.get('default/a')!.current!.keys()], ['stays'])
  t.same([...changes.get('default/a')!.previous!.keys()].sort(), ['moving', 'stays'])
  // Moved away and back before a sync: nothing to do.
  tr.update(onB, onA)
  tr.update(onA, onB)
  t.equal(tr.pending, 0, 'a move undone before the sync is no change')
  // Losing the label entirely also takes it out of its service.
  const unlabelled = slice('b', [{ ip: '10.244.1.11' }], { name: 'moving' })
  delete unlabelled.metadata.labels
  tr.update(onB, unlabelled)
  t.equal(tr.slicesFor('default/b'), undefined, 'b has no slices left')
  t.same([...tr.take().changes.keys()], ['default/b'])
})

t.test('runner: coalesces requests to one run per min interval, never overlaps', async (t) => {
  let runs = 0
  let active = 0
  let overlap = false
  const r = new SyncRunner(
    async () => {
      runs++
      active++
      if (active > 1) overlap = true
      await new Promise((res) => setTimeout(res, 30))
      active--
    },
    { minIntervalMs: 100, maxIntervalMs: 60_000 },
  )
  for (let i = 0; i < 20; i++) r.run()
  await new Promise((res) => setTimeout(res, 50))
  t.equal(runs, 1, 'a burst runs once right away')
  for (let i = 0; i < 20; i++) r.run()
  await new Promise((res) => setTimeout(res, 40))
  t.equal(runs, 1, 'the next run waits for the min interval')
  await new Promise((res) => setTimeout(res, 120))
  t.equal(runs, 2, 'then runs once for the whole burst')
  t.notOk(overlap)
  await r.stop()
})

t.test('runner: runs on its own every max interval', async (t) => {
  let runs = 0
  const r = new SyncRunner(async () => void runs++, { minIntervalMs: 10, maxIntervalMs: 60 })
  r.run()
  // generous: timers run late on a loaded 2-core machine
  await new Promise((res) => setTimeout(res, 500))
  t.ok(runs >= 3, `periodic runs: ${runs}`)
  await r.stop()
  const after = runs
  await new Promise((res) => setTimeout(res, 100))
  t.equal(runs, after, 'stopped')
})

t.test('the proxy refuses to program the root network namespace without --netns', async (t) => {
  const { assertNotRootNetns } = await import('../../src/proxy/node.js')
  t.throws(() => assertNotRootNetns(undefined), /refusing to program the root network namespace/)
  t.doesNotThrow(() => assertNotRootNetns('some-node-ns'))
})
