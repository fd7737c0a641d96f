// The request handler without sockets: query bytes in, response bytes out, written as
// zone-file text (`;; RCODE flags`, `;OPT …`, the question, then the sections). The upstream
// is a fake that answers from a table, or fails; metrics are recorded.
import t from 'tap'
import dns2 from 'dns2'
import { rcodeName, rrText, TYPE, typeName, type AnswerConfig } from '../../src/dns/answer.js'
import { decodeRecord } from '../../src/dns/encode.js'
import { DnsHandler, type HandlerMetrics, type UpstreamResolver } from '../../src/dns/handler.js'
import type { Source } from '../../src/dns/metrics.js'
import { DnsModel } from '../../src/dns/model.js'
import { clusterModel, query, svc } from './fixtures.js'

const { Packet } = dns2
const cfg: AnswerConfig = { zone: 'cluster.local', ttl: 5, nsAddress: '10.96.0.10' }

/** A response as text; owner names as sent (so DNS 0x20 case echo shows). */
function text(buf: Buffer): string {
  const p = Packet.parse(buf)
  const h = p.header
  const flags = (['qr', 'aa', 'tc', 'rd', 'ra'] as const).filter((f) => h[f]).join(' ')
  // dns2 folds the OPT's extended RCODE into the header's: 16 is BADVERS.
  const lines = [`;; ${h.rcode === 16 ? 'BADVERS' : rcodeName(h.rcode)} ${flags}`]
  const records = (rs: unknown[]): string[] =>
    (rs as Record<string, unknown>[]).flatMap((r) => {
      if (r.type === TYPE.OPT) return []
      const rr = decodeRecord(r)
      return [rr ? rrText({ ...rr, name: String(r.name) }) : `; type ${String(r.type)}`]
    })
  const opt = (p.additionals as unknown as Record<string, unknown>[]).find((r) => r.type === TYPE.OPT)
  if (opt) lines.push(`;OPT udp=${String(opt.class)}${opt.extendedRcode ? ` extended-rcode=${String(opt.extendedRcode)}` : ''}`)
  for (const q of p.questions) lines.push(`;${q.name}. ${q.class === 1 ? 'IN' : `CLASS${q.class}`} ${typeName(q.type)}`)
  for (const [sec, rrs] of [['ANSWER', p.answers], ['AUTHORITY', p.authorities], ['ADDITIONAL', p.additionals]] as const) {
    const rendered = records(rrs)
    if (rendered.length) lines.push(`;${sec}`, ...rendered)
  }
  return lines.join('\n')
}

/** Upstream: example.com A 192.0.2.7 (TTL 60), www.example.com too, anything else NXDOMAIN; or down. */
class FakeUpstream implements UpstreamResolver {
  asked: string[] = []
  down = false
  async query(msg: Buffer, tcp: boolean): Promise<Buffer> {
    const req = Packet.parse(msg)
    const q = req.questions[0]!
    this.asked.push(`${q.name} ${typeName(q.type)}${tcp ? ' tcp' : ''}`)
    if (this.down) throw new Error('no upstream answered in time')
    const resp = Packet.createResponseFromRequest(req)
    resp.header.ra = 1
    if (/^(www\.)?example\.com$/i.test(q.name) && q.type === TYPE.A)
      resp.answers.push({ name: q.name, type: TYPE.A, class: 1, ttl: 60, address: '192.0.2.7' } as never)
    else resp.header.rcode = 3
    return resp.toBuffer()
  }
}

class RecordingMetrics implements HandlerMetrics {
  answers: string[] = []
  upstreamFailures = 0
  answered(qtype: number, rcode: number, source: Source): void {
    this.answers.push(`${typeName(qtype)} ${rcode === 16 ? 'BADVERS' : rcodeName(rcode)} ${source}`)
  }
  upstreamFailed(): void {
    this.upstreamFailures++
  }
}

