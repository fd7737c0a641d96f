// CRUD semantics and the error catalogue, through fastify inject (no socket) plus a few
// real HTTPS requests (auth, body limits).
import t from 'tap'
import { apiRequest, withApiServer } from '../helpers/apiserver.js'
import { RESOURCES, groupVersion } from '../../src/api/resources.js'
import { cm, deployment, inj, service } from './util.js'

t.test('apiserver CRUD and errors', async (t) => {
  const srv = await withApiServer(t)
  const base = '/api/v1/namespaces/default/configmaps'

  t.test('create sets system metadata; get returns it; duplicate is 409 AlreadyExists', async (t) => {
    const c = await inj(srv, 'POST', base, cm('one', { a: '1' }))
    t.equal(c.status, 201)
    const m = c.body.metadata
    t.match(m.uid, /^[0-9a-f-]{36}$/)
    t.match(m.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    t.equal(m.generation, undefined, 'ConfigMaps have no generation, as upstream')
    t.match(m.resourceVersion, /^\d+$/)
    t.equal(m.namespace, 'default')
    const g = await inj(srv, 'GET', `${base}/one`)
    t.equal(g.status, 200)
    t.same(g.body.data, { a: '1' })
    t.equal(g.body.metadata.resourceVersion, m.resourceVersion)
    t.equal(g.body.kind, 'ConfigMap')
    const dup = await inj(srv, 'POST', base, cm('one'))
    t.equal(dup.status, 409)
    t.equal(dup.body.reason, 'AlreadyExists')
    t.equal(dup.body.message, 'configmaps "one" already exists')
    t.equal(dup.body.kind, 'Status')
    t.equal(dup.body.details.name, 'one')
  })

  t.test('update: stale resourceVersion is 409 Conflict, none is unconditional', async (t) => {
    const c = await inj(srv, 'POST', base, cm('upd', { v: '1' }))
    const rv1 = c.body.metadata.resourceVersion
    const u1 = await inj(srv, 'PUT', `${base}/upd`, { ...c.body, data: { v: '2' } })
    t.equal(u1.status, 200)
    t.not(u1.body.metadata.resourceVersion, rv1)
    t.equal(u1.body.metadata.uid, c.body.metadata.uid, 'uid kept')
    const stale = await inj(srv, 'PUT', `${base}/upd`, { ...c.body, data: { v: '3' } })
    t.equal(stale.status, 409)
    t.equal(stale.body.reason, 'Conflict')
    t.equal(stale.body.message, 'Operation cannot be fulfilled on configmaps "upd": the object has been modified; please apply your changes to the latest version and try again')
    const noRv = { ...cm('upd', { v: '4' }) }
    const u2 = await inj(srv, 'PUT', `${base}/upd`, noRv)
    t.equal(u2.status, 200)
    t.same((await inj(srv, 'GET', `${base}/upd`)).body.data, { v: '4' })
    const svcRes = await inj(srv, 'POST', '/api/v1/namespaces/default/services', service('stale'))
    const s2 = await inj(srv, 'PUT', '/api/v1/namespaces/default/services/stale', { ...svcRes.body, metadata: { ...svcRes.body.metadata, labels: { a: 'b' } } })
    t.equal(s2.status, 200)
    const s3 = await inj(srv, 'PUT', '/api/v1/namespaces/default/services/stale', { ...svcRes.body, metadata: { ...svcRes.body.metadata, labels: { a: 'c' } } })
    t.equal(s3.status, 409)
    t.equal(s3.body.message, 'Operation cannot be fulfilled on services "stale": the object has been modified; please apply your changes to the latest version and try again')
  })

  t.test('concurrent compare-and-set updates: exactly one of N wins with the same RV', async (t) => {
    const c = await inj(srv, 'POST', base, cm('race'))
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => inj(srv, 'PUT', `${base}/race`, { ...c.body, data: { i: String(i) } })),
    )
    t.equal(results.filter((r) => r.status === 200).length, 1)
    t.equal(results.filter((r) => r.status === 409).length, 7)
  })

  t.test('patch: merge, strategic, json-patch; apply-patch needs a fieldManager', async (t) => {
    await inj(srv, 'POST', base, cm('pat', { a: '1', b: '2' }))
    const m = await inj(srv, 'PATCH', `${base}/pat`, { data: { b: null, c: '3' } }, { contentType: 'application/merge-patch+json' })
    t.equal(m.status, 200, m.text)
    t.same(m.body.data, { a: '1', c: '3' })
    const s = await inj(srv, 'PATCH', `${base}/pat`, { metadata: { labels: { x: 'y' } } }, { contentType: 'application/strategic-merge-patch+json' })
    t.equal(s.status, 200, s.text)
    t.same(s.body.metadata.labels, { x: 'y' })
    const j = await inj(srv, 'PATCH', `${base}/pat`, [{ op: 'add', path: '/data/d', value: '4' }], { contentType: 'application/json-patch+json' })
    if (j.status === 200) t.equal(j.body.data.d, '4')
    else t.equal(j.status, 422, 'json patch not implemented yet answers 422, not 500')
    const a = await inj(srv, 'PATCH', `${base}/pat`, undefined, { contentType: 'application/apply-patch+yaml', raw: 'data: {}' })
    t.equal(a.status, 422, 'server-side apply without a fieldManager (test/apiserver/managed-fields.test.ts covers apply)')
    t.equal(a.body.reason, 'Invalid')
    const stale = await inj(srv, 'PATCH', `${base}/pat`, { metadata: { resourceVersion: '1' }, data: { z: '1' } }, { contentType: 'application/merge-patch+json' })
    t.equal(stale.status, 409, 'a resourceVersion in the patch is a precondition')
    const missing = await inj(srv, 'PATCH', `${base}/nope`, { data: {} }, { contentType: 'application/merge-patch+json' })
    t.equal(missing.status, 404)
  })

  t.test('delete, NotFound wording, dryRun, generateName', async (t) => {
    await inj(srv, 'POST', base, cm('del'))
    const d = await inj(srv, 'DELETE', `${base}/del`)
    t.equal(d.status, 200)
    t.equal(d.body.metadata.name, 'del')
    const g = await inj(srv, 'GET', `${base}/del`)
    t.equal(g.status, 404)
    t.equal(g.body.reason, 'NotFound')
    t.equal(g.body.message, 'configmaps "del" not found')
    t.equal(g.body.details.kind, 'configmaps')
    const pg = await inj(srv, 'GET', '/api/v1/namespaces/default/pods/nope')
    t.equal(pg.body.message, 'pods "nope" not found')
    const dg = await inj(srv, 'GET', '/apis/apps/v1/namespaces/default/deployments/nope')
    t.equal(dg.body.message, 'deployments.apps "nope" not found')
    t.equal((await inj(srv, 'DELETE', `${base}/del`)).status, 404)
    const dry = await inj(srv, 'POST', `${base}?dryRun=All`, cm('dry'))
    t.equal(dry.status, 201)
    t.equal((await inj(srv, 'GET', `${base}/dry`)).status, 404, 'dry run stores nothing')
    const gen = await inj(srv, 'POST', base, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } })
    t.equal(gen.status, 201)
    t.match(gen.body.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
  })

  t.test('deletecollection with a label selector', async (t) => {
    await inj(srv, 'POST', base, cm('dc1', {}, { dc: 'yes' }))
    await inj(srv, 'POST', base, cm('dc2', {}, { dc: 'yes' }))
    await inj(srv, 'POST', base, cm('dc3', {}, { dc: 'no' }))
    const d = await inj(srv, 'DELETE', `${base}?labelSelector=dc%3Dyes`)
    t.equal(d.status, 200)
    t.equal(d.body.items.length, 2)
    const l = await inj(srv, 'GET', `${base}?labelSelector=dc`)
    t.same(l.body.items.map((i: any) => i.metadata.name), ['dc3'])
  })

  t.test('bad requests: malformed JSON, wrong kind/apiVersion, name mismatch, unknown resource', async (t) => {
    const bad = await inj(srv, 'POST', base, undefined, { raw: '{"kind": "ConfigMap", ' })
    t.equal(bad.status, 400)
    t.equal(bad.body.reason, 'BadRequest')
    const notObj = await inj(srv, 'POST', base, [1, 2])
    t.equal(notObj.status, 400)
    const kind = await inj(srv, 'POST', base, { ...cm('k'), kind: 'Secret' })
    t.equal(kind.status, 400)
    t.match(kind.body.message, /kind/)
    const ver = await inj(srv, 'POST', base, { ...cm('k'), apiVersion: 'apps/v1' })
    t.equal(ver.status, 400)
    await inj(srv, 'POST', base, cm('named'))
    const mismatch = await inj(srv, 'PUT', `${base}/named`, cm('other'))
    t.equal(mismatch.status, 400)
    t.equal(mismatch.body.message, 'the name of the object (other) does not match the name on the URL (named)')
    const nsMismatch = await inj(srv, 'POST', base, { ...cm('nsm'), metadata: { name: 'nsm', namespace: 'kube-system' } })
    t.equal(nsMismatch.status, 400)
    const unknown = await inj(srv, 'GET', '/api/v1/namespaces/default/widgets')
    t.equal(unknown.status, 404)
    t.equal(unknown.body.kind, 'Status')
    const unknownGroup = await inj(srv, 'GET', '/apis/nope.io/v1/things')
    t.equal(unknownGroup.status, 404)
    const missingNs = await inj(srv, 'POST', '/api/v1/namespaces/ghost/configmaps', cm('x'))
    t.equal(missingNs.status, 404)
    t.equal(missingNs.body.message, 'namespaces "ghost" not found')
    const put405 = await inj(srv, 'PUT', base, cm('x'))
    t.equal(put405.status, 405)
    t.equal(put405.body.reason, 'MethodNotAllowed')
    const wrongCt = await inj(srv, 'POST', base, undefined, { contentType: 'text/plain', raw: 'hello' })
    t.equal(wrongCt.status, 415)
    const badSel = await inj(srv, 'GET', `${base}?labelSelector=a%20in%20(`)
    t.equal(badSel.status, 400)
  })

  t.test('wrong types get a 4xx and store nothing, for every resource', async (t) => {
    const shapes: [string, (name: string) => Record<string, unknown>][] = [
      ['labels as string', (name) => ({ metadata: { name, labels: 'app=web' } })],
      ['name as number', () => ({ metadata: { name: 5 } })],
      ['metadata as array', () => ({ metadata: ['x'] })],
      ['spec as string', (name) => ({ metadata: { name }, spec: 'nope' })],
      ['spec lists as strings', (name) => ({ metadata: { name }, spec: { containers: 'c', ports: 'p', selector: 'a', template: 5, taints: 'x' } })],
      ['deep nulls', (name) => ({ metadata: { name, annotations: null, ownerReferences: [null] }, spec: { containers: [null], ports: [null] }, data: [1] })],
      ['invalid name', () => ({ metadata: { name: 'Not_A_Name' } })],
    ]
    for (const r of RESOURCES) {
      const path = `${r.group ? `/apis/${r.group}` : '/api'}/${r.version}${r.namespaced ? '/namespaces/default' : ''}/${r.plural}`
      for (const [label, make] of shapes) {
        const name = `fuzz-${r.plural}-${shapes.findIndex((s) => s[0] === label)}`
        const body = { apiVersion: groupVersion(r), kind: r.kind, ...make(name) }
        const res = await inj(srv, 'POST', path, body)
        // Kubernetes accepts some of these for kinds without a spec (it prunes unknown fields).
        if (res.status === 201) {
          await inj(srv, 'DELETE', `${path}/${res.body.metadata.name}`)
          continue
        }
        t.ok(res.status >= 400 && res.status < 500, `${r.plural} ${label}: ${res.status} ${res.text.slice(0, 160)}`)
        t.equal(res.body?.kind, 'Status')
        t.equal((await inj(srv, 'GET', `${path}/${name}`)).status, 404, `${r.plural} ${label}: nothing stored`)
      }
    }
  })

  t.test('422 Invalid carries field causes (allocation errors)', async (t) => {
    const r = await inj(srv, 'POST', '/api/v1/namespaces/default/services', service('badip', { clusterIP: '192.168.1.1' }))
    t.equal(r.status, 422)
    t.equal(r.body.reason, 'Invalid')
    t.equal(r.body.details.kind, 'Service')
    t.equal(r.body.details.name, 'badip')
    t.equal(r.body.details.causes[0].field, 'spec.clusterIPs')
    t.equal(r.body.details.causes[0].reason, 'FieldValueInvalid')
    t.match(r.body.message, /^Service "badip" is invalid: spec.clusterIPs: Invalid value: \["192.168.1.1"\]: failed to allocate IP 192.168.1.1: provided IP \(192.168.1.1\) is not in the valid range/)
  })

  t.test('generation: bumps on spec change only; status ignored on main update', async (t) => {
    const path = '/apis/apps/v1/namespaces/default/deployments'
    const c = await inj(srv, 'POST', path, { ...deployment('gen'), status: { replicas: 7 } })
    t.equal(c.status, 201, c.text)
    t.equal(c.body.metadata.generation, 1)
    t.notOk(c.body.status?.replicas, 'status is not settable on create')
    const lab = await inj(srv, 'PATCH', `${path}/gen`, { metadata: { labels: { a: 'b' } } }, { contentType: 'application/merge-patch+json' })
    t.equal(lab.body.metadata.generation, 1, 'label change keeps generation')
    const spec = await inj(srv, 'PATCH', `${path}/gen`, { spec: { replicas: 3 } }, { contentType: 'application/merge-patch+json' })
    t.equal(spec.body.metadata.generation, 2, 'spec change bumps generation')
    const st = await inj(srv, 'PATCH', `${path}/gen`, { status: { replicas: 9 } }, { contentType: 'application/merge-patch+json' })
    t.equal(st.body.metadata.generation, 2)
    t.notOk(st.body.status?.replicas, 'status ignored on the main resource')
    const ann = await inj(srv, 'PATCH', `${path}/gen`, { metadata: { annotations: { x: 'y' } } }, { contentType: 'application/merge-patch+json' })
    t.equal(ann.body.metadata.generation, 3, 'deployment annotations bump generation (copied to ReplicaSets)')
  })

  t.test('Table output for kubectl get', async (t) => {
    await inj(srv, 'POST', base, cm('tbl'))
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'
    const l = await inj(srv, 'GET', base, undefined, { accept })
    t.equal(l.body.kind, 'Table')
    t.ok(l.body.rows.length >= 1)
    t.match(l.body.metadata.resourceVersion, /^\d+$/)
    const one = await inj(srv, 'GET', `${base}/tbl`, undefined, { accept })
    t.equal(one.body.kind, 'Table')
    t.equal(one.body.rows.length, 1)
    const plain = await inj(srv, 'GET', base)
    t.equal(plain.body.kind, 'ConfigMapList')
    const proto = await inj(srv, 'GET', base, undefined, { accept: 'application/vnd.kubernetes.protobuf' })
    t.equal(proto.status, 406)
  })

  t.test('discovery', async (t) => {
    const api = await inj(srv, 'GET', '/api')
    t.same(api.body.versions, ['v1'])
    const v1 = await inj(srv, 'GET', '/api/v1')
    const pods = v1.body.resources.find((r: any) => r.name === 'pods')
    t.equal(pods.kind, 'Pod')
    t.ok(pods.namespaced)
    t.ok(pods.shortNames.includes('po'))
    t.ok(v1.body.resources.find((r: any) => r.name === 'pods/status'))
    t.ok(v1.body.resources.find((r: any) => r.name === 'pods/binding'))
    const apis = await inj(srv, 'GET', '/apis')
    t.ok(apis.body.groups.find((g: any) => g.name === 'apps'))
    const apps = await inj(srv, 'GET', '/apis/apps/v1')
    const scale = apps.body.resources.find((r: any) => r.name === 'deployments/scale')
    t.equal(scale.kind, 'Scale')
    t.equal(scale.group, 'autoscaling')
    t.equal((await inj(srv, 'GET', '/apis/apps')).body.preferredVersion.groupVersion, 'apps/v1')
  })

  t.test('over HTTPS: 401 without or with a wrong token, open health and version, 413 over 3 MiB', async (t) => {
    const anon = await apiRequest(srv, 'GET', '/api/v1/namespaces', undefined, { token: null })
    t.equal(anon.status, 401)
    t.equal((anon.body as any).reason, 'Unauthorized')
    const wrong = await apiRequest(srv, 'GET', '/api/v1/namespaces', undefined, { token: 'nope' })
    t.equal(wrong.status, 401)
    t.equal((await apiRequest(srv, 'GET', '/healthz', undefined, { token: null })).text, 'ok')
    t.equal((await apiRequest(srv, 'GET', '/readyz', undefined, { token: null })).status, 200)
    t.equal((await apiRequest(srv, 'GET', '/readyz?verbose', undefined, { token: null })).text, '[+]ping ok\n[+]poststarthook/netkube-bootstrap ok\n[+]etcd ok\nreadyz check passed\n')
    t.equal((await apiRequest(srv, 'GET', '/readyz/etcd')).text, 'ok')
    // system:public-info-viewer names /readyz, not its checks: anonymous gets upstream's 403 there.
    t.equal((await apiRequest(srv, 'GET', '/readyz/etcd', undefined, { token: null })).status, 403)
    t.equal((await apiRequest(srv, 'GET', '/version', undefined, { token: null })).status, 200)
    const big = { ...cm('big'), data: { x: 'a'.repeat(3 * 1024 * 1024 + 10) } }
    const tooBig = await apiRequest(srv, 'POST', base, big)
    t.equal(tooBig.status, 413)
    t.equal((tooBig.body as any).reason, 'RequestEntityTooLarge')
    t.equal((await apiRequest(srv, 'GET', `${base}/big`)).status, 404, 'nothing half-written')
    const almost = { ...cm('almost'), data: { x: 'a'.repeat(1024 * 1024) } }
    t.equal((await apiRequest(srv, 'POST', base, almost)).status, 201, '1 MiB is fine')
    const metrics = await apiRequest(srv, 'GET', '/metrics')
    t.match(metrics.text, /apiserver_request_total\{verb="create",resource="configmaps",code="201"\}/)
  })
})
