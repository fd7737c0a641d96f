// The StatefulSet core without an apiserver: single passes as tables, and whole rollouts driven by a
// tiny in-memory world that applies the actions (pods start Pending; the test makes them Ready).
import t from 'tap'
import type { ControllerRevision, PersistentVolumeClaim, Pod, StatefulSet, StatefulSetSpec } from '../../src/api/types.js'
import { LABEL_CONTROLLER_REVISION_HASH } from '../../src/api/types.js'
import { claimName, podOrdinal, reconcileStatefulSet, revisionData, type StsAction } from '../../src/controllers/statefulset-core.js'
import { hashControllerRevision } from '../../src/controllers/history.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const tpl = (image: string) => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }], restartPolicy: 'Always' as const } })

function mkSet(spec: Partial<StatefulSetSpec> = {}): StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'd', uid: 'sts1', generation: 1 },
    spec: {
      replicas: 3,
      serviceName: 'nginx',
      selector: { matchLabels: { app: 'web' } },
      template: tpl('v1'),
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
      volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      ...spec,
    },
  }
}

/** An in-memory namespace: applies actions the way the apiserver + GC would, with a fake clock. */
class World {
  now = T0
  pods = new Map<string, Pod>()
  claims = new Map<string, PersistentVolumeClaim>()
  revisions = new Map<string, ControllerRevision>()
  events: string[] = []
  log: string[] = []
  private uid = 0
  constructor(public set: StatefulSet) {}

  pass(): StsAction[] {
    const res = reconcileStatefulSet({ set: this.set, pods: [...this.pods.values()], claims: [...this.claims.values()], revisions: [...this.revisions.values()], now: this.now })
    for (const a of res.actions) this.apply(a)
    return res.actions
  }

  apply(a: StsAction): void {
    const ts = new Date(this.now).toISOString()
    switch (a.kind) {
      case 'createRevision':
        this.revisions.set(a.revision.metadata.name!, { ...structuredClone(a.revision), metadata: { ...a.revision.metadata, uid: `r${++this.uid}`, creationTimestamp: ts } })
        break
      case 'renumberRevision':
        this.revisions.get(a.name)!.revision = a.revision
        break
      case 'deleteRevision':
        this.revisions.delete(a.name)
        break
      case 'createClaim':
        if (!this.claims.has(a.claim.metadata.name!)) this.claims.set(a.claim.metadata.name!, { ...structuredClone(a.claim), metadata: { ...a.claim.metadata, uid: `c${++this.uid}` } })
        this.log.push(`claim ${a.claim.metadata.name}`)
        break
      case 'updateClaimRefs':
        this.claims.get(a.claim)!.metadata.ownerReferences = a.ownerReferences
        break
      case 'createPod':
        if (this.pods.has(a.pod.metadata.name!)) break
        this.pods.set(a.pod.metadata.name!, { ...structuredClone(a.pod), metadata: { ...a.pod.metadata, uid: `p${++this.uid}`, creationTimestamp: ts }, status: { phase: 'Pending' } })
        this.log.push(`+${a.pod.metadata.name}`)
        break
      case 'deletePod': {
        const p = this.pods.get(a.pod)
        if (p && p.metadata.uid === a.uid) p.metadata.deletionTimestamp = ts
        this.log.push(`-${a.pod}`)
        break
      }
      case 'fixPodLabels':
        Object.assign(this.pods.get(a.pod)!.metadata.labels!, a.labels)
        break
      case 'event':
        this.events.push(`${a.reason}: ${a.message}`)
        break
      case 'status':
        this.set.status = a.status
        break
      case 'adopt':
      case 'release':
        break
    }
  }

