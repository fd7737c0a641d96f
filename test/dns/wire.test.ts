// The hand-written wire code: query parsing (question, OPT), error responses, and the
// TTL-counting answer cache.
import t from 'tap'
import dns2 from 'dns2'
import { TtlCache } from '../../src/dns/cache.js'
import { addressAnswers, appendOpt, headerResponse, keyName, parseQuery, rotateAnswers, ttlOffsets } from '../../src/dns/wire.js'
import { query } from './fixtures.js'

const { Packet } = dns2

t.test('parseQuery: question, lower-cased key, EDNS', async (t) => {
  const r = parseQuery(query('WeB.Default.svc.cluster.local', 1, { edns: 4096 }))
  if (r.kind !== 'query') throw new Error(`unexpected ${r.kind}`)
  t.equal(r.q.id, 0x1234)
  t.equal(r.q.rd, true)
  t.equal(r.q.qtype, 1)
  t.equal(keyName(r.q.key), 'web.default.svc.cluster.local')
  t.equal(r.q.edns, true)
  t.equal(r.q.udpSize, 4096)
  const same = parseQuery(query('web.default.svc.cluster.local', 1, { edns: 1232 }))
  t.equal(same.kind === 'query' && same.q.key, r.q.key, 'case does not change the key')
  const other = parseQuery(query('web.default.svc.cluster.local', 28))
  t.not(other.kind === 'query' && other.q.key, r.q.key, 'type is part of the key')
  // The type's bytes are never lower-cased: 65 ('A') must not become 97 ('a').
  const https = parseQuery(query('x.example', 65))
  const t97 = parseQuery(query('x.example', 97))
  t.not(https.kind === 'query' && https.q.key, t97.kind === 'query' && t97.q.key)
  const small = parseQuery(query('a.b', 1, { edns: 100 }))
  t.equal(small.kind === 'query' && small.q.udpSize, 512, 'payload sizes below 512 count as 512')
  const v1 = parseQuery(query('a.b', 1, { edns: 1232, version: 1 }))
  t.equal(v1.kind === 'query' && v1.q.ednsVersion, 1)
})

t.test('parseQuery: malformed input', async (t) => {
  t.same(parseQuery(Buffer.alloc(5)), { kind: 'drop' }, 'shorter than a header')
  const resp = query('a.b', 1)
  resp[2]! |= 0x80
  t.same(parseQuery(resp), { kind: 'drop' }, 'a response is never answered')
  const cut = query('abc.example', 1).subarray(0, 16)
  t.match(parseQuery(cut), { kind: 'error', rcode: 1, id: 0x1234 })
  const label64 = Buffer.concat([query('a', 1).subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])])
  t.match(parseQuery(label64), { kind: 'error', rcode: 1 }, 'label longer than 63')
  const ptr = Buffer.concat([query('a', 1).subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])])
  t.match(parseQuery(ptr), { kind: 'error', rcode: 1 }, 'compression pointer in the question')
  const twoOpt = query('a.b', 1, { edns: 1232 })
  const opt = twoOpt.subarray(twoOpt.length - 11)
  const doubled = Buffer.concat([twoOpt, opt])
  doubled.writeUInt16BE(2, 10)
  t.match(parseQuery(doubled), { kind: 'error', rcode: 1 }, 'two OPT records')
  const overrun = query('a.b', 1, { edns: 1232 })
  overrun.writeUInt16BE(3, 10)
  t.match(parseQuery(overrun), { kind: 'error', rcode: 1, questionEnd: 21 }, 'ARCOUNT larger than the records present')
  const iquery = query('a.b', 1)
  iquery[2] = (iquery[2]! & 0x87) | (1 << 3)
  t.match(parseQuery(iquery), { kind: 'error', rcode: 4 }, 'opcode IQUERY: NOTIMP')
})