function setup(model: DnsModel = clusterModel(60), now = { ms: 1_700_000_000_000 }) {
  const upstream = new FakeUpstream()
  const metrics = new RecordingMetrics()
  const handler = new DnsHandler({ model, config: cfg, upstream, metrics, nowMs: () => now.ms })
  /** Whatever the handler makes of `q`, awaited; 'DROPPED' when it says nothing. */
  const ask = async (q: Buffer, tcp = false): Promise<string> => {
    const r = await handler.handle(q, tcp)
    return r ? text(r) : 'DROPPED'
  }
  return { handler, upstream, metrics, ask, now }
}

const SOA = (m: DnsModel): string => `cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. ${m.serial} 7200 1800 86400 5`
const header = (bytes: number[]): Buffer => Buffer.from(bytes)
const model = clusterModel(60)

const cases: [string, Buffer, { tcp?: boolean }, string][] = [
  ['cluster A: authoritative, RD echoed', query('web.default.svc.cluster.local', TYPE.A), {}, `;; NOERROR qr aa rd ra
;web.default.svc.cluster.local. IN A
;ANSWER
web.default.svc.cluster.local. 5 IN A 10.96.0.20`],
  ['question case is echoed (DNS 0x20)', query('WEB.Default.svc.cluster.LOCAL', TYPE.A), {}, `;; NOERROR qr aa rd ra
;WEB.Default.svc.cluster.LOCAL. IN A
;ANSWER
WEB.Default.svc.cluster.LOCAL. 5 IN A 10.96.0.20`],
  ['NXDOMAIN carries the SOA', query('missing.default.svc.cluster.local', TYPE.A), {}, `;; NXDOMAIN qr aa rd ra
;missing.default.svc.cluster.local. IN A
;AUTHORITY
${SOA(model)}`],
  ['EDNS query: our OPT on the answer', query('web.default.svc.cluster.local', TYPE.A, { edns: 4096 }), {}, `;; NOERROR qr aa rd ra
;OPT udp=1232
;web.default.svc.cluster.local. IN A
;ANSWER
web.default.svc.cluster.local. 5 IN A 10.96.0.20`],
  ['EDNS version 1: BADVERS', query('web.default.svc.cluster.local', TYPE.A, { edns: 1232, version: 1 }), {}, `;; BADVERS qr rd ra
;OPT udp=1232 extended-rcode=1
;web.default.svc.cluster.local. IN A`],
  ['another class in our zone: REFUSED', query('web.default.svc.cluster.local', TYPE.A, { qclass: 3 }), {}, `;; REFUSED qr aa rd ra
;web.default.svc.cluster.local. CLASS3 A`],
  // 60 endpoints ≈ 1 KB.
  ['too big for 512-byte UDP: TC, header and question only', query('big.default.svc.cluster.local', TYPE.A), {}, `;; NOERROR qr aa tc rd ra
;big.default.svc.cluster.local. IN A`],
  ['too big for the EDNS size asked: TC with OPT', query('big.default.svc.cluster.local', TYPE.A, { edns: 512 }), {}, `;; NOERROR qr aa tc rd ra
;OPT udp=1232
;big.default.svc.cluster.local. IN A`],
  ['name runs off the end: FORMERR, no question', header([0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x05, 0x61, 0x62]), {}, `;; FORMERR qr rd ra`],
  ['two questions: FORMERR', header([0, 7, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1]), {}, `;; FORMERR qr rd ra`],
  ['an OPT in the answer section: FORMERR, question echoed', header([0, 9, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]), {}, `;; FORMERR qr rd ra
;. IN A`],
  ['NOTIFY: NOTIMP', header([0, 8, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]), {}, `;; NOTIMP qr ra`],
  ['shorter than a header: dropped', header([1, 2, 3]), {}, 'DROPPED'],
  ['a response: dropped (answering responses invites loops)', header([0, 1, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]), {}, 'DROPPED'],
]

