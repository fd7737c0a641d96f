// The pure field-ownership rules (src/api/managed-fields.ts, src/api/fieldpath.ts): field sets of
// objects, FieldsV1 round trips, update tracking and apply merges, as tables.
import t from 'tap'
import { FieldSet, formatFieldPath } from '../../src/api/fieldpath.js'
import { applyConfig, ApplyConflictError, fieldsOf, trackUpdate, type Manager } from '../../src/api/managed-fields.js'
import { resourceFor } from '../../src/api/resources.js'
import type { KubeObject } from '../../src/api/types.js'

const pods = resourceFor('pods')
const cms = resourceFor('configmaps')
const now = '2026-12-01T00:00:00Z'
const paths = (s: FieldSet) => [...s.paths()].map(formatFieldPath).sort()
const pod = (spec: Record<string, unknown>, meta: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'd', uid: 'x', resourceVersion: '5', ...meta }, spec })
const cm = (data: Record<string, string>, meta: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', ...meta }, data } as KubeObject)

t.test('field sets: keyed lists by key (defaults filled), sets by value, other lists atomic, server metadata skipped', async (t) => {
  const p = pod({ containers: [{ name: 'a', image: 'i', args: ['x', 'y'], ports: [{ containerPort: 53, protocol: 'UDP' }, { containerPort: 53 }] }] }, { finalizers: ['f1'] })
  t.same(paths(fieldsOf(pods, p)), [
    '.metadata.finalizers[="f1"]',
    '.spec.containers[name="a"]',
    '.spec.containers[name="a"].args',
    '.spec.containers[name="a"].image',
    '.spec.containers[name="a"].name',
    '.spec.containers[name="a"].ports[containerPort=53,protocol="TCP"]',
    '.spec.containers[name="a"].ports[containerPort=53,protocol="TCP"].containerPort',
    '.spec.containers[name="a"].ports[containerPort=53,protocol="UDP"]',
    '.spec.containers[name="a"].ports[containerPort=53,protocol="UDP"].containerPort',
    '.spec.containers[name="a"].ports[containerPort=53,protocol="UDP"].protocol',
  ])
  const dup = pod({ containers: [{ name: 'a' }, { name: 'a' }] })
  t.same(paths(fieldsOf(pods, dup)), ['.spec.containers'], 'duplicate keys: the list is tracked whole')
  const s = fieldsOf(pods, p)
  t.ok(FieldSet.fromFieldsV1(s.toFieldsV1()).equals(s), 'FieldsV1 round trip')
  t.throws(() => FieldSet.fromFieldsV1({ 'x:bad': {} }), /unexpected FieldsV1 key/)
})

t.test('update tracking: changed fields move to the writer, removed fields leave everyone', async (t) => {
  const a: Manager[] = trackUpdate(cms, undefined, cm({ a: '1', b: '1' }), [], { manager: 'one', apiVersion: 'v1' }, now)
  t.same(a.map((m) => [m.manager, paths(m.fields)]), [['one', ['.data', '.data.a', '.data.b']]])
  const b = trackUpdate(cms, cm({ a: '1', b: '1' }), cm({ a: '2' }), a, { manager: 'two', apiVersion: 'v1' }, now)
  t.same(b.map((m) => [m.manager, paths(m.fields)]), [['one', ['.data']], ['two', ['.data.a']]])
  const same = trackUpdate(cms, cm({ a: '2' }), cm({ a: '2' }), b, { manager: 'three', apiVersion: 'v1' }, now)
  t.same(same.map((m) => m.manager), ['one', 'two'], 'a write that changes nothing owns nothing')
})

t.test('apply: shared ownership, conflicts, force, removal, a map still applied in part stays', async (t) => {
  const live0 = cm({ a: '1', b: '1' })
  const editor = trackUpdate(cms, undefined, live0, [], { manager: 'editor', apiVersion: 'v1' }, now)
  const shared = applyConfig(cms, live0, cm({ a: '1' }), editor, { manager: 'ap', force: false, now })
  t.same(shared.managers.map((m) => [m.manager, paths(m.fields)]), [['ap', ['.data.a']], ['editor', ['.data', '.data.a', '.data.b']]])
  t.throws(() => applyConfig(cms, live0, cm({ a: '2' }), editor, { manager: 'ap', force: false, now }), ApplyConflictError)
  const forced = applyConfig(cms, live0, cm({ a: '2' }), editor, { manager: 'ap', force: true, now })
  t.same((forced.object as unknown as { data: unknown }).data, { a: '2', b: '1' })
  t.same(paths(forced.managers.find((m) => m.manager === 'editor')!.fields), ['.data', '.data.b'])

  const mine: Manager[] = [{ manager: 'ap', operation: 'Apply', fields: FieldSet.of([['f:data'], ['f:data', 'f:a'], ['f:data', 'f:b']]) }]
  const live = cm({ a: '1', b: '1' })
  const out = applyConfig(cms, live, cm({ a: '1' }), mine, { manager: 'ap', force: false, now })
  t.same((out.object as unknown as { data: unknown }).data, { a: '1' }, 'b no longer applied: removed; data itself kept because a is still applied')
  const gone = applyConfig(cms, live, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } } as KubeObject, mine, { manager: 'ap', force: false, now })
  t.equal((gone.object as unknown as { data?: unknown }).data, undefined, 'nothing applied any more: the map goes')

  const lastApplied = cm({ a: '1' }, { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(cm({ a: '1' })) } })
  const csa = trackUpdate(cms, undefined, lastApplied, [], { manager: 'kubectl-client-side-apply', apiVersion: 'v1' }, now)
  t.doesNotThrow(() => applyConfig(cms, lastApplied, cm({ a: '2' }), csa, { manager: 'kubectl', force: false, now }), 'kubectl may take what its last-applied names')
  t.throws(() => applyConfig(cms, lastApplied, cm({ a: '2' }), csa, { manager: 'other', force: false, now }), ApplyConflictError, 'nobody else may')
})