t.test('headerResponse and appendOpt', async (t) => {
  const q = query('a.b', 1, { edns: 1232, id: 7 })
  const r = parseQuery(q)
  if (r.kind !== 'query') throw new Error('parse')
  const tc = headerResponse(q, 0, r.q.questionEnd, { tc: true, aa: true, ra: true, edns: true })
  const p = Packet.parse(tc)
  t.equal(p.header.id, 7)
  t.equal(p.header.qr, 1)
  t.equal(p.header.tc, 1)
  t.equal(p.header.aa, 1)
  t.equal(p.header.rd, 1, 'RD echoed')
  t.equal(p.questions.length, 1)
  t.equal(p.additionals.length, 1, 'OPT appended')
  t.equal((p.additionals[0] as unknown as { class: number }).class, 1232)
  const bare = appendOpt(headerResponse(q, 3, undefined))
  t.equal(bare.readUInt16BE(4), 0, 'no question when it did not parse')
  t.equal(bare.readUInt16BE(10), 1)
})

t.test('TtlCache counts TTLs down, keeps only cacheable answers, expires', async (t) => {
  let now = 1_000_000
  const cache = new TtlCache({ maxEntries: 2, maxTtl: 30, emptyTtl: 5 }, () => now)
  const p = new Packet()
  p.header = new Packet.Header({ id: 1, qr: 1, rd: 1, ra: 1 })
  p.questions = [new Packet.Question({ name: 'example.com', type: 1, class: 1 })]
  p.answers = [{ name: 'example.com', type: 1, class: 1, ttl: 20, address: '192.0.2.1' } as never, { name: 'example.com', type: 1, class: 1, ttl: 60, address: '192.0.2.2' } as never]
  const resp = p.toBuffer()
  t.same(ttlOffsets(resp)!.minTtl, 20)
  t.ok(cache.set('k', resp))
  now += 7_500
  const hit = Packet.parse(cache.get('k')!)
  t.same(hit.answers.map((a) => a.ttl), [13, 53], 'TTLs reduced by 7 whole seconds')
  now += 13_000
  t.equal(cache.get('k'), undefined, 'expired with its smallest TTL')
  const servfail = Buffer.from(resp)
  servfail[3] = (servfail[3]! & 0xf0) | 2
  t.notOk(cache.set('s', servfail), 'SERVFAIL is not cached')
  const truncated = Buffer.from(resp)
  truncated[2]! |= 0x02
  t.notOk(cache.set('t', truncated), 'TC answers are not cached')
  cache.set('a', resp)
  cache.set('b', resp)
  cache.set('c', resp)
  t.equal(cache.size, 2, 'bounded')
  t.equal(cache.get('a'), undefined, 'oldest evicted')
})

t.test('address answers rotate in place; anything else is left alone', async (t) => {
  const p = new Packet()
  p.header = new Packet.Header({ id: 1, qr: 1 })
  p.questions = [new Packet.Question({ name: 'h.default.svc.cluster.local', type: 1, class: 1 })]
  p.answers = ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((address) => ({ name: 'h.default.svc.cluster.local', type: 1, class: 1, ttl: 5, address }) as never)
  const buf = p.toBuffer()
  const rot = addressAnswers(buf)!
  t.match(rot, { count: 3, size: 16 })
  const order = (b: Buffer) => Packet.parse(b).answers.map((a) => (a as unknown as { address: string }).address)
  const b1 = Buffer.from(buf)
  rotateAnswers(b1, rot, 1)
  t.same(order(b1), ['10.0.0.2', '10.0.0.3', '10.0.0.1'])
  const b3 = Buffer.from(buf)
  rotateAnswers(b3, rot, 3)
  t.same(order(b3), ['10.0.0.1', '10.0.0.2', '10.0.0.3'])
  const srv = new Packet()
  srv.header = new Packet.Header({ id: 1, qr: 1 })
  srv.questions = [new Packet.Question({ name: 'x', type: 33, class: 1 })]
  srv.answers = [1, 2].map((port) => ({ name: 'x', type: 33, class: 1, ttl: 5, priority: 0, weight: 50, port, target: 'a.x' }) as never)
  t.equal(addressAnswers(srv.toBuffer()), undefined, 'SRV order is left alone')
})
