// The HAProxy config and runtime commands as data: slot assignment keeps endpoints in place,
// only changed slots produce commands, a scale within the slots keeps the shape (no reload),
// and the routing lines follow the model's match order.
import t from 'tap'
import { assignSlots, backendName, renderHaproxy, renderShape, runtimeCommands, assignAll, type HaproxyOptions } from '../../src/ingress/haproxy.js'
import { planApply } from '../../src/ingress/dataplane.js'
import type { RoutingModel } from '../../src/ingress/model.js'

const ep = (n: number) => ({ ip: `10.1.0.${n}`, port: 8080 })
const O: HaproxyOptions = { http: '*:80', https: '*:443', dir: '/run/nk', adminSocket: '/run/nk/admin.sock', defaultCertFile: '/run/nk/default.pem' }

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
  const a = assignSlots(undefined, [ep(1), ep(2), ep(3)])
  t.same(a, [ep(1), ep(2), ep(3), null])
  const b = assignSlots(a, [ep(1), ep(3), ep(4)])
  t.same(b, [ep(1), ep(4), ep(3), null], '10.1.0.4 takes the slot 10.1.0.2 left; 10.1.0.3 stays in s3')
  t.equal(assignSlots(b, [1, 2, 3, 4, 5].map(ep)).length, 8)
  t.same(runtimeCommands({ be: a }, { be: b }), ['set server be/s2 addr 10.1.0.4 port 8080', 'set server be/s2 state ready'])
  t.same(runtimeCommands({ be: b }, { be: [ep(1), null, ep(3), null] }), ['set server be/s2 state maint'])
  t.equal(backendName('kube-system/my-svc:http'), 'be_kube-system_my-svc_http')
})

t.test('rendered routing lines, redirect, cert list', async (t) => {
  const m = model([1, 2])
  const r = renderHaproxy(m, assignAll(m), O)
  const routing = r.config.split('\n').filter((l) => /^\s+(use_backend|default_backend|http-request redirect|acl)/.test(l))
  t.same(routing, [
    '  acl tls_host var(txn.host) -m str a.example.com',
    '  http-request redirect scheme https code 308 if !{ ssl_fc } tls_host',
    "  use_backend be_default_api_80 if { var(txn.host) -m str a.example.com } { path -m str '/api' }",
    '  use_backend be_default_web_80 if { var(txn.host) -m str a.example.com }',
    '  use_backend be_default_api_80 if { var(txn.host) -m str a.example.com }',
    "  use_backend be_default_web_80 if { var(txn.host) -m reg '^[^.]+\\.example\\.com$' } { path -m str '/docs' } || { var(txn.host) -m reg '^[^.]+\\.example\\.com$' } { path -m beg '/docs/' }",
    "  use_backend be_default_api_80 if { var(txn.host) -m reg '^[^.]+\\.example\\.com$' }",
    '  use_backend be_default_web_80',
    '  default_backend be_default_api_80',
  ])
  t.match(r.config, /backend be_default_web_80\n  # default\/web:80 \(service default\/web\)\n  balance roundrobin\n  server s1 10\.1\.0\.1:8080\n  server s2 10\.1\.0\.2:8080\n  server s3 127\.0\.0\.1:1 disabled\n/)
  t.same(r.files, { 'certs/default_a-tls-abc123.pem': 'PEM', 'crt-list.txt': '/run/nk/certs/default_a-tls-abc123.pem [alpn h2,http/1.1] a.example.com\n' })
})

t.test('plans: scale within the slots is runtime-only; a new host or cert reloads; nothing changed is nothing', async (t) => {
  const first = planApply(undefined, model([1, 2]), O)
  t.equal(first.kind, 'reload')
  const scaled = planApply(first.next, model([1, 2, 3, 4]), O)
  t.equal(scaled.kind, 'runtime')
  t.same(scaled.kind === 'runtime' && scaled.cmds, ['set server be_default_web_80/s3 addr 10.1.0.3 port 8080', 'set server be_default_web_80/s3 state ready', 'set server be_default_web_80/s4 addr 10.1.0.4 port 8080', 'set server be_default_web_80/s4 state ready'])
  t.equal(planApply(scaled.next, model([1, 2, 3, 4]), O).kind, 'none')
  t.equal(planApply(scaled.next, model([1, 2, 3, 4, 5]), O).kind, 'reload', 'past the slots')
  const newCert = model([1, 2, 3, 4])
  newCert.certs[0]!.hash = 'def456'
  t.equal(planApply(scaled.next, newCert, O).kind, 'reload', 'a new certificate is a new file name')
  t.equal(renderShape(model([1]), assignAll(model([1])), O), renderShape(model([3]), assignAll(model([3])), O), 'the shape ignores addresses')
})
