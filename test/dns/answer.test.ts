// Table-driven tests of the pure answer function, each case written as zone-file text:
// `;; RCODE`, then the answer, authority and additional sections.
import t from 'tap'
import { answer, rcodeName, rrText, TYPE, type AnswerConfig, type Outcome } from '../../src/dns/answer.js'
import { DnsModel } from '../../src/dns/model.js'
import { clusterModel, ep, slice, svc } from './fixtures.js'

const cfg: AnswerConfig = { zone: 'cluster.local', ttl: 5, nsAddress: '10.96.0.10' }

function render(o: Outcome): string {
  if (o.kind === 'forward') return ';; FORWARD'
  const r = o.response
  const lines = [`;; ${rcodeName(r.rcode)}`]
  for (const [sec, rrs] of [['ANSWER', r.answers], ['AUTHORITY', r.authorities], ['ADDITIONAL', r.additionals]] as const)
    if (rrs.length) lines.push(`;${sec}`, ...rrs.map(rrText))
  return lines.join('\n')
}

function ask(model: DnsModel, name: string, type: keyof typeof TYPE, c: AnswerConfig = cfg): string {
  return render(answer({ name, type: TYPE[type], class: 1 }, model, c))
}

// Serial of the fixture model: time-based start + one bump per visible change.
const m = clusterModel()
const SOA = `cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. ${m.serial} 7200 1800 86400 5`