  ready(name: string): void {
    const p = this.pods.get(name)!
    p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(this.now).toISOString() }] }
  }

  /** The kubelet finishes graceful deletions; the GC removes claims whose pod owner is gone. */
  finishDeletes(): void {
    for (const [n, p] of this.pods) if (p.metadata.deletionTimestamp) this.pods.delete(n)
    for (const [n, c] of this.claims) {
      const podRefs = (c.metadata.ownerReferences ?? []).filter((r) => r.kind === 'Pod')
      if (podRefs.length && podRefs.every((r) => ![...this.pods.values()].some((p) => p.metadata.uid === r.uid))) this.claims.delete(n)
    }
  }

  /** Run passes, making every Pending pod Ready and finishing deletions in between. */
  settle(maxPasses = 40): void {
    for (let i = 0; i < maxPasses; i++) {
      const acts = this.pass().filter((a) => a.kind !== 'status')
      let changed = acts.length > 0
      for (const p of this.pods.values())
        if (p.status?.phase === 'Pending') {
          this.ready(p.metadata.name!)
          changed = true
        }
      if ([...this.pods.values()].some((p) => p.metadata.deletionTimestamp)) {
        this.finishDeletes()
        changed = true
      }
      this.now += 1000
      if (!changed) return
    }
  }

  revOf(name: string): string | undefined {
    return this.pods.get(name)?.metadata.labels?.[LABEL_CONTROLLER_REVISION_HASH]
  }
}

const kinds = (acts: StsAction[]): string[] =>
  acts
    .filter((a) => a.kind !== 'status')
    .map((a) => {
      switch (a.kind) {
        case 'createPod':
          return `createPod ${a.pod.metadata.name}`
        case 'createClaim':
          return `createClaim ${a.claim.metadata.name}`
        case 'deletePod':
          return `deletePod ${a.pod} (${a.reason})`
        case 'createRevision':
          return `createRevision ${a.revision.revision}`
        case 'event':
          return `event ${a.reason}`
        default:
          return a.kind
      }
    })

t.test('identity: names, hostname/subdomain, labels, claims wired into volumes', async (t) => {
  const w = new World(mkSet())
  const acts = w.pass()
  t.same(kinds(acts), ['createRevision 1', 'createClaim www-web-0', 'createPod web-0'], 'claim before pod, one pod only')
  const p = w.pods.get('web-0')!
  const rev = [...w.revisions.values()][0]!
  t.equal(rev.metadata.name, `web-${hashControllerRevision(revisionData(w.set.spec.template), 0)}`)
  t.same(rev.data, { spec: { template: { ...tpl('v1'), $patch: 'replace' } } }, 'revision data is the rollback patch')
  t.same(p.metadata.labels, { app: 'web', 'statefulset.kubernetes.io/pod-name': 'web-0', 'apps.kubernetes.io/pod-index': '0', 'controller-revision-hash': rev.metadata.name })
  t.same([p.spec.hostname, p.spec.subdomain], ['web-0', 'nginx'])
  t.same(p.spec.volumes, [{ name: 'www', persistentVolumeClaim: { claimName: 'www-web-0' } }])
  t.same(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'sts1', controller: true, blockOwnerDeletion: true }])
  const c = w.claims.get('www-web-0')!
  t.same(c.metadata.labels, { app: 'web' }, 'claims carry the matchLabels')
  t.notOk(c.metadata.ownerReferences, 'Retain/Retain: the claim has no owner')
  t.equal(claimName(w.set, 'www', 7), 'www-web-7')
  t.same(['web-0', 'web-12', 'web-x', 'web-01', 'webs-1', 'web-'].map((n) => podOrdinal('web', n)), [0, 12, -1, -1, -1, -1])
})

t.test('OrderedReady: 0 → 1 → 2, each only after the previous is Running and Ready', async (t) => {
  const w = new World(mkSet())
  const seen: string[] = []
  for (let i = 0; i < 3; i++) {
    w.pass()
    t.same(kinds(w.pass()), [], `nothing more while web-${i} is Pending`)
    seen.push(...[...w.pods.keys()].filter((n) => !seen.includes(n)))
    w.ready(`web-${i}`)
  }
  t.same(seen, ['web-0', 'web-1', 'web-2'])
  w.pass()
  t.match(w.set.status, { replicas: 3, readyReplicas: 3, availableReplicas: 3, currentReplicas: 3, updatedReplicas: 3 })
  t.equal(w.set.status!.currentRevision, w.set.status!.updateRevision)
})