for (const [what, q, opts, want] of cases) {
  t.test(what, async (t) => {
    const { ask } = setup(model)
    t.equal(await ask(q, opts.tcp), want)
  })
}

t.test('the same big answer fits EDNS 1232 and TCP; TC only over UDP', async (t) => {
  const { ask } = setup(model)
  const records = (s: string): number => s.split('\n').filter((l) => l.includes(' IN A 10.245.')).length
  t.equal(records(await ask(query('big.default.svc.cluster.local', TYPE.A, { edns: 1232 }))), 60)
  const tcp = await ask(query('big.default.svc.cluster.local', TYPE.A), true)
  t.match(tcp, /^;; NOERROR qr aa rd ra\n/, 'no TC over TCP')
  t.equal(records(tcp), 60)
})

t.test('SERVFAIL until synced, and not cached past it', async (t) => {
  const m = new DnsModel(() => 1_700_000_000_000)
  m.upsertService(svc('default', 'web', { clusterIP: '10.96.0.20' }))
  const { ask, metrics } = setup(m)
  const q = query('web.default.svc.cluster.local', TYPE.A)
  t.equal(await ask(q), `;; SERVFAIL qr aa rd ra\n;web.default.svc.cluster.local. IN A`)
  t.equal(await ask(q), `;; SERVFAIL qr aa rd ra\n;web.default.svc.cluster.local. IN A`)
  m.setSynced(true)
  t.equal(await ask(q), `;; NOERROR qr aa rd ra\n;web.default.svc.cluster.local. IN A\n;ANSWER\nweb.default.svc.cluster.local. 5 IN A 10.96.0.20`)
  t.same(metrics.answers, ['A SERVFAIL zone', 'A SERVFAIL zone', 'A NOERROR zone'], 'SERVFAIL was never served from the cache')
})

t.test('zone cache: a miss encodes, a hit copies; a model change drops it', async (t) => {
  const m = clusterModel()
  const { ask, handler, metrics } = setup(m)
  const q = query('web.default.svc.cluster.local', TYPE.A)
  const first = await ask(q)
  t.equal(await ask(query('WEB.default.svc.cluster.local', TYPE.A, { id: 7 })), first.replace(/\bweb\.default/g, 'WEB.default'), 'case differs, one cache entry')
  t.same(metrics.answers, ['A NOERROR zone', 'A NOERROR cache'])
  t.equal(handler.cacheSizes().zone, 1)
  const idOf = async (id: number): Promise<number> => (await handler.handle(query('web.default.svc.cluster.local', TYPE.A, { id }), false) as Buffer).readUInt16BE(0)
  t.equal(await idOf(0x4242), 0x4242, 'a hit carries the query ID')
  m.upsertService(svc('default', 'web', { clusterIP: '10.96.0.21' }))
  t.match(await ask(q), /IN A 10\.96\.0\.21$/, 'the change is visible at once')
  t.equal(metrics.answers.at(-1), 'A NOERROR zone', 'answered from the model, not the old cache')
})

t.test('headless answers rotate from one hit to the next', async (t) => {
  const { ask } = setup(clusterModel())
  const firsts = new Set<string>()
  for (let i = 0; i < 3; i++) firsts.add((await ask(query('db.default.svc.cluster.local', TYPE.A))).split('\n')[3]!)
  t.equal(firsts.size, 3)
})

