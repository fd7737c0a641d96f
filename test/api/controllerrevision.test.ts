// apps/v1 ControllerRevision: validation (data mandatory and immutable, revision non-negative and
// re-numberable) and the kubectl Table (NAME CONTROLLER REVISION AGE).
import t from 'tap'
import { formatFieldErrors } from '../../src/api/field-errors.js'
import { findResourceByKind, resourceFor } from '../../src/api/resources.js'
import { toTable } from '../../src/api/table.js'
import type { ControllerRevision, KubeObject } from '../../src/api/types.js'
import { validateCreate, validateUpdate } from '../../src/api/validation.js'
import { base } from './fixtures/manifests.js'

const r = resourceFor('controllerrevisions')
const make = (mut?: (o: Record<string, unknown>) => void): KubeObject => {
  const o = base.controllerrevisions!()
  mut?.(o)
  return o as unknown as KubeObject
}
const msg = (o: KubeObject, old?: KubeObject) => formatFieldErrors('ControllerRevision', o.metadata.name ?? '', old ? validateUpdate(r, o, old) : validateCreate(r, o))

t.test('catalogue: apps/v1, namespaced, etcd key as kube-apiserver', async (t) => {
  t.equal(findResourceByKind('apps/v1', 'ControllerRevision'), r)
  t.equal(r.namespaced, true)
  t.equal(r.etcdPrefix, 'controllerrevisions')
})

t.test('validation', async (t) => {
  t.same(validateCreate(r, make()), [])
  t.equal(msg(make((o) => delete o.data)), 'ControllerRevision "web-6b9f8c7d5" is invalid: data: Required value: data is mandatory')
  t.equal(msg(make((o) => (o.revision = -1))), 'ControllerRevision "web-6b9f8c7d5" is invalid: revision: Invalid value: -1: must be greater than or equal to 0')
  const old = make()
  t.same(validateUpdate(r, make((o) => (o.revision = 7)), old), [], 'a rollback re-numbers a revision')
  t.match(msg(make((o) => (o.data = { spec: {} })), old), /^ControllerRevision "web-6b9f8c7d5" is invalid: data: Invalid value: .*: field is immutable$/)
})

t.test('table: the controller as kind.group/name, <none> without one', async (t) => {
  const owned = make() as ControllerRevision
  owned.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u', controller: true }]
  owned.metadata.creationTimestamp = '2026-12-01T00:00:00Z'
  const orphan = make() as ControllerRevision
  orphan.metadata.name = 'lonely'
  const table = toTable(r, [owned, orphan], { now: new Date('2026-12-01T00:05:00Z') })
  t.same(table.columnDefinitions.map((c) => c.name), ['Name', 'Controller', 'Revision', 'Age'])
  t.same(table.rows.map((row) => row.cells), [
    ['web-6b9f8c7d5', 'statefulset.apps/web', 1, '5m'],
    ['lonely', '<none>', 1, '<unknown>'],
  ])
})
