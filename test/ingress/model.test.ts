// The routing model as data: which Ingresses are ours, host and path matching per the Ingress
// spec (a table of requests → backends), endpoints from EndpointSlices, port by number or name,
// conflicts, and the Events for what cannot be served (resource backends, bad TLS Secrets).
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Ingress, IngressClass } from '../../src/api/ingress.js'
import type { EndpointSlice, Secret, Service } from '../../src/api/types.js'
import { buildModel, ingressIsOurs, matchRequest } from '../../src/ingress/model.js'
import { run } from '../../src/util/exec.js'
import { need } from '../helpers/prereq.js'

const cls = (name: string, controller: string, isDefault = false): IngressClass => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name, ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
  spec: { controller },
})
const svc = (name: string, ports: { name?: string; port: number }[], ns = 'default'): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports } })
const slice = (svcName: string, ports: { name?: string; port: number }[], eps: [string, boolean?][], ns = 'default', name = `${svcName}-x`): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svcName } },
  addressType: 'IPv4',
  ports,
  endpoints: eps.map(([ip, ready]) => ({ addresses: [ip], conditions: { ready: ready ?? true } })),
})
const sb = (name: string, port: number | string) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } })
const ing = (name: string, spec: Ingress['spec'], created = '2026-12-01T10:00:00Z', ns = 'default'): Ingress => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: ns, creationTimestamp: created },
  spec: { ingressClassName: 'netkube', ...spec },
})

/** A fresh input each call, with arrays the tests may extend. */
type MutableInput = { ingresses: Ingress[]; classes: IngressClass[]; services: Service[]; slices: EndpointSlice[]; secrets: Secret[] }
const base = (): MutableInput => ({
  classes: [cls('netkube', 'netkube.io/ingress-controller', true), cls('nginx', 'k8s.io/ingress-nginx')],
  services: [svc('web', [{ name: 'http', port: 80 }]), svc('api', [{ name: 'http', port: 8080 }, { name: 'admin', port: 9090 }]), svc('fallback', [{ port: 80 }]), svc('wild', [{ port: 80 }])],
  slices: [
    slice('web', [{ name: 'http', port: 8000 }], [['10.1.0.2'], ['10.1.0.3'], ['10.1.0.4', false]]),
    slice('api', [{ name: 'http', port: 8081 }, { name: 'admin', port: 9091 }], [['10.1.1.2']]),
    slice('fallback', [{ port: 8080 }], [['10.1.2.2']]),
    slice('wild', [{ port: 80 }], [['10.1.3.2']]),
  ],
  secrets: [],
  ingresses: [
    ing('shop', {
      defaultBackend: sb('fallback', 80),
      rules: [
        {
          host: 'a.example.com',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: sb('web', 80) },
              { path: '/api/', pathType: 'Prefix', backend: sb('api', 'http') },
              { path: '/api/admin', pathType: 'Exact', backend: sb('api', 9090) },
              { path: '/api/admin', pathType: 'Prefix', backend: sb('web', 'http') },
            ],
          },
        },
        { host: 'b.example.com', http: { paths: [{ path: '/only', pathType: 'Exact', backend: sb('api', 8080) }] } },
        { host: '*.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: sb('wild', 80) }] } },
        { http: { paths: [{ path: '/any', pathType: 'ImplementationSpecific', backend: sb('web', 80) }] } },
      ],
    }),
    ing('other-class', { ingressClassName: 'nginx', rules: [{ host: 'n.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: sb('web', 80) }] } }] }),
  ],
})

t.test('which Ingresses are ours: class name, legacy annotation, default class', async (t) => {
  const classes = base().classes
  const mk = (spec: Partial<Ingress['spec']>, ann?: Record<string, string>): Ingress => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'x', ...(ann ? { annotations: ann } : {}) }, spec })
  t.equal(ingressIsOurs(mk({ ingressClassName: 'netkube' }), classes), true)
  t.equal(ingressIsOurs(mk({ ingressClassName: 'nginx' }), classes), false)
  t.equal(ingressIsOurs(mk({ ingressClassName: 'nope' }), classes), false, 'a class that does not exist')
  t.equal(ingressIsOurs(mk({}, { 'kubernetes.io/ingress.class': 'netkube' }), classes), true)
  t.equal(ingressIsOurs(mk({}, { 'kubernetes.io/ingress.class': 'nginx' }), classes), false)
  t.equal(ingressIsOurs(mk({}), classes), true, 'no class: ours while our class is the default')
  t.equal(ingressIsOurs(mk({}), [cls('netkube', 'netkube.io/ingress-controller')]), false, 'no class and no default class')
  const { model } = buildModel(base())
  t.same(model.ingresses, ['default/shop'], 'the nginx-class Ingress is ignored')
})

