// Field ownership and server-side apply through the apiserver (inject, real etcd): managedFields
// on every write, apply create / no-op / merge / removal, conflicts with upstream's wording,
// force, shared ownership, and the request checks kube-apiserver makes.
import t from 'tap'
import { withApiServer } from '../helpers/apiserver.js'
import { cm, inj } from './util.js'

const CMS = '/api/v1/namespaces/default/configmaps'
const APPLY = 'application/apply-patch+yaml'
const MERGE = 'application/merge-patch+json'
type Entry = { manager: string; operation: string; apiVersion?: string; fieldsV1: Record<string, unknown>; subresource?: string; time?: string }
const managers = (o: { metadata: { managedFields?: Entry[] } }) => (o.metadata.managedFields ?? []).map((e) => `${e.manager}/${e.operation}`)
const entry = (o: { metadata: { managedFields?: Entry[] } }, manager: string, op = 'Apply') => o.metadata.managedFields?.find((e) => e.manager === manager && e.operation === op)

t.test('managed fields', async (t) => {
  const srv = await withApiServer(t)
  const apply = (name: string, body: unknown, manager = 'applier', extra = '') =>
    inj(srv, 'PATCH', `${CMS}/${name}?fieldManager=${manager}${extra}`, body, { contentType: APPLY })

  t.test('a create records its manager and the fields it set', async (t) => {
    const r = await inj(srv, 'POST', `${CMS}?fieldManager=maker`, cm('c1', { a: '1' }, { app: 'x' }))
    t.equal(r.status, 201, r.text)
    const e = entry(r.body, 'maker', 'Update')!
    t.equal(e.apiVersion, 'v1')
    t.ok(e.time)
    t.same(e.fieldsV1, { 'f:data': { '.': {}, 'f:a': {} }, 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } })
    const byAgent = await inj(srv, 'POST', CMS, cm('c1b', { a: '1' }))
    t.same(managers(byAgent.body), ['lightMyRequest/Update'], 'no fieldManager: the User-Agent product (inject sends lightMyRequest/…)')
  })

  t.test('apply creates (201), a second identical apply writes nothing', async (t) => {
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a1' }, data: { a: '1', b: '2' } }
    const first = await apply('a1', body)
    t.equal(first.status, 201, first.text)
    t.same(first.body.data, { a: '1', b: '2' })
    t.same(managers(first.body), ['applier/Apply'])
    const again = await apply('a1', body)
    t.equal(again.status, 200)
    t.equal(again.body.metadata.resourceVersion, first.body.metadata.resourceVersion, 'no-op apply: same resourceVersion')
  })

  t.test('a field the applier stops applying is removed, unless someone else holds it', async (t) => {
    await apply('a2', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a2' }, data: { a: '1', b: '2', c: '3' } })
    await apply('a2', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a2' }, data: { c: '3' } }, 'second')
    const r = await apply('a2', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a2' }, data: { a: '1' } })
    t.equal(r.status, 200, r.text)
    t.same(r.body.data, { a: '1', c: '3' }, 'b dropped; c kept because "second" applies it too')
    t.same(entry(r.body, 'second')!.fieldsV1, { 'f:data': { 'f:c': {} } })
  })

  t.test('conflicts: 409 with upstream text and causes; force takes ownership', async (t) => {
    await inj(srv, 'POST', `${CMS}?fieldManager=kubectl-create`, cm('c2', { a: '1', b: '1' }))
    const same = await apply('c2', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c2' }, data: { a: '1' } })
    t.equal(same.status, 200, 'the same value is shared ownership, no conflict')
    const one = await apply('c2', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c2' }, data: { a: '2' } })
    t.equal(one.status, 409, one.text)
    t.equal(one.body.reason, 'Conflict')
    t.equal(one.body.message, 'Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.a')
    t.same(one.body.details.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "kubectl-create" using v1', field: '.data.a' }])
    const two = await apply('c2', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c2' }, data: { a: '2', b: '2' } })
    t.equal(two.body.message, 'Apply failed with 2 conflicts: conflicts with "kubectl-create" using v1:\n- .data.a\n- .data.b')
    t.equal((await inj(srv, 'GET', `${CMS}/c2`)).body.data.a, '1', 'nothing written')
    const forced = await apply('c2', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c2' }, data: { a: '2' } }, 'applier', '&force=true')
    t.equal(forced.status, 200, forced.text)
    t.equal(forced.body.data.a, '2')
    t.same(entry(forced.body, 'kubectl-create', 'Update')!.fieldsV1, { 'f:data': { '.': {}, 'f:b': {} } }, 'the forced field left the other manager')
  })

  t.test('an update takes the fields it changes from the applier (no conflict)', async (t) => {
    await apply('c3', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c3' }, data: { a: '1' } })
    const p = await inj(srv, 'PATCH', `${CMS}/c3?fieldManager=kubectl-edit`, { data: { a: 'edited' } }, { contentType: MERGE })
    t.equal(p.status, 200, p.text)
    t.notOk(entry(p.body, 'applier'), 'the applier held only data.a: its entry is gone')
    t.same(entry(p.body, 'kubectl-edit', 'Update')!.fieldsV1, { 'f:data': { 'f:a': {} } })
    const back = await apply('c3', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c3' }, data: { a: '1' } })
    t.equal(back.status, 409, 're-applying the old value now conflicts with the editor')
  })

  t.test('keyed lists merge item by item (containers by name, ports by port+protocol)', async (t) => {
    const dep = (containers: unknown[]) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd1' },
      spec: { selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers } } },
    })
    const url = '/apis/apps/v1/namespaces/default/deployments/d1'
    const a = await inj(srv, 'PATCH', `${url}?fieldManager=one`, dep([{ name: 'web', image: 'nginx:1', ports: [{ containerPort: 53, protocol: 'UDP' }, { containerPort: 53 }] }]), { contentType: APPLY })
    t.equal(a.status, 201, a.text)
    const b = await inj(srv, 'PATCH', `${url}?fieldManager=two`, dep([{ name: 'side', image: 'busybox' }]), { contentType: APPLY })
    t.equal(b.status, 200, b.text)
    t.same(b.body.spec.template.spec.containers.map((c: { name: string }) => c.name), ['web', 'side'], 'two managers, two containers')
    const ports = (entry(b.body, 'one')!.fieldsV1 as any)['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"web"}']['f:ports']
    t.same(Object.keys(ports).filter((k) => k !== '.').sort(), ['k:{"containerPort":53,"protocol":"TCP"}', 'k:{"containerPort":53,"protocol":"UDP"}'], 'protocol defaulted into the key')
    const c = await inj(srv, 'PATCH', `${url}?fieldManager=one`, dep([{ name: 'web', image: 'nginx:2' }]), { contentType: APPLY })
    t.equal(c.status, 200, c.text)
    t.same(c.body.spec.template.spec.containers.map((x: { name: string; image: string; ports?: unknown[] }) => [x.name, x.image, x.ports?.length ?? 0]), [['web', 'nginx:2', 0], ['side', 'busybox', 0]], 'ports one no longer applies are gone; the other manager\'s container stays')
  })

  t.test('a client may reset managedFields with [{}]; status writes record their subresource', async (t) => {
    const cur = (await inj(srv, 'GET', `${CMS}/c1`)).body
    cur.metadata.managedFields = [{}]
    const put = await inj(srv, 'PUT', `${CMS}/c1`, cur)
    t.equal(put.status, 200, put.text)
    t.same(put.body.metadata.managedFields, undefined, 'reset, and the PUT changed nothing to own')
    const url = '/apis/apps/v1/namespaces/default/deployments/d1/status?fieldManager=controller-like'
    const d = (await inj(srv, 'GET', '/apis/apps/v1/namespaces/default/deployments/d1')).body
    const st = await inj(srv, 'PUT', url, { ...d, status: { observedGeneration: 7, replicas: 0 } })
    t.equal(st.status, 200, st.text)
    const e = entry(st.body, 'controller-like', 'Update')!
    t.equal(e.subresource, 'status')
    t.same(e.fieldsV1, { 'f:status': { 'f:observedGeneration': {}, 'f:replicas': {} } }, 'only status, and only what the write set')
  })

  t.test('apply to the status subresource: status only, its own manager entry, conflicts with status writers', async (t) => {
    const D = '/apis/apps/v1/namespaces/default/deployments'
    const stApply = (name: string, body: unknown, manager: string, extra = '') => inj(srv, 'PATCH', `${D}/${name}/status?fieldManager=${manager}${extra}`, body, { contentType: APPLY })
    const spec = { replicas: 1, selector: { matchLabels: { app: 's' } }, template: { metadata: { labels: { app: 's' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } }
    t.equal((await inj(srv, 'POST', D, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'sd' }, spec })).status, 201)
    const missing = await stApply('nope', { apiVersion: 'apps/v1', kind: 'Deployment', status: { replicas: 1 } }, 'st')
    t.equal(missing.status, 404, 'the status subresource creates nothing')
    t.equal(missing.body.message, 'deployments.apps "nope" not found')
    const a = await stApply('sd', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'sd', labels: { ignored: 'yes' } }, spec: { replicas: 9 }, status: { replicas: 3, observedGeneration: 1 } }, 'st')
    t.equal(a.status, 200, a.text)
    t.same(a.body.status, { replicas: 3, observedGeneration: 1 })
    t.equal(a.body.spec.replicas, 1, 'spec in a status apply is ignored')
    t.same(a.body.metadata.labels, undefined, 'and so is metadata')
    const e = a.body.metadata.managedFields.find((m: Entry) => m.manager === 'st')
    t.match(e, { operation: 'Apply', subresource: 'status', fieldsV1: { 'f:status': { 'f:replicas': {}, 'f:observedGeneration': {} } } })
    t.same(Object.keys(e.fieldsV1), ['f:status'], 'the status applier owns status fields only')
    const again = await stApply('sd', { apiVersion: 'apps/v1', kind: 'Deployment', status: { replicas: 3, observedGeneration: 1 } }, 'st')
    t.equal(again.body.metadata.resourceVersion, a.body.metadata.resourceVersion, 'a no-op status apply writes nothing')
    // Another manager's Update through status takes replicas; the first applier's old value conflicts.
    const cur = (await inj(srv, 'GET', `${D}/sd`)).body
    t.equal((await inj(srv, 'PUT', `${D}/sd/status?fieldManager=ctrl`, { ...cur, status: { ...cur.status, replicas: 5 } })).status, 200)
    const clash = await stApply('sd', { apiVersion: 'apps/v1', kind: 'Deployment', status: { replicas: 3, observedGeneration: 1 } }, 'st')
    t.equal(clash.status, 409)
    t.equal(clash.body.message, 'Apply failed with 1 conflict: conflict with "ctrl" with subresource "status" using apps/v1: .status.replicas')
    const forced = await stApply('sd', { apiVersion: 'apps/v1', kind: 'Deployment', status: { replicas: 3, observedGeneration: 1 } }, 'st', '&force=true')
    t.equal(forced.status, 200, forced.text)
    t.equal(forced.body.status.replicas, 3)
    // Dropping a field from the status configuration removes it.
    const dropped = await stApply('sd', { apiVersion: 'apps/v1', kind: 'Deployment', status: { replicas: 3 } }, 'st')
    t.same(dropped.body.status, { replicas: 3 }, 'observedGeneration no longer applied: gone')
    // (forced: the creator owns spec.replicas)
    const main = await inj(srv, 'PATCH', `${D}/sd?fieldManager=st&force=true`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'sd' }, spec: { replicas: 2 } }, { contentType: APPLY })
    t.equal(main.status, 200, main.text)
    t.same(main.body.status, { replicas: 3 }, 'the same manager applying the main resource leaves its status alone')
    t.same(main.body.metadata.managedFields.filter((m: Entry) => m.manager === 'st').map((m: Entry) => m.subresource ?? '').sort(), ['', 'status'], 'two Apply entries for one manager: the main resource and status')
  })

  t.test('request checks', async (t) => {
    const noManager = await inj(srv, 'PATCH', `${CMS}/x`, { apiVersion: 'v1', kind: 'ConfigMap' }, { contentType: APPLY })
    t.equal(noManager.status, 422)
    t.equal(noManager.body.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    const forceMerge = await inj(srv, 'PATCH', `${CMS}/c1?force=true`, { data: {} }, { contentType: MERGE })
    t.equal(forceMerge.status, 422)
    t.equal(forceMerge.body.message, 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch')
    const noKind = await apply('x', { apiVersion: 'v1', metadata: { name: 'x' } })
    t.equal(noKind.status, 400)
    t.match(noKind.body.message, /^Object 'Kind' is missing in/)
    const yaml = await inj(srv, 'PATCH', `${CMS}/y?fieldManager=m`, undefined, { contentType: APPLY, raw: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n' })
    t.equal(yaml.status, 201, yaml.text)
    t.same(yaml.body.data, { k: 'v' }, 'YAML bodies')
    const bad = await inj(srv, 'PATCH', `${CMS}/y?fieldManager=m`, undefined, { contentType: APPLY, raw: 'a: [1\n' })
    t.equal(bad.status, 400)
    const other = await apply('zz', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other' } })
    t.equal(other.status, 400)
    t.equal(other.body.message, 'the name of the object (other) does not match the name on the URL (zz)')
  })
})