t.test('minReadySeconds: the next pod waits until the previous has been ready long enough', async (t) => {
  const w = new World(mkSet({ minReadySeconds: 10 }))
  w.pass()
  w.ready('web-0')
  const r = reconcileStatefulSet({ set: w.set, pods: [...w.pods.values()], claims: [...w.claims.values()], revisions: [...w.revisions.values()], now: w.now + 4000 })
  t.same(kinds(r.actions), [], 'ready 4 s of 10: wait')
  t.equal(r.requeueAfterMs, 6050, 'requeued for when it becomes available')
  w.now += 10_000
  t.same(kinds(w.pass()), ['createClaim www-web-1', 'createPod web-1'])
})

t.test('Parallel: all at once, no waiting', async (t) => {
  const w = new World(mkSet({ podManagementPolicy: 'Parallel' }))
  t.same(kinds(w.pass()), ['createRevision 1', 'createClaim www-web-0', 'createPod web-0', 'createClaim www-web-1', 'createPod web-1', 'createClaim www-web-2', 'createPod web-2'])
  w.set.spec.replicas = 0
  t.same(kinds(w.pass()), ['deletePod web-2 (scale)', 'deletePod web-1 (scale)', 'deletePod web-0 (scale)'], 'not-ready pods go too, all at once')
})

t.test('scale down: highest ordinal first, one at a time; claims stay (Retain)', async (t) => {
  const w = new World(mkSet())
  w.settle()
  w.log = []
  w.set.spec.replicas = 1
  t.same(kinds(w.pass()), ['deletePod web-2 (scale)'])
  t.same(kinds(w.pass()), [], 'web-1 waits while web-2 terminates')
  w.finishDeletes()
  t.same(kinds(w.pass()), ['deletePod web-1 (scale)'])
  w.finishDeletes()
  t.same(kinds(w.pass()), [])
  t.same([...w.pods.keys()], ['web-0'])
  t.same([...w.claims.keys()].sort(), ['www-web-0', 'www-web-1', 'www-web-2'])
  // An unready pod that stays blocks the scale-down; an unready condemned pod goes only if it is
  // the first unhealthy one.
  const w2 = new World(mkSet())
  w2.settle()
  w2.set.spec.replicas = 1
  w2.pods.get('web-0')!.status!.conditions![0]!.status = 'False'
  t.same(kinds(w2.pass()), [], 'web-0 is not ready: wait')
  w2.pods.get('web-0')!.status!.conditions![0]!.status = 'True'
  w2.pods.get('web-2')!.status!.conditions![0]!.status = 'False'
  t.same(kinds(w2.pass()), ['deletePod web-2 (scale)'], 'web-2 is the first unhealthy pod: it may go')
  w2.finishDeletes()
  w2.pods.get('web-1')!.status!.conditions![0]!.status = 'False'
  w2.pods.get('web-0')!.status!.conditions![0]!.status = 'False'
  t.same(kinds(w2.pass()), [], 'web-1 is unhealthy but web-0 is the first unhealthy one: wait')
})

t.test('a deleted pod comes back with the same name and the same claim', async (t) => {
  const w = new World(mkSet())
  w.settle()
  const claimUid = w.claims.get('www-web-1')!.metadata.uid
  w.pods.delete('web-1')
  t.same(kinds(w.pass()), ['createPod web-1'], 'no new claim')
  t.equal(w.claims.get('www-web-1')!.metadata.uid, claimUid)
  t.same(w.pods.get('web-1')!.spec.volumes, [{ name: 'www', persistentVolumeClaim: { claimName: 'www-web-1' } }])
})

t.test('failed pods are deleted and recreated (RecreatingFailedPod)', async (t) => {
  const w = new World(mkSet())
  w.settle()
  w.pods.get('web-1')!.status = { phase: 'Failed' }
  t.same(kinds(w.pass()), ['event RecreatingFailedPod', 'deletePod web-1 (failed)'])
  t.same(w.events, ['RecreatingFailedPod: StatefulSet d/web is recreating failed Pod web-1'])
  w.finishDeletes()
  t.same(kinds(w.pass()), ['createPod web-1'])
})

