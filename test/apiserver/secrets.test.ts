// Secret semantics through the apiserver (inject, real etcd): defaulting, stringData, the
// per-type rules and immutability with upstream's wording; ServiceAccount admission on pods.
import t from 'tap'
import { withApiServer } from '../helpers/apiserver.js'
import { inj, pod } from './util.js'

const BASE = '/api/v1/namespaces/default/secrets'
const b64 = (s: string) => Buffer.from(s).toString('base64')
const secret = (name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, ...extra })

t.test('secrets', async (t) => {
  const srv = await withApiServer(t)

  t.test('type defaults to Opaque; stringData wins over data and is not stored', async (t) => {
    const r = await inj(srv, 'POST', BASE, secret('s1', { data: { a: b64('old'), keep: b64('k') }, stringData: { a: 'new' } }))
    t.equal(r.status, 201, r.text)
    t.equal(r.body.type, 'Opaque')
    t.same(r.body.data, { a: b64('new'), keep: b64('k') })
    t.equal(r.body.stringData, undefined)
    const u = await inj(srv, 'PATCH', `${BASE}/s1`, { stringData: { b: 'two' } }, { contentType: 'application/merge-patch+json' })
    t.equal(u.status, 200)
    t.same(u.body.data, { a: b64('new'), keep: b64('k'), b: b64('two') }, 'stringData in an update merges too')
  })

  const invalid: [string, Record<string, unknown>, string][] = [
    ['bad key', { data: { 'a b': b64('x') } }, 'Secret "bad" is invalid: data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, \'-\', \'_\' or \'.\' (e.g. \'key.name\',  or \'KEY_NAME\',  or \'key-name\', regex used for validation is \'[-._a-zA-Z0-9]+\')'],
    ['tls without key', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64('c') } }, 'Secret "bad" is invalid: data[tls.key]: Required value'],
    ['dockerconfigjson missing', { type: 'kubernetes.io/dockerconfigjson', data: {} }, 'Secret "bad" is invalid: data[.dockerconfigjson]: Required value'],
    ['sa token without annotation', { type: 'kubernetes.io/service-account-token' }, 'Secret "bad" is invalid: metadata.annotations[kubernetes.io/service-account.name]: Required value'],
    ['stringData not strings', { stringData: { a: 5 } }, 'Secret "bad" is invalid: stringData[a]: Invalid value: 5: must be of type string'],
  ]
  // Bytes that are not base64 do not decode: upstream answers 400 before any rule (test/apiserver/bad-input.test.ts).
  for (const [what, data, msg] of [
    ['not base64', { k: 'a?cd' }, 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 1'],
    ['cut short', { k: 'abcde' }, 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'],
  ] as const) {
    t.test(`400: ${what}`, async (t) => {
      const r = await inj(srv, 'POST', BASE, secret('bad', { data }))
      t.equal(r.status, 400, r.text)
      t.equal(r.body.message, msg)
      t.equal((await inj(srv, 'GET', `${BASE}/bad`)).status, 404, 'nothing written')
    })
  }
  for (const [what, body, msg] of invalid) {
    t.test(`422: ${what}`, async (t) => {
      const r = await inj(srv, 'POST', BASE, secret('bad', body))
      t.equal(r.status, 422, r.text)
      t.equal(r.body.message, msg)
      t.equal((await inj(srv, 'GET', `${BASE}/bad`)).status, 404, 'nothing written')
    })
  }

  t.test('dockerconfigjson must be a JSON object', async (t) => {
    const r = await inj(srv, 'POST', BASE, secret('dj', { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{"auths":') } }))
    t.equal(r.status, 422)
    t.match(r.body.message, /^Secret "dj" is invalid: data\[\.dockerconfigjson\]: Invalid value: "<secret contents redacted>": /)
    const ok = await inj(srv, 'POST', BASE, secret('dj', { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{"auths":{}}') } }))
    t.equal(ok.status, 201)
  })

  t.test('immutable and type changes', async (t) => {
    await inj(srv, 'POST', BASE, secret('imm', { data: { a: b64('1') }, immutable: true }))
    const r = await inj(srv, 'PATCH', `${BASE}/imm`, { data: { a: b64('2') } }, { contentType: 'application/merge-patch+json' })
    t.equal(r.status, 422)
    t.equal(r.body.message, 'Secret "imm" is invalid: data: Forbidden: field is immutable when `immutable` is set')
    const off = await inj(srv, 'PATCH', `${BASE}/imm`, { immutable: false }, { contentType: 'application/merge-patch+json' })
    t.equal(off.body.message, 'Secret "imm" is invalid: immutable: Forbidden: field is immutable when `immutable` is set')
    const labels = await inj(srv, 'PATCH', `${BASE}/imm`, { metadata: { labels: { a: 'b' } } }, { contentType: 'application/merge-patch+json' })
    t.equal(labels.status, 200, 'metadata may still change')
    const ty = await inj(srv, 'PATCH', `${BASE}/s1`, { type: 'kubernetes.io/basic-auth' }, { contentType: 'application/merge-patch+json' })
    t.equal(ty.status, 422)
    t.match(ty.body.message, 'type: Invalid value: "kubernetes.io/basic-auth": field is immutable')
  })

  t.test('field selector type=', async (t) => {
    const r = await inj(srv, 'GET', `${BASE}?fieldSelector=type%3Dkubernetes.io%2Fdockerconfigjson`)
    t.same(r.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['dj'])
  })

  t.test('pods default to the default ServiceAccount; an explicit one stays', async (t) => {
    const a = await inj(srv, 'POST', '/api/v1/namespaces/default/pods', pod('p1'))
    t.equal(a.body.spec.serviceAccountName, 'default')
    t.equal((await inj(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder' } })).status, 201)
    const b = await inj(srv, 'POST', '/api/v1/namespaces/default/pods', pod('p2', {}, { serviceAccountName: 'builder' }))
    t.equal(b.body.spec.serviceAccountName, 'builder')
    const d = await inj(srv, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
      metadata: { name: 'd' },
      spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } } },
    })
    t.equal(d.body.spec.template.spec.serviceAccountName, undefined, 'templates are not admitted')
  })
})
