// Bad input for the kinds issue #11 added, through the apiserver on real etcd: each case gets
// upstream's status code, reason, message and field path, and writes nothing (the object is
// absent afterwards, or unchanged at the same resourceVersion). The status codes are
// upstream's: 422 for field rules; 400 for Secret/ConfigMap bytes that are not base64 on
// create/update (the body does not decode: transformDecodeError); 403 for a pod naming a
// ServiceAccount that does not exist (the ServiceAccount admission plugin, admission.NewForbidden).
import t from 'tap'
import { withApiServer } from '../helpers/apiserver.js'
import { base } from '../api/fixtures/manifests.js'
import { inj } from './util.js'

const NS = '/api/v1/namespaces/default'
const BATCH = '/apis/batch/v1/namespaces/default'
const MERGE = 'application/merge-patch+json'

interface Case {
  what: string
  /** created first (and must succeed); the bad write then targets it */
  existing?: { url: string; body: Record<string, unknown> }
  method: 'POST' | 'PUT' | 'PATCH'
  url: string
  body: (existing?: Record<string, any>) => unknown
  status: number
  reason: string
  message: string
  /** the first cause's field, for 422s */
  field?: string
  /** where to look afterwards: 404 for a refused create, the same resourceVersion for an update */
  after: string
}

const fixture = (k: string, patch: (o: any) => void): Record<string, unknown> => {
  const o: any = base[k]!()
  patch(o)
  return o
}

const CASES: Case[] = [
  {
    what: 'CronJob with an invalid schedule',
    method: 'POST', url: `${BATCH}/cronjobs`,
    body: () => fixture('cronjobs', (o) => { o.metadata.name = 'badcron'; o.spec.schedule = '61 * * * *' }),
    status: 422, reason: 'Invalid', field: 'spec.schedule',
    message: 'CronJob.batch "badcron" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61',
    after: `${BATCH}/cronjobs/badcron`,
  },
  {
    what: 'CronJob with a schedule of too few fields',
    method: 'POST', url: `${BATCH}/cronjobs`,
    body: () => fixture('cronjobs', (o) => { o.metadata.name = 'badcron2'; o.spec.schedule = 'every minute' }),
    status: 422, reason: 'Invalid', field: 'spec.schedule',
    message: 'CronJob.batch "badcron2" is invalid: spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: [every minute]',
    after: `${BATCH}/cronjobs/badcron2`,
  },
  {
    what: 'Job with completions < 0',
    method: 'POST', url: `${BATCH}/jobs`,
    body: () => fixture('jobs', (o) => { o.metadata.name = 'negjob'; o.spec.completions = -1 }),
    status: 422, reason: 'Invalid', field: 'spec.completions',
    message: 'Job.batch "negjob" is invalid: spec.completions: Invalid value: -1: must be greater than or equal to 0',
    after: `${BATCH}/jobs/negjob`,
  },
  {
    what: 'immutable Secret: a data change (PATCH)',
    existing: { url: `${NS}/secrets`, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'frozen' }, data: { a: 'b2xk' }, immutable: true } },
    method: 'PATCH', url: `${NS}/secrets/frozen`, body: () => ({ data: { a: 'bmV3' } }),
    status: 422, reason: 'Invalid', field: 'data',
    message: 'Secret "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    after: `${NS}/secrets/frozen`,
  },
  {
    what: 'immutable Secret: a data change (PUT)',
    method: 'PUT', url: `${NS}/secrets/frozen`, body: (cur) => ({ ...cur, data: { a: 'bmV3' } }),
    status: 422, reason: 'Invalid', field: 'data',
    message: 'Secret "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set',
    after: `${NS}/secrets/frozen`,
  },
  {
    what: 'immutable Secret: turning immutable off',
    method: 'PATCH', url: `${NS}/secrets/frozen`, body: () => ({ immutable: false }),
    status: 422, reason: 'Invalid', field: 'immutable',
    message: 'Secret "frozen" is invalid: immutable: Forbidden: field is immutable when `immutable` is set',
    after: `${NS}/secrets/frozen`,
  },
  {
    what: 'Secret data that is not base64 (create): the body does not decode',
    method: 'POST', url: `${NS}/secrets`,
    body: () => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'notb64' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'not*base64' } }),
    status: 400, reason: 'BadRequest',
    message: 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3',
    after: `${NS}/secrets/notb64`,
  },
  {
    what: 'Secret data that is not base64 (update)',
    existing: { url: `${NS}/secrets`, body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'plain' }, data: { a: 'b2xk' } } },
    method: 'PUT', url: `${NS}/secrets/plain`, body: (cur) => ({ ...cur, data: { a: 'b2xk', b: 'abcde' } }),
    status: 400, reason: 'BadRequest',
    message: 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4',
    after: `${NS}/secrets/plain`,
  },
  {
    what: 'Secret data that is not base64 (patch: decoded after applying, a 422)',
    method: 'PATCH', url: `${NS}/secrets/plain`, body: () => ({ data: { b: 'a?cd' } }),
    status: 422, reason: 'Invalid', field: 'data[b]',
    message: 'Secret "plain" is invalid: data[b]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 1',
    after: `${NS}/secrets/plain`,
  },
  {
    what: 'ConfigMap binaryData that is not base64',
    method: 'POST', url: `${NS}/configmaps`,
    body: () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bin' }, binaryData: { f: '%%%%' } }),
    status: 400, reason: 'BadRequest',
    message: 'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 0',
    after: `${NS}/configmaps/bin`,
  },
  {
    what: 'a pod naming a ServiceAccount that does not exist',
    method: 'POST', url: `${NS}/pods`,
    body: () => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'runner' }, spec: { serviceAccountName: 'builder', containers: [{ name: 'c', image: 'agnhost' }] } }),
    status: 403, reason: 'Forbidden',
    message: 'pods "runner" is forbidden: error looking up service account default/builder: serviceaccount "builder" not found',
    after: `${NS}/pods/runner`,
  },
  {
    what: 'admission refuses before validation looks (an invalid pod naming a missing ServiceAccount)',
    method: 'POST', url: `${NS}/pods`,
    body: () => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'runner2' }, spec: { serviceAccountName: 'builder', containers: [] } }),
    status: 403, reason: 'Forbidden',
    message: 'pods "runner2" is forbidden: error looking up service account default/builder: serviceaccount "builder" not found',
    after: `${NS}/pods/runner2`,
  },
  {
    what: 'a generateName pod naming a missing ServiceAccount (no name yet at admission)',
    method: 'POST', url: `${NS}/pods`,
    body: () => ({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'gen-' }, spec: { serviceAccountName: 'builder', containers: [{ name: 'c', image: 'agnhost' }] } }),
    status: 403, reason: 'Forbidden',
    message: 'pods is forbidden: error looking up service account default/builder: serviceaccount "builder" not found',
    after: `${NS}/pods`,
  },
]