t.test('RollingUpdate: reverse ordinal order, one at a time; partition; rollback re-numbers', async (t) => {
  const w = new World(mkSet())
  w.settle()
  const r1 = w.set.status!.updateRevision!
  w.set.spec.template = tpl('v2')
  w.set.metadata.generation = 2
  const first = kinds(w.pass())
  t.same(first, ['createRevision 2', 'deletePod web-2 (update)'])
  w.finishDeletes()
  t.same(kinds(w.pass()), ['createPod web-2'])
  const r2 = w.revOf('web-2')!
  t.not(r2, r1)
  t.same(kinds(w.pass()), [], 'web-1 waits for web-2 to be ready')
  w.settle()
  t.same(['web-0', 'web-1', 'web-2'].map((n) => w.revOf(n)), [r2, r2, r2])
  t.match(w.set.status, { currentRevision: r2, updateRevision: r2, updatedReplicas: 3, currentReplicas: 3, observedGeneration: 2 })
  t.match(w.log.filter((l) => l.startsWith('-')), ['-web-2', '-web-1', '-web-0'], 'deleted highest first')

  // Partition 2: only web-2 moves to v3; web-0/1 stay (and are recreated at the current revision).
  w.set.spec.template = tpl('v3')
  w.set.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 2 } }
  w.settle()
  const r3 = w.revOf('web-2')!
  t.same(['web-0', 'web-1'].map((n) => w.revOf(n)), [r2, r2])
  t.not(r3, r2)
  t.match(w.set.status, { currentRevision: r2, updateRevision: r3, updatedReplicas: 1, currentReplicas: 2 })
  w.pods.delete('web-0')
  w.settle()
  t.equal(w.revOf('web-0'), r2, 'below the partition a deleted pod comes back at the current revision')
  t.equal(w.pods.get('web-0')!.spec.containers[0]!.image, 'v2')

  // Rollback to v2 (what `kubectl rollout undo` patches): the old revision is re-numbered, none created.
  w.set.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }
  w.set.spec.template = tpl('v2')
  const acts = w.pass()
  t.same(kinds(acts).slice(0, 2), ['renumberRevision', 'deletePod web-2 (update)'])
  t.equal(w.revisions.get(r2)!.revision, 4)
  w.settle()
  t.same(['web-0', 'web-1', 'web-2'].map((n) => w.revOf(n)), [r2, r2, r2])
  t.match(w.set.status, { currentRevision: r2, updateRevision: r2 })
})

t.test('maxUnavailable 2: two pods at a time, highest first', async (t) => {
  const w = new World(mkSet({ replicas: 4, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 2 } } }))
  w.settle()
  w.set.spec.template = tpl('v2')
  t.same(kinds(w.pass()), ['createRevision 2', 'deletePod web-3 (update)', 'deletePod web-2 (update)'])
  t.same(kinds(w.pass()), [], 'two terminating = two unavailable: no more')
  w.finishDeletes()
  t.same(kinds(w.pass()), ['createPod web-2'], 'OrderedReady recreates one at a time')
  w.settle()
  t.match(w.set.status, { updatedReplicas: 4, readyReplicas: 4 })
})

t.test('OnDelete: nothing rolls until a pod is deleted; it comes back at the update revision', async (t) => {
  const w = new World(mkSet({ updateStrategy: { type: 'OnDelete' } }))
  w.settle()
  const r1 = w.revOf('web-0')
  w.set.spec.template = tpl('v2')
  t.same(kinds(w.pass()), ['createRevision 2'])
  t.same(kinds(w.pass()), [])
  w.pods.delete('web-1')
  w.settle()
  t.not(w.revOf('web-1'), r1)
  t.equal(w.revOf('web-0'), r1)
  t.match(w.set.status, { currentRevision: r1, updatedReplicas: 1, currentReplicas: 2 })
})

