import t from 'tap'
import type { Pod, ReplicaSet } from '../../src/api/types.js'
import { compareForDeletion, reconcileReplicaSet } from '../../src/controllers/replicaset-core.js'

const NOW = Date.parse('2026-01-01T00:10:00Z')
const rs: ReplicaSet = {
  metadata: { name: 'web-abc', namespace: 'd', uid: 'rs1', generation: 3 },
  spec: { replicas: 3, minReadySeconds: 10, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web', tier: 'fe' } }, spec: { containers: [] } } },
}

interface P { name: string; node?: string; phase?: 'Pending' | 'Running' | 'Succeeded'; ready?: number; created?: number; owner?: string | null; labels?: Record<string, string>; deleting?: boolean; restarts?: number }
function pod(o: P): Pod {
  const p: Pod = {
    metadata: {
      name: o.name,
      namespace: 'd',
      uid: `u-${o.name}`,
      labels: o.labels ?? { app: 'web', tier: 'fe' },
      creationTimestamp: new Date(NOW - (o.created ?? 100) * 1000).toISOString(),
    },
    spec: { containers: [], ...(o.node ? { nodeName: o.node } : {}) },
    status: { phase: o.phase ?? 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: o.restarts ?? 0, image: '', imageID: '' }] },
  }
  if (o.owner !== null) p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: o.owner ?? 'rs1', controller: true }]
  if (o.ready !== undefined) p.status!.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(NOW - o.ready * 1000).toISOString() }]
  if (o.deleting) p.metadata.deletionTimestamp = new Date(NOW).toISOString()
  return p
}

t.test('scale-down ranking: unscheduled < pending < not ready < ready; newer first', async (t) => {
  const pods = [
    pod({ name: 'ready-old', node: 'n', ready: 500, created: 600 }),
    pod({ name: 'ready-new', node: 'n', ready: 50, created: 60 }),
    pod({ name: 'notready', node: 'n' }),
    pod({ name: 'pending', node: 'n', phase: 'Pending' }),
    pod({ name: 'unscheduled', phase: 'Pending' }),
    pod({ name: 'restarty', node: 'n', ready: 50, created: 60, restarts: 5 }),
  ]
  t.same([...pods].sort(compareForDeletion).map((p) => p.metadata.name), ['unscheduled', 'pending', 'notready', 'restarty', 'ready-new', 'ready-old'])
})

t.test('reconcile: create, delete, adopt, release, ignore others/terminating, status', async (t) => {
  const cases: { name: string; pods: Pod[]; replicas?: number; exp?: boolean; want: unknown[] }[] = [
    { name: 'empty → create 3', pods: [], want: [{ kind: 'create', count: 3 }] },
    {
      name: 'terminating and terminal pods do not count',
      pods: [pod({ name: 'a', node: 'n', ready: 60 }), pod({ name: 'b', node: 'n', deleting: true }), pod({ name: 'c', node: 'n', phase: 'Succeeded' })],
      want: [{ kind: 'create', count: 2 }],
    },
    {
      name: 'too many → delete not-ready first',
      pods: [pod({ name: 'a', node: 'n', ready: 60 }), pod({ name: 'b', node: 'n', ready: 60 }), pod({ name: 'c', node: 'n', ready: 60 }), pod({ name: 'd', node: 'n' })],
      want: [{ kind: 'delete', pods: ['d'] }],
    },
    {
      name: 'orphan adopted, pod of another owner ignored, non-matching released',
      pods: [pod({ name: 'orph', node: 'n', ready: 60, owner: null }), pod({ name: 'other', node: 'n', owner: 'zzz' }), pod({ name: 'gone', node: 'n', labels: { app: 'db' } }), pod({ name: 'a', node: 'n', ready: 60 }), pod({ name: 'b', node: 'n', ready: 60 })],
      want: [{ kind: 'adopt', pod: 'orph' }, { kind: 'release', pod: 'gone' }],
    },
    { name: 'unsatisfied expectations: no create', pods: [], exp: false, want: [] },
  ]
  for (const c of cases) {
    const r = reconcileReplicaSet({ rs: { ...rs, spec: { ...rs.spec, replicas: c.replicas ?? 3 } }, pods: c.pods, now: NOW, expectationsSatisfied: c.exp ?? true })
    t.same(r.actions.filter((a) => a.kind !== 'status'), c.want, c.name)
  }
})

t.test('status: ready vs available (minReadySeconds), fully labeled, observedGeneration, requeue', async (t) => {
  const pods = [
    pod({ name: 'a', node: 'n', ready: 60 }),
    pod({ name: 'b', node: 'n', ready: 3 }),
    pod({ name: 'c', node: 'n', labels: { app: 'web' } }),
  ]
  const r = reconcileReplicaSet({ rs, pods, now: NOW })
  const st = r.actions.find((a) => a.kind === 'status')
  t.same(st, { kind: 'status', status: { replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 3 } })
  t.ok(r.requeueAfterMs! > 6000 && r.requeueAfterMs! < 8000, `requeue when b becomes available (${r.requeueAfterMs})`)
})
