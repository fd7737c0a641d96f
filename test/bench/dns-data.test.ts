// bench:dns's data and its correctness checks: every server's input, rendered from one record
// set, must give the answers the bench expects; the checks must call wrong answers wrong.
import t from 'tap'
import { answer, rcodeName, rrText, TYPE } from '../../src/dns/answer.js'
import {
  answerProblem, benchModel, benchQueries, benchRecords, churnTick, expectedAnswer, parseDig, renderDnsmasqSrv, renderHosts,
  renderZone, sampleQueries, tallyRcodes, CHURN_PER_TICK, CLASSES, type Expected, type Query, type QueryClass,
} from '../../bench/dns-data.js'

const r = benchRecords(100)
const queries = benchQueries(r)

/** A minimal zone-file reader: `owner type` → rdata (owners made absolute under $ORIGIN). */
function zoneIndex(text: string): Map<string, string[]> {
  const origin = /^\$ORIGIN (\S+)\.$/m.exec(text)![1]!
  const idx = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const m = /^(\S+) IN (\S+) (.+)$/.exec(line)
    if (!m) continue
    const owner = m[1] === '@' ? origin : `${m[1]}.${origin}`
    const k = `${owner} ${m[2]}`
    idx.set(k, [...(idx.get(k) ?? []), m[3]!.toLowerCase()])
  }
  return idx
}

function lookup(idx: Map<string, string[]>, q: Query): Expected {
  const rdata = idx.get(`${q.name.toLowerCase()} ${q.type}`)
  return rdata ? { rcode: 'NOERROR', answer: [...rdata].sort() } : { rcode: 'NXDOMAIN', answer: [] }
}

t.test('the query mix has every class, in the documented proportions', async (t) => {
  const count = (c: QueryClass): number => queries.filter((q) => q.cls === c).length
  t.same(CLASSES.map(count), [90, 10, 10, 10, 2])
  t.ok(queries.filter((q) => q.cls === 'a-mixed-case').every((q) => q.name !== q.name.toLowerCase()), 'mixed-case names really are')
  t.same(new Set(sampleQueries(queries).map((q) => q.cls)), new Set(CLASSES), 'samples cover every class')
})

t.test('the zone file (NSD, Knot) answers every query as expected', async (t) => {
  const idx = zoneIndex(renderZone(r, 7))
  for (const q of queries) t.same(lookup(idx, q), expectedAnswer(r, q), `${q.name} ${q.type}`)
  t.match(renderZone(r, 7), /SOA \S+ \S+ 7 /, 'serial as given')
})

t.test('dnsmasq hosts + srv-host lines hold the same records', async (t) => {
  const hosts = new Map<string, string[]>()
  for (const part of ['services', 'headless'] as const)
    for (const line of renderHosts(r, part).trim().split('\n')) {
      const [ip, name] = line.split(' ')
      hosts.set(`${name} A`, [...(hosts.get(`${name} A`) ?? []), ip!])
    }
  for (const line of renderDnsmasqSrv(r).trim().split('\n')) {
    const [name, target, port, prio, weight] = line.replace('srv-host=', '').split(',')
    hosts.set(`${name} SRV`, [`${prio} ${weight} ${port} ${target}.`])
  }
  for (const q of queries) t.same(lookup(hosts, q), expectedAnswer(r, q), `${q.name} ${q.type}`)
})

t.test("netkube's read model (Services + EndpointSlices) answers every query as expected", async (t) => {
  const model = benchModel(r)
  for (const q of queries) {
    const o = answer({ name: q.name, type: TYPE[q.type], class: 1 }, model, { zone: 'cluster.local', ttl: 5 })
    if (o.kind !== 'answer') throw new Error('forwarded')
    const got = o.response.answers.map((rr) => rrText(rr).split(' ').slice(4).join(' ').toLowerCase()).sort()
    t.same({ rcode: rcodeName(o.response.rcode), answer: got }, expectedAnswer(r, q), `${q.name} ${q.type}`)
  }
})