t.test('retention policy: ownerReferences on claims', async (t) => {
  const setRef = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'sts1', controller: true, blockOwnerDeletion: true }
  const rows: { policy: StatefulSetSpec['persistentVolumeClaimRetentionPolicy']; inRange: unknown; scaled: unknown; gone: boolean }[] = [
    { policy: { whenDeleted: 'Retain', whenScaled: 'Retain' }, inRange: [], scaled: [], gone: false },
    { policy: { whenDeleted: 'Delete', whenScaled: 'Retain' }, inRange: [setRef], scaled: [setRef], gone: false },
    { policy: { whenDeleted: 'Retain', whenScaled: 'Delete' }, inRange: [], scaled: [{ apiVersion: 'v1', kind: 'Pod', name: 'web-2' }], gone: true },
    { policy: { whenDeleted: 'Delete', whenScaled: 'Delete' }, inRange: [setRef], scaled: [{ apiVersion: 'v1', kind: 'Pod', name: 'web-2' }], gone: true },
  ]
  for (const row of rows) {
    const w = new World(mkSet({ persistentVolumeClaimRetentionPolicy: row.policy }))
    w.settle()
    const name = `${row.policy!.whenDeleted}/${row.policy!.whenScaled}`
    t.same(w.claims.get('www-web-2')!.metadata.ownerReferences ?? [], row.inRange, `${name}: in range`)
    w.set.spec.replicas = 2
    const acts = w.pass()
    t.match(w.claims.get('www-web-2')!.metadata.ownerReferences ?? [], row.scaled, `${name}: scaled away`)
    t.ok(acts.findIndex((a) => a.kind === 'deletePod') > acts.findIndex((a) => a.kind === 'updateClaimRefs') || !row.gone, `${name}: claim refs fixed before the pod goes`)
    w.finishDeletes()
    t.equal(w.claims.has('www-web-2'), !row.gone, `${name}: claim ${row.gone ? 'collected with the pod' : 'kept'}`)
    // Scaling back up gets a fresh claim when the old one went.
    w.set.spec.replicas = 3
    w.settle()
    t.ok(w.claims.has('www-web-2') && w.pods.has('web-2'), `${name}: scaled back up`)
  }
})

t.test('history: truncated to revisionHistoryLimit, live revisions kept; collisions bump collisionCount', async (t) => {
  const w = new World(mkSet({ revisionHistoryLimit: 1 }))
  for (const v of ['v1', 'v2', 'v3', 'v4']) {
    w.set.spec.template = tpl(v)
    w.settle()
  }
  const revs = [...w.revisions.values()].sort((a, b) => a.revision - b.revision)
  t.same(revs.map((r) => r.revision), [3, 4], 'the update revision plus one old one')

  // A revision of another snapshot sitting on our name: hash again with collisionCount 1.
  const w2 = new World(mkSet())
  const taken = `web-${hashControllerRevision(revisionData(w2.set.spec.template), 0)}`
  w2.revisions.set(taken, { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: taken, namespace: 'd', uid: 'x', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'sts1', controller: true }] }, data: { other: true }, revision: 1 })
  w2.pass()
  t.equal(w2.set.status!.collisionCount, 1)
  t.equal(w2.set.status!.updateRevision, `web-${hashControllerRevision(revisionData(w2.set.spec.template), 1)}`)
})

t.test('adoption: orphans named like ours are adopted, others left alone; deleting set only reports status', async (t) => {
  const set = mkSet({ replicas: 1 })
  const orphan: Pod = { metadata: { name: 'web-0', namespace: 'd', uid: 'o1', labels: { app: 'web' } }, spec: { containers: [] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }
  const stranger: Pod = { metadata: { name: 'other', namespace: 'd', uid: 'o2', labels: { app: 'web' } }, spec: { containers: [] } }
  const res = reconcileStatefulSet({ set, pods: [orphan, stranger], claims: [], revisions: [], now: T0 })
  t.same(res.actions.filter((a) => a.kind === 'adopt' || a.kind === 'release'), [{ kind: 'adopt', pod: 'web-0' }])
  t.ok(res.actions.some((a) => a.kind === 'fixPodLabels'), 'the adopted pod gets its identity labels')
  const deleting = mkSet()
  deleting.metadata.deletionTimestamp = new Date(T0).toISOString()
  t.same(kinds(reconcileStatefulSet({ set: deleting, pods: [], claims: [], revisions: [], now: T0 }).actions), ['createRevision 1'])
})
