// The recorder's pure core as tables with a fake clock: dedupe into counts, the per-object
// token bucket (burst 25, one per 5 min), and the aggregation of floods of similar messages.
import t from 'tap'
import { AGGREGATED_PREFIX, EventCorrelator, TokenBucket } from '../../src/events/correlator.js'
import type { CoreEvent } from '../../src/api/types.js'

let seq = 0
const ev = (obj: string, reason: string, message: string, component = 'kubelet'): CoreEvent => ({
  metadata: { name: `${obj}.${++seq}`, namespace: 'default' },
  involvedObject: { kind: 'Pod', namespace: 'default', name: obj, uid: `u-${obj}` },
  reason,
  message,
  type: 'Normal',
  source: { component, host: 'n1' },
  firstTimestamp: '2026-01-01T00:00:00Z',
  lastTimestamp: '2026-01-01T00:00:00Z',
  count: 1,
})

t.test('a repeat updates the first event: same name, count + 1, first timestamp kept', async (t) => {
  const c = new EventCorrelator()
  const a = c.correlate(ev('p', 'BackOff', 'back-off'), 0)
  t.equal(a.kind, 'create')
  const again = { ...ev('p', 'BackOff', 'back-off'), lastTimestamp: '2026-01-01T00:05:00Z' }
  const b = c.correlate(again, 1000)
  t.equal(b.kind, 'update')
  if (b.kind !== 'update' || a.kind !== 'create') return
  t.equal(b.event.metadata.name, a.event.metadata.name)
  t.equal(b.event.count, 2)
  t.equal(b.event.firstTimestamp, '2026-01-01T00:00:00Z')
  t.equal(b.event.lastTimestamp, '2026-01-01T00:05:00Z')
  const c3 = c.correlate(ev('p', 'BackOff', 'back-off'), 2000)
  t.equal(c3.kind === 'update' && c3.event.count, 3)
})

t.test('what makes two events different', async (t) => {
  const cases: [string, CoreEvent, CoreEvent, 'create' | 'update'][] = [
    ['same everything', ev('p', 'Started', 'm'), ev('p', 'Started', 'm'), 'update'],
    ['other message', ev('p', 'Started', 'm'), ev('p', 'Started', 'n'), 'create'],
    ['other reason', ev('p', 'Started', 'm'), ev('p', 'Created', 'm'), 'create'],
    ['other object', ev('p', 'Started', 'm'), ev('q', 'Started', 'm'), 'create'],
    ['other source', ev('p', 'Started', 'm'), ev('p', 'Started', 'm', 'scheduler'), 'create'],
    ['other type', ev('p', 'Started', 'm'), { ...ev('p', 'Started', 'm'), type: 'Warning' }, 'create'],
  ]
  for (const [name, first, second, want] of cases) {
    const c = new EventCorrelator()
    c.correlate(first, 0)
    t.equal(c.correlate(second, 1).kind, want, name)
  }
})

t.test('spam filter: 25 per source and object, then one per 5 minutes', async (t) => {
  const c = new EventCorrelator()
  const kinds: string[] = []
  for (let i = 0; i < 30; i++) kinds.push(c.correlate(ev('p', 'R', `m${i}`), 0).kind)
  t.equal(kinds.filter((k) => k !== 'drop').length, 25)
  t.same(kinds.slice(25), ['drop', 'drop', 'drop', 'drop', 'drop'])
  t.equal(c.correlate(ev('q', 'R', 'm'), 0).kind, 'create', 'another object has its own bucket')
  t.equal(c.correlate(ev('p', 'R', 'x'), 299_000).kind, 'drop', 'not refilled before 5 min')
  t.not(c.correlate(ev('p', 'R', 'y'), 301_000).kind, 'drop', 'one token after 5 min')
  t.equal(c.correlate(ev('p', 'R', 'z'), 302_000).kind, 'drop')
})

t.test('token bucket refills continuously up to the burst', async (t) => {
  const b = new TokenBucket(2, 1000, 0)
  t.same([b.take(0), b.take(0), b.take(0)], [true, true, false])
  t.same([b.take(1000), b.take(1000)], [true, false])
  t.same([b.take(10_000), b.take(10_000), b.take(10_000)], [true, true, false], 'never more than the burst')
})

t.test('more than 10 distinct messages in 10 min are combined into one counted event', async (t) => {
  const c = new EventCorrelator()
  const out = Array.from({ length: 14 }, (_, i) => c.correlate(ev('p', 'FailedMount', `volume ${i} missing`), i))
  t.same(out.slice(0, 10).map((d) => d.kind), Array(10).fill('create'))
  const agg = out.slice(10)
  t.equal(agg[0]!.kind, 'create')
  t.ok(agg[0]!.kind !== 'drop' && agg[0]!.event.message!.startsWith(AGGREGATED_PREFIX))
  t.same(agg.slice(1).map((d) => d.kind), ['update', 'update', 'update'], 'later ones count on the combined event')
  t.equal(agg[3]!.kind === 'update' && agg[3]!.event.count, 4)
  const later = c.correlate(ev('p', 'FailedMount', 'volume 99 missing'), 700_000)
  t.ok(later.kind === 'create' && !later.event.message!.startsWith(AGGREGATED_PREFIX), 'a new window starts after 10 min')
})

t.test('forget: an event that failed to write is created again next time', async (t) => {
  const c = new EventCorrelator()
  const a = c.correlate(ev('p', 'Started', 'm'), 0)
  if (a.kind !== 'create') return t.fail('create')
  c.forget(a.event)
  t.equal(c.correlate(ev('p', 'Started', 'm'), 1).kind, 'create')
})