const cases: [string, keyof typeof TYPE, string][] = [
  // ClusterIP service: A, AAAA (dual stack), SRV per named port with the A/AAAA glue.
  ['web.default.svc.cluster.local', 'A', `;; NOERROR\n;ANSWER\nweb.default.svc.cluster.local. 5 IN A 10.96.0.20`],
  ['web.default.svc.cluster.local', 'AAAA', `;; NOERROR\n;ANSWER\nweb.default.svc.cluster.local. 5 IN AAAA fd00:96::20`],
  ['web.default.svc.cluster.local', 'TXT', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  [
    '_http._tcp.web.default.svc.cluster.local',
    'SRV',
    `;; NOERROR
;ANSWER
_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local.
;ADDITIONAL
web.default.svc.cluster.local. 5 IN A 10.96.0.20
web.default.svc.cluster.local. 5 IN AAAA fd00:96::20`,
  ],
  ['_dns._udp.web.default.svc.cluster.local', 'SRV', `;; NOERROR\n;ANSWER\n_dns._udp.web.default.svc.cluster.local. 5 IN SRV 0 100 53 web.default.svc.cluster.local.\n;ADDITIONAL\nweb.default.svc.cluster.local. 5 IN A 10.96.0.20\nweb.default.svc.cluster.local. 5 IN AAAA fd00:96::20`],
  ['_http._udp.web.default.svc.cluster.local', 'SRV', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  ['_http._tcp.web.default.svc.cluster.local', 'A', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  ['_tcp.web.default.svc.cluster.local', 'SRV', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  // Unnamed ports have no SRV record.
  ['unnamed.prod.svc.cluster.local', 'A', `;; NOERROR\n;ANSWER\nunnamed.prod.svc.cluster.local. 5 IN A 10.96.5.5`],
  ['_tcp.unnamed.prod.svc.cluster.local', 'SRV', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  // Headless: one A per ready endpoint (db-2 is not ready), hostname records, derived names.
  [
    'db.default.svc.cluster.local',
    'A',
    `;; NOERROR
;ANSWER
db.default.svc.cluster.local. 5 IN A 10.244.3.12
db.default.svc.cluster.local. 5 IN A 10.244.1.10
db.default.svc.cluster.local. 5 IN A 10.244.2.11`,
  ],
  ['db.default.svc.cluster.local', 'AAAA', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  ['db-0.db.default.svc.cluster.local', 'A', `;; NOERROR\n;ANSWER\ndb-0.db.default.svc.cluster.local. 5 IN A 10.244.1.10`],
  ['10-244-3-12.db.default.svc.cluster.local', 'A', `;; NOERROR\n;ANSWER\n10-244-3-12.db.default.svc.cluster.local. 5 IN A 10.244.3.12`],
  ['db-2.db.default.svc.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  [
    '_pg._tcp.db.default.svc.cluster.local',
    'SRV',
    `;; NOERROR
;ANSWER
_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 33 5432 10-244-3-12.db.default.svc.cluster.local.
_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 33 5432 db-0.db.default.svc.cluster.local.
_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 33 5432 db-1.db.default.svc.cluster.local.
;ADDITIONAL
10-244-3-12.db.default.svc.cluster.local. 5 IN A 10.244.3.12
db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.10
db-1.db.default.svc.cluster.local. 5 IN A 10.244.2.11`,
  ],
  // Headless with no ready endpoint: NXDOMAIN, per the spec.
  ['empty.default.svc.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  ['_x._tcp.empty.default.svc.cluster.local', 'SRV', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  // ExternalName: CNAME for any type (lower-cased, absolute).
  ['ext.prod.svc.cluster.local', 'A', `;; NOERROR\n;ANSWER\next.prod.svc.cluster.local. 5 IN CNAME www.example.com.`],
  ['ext.prod.svc.cluster.local', 'CNAME', `;; NOERROR\n;ANSWER\next.prod.svc.cluster.local. 5 IN CNAME www.example.com.`],
  // PTR for ClusterIPs and headless endpoints; unknown reverse names fall through upstream.
  ['20.0.96.10.in-addr.arpa', 'PTR', `;; NOERROR\n;ANSWER\n20.0.96.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local.`],
  ['10.1.244.10.in-addr.arpa', 'PTR', `;; NOERROR\n;ANSWER\n10.1.244.10.in-addr.arpa. 5 IN PTR db-0.db.default.svc.cluster.local.`],
  ['12.3.244.10.in-addr.arpa', 'PTR', `;; NOERROR\n;ANSWER\n12.3.244.10.in-addr.arpa. 5 IN PTR 10-244-3-12.db.default.svc.cluster.local.`],
  [
    '0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa',
    'PTR',
    `;; NOERROR\n;ANSWER\n0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa. 5 IN PTR web.default.svc.cluster.local.`,
  ],
  ['5.1.244.10.in-addr.arpa', 'PTR', `;; FORWARD`], // endpoint of a ClusterIP service: not in the spec
  ['9.9.9.9.in-addr.arpa', 'PTR', `;; FORWARD`],
  // Pods ("pods insecure": any IP written in the name).
  ['10-244-1-5.default.pod.cluster.local', 'A', `;; NOERROR\n;ANSWER\n10-244-1-5.default.pod.cluster.local. 5 IN A 10.244.1.5`],
  ['fd00--1.default.pod.cluster.local', 'AAAA', `;; NOERROR\n;ANSWER\nfd00--1.default.pod.cluster.local. 5 IN AAAA fd00::1`],
  ['10-244-1-5.default.pod.cluster.local', 'AAAA', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  ['10-244-1-256.default.pod.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  ['nope.default.pod.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  // Schema version, apex, empty non-terminals, missing names.
  ['dns-version.cluster.local', 'TXT', `;; NOERROR\n;ANSWER\ndns-version.cluster.local. 5 IN TXT "1.1.0"`],
  ['dns-version.cluster.local', 'A', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  ['cluster.local', 'SOA', `;; NOERROR\n;ANSWER\n${SOA}`],
  ['cluster.local', 'NS', `;; NOERROR\n;ANSWER\ncluster.local. 5 IN NS ns.dns.cluster.local.\n;ADDITIONAL\nns.dns.cluster.local. 5 IN A 10.96.0.10`],
  ['ns.dns.cluster.local', 'A', `;; NOERROR\n;ANSWER\nns.dns.cluster.local. 5 IN A 10.96.0.10`],
  ['svc.cluster.local', 'A', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  ['default.svc.cluster.local', 'A', `;; NOERROR\n;AUTHORITY\n${SOA}`],
  ['nons.svc.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  ['missing.default.svc.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  ['web.default.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  ['a.b.web.default.svc.cluster.local', 'A', `;; NXDOMAIN\n;AUTHORITY\n${SOA}`],
  // Case-insensitive, trailing dot optional; answers are in canonical lower case.
  ['WEB.Default.SVC.Cluster.Local.', 'A', `;; NOERROR\n;ANSWER\nweb.default.svc.cluster.local. 5 IN A 10.96.0.20`],
  // Not ours.
  ['example.com', 'A', `;; FORWARD`],
  ['cluster.localdomain', 'A', `;; FORWARD`],
]

for (const [name, type, want] of cases) {
  t.test(`${name} ${type}`, async (t) => {
    t.equal(ask(m, name, type), want)
  })
}

t.test('TTL is configurable', async (t) => {
  t.equal(ask(m, 'web.default.svc.cluster.local', 'A', { zone: 'cluster.local', ttl: 30 }), `;; NOERROR\n;ANSWER\nweb.default.svc.cluster.local. 30 IN A 10.96.0.20`)
})

t.test('another cluster domain', async (t) => {
  const c = { zone: 'k8s.example', ttl: 5 }
  t.equal(ask(m, 'web.default.svc.k8s.example', 'A', c), `;; NOERROR\n;ANSWER\nweb.default.svc.k8s.example. 5 IN A 10.96.0.20`)
  t.equal(ask(m, 'web.default.svc.cluster.local', 'A', c), ';; FORWARD')
})

t.test('SERVFAIL before sync, never a false NXDOMAIN', async (t) => {
  const fresh = new DnsModel(() => 1_700_000_000_000)
  fresh.upsertService(svc('default', 'web', { clusterIP: '10.96.0.20' }))
  t.equal(ask(fresh, 'web.default.svc.cluster.local', 'A'), ';; SERVFAIL')
  t.equal(ask(fresh, 'missing.default.svc.cluster.local', 'A'), ';; SERVFAIL')
  // Names that do not depend on the informers are served at once.
  t.equal(ask(fresh, 'dns-version.cluster.local', 'TXT'), `;; NOERROR\n;ANSWER\ndns-version.cluster.local. 5 IN TXT "1.1.0"`)
  fresh.setSynced(true)
  t.equal(ask(fresh, 'web.default.svc.cluster.local', 'A'), `;; NOERROR\n;ANSWER\nweb.default.svc.cluster.local. 5 IN A 10.96.0.20`)
})

t.test('SOA serial and generation move only on visible changes', async (t) => {
  let now = 1_700_000_000_000
  const model = new DnsModel(() => now)
  model.upsertService(svc('default', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }))
  const s = slice('default', 'db', 'db-1', [ep('10.244.1.10', { hostname: 'db-0', nodeName: 'n1' })], [{ name: 'pg', port: 5432 }])
  model.upsertEndpointSlice(s)
  model.setSynced(true)
  const serial = model.serial
  const gen = model.generation
  now += 10_000
  // nodeName and resourceVersion are invisible in DNS.
  model.upsertEndpointSlice({ ...s, metadata: { ...s.metadata, resourceVersion: '99' }, endpoints: [ep('10.244.1.10', { hostname: 'db-0', nodeName: 'n2' })] })
  model.upsertService(svc('default', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }], sessionAffinity: 'ClientIP' }))
  t.equal(model.serial, serial)
  t.equal(model.generation, gen)
  // A new ready endpoint is visible.
  model.upsertEndpointSlice(slice('default', 'db', 'db-1', [ep('10.244.1.10', { hostname: 'db-0' }), ep('10.244.1.11')], [{ name: 'pg', port: 5432 }]))
  t.ok(model.serial > serial)
  t.equal(model.generation, gen + 1)
  t.match(ask(model, 'db.default.svc.cluster.local', 'A'), /10\.244\.1\.11/)
  // Deleting the service removes its names and reverse records.
  model.deleteService('default', 'db')
  t.match(ask(model, 'db.default.svc.cluster.local', 'A'), /^;; NXDOMAIN/)
  t.equal(ask(model, '10.1.244.10.in-addr.arpa', 'PTR'), ';; FORWARD')
})

t.test('headless endpoints merge across slices; publishNotReadyAddresses publishes all', async (t) => {
  const model = new DnsModel()
  model.upsertService(svc('default', 'h', { clusterIP: 'None', publishNotReadyAddresses: true }))
  model.upsertEndpointSlice(slice('default', 'h', 'h-1', [ep('10.0.0.1'), ep('10.0.0.2', { conditions: { ready: false } })]))
  model.upsertEndpointSlice(slice('default', 'h', 'h-2', [ep('10.0.0.1'), ep('fd00::3')], [], 'IPv6'))
  model.setSynced(true)
  const a = ask(model, 'h.default.svc.cluster.local', 'A')
  t.equal(a.split('\n').filter((l) => l.includes(' IN A ')).length, 2)
  t.match(ask(model, 'h.default.svc.cluster.local', 'AAAA'), /IN AAAA fd00::3/)
  t.match(ask(model, 'fd00--3.h.default.svc.cluster.local', 'AAAA'), /IN AAAA fd00::3/)
  // Slice deletion removes its endpoints.
  model.deleteEndpointSlice(slice('default', 'h', 'h-2', []))
  t.match(ask(model, 'h.default.svc.cluster.local', 'AAAA'), /^;; NOERROR\n;AUTHORITY/)
})
