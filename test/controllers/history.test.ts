// ControllerRevision history (pure): hashing, naming, equality, ordering, truncation.
import t from 'tap'
import type { ControllerRevision, KubeObject } from '../../src/api/types.js'
import {
  CONTROLLER_REVISION_HASH_LABEL,
  controllerRevisionName,
  equalRevision,
  findEqualRevisions,
  hashControllerRevision,
  newControllerRevision,
  nextRevision,
  ownedRevisions,
  revisionsToTruncate,
  sortControllerRevisions,
} from '../../src/controllers/history.js'

const sts: KubeObject = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'default', uid: 'u1' } }
const kind = { apiVersion: 'apps/v1', kind: 'StatefulSet' }
const patch = (image: string) => ({ spec: { template: { $patch: 'replace', spec: { containers: [{ name: 'web', image }] } } } })
const rev = (image: string, n: number, created = '2026-01-01T00:00:00Z'): ControllerRevision => {
  const r = newControllerRevision(sts, kind, { app: 'web' }, patch(image), n)
  r.metadata.creationTimestamp = created
  return r
}

t.test('hash: stable, key-order independent, changed by data and by the collision count', async (t) => {
  const a = hashControllerRevision({ x: 1, y: [1, 2] })
  t.equal(a, hashControllerRevision({ y: [1, 2], x: 1 }), 'canonical: key order does not matter')
  t.not(a, hashControllerRevision({ x: 2, y: [1, 2] }))
  t.not(a, hashControllerRevision({ x: 1, y: [1, 2] }, 1), 'collisionCount moves the hash')
  t.not(hashControllerRevision({ x: 1 }, 1), hashControllerRevision({ x: 1 }, 2))
  t.match(a, /^[bcdfghjklmnpqrstvwxz2456789]+$/, 'safe alphabet only')
})

t.test('new revision: name, labels, owner, number', async (t) => {
  const r = rev('nginx:1', 3)
  const hash = hashControllerRevision(patch('nginx:1'))
  t.equal(r.metadata.name, `web-${hash}`)
  t.equal(r.metadata.namespace, 'default')
  t.same(r.metadata.labels, { app: 'web', [CONTROLLER_REVISION_HASH_LABEL]: hash })
  t.same(r.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true }])
  t.equal(r.revision, 3)
  t.equal(controllerRevisionName('x'.repeat(300), 'h').length, 223 + 2, 'prefix capped as upstream')
})

t.test('equality is by data; a differing hash label short-cuts', async (t) => {
  t.ok(equalRevision(rev('a', 1), rev('a', 7)), 'revision numbers do not matter')
  t.notOk(equalRevision(rev('a', 1), rev('b', 1)))
  const fake = rev('a', 1)
  fake.metadata.labels![CONTROLLER_REVISION_HASH_LABEL] = 'other'
  t.notOk(equalRevision(fake, rev('a', 1)))
  t.same(findEqualRevisions([rev('a', 1), rev('b', 2), rev('a', 3)], rev('a', 9)).map((r) => r.revision), [1, 3])
})

t.test('order, next number, ownership, truncation', async (t) => {
  const revs = [rev('c', 3), rev('a', 1, '2026-01-02T00:00:00Z'), rev('b', 1, '2026-01-01T00:00:00Z')]
  t.same(sortControllerRevisions(revs).map((r) => r.revision), [1, 1, 3])
  t.same(sortControllerRevisions(revs).map((r) => r.data), [patch('b'), patch('a'), patch('c')], 'ties broken by creation time')
  t.equal(nextRevision(revs), 4)
  t.equal(nextRevision([]), 1)
  const foreign = { ...rev('z', 5), metadata: { ...rev('z', 5).metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'x', uid: 'u2', controller: true }] } }
  t.equal(ownedRevisions([...revs, foreign], sts).length, 3)

  const hist = [1, 2, 3, 4, 5].map((n) => rev(`i${n}`, n))
  const live = new Set([hist[0]!.metadata.name!, hist[4]!.metadata.name!])
  t.same(revisionsToTruncate(hist, live, 2).map((r) => r.revision), [2], 'oldest non-live beyond the limit')
  t.same(revisionsToTruncate(hist, live, 0).map((r) => r.revision), [2, 3, 4], 'a live revision is never deleted')
  t.same(revisionsToTruncate(hist, live, 10), [])
})