t.test('requests → backends (host exact/wildcard/any, Exact/Prefix element-wise, longest match)', async (t) => {
  const { model, events } = buildModel(base())
  t.same(events, [])
  const table: [string, string, string | undefined][] = [
    ['a.example.com', '/', 'default/web:80'],
    ['a.example.com', '/shop/cart', 'default/web:80'],
    ['A.Example.com:80', '/x', 'default/web:80'],
    ['a.example.com', '/api', 'default/api:http'],
    ['a.example.com', '/api/', 'default/api:http'],
    ['a.example.com', '/api/v1', 'default/api:http'],
    ['a.example.com', '/apis', 'default/web:80'], // element-wise: /api does not match /apis
    ['a.example.com', '/api/admin', 'default/api:9090'], // Exact beats Prefix of equal length
    ['a.example.com', '/api/admin/users', 'default/web:http'],
    ['b.example.com', '/only', 'default/api:8080'],
    ['b.example.com', '/only/', 'default/fallback:80'], // Exact is exact; the host matched, no path → default
    ['b.example.com', '/any', 'default/fallback:80'], // a matched host does not fall through to host-less rules
    ['c.example.com', '/x', 'default/wild:80'],
    ['x.c.example.com', '/any', 'default/web:80'], // a wildcard covers one label only
    ['example.com', '/any/thing', 'default/web:80'],
    ['example.com', '/anything', 'default/fallback:80'],
    ['unknown.test', '/', 'default/fallback:80'],
  ]
  for (const [host, path, want] of table) t.equal(matchRequest(model, host, path).backend, want, `${host}${path}`)
  t.same(
    model.hosts.map((g) => g.host),
    ['a.example.com', 'b.example.com', '*.example.com', ''],
  )
  t.same(
    model.hosts[0]!.routes.map((r) => `${r.pathType} ${r.path}`),
    ['Exact /api/admin', 'Prefix /api/admin', 'Prefix /api', 'Prefix '],
  )
  const noDefault = base()
  delete noDefault.ingresses[0]!.spec.defaultBackend
  t.equal(matchRequest(buildModel(noDefault).model, 'unknown.test', '/').backend, undefined, 'no default backend → 404')
})

t.test('backends: ready endpoints from EndpointSlices, port by number or name', async (t) => {
  const { model } = buildModel(base())
  t.same(model.backends['default/web:80']!.endpoints, [
    { ip: '10.1.0.2', port: 8000 },
    { ip: '10.1.0.3', port: 8000 },
  ], 'the not-ready endpoint is left out; the slice port, not the Service port')
  t.same(model.backends['default/api:http']!.endpoints, [{ ip: '10.1.1.2', port: 8081 }])
  t.same(model.backends['default/api:9090']!.endpoints, [{ ip: '10.1.1.2', port: 9091 }], 'by number → the port of the same name in the slice')
  const moved = base()
  moved.slices.push(slice('web', [{ name: 'http', port: 8000 }], [['10.1.0.9']], 'default', 'web-y'), slice('web', [{ name: 'http', port: 8000 }], [['10.9.0.1']], 'other', 'web-z'))
  t.same(buildModel(moved).model.backends['default/web:80']!.endpoints.map((e) => e.ip), ['10.1.0.2', '10.1.0.3', '10.1.0.9'], 'several slices; other namespaces ignored')
})