t.test('bad input: upstream codes and words, nothing written', async (t) => {
  const srv = await withApiServer(t)
  for (const c of CASES) {
    t.test(c.what, async (t) => {
      if (c.existing) t.equal((await inj(srv, 'POST', c.existing.url, c.existing.body)).status, 201, 'setup')
      const before = await inj(srv, 'GET', c.after)
      const res = await inj(srv, c.method, c.url, c.body(before.status === 200 ? before.body : undefined), c.method === 'PATCH' ? { contentType: MERGE } : {})
      t.equal(res.status, c.status, res.text)
      t.equal(res.body?.kind, 'Status')
      t.equal(res.body?.reason, c.reason)
      t.equal(res.body?.message, c.message)
      if (c.field) t.equal(res.body?.details?.causes?.[0]?.field, c.field, 'field path')
      const after = await inj(srv, 'GET', c.after)
      if (before.status === 404) t.equal(after.status, 404, 'nothing created')
      else if (after.body?.kind?.endsWith('List')) t.same(after.body.items.map((i: any) => i.metadata.name), before.body.items.map((i: any) => i.metadata.name), 'no object added')
      else t.equal(after.body.metadata.resourceVersion, before.body.metadata.resourceVersion, 'nothing changed')
    })
  }
  t.test('once the ServiceAccount exists the same pod is admitted; `default` may be missing', async (t) => {
    t.equal((await inj(srv, 'POST', `${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder' } })).status, 201)
    const ok = await inj(srv, 'POST', `${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'runner' }, spec: { serviceAccountName: 'builder', containers: [{ name: 'c', image: 'agnhost' }] } })
    t.equal(ok.status, 201, ok.text)
    const dflt = await inj(srv, 'POST', `${NS}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } })
    t.equal(dflt.status, 201, dflt.text)
    t.equal(dflt.body.spec.serviceAccountName, 'default')
  })
})
