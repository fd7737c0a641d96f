import t from 'tap'
import type { KubeObject, OwnerReference } from '../../src/api/types.js'
import { collectGarbage, refOf, type GraphNode } from '../../src/controllers/gc-core.js'

const known = new Set(['apps/v1/Deployment', 'apps/v1/ReplicaSet', 'v1/Pod'])
function obj(apiVersion: string, kind: string, name: string, o: { owners?: OwnerReference[]; deleting?: boolean; finalizers?: string[] } = {}): GraphNode {
  const m: KubeObject['metadata'] = { name, namespace: 'd', uid: `u-${name}` }
  if (o.owners) m.ownerReferences = o.owners
  if (o.deleting) m.deletionTimestamp = '2026-01-01T00:00:00Z'
  if (o.finalizers) m.finalizers = o.finalizers
  const x: KubeObject = { apiVersion, kind, metadata: m }
  return { ref: refOf(apiVersion, kind, x), obj: x }
}
const own = (kind: string, name: string, block = true): OwnerReference => ({ apiVersion: kind === 'Deployment' || kind === 'ReplicaSet' ? 'apps/v1' : 'v1', kind, name, uid: `u-${name}`, controller: true, blockOwnerDeletion: block })

t.test('background: dependents of a vanished owner are deleted; partly-owned lose the dangling ref', async (t) => {
  const nodes = [
    obj('apps/v1', 'ReplicaSet', 'rs1', { owners: [own('Deployment', 'gone')] }),
    obj('v1', 'Pod', 'p1', { owners: [own('ReplicaSet', 'rs1')] }),
    obj('v1', 'Pod', 'p2', { owners: [own('ReplicaSet', 'rs1'), own('ReplicaSet', 'gone2')] }),
    obj('v1', 'Pod', 'p3', { owners: [{ apiVersion: 'example.com/v1', kind: 'Thing', name: 'x', uid: 'zz' }] }),
  ]
  const a = collectGarbage(nodes, known)
  t.same(a.map((x) => [x.kind, x.ref.name]), [['delete', 'rs1'], ['removeOwnerRefs', 'p2']])
  t.same(a[0]!.kind === 'delete' && a[0]!.propagation, 'Background')
})

t.test('foreground: dependents deleted, finalizer removed once no blocking dependent remains', async (t) => {
  const d = obj('apps/v1', 'Deployment', 'web', { deleting: true, finalizers: ['foregroundDeletion'] })
  let a = collectGarbage([d, obj('apps/v1', 'ReplicaSet', 'rs1', { owners: [own('Deployment', 'web')] })], known)
  t.same(a.map((x) => [x.kind, x.ref.name, x.kind === 'delete' ? x.propagation : '']), [['delete', 'rs1', 'Foreground']])
  a = collectGarbage([d, obj('apps/v1', 'ReplicaSet', 'rs1', { owners: [own('Deployment', 'web')], deleting: true, finalizers: ['foregroundDeletion'] })], known)
  t.same(a.map((x) => [x.kind, x.ref.name]), [['removeFinalizer', 'rs1']], 'waits for a blocking dependent being deleted (which itself has nothing left to wait for)')
  a = collectGarbage([d, obj('apps/v1', 'ReplicaSet', 'rs2', { owners: [own('Deployment', 'web', false)] })], known)
  t.same(a.map((x) => [x.kind, x.ref.name]), [['delete', 'rs2'], ['removeFinalizer', 'web']], 'non-blocking dependents are not waited for')
  a = collectGarbage([d], known)
  t.same(a, [{ kind: 'removeFinalizer', ref: d.ref, finalizer: 'foregroundDeletion' }])
})

t.test('orphan: references removed from dependents, then the finalizer', async (t) => {
  const d = obj('apps/v1', 'ReplicaSet', 'rs1', { deleting: true, finalizers: ['orphan'] })
  const a = collectGarbage([d, obj('v1', 'Pod', 'p1', { owners: [own('ReplicaSet', 'rs1')] })], known)
  t.same(a.map((x) => [x.kind, x.ref.name]), [['removeOwnerRefs', 'p1'], ['removeFinalizer', 'rs1']])
})
