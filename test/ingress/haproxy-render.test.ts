// The HAProxy config and runtime commands as data: slot assignment keeps endpoints in place,
// only changed slots produce commands, a scale within the slots keeps the shape (no reload),
// a new host, certificate or backend (a spare) is a runtime change, a reload only when the
// spares run out, and the routing maps follow the model's match order.
import t from 'tap'
import { assignSlots, backendName, drainCommands, renderHaproxy, renderShape, runtimeCommands, assignAll, type HaproxyOptions } from '../../src/ingress/haproxy.js'
import { planApply } from '../../src/ingress/dataplane.js'
import { reloadRefusal } from '../../src/ingress/haproxy-process.js'
import type { RoutingModel } from '../../src/ingress/model.js'

const ep = (n: number) => ({ ip: `10.1.0.${n}`, port: 8080 })
const O: HaproxyOptions = { http: '*:80', https: '*:443', dir: '/run/nk', adminSocket: '/run/nk/admin.sock', defaultCertFile: '/run/nk/default.pem', minSlots: 4 }

const model = (eps: number[]): RoutingModel => ({
  hosts: [
    { host: 'a.example.com', routes: [{ host: 'a.example.com', pathType: 'Exact', path: '/api', backend: 'default/api:80', ingress: 'default/x' }, { host: 'a.example.com', pathType: 'Prefix', path: '', backend: 'default/web:80', ingress: 'default/x' }] },
    { host: '*.example.com', routes: [{ host: '*.example.com', pathType: 'Prefix', path: '/docs', backend: 'default/web:80', ingress: 'default/x' }] },
    { host: '', routes: [{ host: '', pathType: 'Prefix', path: '', backend: 'default/web:80', ingress: 'default/x' }] },
  ],
  defaultBackend: 'default/api:80',
  backends: {
    'default/api:80': { key: 'default/api:80', namespace: 'default', service: 'api', endpoints: [ep(9)] },
    'default/web:80': { key: 'default/web:80', namespace: 'default', service: 'web', endpoints: eps.map(ep) },
  },
  certs: [{ secret: 'default/a-tls', hosts: ['a.example.com'], pem: 'PEM', hash: 'abc123' }],
  tlsHosts: ['a.example.com'],
  ingresses: ['default/x'],
})

t.test('slots: endpoints keep their slot, new ones fill gaps, the count grows by powers of two', async (t) => {
  const a = assignSlots(undefined, [ep(1), ep(2), ep(3)], 4)
  t.same(a, [ep(1), ep(2), ep(3), null])
  const b = assignSlots(a, [ep(1), ep(3), ep(4)], 4)
  t.same(b, [ep(1), ep(4), ep(3), null], '10.1.0.4 takes the slot 10.1.0.2 left; 10.1.0.3 stays in s3')
  t.equal(assignSlots(b, [1, 2, 3, 4, 5].map(ep), 4).length, 8)
  t.same(runtimeCommands({ be: a }, { be: b }), ['set server be/s2 addr 10.1.0.4 port 8080', 'set server be/s2 state ready'])
  t.same(runtimeCommands({ be: b }, { be: [ep(1), null, ep(3), null] }), ['set server be/s2 state maint'])
  t.equal(backendName('kube-system/my-svc:http'), 'be_kube-system_my-svc_http')
})

t.test('scale-down keeps the slot count (no reload while pods exit) until a quarter fits', async (t) => {
  const six = assignSlots(undefined, [1, 2, 3, 4, 5, 6].map(ep), 4)
  t.equal(six.length, 8)
  const three = assignSlots(six, [1, 2, 3].map(ep), 4)
  t.equal(three.length, 8, '6→3 stays in 8 slots: the shape is unchanged')
  t.same(runtimeCommands({ be: six }, { be: three }), ['set server be/s4 state maint', 'set server be/s5 state maint', 'set server be/s6 state maint'])
  t.equal(assignSlots(three, [1, 2].map(ep), 4).length, 4, '2 endpoints fit a quarter of 8: back to 4')
  t.equal(assignSlots(undefined, [1, 2, 3].map(ep), 4).length, 4, 'a fresh start takes the smallest count')
  t.equal(assignSlots(undefined, [1, 2, 3].map(ep)).length, 32, 'the default minimum: 32 slots, as HAProxy Ingress')
})