t.test('forwarding: not authoritative, cached with TTLs counting down', async (t) => {
  const { ask, upstream, metrics, now } = setup(clusterModel())
  const q = query('example.com', TYPE.A)
  t.equal(await ask(q), `;; NOERROR qr rd ra\n;example.com. IN A\n;ANSWER\nexample.com. 60 IN A 192.0.2.7`)
  now.ms += 10_000
  t.equal(await ask(query('EXAMPLE.com', TYPE.A)), `;; NOERROR qr rd ra\n;EXAMPLE.com. IN A\n;ANSWER\nEXAMPLE.com. 50 IN A 192.0.2.7`, 'from the cache, TTL down by the 10 s it was kept')
  t.same(upstream.asked, ['example.com A'], 'asked upstream once')
  t.equal(await ask(query('nope.example.net', TYPE.A)), `;; NXDOMAIN qr rd ra\n;nope.example.net. IN A`)
  await ask(query('nope.example.net', TYPE.A))
  t.equal(upstream.asked.length, 2, 'NXDOMAIN cached too')
  await ask(query('example.com', TYPE.A, { edns: 1232 }))
  t.equal(upstream.asked.length, 3, 'EDNS and plain queries are cached apart')
  t.equal(await ask(query('9.9.9.9.in-addr.arpa', TYPE.PTR), true), `;; NXDOMAIN qr rd ra\n;9.9.9.9.in-addr.arpa. IN PTR`)
  t.equal(upstream.asked.at(-1), '9.9.9.9.in-addr.arpa PTR tcp', 'unknown reverse names go upstream, over TCP when the client came over TCP')
  t.same(metrics.answers.slice(0, 4), ['A NOERROR forward', 'A NOERROR cache', 'A NXDOMAIN forward', 'A NXDOMAIN cache'])
})

t.test('forwarding failure: SERVFAIL, counted, not cached', async (t) => {
  const { ask, upstream, metrics } = setup(clusterModel())
  upstream.down = true
  const q = query('example.org', TYPE.A, { edns: 1232 })
  t.equal(await ask(q), `;; SERVFAIL qr rd ra\n;OPT udp=1232\n;example.org. IN A`)
  t.equal(metrics.upstreamFailures, 1)
  upstream.down = false
  t.equal(await ask(q), `;; NXDOMAIN qr rd ra\n;example.org. IN A`, 'asked again once the upstream is back')
  t.equal(upstream.asked.length, 2)
})

t.test('ExternalName: the CNAME target is chased upstream; the CNAME alone if that fails', async (t) => {
  const { ask, upstream } = setup(clusterModel())
  const cname = 'ext.prod.svc.cluster.local. 5 IN CNAME www.example.com.'
  t.equal(await ask(query('ext.prod.svc.cluster.local', TYPE.A)), `;; NOERROR qr aa rd ra\n;ext.prod.svc.cluster.local. IN A\n;ANSWER\n${cname}\nwww.example.com. 60 IN A 192.0.2.7`)
  await ask(query('ext.prod.svc.cluster.local', TYPE.A))
  t.same(upstream.asked, ['www.example.com A'], 'the joined answer is cached')
  const { ask: ask2, upstream: down } = setup(clusterModel())
  down.down = true
  t.equal(await ask2(query('ext.prod.svc.cluster.local', TYPE.A)), `;; NOERROR qr aa rd ra\n;ext.prod.svc.cluster.local. IN A\n;ANSWER\n${cname}`)
})

t.test('cache hits and zone answers are synchronous; forwarding is not', async (t) => {
  const { handler } = setup(clusterModel())
  t.ok(Buffer.isBuffer(handler.handle(query('web.default.svc.cluster.local', TYPE.A), false)), 'zone answer now')
  t.ok(Buffer.isBuffer(handler.handle(query('web.default.svc.cluster.local', TYPE.A), false)), 'cache hit now')
  t.ok(handler.handle(query('example.com', TYPE.A), false) instanceof Promise, 'forwarded later')
})

t.test('a bug costs one answer, never the server', async (t) => {
  const broken = clusterModel()
  broken.service = () => {
    throw new Error('boom')
  }
  const { handler } = setup(broken)
  t.equal(handler.handle(query('web.default.svc.cluster.local', TYPE.A), false), undefined, 'no answer, no throw')
  t.ok(Buffer.isBuffer(handler.handle(query('dns-version.cluster.local', TYPE.TXT), false)), 'other names still answered')
})