t.test('Events: missing Service or port, resource backends, conflicts; the rest is kept', async (t) => {
  const i = base()
  i.ingresses.push(
    ing('later', {
      defaultBackend: sb('web', 80),
      rules: [
        {
          host: 'a.example.com',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: sb('api', 8080) },
              { path: '/bucket', pathType: 'Prefix', backend: { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'static' } } },
              { path: '/gone', pathType: 'Prefix', backend: sb('gone', 80) },
              { path: '/noport', pathType: 'Prefix', backend: sb('web', 81) },
            ],
          },
        },
      ],
    }, '2026-12-01T11:00:00Z'),
  )
  const { model, events } = buildModel(i)
  t.same(
    events.map((e) => [e.ingress, e.reason]),
    [
      ['default/later', 'DefaultBackendConflict'],
      ['default/later', 'PathConflict'],
      ['default/later', 'UnsupportedBackend'],
      ['default/later', 'ServiceNotFound'],
      ['default/later', 'ServicePortNotFound'],
    ],
  )
  t.match(events[2]!.message, 'spec.rules[0].http.paths[1]: resource backends (StorageBucket.k8s.example.com "static") are not supported')
  t.equal(matchRequest(model, 'a.example.com', '/').backend, 'default/web:80', 'the older Ingress keeps the path')
  t.equal(matchRequest(model, 'a.example.com', '/bucket').backend, 'default/web:80', 'a refused path is not routed')
  t.equal(matchRequest(model, 'a.example.com', '/gone').backend, 'default/gone:80', 'a missing Service keeps its route (503)')
  t.same(model.backends['default/gone:80']!.endpoints, [])
  t.equal(model.defaultBackend, 'default/fallback:80')
})

t.test('TLS: valid pairs by SNI host, missing or mismatched Secrets warn and only that TLS is dropped', { skip: need('openssl') }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nk-ing-model-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const pair = async (cn: string): Promise<{ crt: string; key: string }> => {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, '-keyout', join(dir, `${cn}.key`), '-out', join(dir, `${cn}.crt`)])
    return { crt: readFileSync(join(dir, `${cn}.crt`)).toString('base64'), key: readFileSync(join(dir, `${cn}.key`)).toString('base64') }
  }
  const a = await pair('a.example.com')
  const b = await pair('b.example.com')
  const secret = (name: string, d: { crt: string; key: string }): Secret => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': d.crt, 'tls.key': d.key } })
  const i = base()
  i.secrets = [secret('a-tls', a), secret('mixed', { crt: a.crt, key: b.key }), secret('b-tls', b)]
  i.ingresses[0]!.spec.tls = [{ hosts: ['a.example.com'], secretName: 'a-tls' }, { hosts: ['b.example.com'], secretName: 'b-tls' }]
  i.ingresses.push(
    ing('bad-tls', { tls: [{ hosts: ['c.example.com'], secretName: 'mixed' }, { hosts: ['d.example.com'], secretName: 'absent' }], rules: [{ host: 'c.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: sb('web', 80) }] } }] }, '2026-12-01T12:00:00Z'),
  )
  const { model, events } = buildModel(i)
  t.same(model.certs.map((c) => [c.secret, c.hosts]), [
    ['default/a-tls', ['a.example.com']],
    ['default/b-tls', ['b.example.com']],
  ])
  t.match(model.certs[0]!.pem, /-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN PRIVATE KEY-----/)
  t.same(model.tlsHosts, ['a.example.com', 'b.example.com'], 'c.example.com is not redirected: its TLS is not served')
  t.same(events.map((e) => [e.ingress, e.reason]), [
    ['default/bad-tls', 'TLSSecretInvalid'],
    ['default/bad-tls', 'TLSSecretNotFound'],
  ])
  t.match(events[0]!.message, 'spec.tls[0]: secret "default/mixed" tls.key does not match the certificate in tls.crt; hosts c.example.com are not served over TLS')
  t.equal(matchRequest(model, 'c.example.com', '/').backend, 'default/web:80', 'its plain-HTTP routes are kept')
})