t.test('before a reload the running worker drains the slots whose endpoint is gone', async (t) => {
  const prev = { be: [ep(1), ep(2), ep(3), null], gone: [ep(7), null, null, null] }
  const next = { be: [ep(1), null, ep(3), ep(4), ep(5), null, null, null] }
  t.same(drainCommands(prev, next), ['set server be/s2 state maint'], 'only removed endpoints; a vanished backend is left to the reload')
  const m = model([1])
  const lines = renderHaproxy(m, assignAll(m, {}, 4), O).config.split('\n').map((l) => l.trim())
  t.ok(lines.includes('timeout connect 1s'), 'a pod IP that went away costs at most 1 s before the retry elsewhere')
  t.ok(lines.includes('retry-on conn-failure empty-response') && lines.includes('option redispatch 1'))
  t.ok(lines.includes('http-request disable-l7-retry if METH_POST or { method PATCH LOCK }'), 'a request already sent is retried only when idempotent')
})

t.test('rendered maps (routing as data), redirect, cert list', async (t) => {
  const m = model([1, 2])
  const r = renderHaproxy(m, assignAll(m, {}, 4), O)
  t.same(r.maps, {
    'hosts.map': ['a.example.com a.example.com', '*.example.com *.example.com'],
    'paths-exact.map': ['a.example.com/api be_default_api_80'],
    // longest first: map_beg takes the first match
    // the default backend: `group/` after the group's routes (a.example.com and - have a `/` route)
    'paths-prefix.map': ['*.example.com/docs/ be_default_web_80', '*.example.com/ be_default_api_80', 'a.example.com/ be_default_web_80', '-/ be_default_web_80'],
    'tls-hosts.map': ['a.example.com 1'],
    // no host here has a single `/` rule
    'simple-hosts-tls.map': [],
    'simple-hosts.map': [],
  })
  const routing = r.config.split('\n').filter((l) => /^\s+(acl|use_backend|default_backend|http-request (redirect|set-var\(txn\.(hg|be|wc)\)))/.test(l))
  t.same(routing, [
    '  acl routed var(txn.be) -m found',
    // the fast path first: one lookup for a host whose one rule is `/`
    '  http-request set-var(txn.be) req.hdr(host),field(1,:),lower,map_str(/run/nk/simple-hosts-tls.map) if { ssl_fc }',
    '  http-request set-var(txn.be) req.hdr(host),field(1,:),lower,map_str(/run/nk/simple-hosts.map) unless { ssl_fc }',
    '  http-request set-var(txn.hg) var(txn.host),map_str(/run/nk/hosts.map) unless routed',
    '  http-request set-var(txn.hg) var(txn.host),regsub(^[^.]+,*),map_str(/run/nk/hosts.map,-) unless routed || { var(txn.hg) -m found }',
    '  http-request redirect scheme https code 308 if !{ ssl_fc } !routed { var(txn.host),map_str(/run/nk/tls-hosts.map) -m found }',
    '  http-request redirect scheme https code 308 if !{ ssl_fc } !routed { var(txn.host),regsub(^[^.]+,*),map_str(/run/nk/tls-hosts.map) -m found }',
    '  http-request set-var(txn.be) var(txn.hg),concat(,txn.path,),map_str(/run/nk/paths-exact.map) unless routed',
    '  http-request set-var(txn.be) var(txn.hg),concat(,txn.path,/),map_beg(/run/nk/paths-prefix.map) unless routed',
    '  use_backend %[var(txn.be)] if routed',
    '  default_backend nk_404',
  ])
  t.ok(r.config.includes('  http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]\n'), 'one X-Forwarded-Proto rule for both schemes')
  // Simple hosts: exact, one Prefix `/` rule. A TLS one only in the TLS map (plain HTTP redirects).
  const s = model([1])
  s.hosts.unshift(
    { host: 'b.example.com', routes: [{ host: 'b.example.com', pathType: 'Prefix', path: '', backend: 'default/api:80', ingress: 'default/x' }] },
    { host: 'c.tls.example.com', routes: [{ host: 'c.tls.example.com', pathType: 'ImplementationSpecific', path: '', backend: 'default/web:80', ingress: 'default/x' }] },
    { host: 'd.example.com', routes: [{ host: 'd.example.com', pathType: 'Exact', path: '/', backend: 'default/web:80', ingress: 'default/x' }] },
    { host: '*.w.example.com', routes: [{ host: '*.w.example.com', pathType: 'Prefix', path: '', backend: 'default/web:80', ingress: 'default/x' }] },
  )
  s.tlsHosts.push('*.tls.example.com')
  const sm = renderHaproxy(s, assignAll(s, {}, 4), O).maps
  t.same([sm['simple-hosts-tls.map'], sm['simple-hosts.map']], [['b.example.com be_default_api_80', 'c.tls.example.com be_default_web_80'], ['b.example.com be_default_api_80']], 'Exact `/` and wildcard hosts take the full chain; a TLS host (here by its wildcard) is not in the plain map')
  t.match(r.config, /backend be_default_web_80\n  # default\/web:80 \(service default\/web\)\n  balance roundrobin\n  server s1 10\.1\.0\.1:8080\n  server s2 10\.1\.0\.2:8080\n  server s3 127\.0\.0\.1:1 disabled\n/)
  const [certFile] = Object.keys(r.certs)
  t.match(certFile, /^certs\/default_a-tls-[0-9a-f]{12}\.pem$/)
  t.same(r.certs[certFile!], { line: `/run/nk/${certFile} [alpn h2,http/1.1] a.example.com`, pem: 'PEM' })
  t.equal(r.files['crt-list.txt'], `/run/nk/${certFile} [alpn h2,http/1.1] a.example.com\n`)
})

t.test('plans: scale within the slots is runtime-only; a new host or cert reloads; nothing changed is nothing', async (t) => {
  const first = planApply(undefined, model([1, 2]), O)
  t.equal(first.kind, 'reload')
  const scaled = planApply(first.next, model([1, 2, 3, 4]), O)
  t.equal(scaled.kind, 'runtime')
  t.same(scaled.kind === 'runtime' && scaled.ops.map((o) => (o.kind === 'server' ? o.cmd : o.kind)), ['set server be_default_web_80/s3 addr 10.1.0.3 port 8080', 'set server be_default_web_80/s3 state ready', 'set server be_default_web_80/s4 addr 10.1.0.4 port 8080', 'set server be_default_web_80/s4 state ready'])
  t.equal(planApply(scaled.next, model([1, 2, 3, 4]), O).kind, 'none')
  // Past the slots: dynamic servers (add server, in maintenance, health checks on), then filled.
  const grown = planApply(scaled.next, model([1, 2, 3, 4, 5]), O)
  const opts = 'check inter 2s fastinter 500ms downinter 1s rise 2 fall 2 observe layer4 error-limit 1 on-error mark-down'
  const added = (k: number): string[] => [`add server be_default_web_80/s${k} 127.0.0.1:1 ${opts}`, `enable health be_default_web_80/s${k}`]
  t.same(grown.kind === 'runtime' && grown.ops.map((o) => (o.kind === 'server' ? o.cmd : o.kind)), [...added(5), 'set server be_default_web_80/s5 addr 10.1.0.5 port 8080', 'set server be_default_web_80/s5 state ready', ...added(6), ...added(7), ...added(8)], 'past the slots: 4 dynamic servers, no reload')
  t.same([grown.next.configured['be_default_web_80'], grown.next.present['be_default_web_80']], [4, 8])
  t.equal(planApply(grown.next, model([1, 2, 3, 4, 5]), O).kind, 'none')
  // Back to 1 endpoint: 4 slots again; the dynamic s5 goes to maintenance (the servers stay).
  const shrunk = planApply(grown.next, model([1]), O)
  t.same(shrunk.kind === 'runtime' && shrunk.ops.map((o) => (o.kind === 'server' ? o.cmd : o.kind)), ['set server be_default_web_80/s2 state maint', 'set server be_default_web_80/s3 state maint', 'set server be_default_web_80/s4 state maint', 'set server be_default_web_80/s5 state maint'])
  const regrown = planApply(shrunk.next, model([1, 2, 3, 4, 5, 6]), O)
  t.notMatch(regrown.kind === 'runtime' ? regrown.ops.map((o) => (o.kind === 'server' ? o.cmd : '')).join('\n') : 'not runtime', /add server/, 'growing again reuses the servers already added')
  t.equal(regrown.kind === 'reload' ? '' : regrown.next.present['be_default_web_80'], 8)
  const newCert = model([1, 2, 3, 4])
  newCert.certs[0]!.pem = 'PEM2'
  const certPlan = planApply(scaled.next, newCert, O)
  t.same(certPlan.kind === 'runtime' && certPlan.ops.map((o) => `${o.kind} ${'file' in o ? o.file.replace(/-[0-9a-f]+\.pem$/, '') : ''}`), ['cert-add /run/nk/certs/default_a-tls', 'cert-del /run/nk/certs/default_a-tls'], 'a changed certificate: the new entry in, then the old out, no reload')
  const newHost = model([1, 2, 3, 4])
  newHost.hosts.unshift({ host: 'b.example.com', routes: [{ host: 'b.example.com', pathType: 'Prefix', path: '', backend: 'default/api:80', ingress: 'default/x' }] })
  const hostPlan = planApply(scaled.next, newHost, O)
  t.same(hostPlan.kind === 'runtime' && hostPlan.ops.map((o) => (o.kind === 'map' ? o.map : o.kind)), ['/run/nk/hosts.map', '/run/nk/paths-prefix.map', '/run/nk/simple-hosts-tls.map', '/run/nk/simple-hosts.map'], 'a new host (a simple one): its maps, no reload')
  t.equal(renderShape(model([1]), assignAll(model([1]), {}, 4), O), renderShape(model([3]), assignAll(model([3]), {}, 4), O), 'the shape ignores addresses')
})

t.test('reload outcome from the master log: only this reload’s own, complete refusal counts', async (t) => {
  const m = '[NOTICE]   (9) : Reloading HAProxy\n[NOTICE]   (9) : haproxy version is 2.6.12\n'
  const refusal = "[ALERT]    (9) : config : parsing [h.cfg:3] : 'nbthread' value must be between 1 and 64 (was 0)\n[ALERT]    (9) : config : Error(s) found in configuration file : h.cfg\n[ALERT]    (9) : config : Fatal errors found in configuration.\n[WARNING]  (9) : Loading failure!\n"
  const rows: [string, string, RegExp | undefined][] = [
    ['nothing written yet', '', undefined],
    // The flake: the tail of the previous refusal lands after this reload's log offset.
    ['the previous refusal’s late lines, this reload not started', '[ALERT]    (9) : config : Fatal errors found in configuration.\n[WARNING]  (9) : Loading failure!\n', undefined],
    ['the previous refusal’s late lines, then this reload in progress', `[ALERT]    (9) : config : Fatal errors found in configuration.\n[WARNING]  (9) : Loading failure!\n${m}`, undefined],
    ['this reload refused, but only half written', m + refusal.split('\n').slice(0, 2).join('\n'), undefined],
    ['this reload refused', m + refusal, /nbthread.*; .*Error\(s\) found.*; .*Fatal errors/],
  ]
  for (const [name, log, want] of rows) {
    const got = reloadRefusal(log)
    if (want) t.match(got, want, name)
    else t.equal(got, undefined, name)
  }
})

/** The rendered config of a plan that has one. */
const out = (p: ReturnType<typeof planApply>) => {
  if (p.kind === 'none') throw new Error('nothing rendered')
  return p.rendered
}

t.test('a new Service takes a spare backend at run time; a reload only when the spares run out', async (t) => {
  const o = { ...O, spareBackends: 2 }
  const first = planApply(undefined, model([1]), o)
  t.equal(first.kind, 'reload')
  t.same(Object.keys(first.next.assignment).sort(), ['be_default_api_80', 'be_default_web_80', 'nk_spare_1', 'nk_spare_2'])
  t.match(out(first).config, /backend nk_spare_1\n  # spare: taken by a new Service at run time\n  balance roundrobin\n  server s1 127\.0\.0\.1:1 disabled\n/)
  const withSvc = (m: RoutingModel, svc: string, n: number): RoutingModel => {
    m.backends[`default/${svc}:80`] = { key: `default/${svc}:80`, namespace: 'default', service: svc, endpoints: [ep(n)] }
    m.hosts.unshift({ host: `${svc}.example.com`, routes: [{ host: `${svc}.example.com`, pathType: 'Prefix', path: '', backend: `default/${svc}:80`, ingress: 'default/x' }] })
    return m
  }
  const one = planApply(first.next, withSvc(model([1]), 'new', 7), o)
  t.equal(one.kind, 'runtime', 'a new backend: no reload')
  t.same(one.kind === 'runtime' && one.ops.map((x) => (x.kind === 'server' ? x.cmd : x.kind === 'map' ? x.map : x.kind)), ['set server nk_spare_1/s1 addr 10.1.0.7 port 8080', 'set server nk_spare_1/s1 state ready', '/run/nk/hosts.map', '/run/nk/paths-prefix.map', '/run/nk/simple-hosts-tls.map', '/run/nk/simple-hosts.map'], 'the spare filled, then the maps route to it')
  t.ok(out(one).maps['paths-prefix.map']!.includes('new.example.com/ nk_spare_1') && out(one).maps['simple-hosts.map']!.includes('new.example.com nk_spare_1'))
  t.match(out(one).config, /backend nk_spare_1\n  # default\/new:80 \(service default\/new\)\n/, 'the file on disk says which Service the spare serves')
  t.equal(one.next.names['default/new:80'], 'nk_spare_1')
  // The Service goes away: its spare empties, and is not refilled in the same change.
  const swapped = planApply(one.next, withSvc(model([1]), 'other', 8), o)
  t.same(swapped.kind === 'runtime' && swapped.ops.filter((x) => x.kind === 'server').map((x) => (x.kind === 'server' ? x.cmd : '')), ['set server nk_spare_1/s1 state maint', 'set server nk_spare_2/s1 addr 10.1.0.8 port 8080', 'set server nk_spare_2/s1 state ready'], 'the freed spare is not reused while the old maps may still route to it')
  // Both spares in use (a third Service): out of spares, a reload names everything after its key.
  const both = planApply(swapped.next, withSvc(withSvc(model([1]), 'other', 8), 'new', 7), o)
  t.equal(both.kind, 'runtime', 'nk_spare_1 is free again one change later')
  const third = planApply(both.next, withSvc(withSvc(withSvc(model([1]), 'other', 8), 'new', 7), 'more', 9), o)
  t.equal(third.kind, 'reload', 'no spare left: a reload')
  t.same(Object.keys(third.next.assignment).sort(), ['be_default_api_80', 'be_default_more_80', 'be_default_new_80', 'be_default_other_80', 'be_default_web_80', 'nk_spare_1', 'nk_spare_2'], 'own names again, the spares refilled')
  t.same(third.next.assignment['be_default_new_80']!.slice(0, 1), [ep(7)], 'a backend keeps its endpoints across the rename')
  // A removed Service: no reload; its backend stays, empty, until the next reload.
  const removed = planApply(third.next, withSvc(withSvc(model([1]), 'other', 8), 'new', 7), o)
  t.equal(removed.kind, 'runtime')
  t.ok(removed.kind === 'runtime' && removed.ops.some((x) => x.kind === 'server' && x.cmd === 'set server be_default_more_80/s1 state maint'))
  // And back: it takes its own (unused) backend again, not a spare.
  const back = planApply(removed.next, withSvc(withSvc(withSvc(model([1]), 'other', 8), 'new', 7), 'more', 9), o)
  t.equal(back.kind === 'runtime' && back.next.names['default/more:80'], 'be_default_more_80')
  // A changed default backend is a map entry, not the shape.
  const otherDefault = model([1])
  otherDefault.defaultBackend = 'default/web:80'
  t.equal(planApply(first.next, otherDefault, o).kind, 'runtime', 'a new default backend: no reload')
})