t.test('churn: each tick replaces one pod of CHURN_PER_TICK headless services, deterministically, with fresh IPs', async (t) => {
  const a = benchRecords(100)
  const b = benchRecords(100)
  const before = JSON.stringify(a.headless)
  const changed = churnTick(a, 1)
  t.equal(changed.length, CHURN_PER_TICK)
  for (const j of changed) t.equal(a.headless[j]!.filter((ip, e) => ip !== JSON.parse(before)[j][e]).length, 1, `hl-${j}: one pod replaced`)
  t.equal(a.headless.filter((ips, j) => !changed.includes(j) && JSON.stringify(ips) !== JSON.stringify(JSON.parse(before)[j])).length, 0, 'others untouched')
  for (let tick = 2; tick <= 30; tick++) churnTick(a, tick)
  for (let tick = 1; tick <= 30; tick++) churnTick(b, tick)
  t.same(a, b, 'same ticks, same records (a worker process stays in step with the bench)')
  const all = a.headless.flat()
  t.equal(new Set(all).size, all.length, 'no IP handed out twice')
  const m = benchModel(a)
  const q: Query = { name: 'hl-3.bench.svc.cluster.local', type: 'A', cls: 'headless' }
  const o = answer({ name: q.name, type: TYPE.A, class: 1 }, m, { zone: 'cluster.local', ttl: 5 })
  t.same(o.kind === 'answer' ? o.response.answers.map((x) => rrText(x).split(' ')[4]).sort() : [], expectedAnswer(a, q).answer, 'expected answers follow the churn')
})

// Real `dig +noall +comments +question +answer` output for three queries; the third timed out.
const DIG = `;; WARNING: .local is reserved for Multicast DNS
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 47027
;; flags: qr aa ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 0
;HL-1.bench.svc.cluster.local.	IN	A
HL-1.bench.svc.cluster.local. 5	IN	A	10.244.0.2
HL-1.bench.svc.cluster.local. 5	IN	A	10.244.0.1
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 49439
;; flags: qr ra; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 0
;missing-1.bench.svc.cluster.local. IN	A
;; communications error to 127.0.0.1#25355: timed out
`

t.test('parseDig reads rcode, AA and the answer of each query; a timed-out query is absent', async (t) => {
  t.same(parseDig(DIG), [
    { name: 'hl-1.bench.svc.cluster.local', type: 'A', rcode: 'NOERROR', aa: true, answer: ['10.244.0.2', '10.244.0.1'] },
    { name: 'missing-1.bench.svc.cluster.local', type: 'A', rcode: 'NXDOMAIN', aa: false, answer: [] },
  ])
})

t.test('answerProblem: answer order is free; rcode, a missing, extra or wrong record is not', async (t) => {
  const want: Expected = { rcode: 'NOERROR', answer: ['10.244.0.1', '10.244.0.2'] }
  const got = parseDig(DIG)[0]!
  t.equal(answerProblem(want, got), undefined)
  t.match(answerProblem(want, { ...got, answer: ['10.244.0.1'] }), /answer/)
  t.match(answerProblem(want, { ...got, answer: ['10.244.0.1', '10.244.0.2', '10.244.0.3'] }), /answer/)
  t.match(answerProblem(want, { ...got, answer: ['10.244.0.1', '10.244.0.9'] }), /answer/)
  t.match(answerProblem(want, { ...got, rcode: 'SERVFAIL' }), /rcode SERVFAIL/)
  t.match(answerProblem(want, undefined), /no answer/)
})

t.test('tallyRcodes: only the rcode a name should get counts; timeouts are not answers', async (t) => {
  const classOf = new Map<string, QueryClass>([
    ['svc-1.bench.svc.cluster.local A', 'a'],
    ['svc-3.bench.svc.cluster.local A', 'a-mixed-case'],
    ['missing-0.bench.svc.cluster.local A', 'nxdomain'],
  ])
  const verbose = [
    '[Status] Sending queries',
    '> NOERROR svc-1.bench.svc.cluster.local A 0.000124',
    '> NOERROR SvC-3.BeNcH.SvC.ClUsTeR.LoCaL A 0.000124',
    '> NXDOMAIN missing-0.bench.svc.cluster.local A 0.000092',
    '> NOERROR missing-0.bench.svc.cluster.local A 0.000092',
    '> SERVFAIL svc-1.bench.svc.cluster.local A 0.000092',
    '> NOERROR unknown.bench.svc.cluster.local A 0.000092',
    '> T svc-1.bench.svc.cluster.local A',
  ].join('\n')
  const tally = tallyRcodes(verbose, classOf)
  t.equal(tally.answered, 6)
  t.same(Object.fromEntries(tally.right), { a: 1, 'a-mixed-case': 1, nxdomain: 1 })
  t.same(Object.fromEntries(tally.wrong), { 'nxdomain:NOERROR': 1, 'a:SERVFAIL': 1, 'unknown.bench.svc.cluster.local:NOERROR': 1 })
})
