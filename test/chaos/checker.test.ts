// The chaos checker on hand-made histories: the ones a correct cluster can produce pass,
// each way of losing or mangling an acknowledged write fails with its own kind.
import t from 'tap'
import { checkHistory, type ViolationKind } from '../../src/chaos/checker.js'
import { payload, type FinalObject, type WriteRecord } from '../../src/chaos/history.js'

const K = 'ns/w0-k0'
let clock = 0
const w = (op: WriteRecord['op'], outcome: WriteRecord['outcome'], value?: number, rv?: string): WriteRecord => {
  clock += 10
  return { key: K, op, outcome, start: clock, end: clock + 5, ...(value !== undefined ? { value } : {}), ...(rv ? { rv } : {}) }
}
const obj = (value: number, rv: string, key = K): FinalObject => ({ key, rv, data: payload(key, value, 'w0') })

const cases: { name: string; log: WriteRecord[]; final: FinalObject[]; want: ViolationKind[] }[] = [
  { name: 'acked create, then update: holds the update', log: [w('create', 'ok', 1, '10'), w('update', 'ok', 2, '11')], final: [obj(2, '11')], want: [] },
  { name: 'acked delete: gone', log: [w('create', 'ok', 1, '10'), w('delete', 'ok')], final: [], want: [] },
  { name: 'delete and re-create: revisions keep rising', log: [w('create', 'ok', 1, '10'), w('delete', 'ok'), w('create', 'ok', 3, '14')], final: [obj(3, '14')], want: [] },
  { name: 'unknown update after the last ack, landed', log: [w('create', 'ok', 1, '10'), w('update', 'unknown', 2)], final: [obj(2, '12')], want: [] },
  { name: 'unknown update after the last ack, did not land', log: [w('create', 'ok', 1, '10'), w('update', 'unknown', 2)], final: [obj(1, '10')], want: [] },
  { name: 'unknown delete landed', log: [w('create', 'ok', 1, '10'), w('delete', 'unknown')], final: [], want: [] },
  { name: 'unknown create, never acked, absent', log: [w('create', 'unknown', 1)], final: [], want: [] },
  { name: 'refused update changes nothing', log: [w('create', 'ok', 1, '10'), w('update', 'fail', 2)], final: [obj(1, '10')], want: [] },
  { name: 'LOST: acked create missing', log: [w('create', 'ok', 1, '10')], final: [], want: ['lost'] },
  { name: 'LOST: acked update rolled back to the older value', log: [w('create', 'ok', 1, '10'), w('update', 'ok', 2, '11')], final: [obj(1, '10')], want: ['lost', 'rv-order'] },
  { name: 'LOST: an unknown before the last ack cannot excuse it', log: [w('create', 'ok', 1, '10'), w('update', 'unknown', 2), w('update', 'ok', 3, '12')], final: [obj(2, '13')], want: ['lost'] },
  { name: 'RESURRECTED: acked delete, object back', log: [w('create', 'ok', 1, '10'), w('delete', 'ok')], final: [obj(1, '10')], want: ['resurrected'] },
  { name: 'REJECTED: a refused write shows', log: [w('create', 'ok', 1, '10'), w('update', 'fail', 2)], final: [obj(2, '12')], want: ['rejected-applied'] },
  { name: 'FOREIGN: a counter never sent', log: [w('create', 'ok', 1, '10')], final: [obj(9, '12')], want: ['foreign'] },
  { name: 'CORRUPT: checksum wrong', log: [w('create', 'ok', 1, '10')], final: [{ key: K, rv: '10', data: { counter: '1', writer: 'w0', check: 'deadbeef' } }], want: ['corrupt'] },
  { name: 'CORRUPT: no data', log: [w('create', 'ok', 1, '10')], final: [{ key: K, rv: '10', data: undefined }], want: ['corrupt'] },
  { name: 'RV: acked revisions go backwards', log: [w('create', 'ok', 1, '10'), w('update', 'ok', 2, '9')], final: [obj(2, '9')], want: ['rv-order'] },
  { name: 'RV: equal revisions for two acks', log: [w('create', 'ok', 1, '10'), w('update', 'ok', 2, '10')], final: [obj(2, '10')], want: ['rv-order'] },
  { name: 'RV: not a number', log: [w('create', 'ok', 1, 'abc')], final: [obj(1, 'abc')], want: ['rv-order'] },
  { name: 'PHANTOM: an object nobody wrote', log: [], final: [obj(1, '10', 'ns/stranger')], want: ['phantom'] },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const r = checkHistory(c.log, c.final)
    t.same(r.violations.map((v) => v.kind).sort(), [...c.want].sort(), JSON.stringify(r.violations))
    t.equal(r.ok, c.want.length === 0)
  })
}

t.test('counts: acked writes lost and corrupt objects', async (t) => {
  const log = [w('create', 'ok', 1, '10'), { ...w('create', 'ok', 1, '11'), key: 'ns/b' }, { ...w('create', 'ok', 1, '12'), key: 'ns/c' }, { ...w('delete', 'ok'), key: 'ns/c' }, { ...w('update', 'unknown', 2), key: 'ns/b' }]
  const r = checkHistory(log, [{ ...obj(1, '11', 'ns/b') }, obj(1, '12', 'ns/c')])
  t.equal(r.lostAcked, 2, 'ns/w0-k0 missing and ns/c resurrected')
  t.equal(r.corrupt, 0)
  t.same([r.acked, r.unknown, r.failed, r.keys], [4, 1, 0, 3])
})

t.test('interleaved logs are ordered by send time per key', async (t) => {
  const a = w('create', 'ok', 1, '10')
  const b = w('update', 'ok', 2, '11')
  t.ok(checkHistory([b, a], [obj(2, '11')]).ok)
})
