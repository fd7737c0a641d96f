import t from 'tap'
import type { Deployment, ReplicaSet } from '../../src/api/types.js'
import { ANNOTATION_REVISION, LABEL_POD_TEMPLATE_HASH } from '../../src/api/types.js'
import {
  computeTemplateHash,
  reconcileDeployment,
  resolveFenceposts,
  type DeployAction,
} from '../../src/controllers/deployment-core.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')

function deploy(replicas: number, surge: number | string, unavail: number | string, image = 'v1'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', uid: 'd-uid', generation: 1, annotations: {} },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavail } },
    },
  }
}

/** A tiny cluster: RS objects whose pods are counted, not modelled; `readyLag` steps for new pods. */
class Sim {
  rss = new Map<string, ReplicaSet & { pods: { ready: boolean; age: number }[] }>()
  now = T0
  seq = 0
  constructor(public d: Deployment) {}
  apply(actions: DeployAction[]): void {
    for (const a of actions) {
      if (a.kind === 'createRS') {
        const rs = structuredClone(a.rs) as ReplicaSet & { pods: { ready: boolean; age: number }[] }
        rs.metadata.uid = `rs-${this.seq}`
        rs.metadata.creationTimestamp = new Date(this.now + this.seq++ * 1000).toISOString()
        rs.pods = []
        this.rss.set(rs.metadata.name!, rs)
      } else if (a.kind === 'updateRS') {
        const rs = this.rss.get(a.name)!
        rs.spec.replicas = a.replicas
        rs.metadata.annotations = a.annotations
      } else if (a.kind === 'deleteRS') this.rss.delete(a.name)
      else if (a.kind === 'status') this.d.status = a.status
      else if (a.kind === 'annotateDeployment') this.d.metadata.annotations = { ...this.d.metadata.annotations, ...a.annotations }
    }
  }
  /** The ReplicaSet controller and kubelet: converge pod counts (not-ready first out), age pods. */
  kube(readyLag: number): void {
    for (const rs of this.rss.values()) {
      const want = rs.spec.replicas ?? 0
      while (rs.pods.length < want) rs.pods.push({ ready: false, age: 0 })
      rs.pods.sort((a, b) => Number(a.ready) - Number(b.ready))
      while (rs.pods.length > want) rs.pods.shift()
      for (const p of rs.pods) {
        p.age++
        if (p.age > readyLag) p.ready = true
      }
      const ready = rs.pods.filter((p) => p.ready).length
      rs.status = { replicas: rs.pods.length, readyReplicas: ready, availableReplicas: ready, fullyLabeledReplicas: rs.pods.length, observedGeneration: rs.metadata.generation ?? 0 }
    }
  }
  step(): DeployAction[] {
    const r = reconcileDeployment({ d: this.d, rsList: [...this.rss.values()], now: this.now })
    this.apply(r.actions)
    this.now += 1000
    return r.actions
  }
  ready(): number {
    return [...this.rss.values()].reduce((a, rs) => a + rs.pods.filter((p) => p.ready).length, 0)
  }
  total(): number {
    return [...this.rss.values()].reduce((a, rs) => a + rs.pods.length, 0)
  }
  specTotal(): number {
    return [...this.rss.values()].reduce((a, rs) => a + (rs.spec.replicas ?? 0), 0)
  }
}

t.test('fenceposts: surge rounds up, unavailable down, both zero → unavailable 1', async (t) => {
  const cases: [number, number | string, number | string, number, number][] = [
    [10, '25%', '25%', 3, 2],
    [4, '25%', '25%', 1, 1],
    [3, '25%', '25%', 1, 0],
    [6, 1, 1, 1, 1],
    [6, 0, 0, 0, 1],
    [5, '0%', '0%', 0, 1],
    [5, '50%', 0, 3, 0],
  ]
  for (const [n, s, u, es, eu] of cases) {
    t.same(resolveFenceposts(deploy(n, s, u)), { surge: es, unavailable: eu }, `${n} ${s} ${u}`)
  }
})

t.test('rolling updates never violate maxSurge / maxUnavailable and finish', async (t) => {
  const combos: [number, number | string, number | string][] = [
    [6, 1, 1], [6, 0, 1], [6, 1, 0], [6, '25%', '25%'], [10, '50%', '10%'], [3, 2, 0], [1, 1, 0], [1, 0, 1], [5, 5, 5],
  ]
  for (const [n, s, u] of combos) {
    for (const lag of [0, 2]) {
      const sim = new Sim(deploy(n, s, u))
      const { surge, unavailable } = resolveFenceposts(sim.d)
      const maxUn = Math.min(unavailable, n)
      for (let i = 0; i < 30; i++) { sim.step(); sim.kube(0) }
      t.equal(sim.ready(), n, `initial rollout ready ${n}`)
      sim.d = { ...sim.d, metadata: { ...sim.d.metadata, generation: 2 }, spec: { ...sim.d.spec, template: deploy(n, s, u, 'v2').spec.template } }
      let violated = ''
      for (let i = 0; i < 200; i++) {
        sim.step()
        if (sim.specTotal() > n + surge) violated ||= `step ${i}: ${sim.specTotal()} pods > ${n}+${surge}`
        sim.kube(lag)
        if (sim.ready() < n - maxUn) violated ||= `step ${i}: ready ${sim.ready()} < ${n}-${maxUn}`
      }
      t.equal(violated, '', `bounds ${n}/${s}/${u} lag ${lag}`)
      const rss = [...sim.rss.values()]
      const newRS = rss.find((r) => r.spec.template?.spec.containers[0]?.image === 'v2')!
      t.equal(newRS.spec.replicas, n, `new RS full ${n}/${s}/${u}`)
      t.equal(rss.filter((r) => r !== newRS).reduce((a, r) => a + (r.spec.replicas ?? 0), 0), 0, 'old RSs at 0')
      t.equal(newRS.metadata.annotations?.[ANNOTATION_REVISION], '2')
      t.equal(sim.d.metadata.annotations?.[ANNOTATION_REVISION], '2')
      const prog = sim.d.status?.conditions?.find((c) => c.type === 'Progressing')
      t.equal(prog?.reason, 'NewReplicaSetAvailable')
      t.equal(sim.d.status?.updatedReplicas, n)
      t.equal(sim.d.status?.availableReplicas, n)
    }
  }
})

t.test('new RS: name, hash label on template and selector, owner reference, condition', async (t) => {
  const d = deploy(3, 1, 1)
  const r = reconcileDeployment({ d, rsList: [], now: T0 })
  const c = r.actions.find((a) => a.kind === 'createRS')
  t.ok(c && c.kind === 'createRS')
  if (c?.kind !== 'createRS') return
  const hash = computeTemplateHash(d.spec.template)
  t.equal(c.rs.metadata.name, `web-${hash}`)
  t.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]+$/)
  t.equal(c.rs.spec.template?.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH], hash)
  t.equal(c.rs.spec.selector.matchLabels?.[LABEL_POD_TEMPLATE_HASH], hash)
  t.same(c.rs.metadata.ownerReferences?.[0], { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-uid', controller: true, blockOwnerDeletion: true })
  t.equal(c.rs.spec.replicas, 3)
  const st = r.actions.find((a) => a.kind === 'status')
  t.equal(st?.kind === 'status' && st.status.conditions?.find((x) => x.type === 'Progressing')?.reason, 'NewReplicaSetCreated')
  t.equal(computeTemplateHash(structuredClone(d.spec.template)), hash, 'hash is stable')
  t.not(computeTemplateHash(deploy(3, 1, 1, 'v2').spec.template), hash, 'hash follows the template')
})

t.test('rollback (kubectl ≥1.27 patches the old template in): old RS scaled up, revision bumped', async (t) => {
  const sim = new Sim(deploy(4, 1, 1))
  for (let i = 0; i < 20; i++) { sim.step(); sim.kube(0) }
  const v1 = [...sim.rss.values()][0]!
  sim.d.spec.template = deploy(4, 1, 1, 'v2').spec.template
  sim.d.metadata.generation = 2
  for (let i = 0; i < 40; i++) { sim.step(); sim.kube(0) }
  t.equal(sim.d.metadata.annotations?.[ANNOTATION_REVISION], '2')
  // What `kubectl rollout undo` does: the RS's template minus pod-template-hash.
  const tmpl = structuredClone(v1.spec.template!)
  delete tmpl.metadata!.labels![LABEL_POD_TEMPLATE_HASH]
  sim.d.spec.template = tmpl
  sim.d.metadata.generation = 3
  for (let i = 0; i < 40; i++) { sim.step(); sim.kube(0) }
  t.equal(sim.rss.size, 2, 'no third RS')
  t.equal(sim.rss.get(v1.metadata.name!)!.spec.replicas, 4, 'the v1 RS is back to full size')
  t.equal(sim.rss.get(v1.metadata.name!)!.metadata.annotations?.[ANNOTATION_REVISION], '3')
  t.equal(sim.d.metadata.annotations?.[ANNOTATION_REVISION], '3')
})

t.test('scale to 0 and back; paused deployments do not roll out', async (t) => {
  const sim = new Sim(deploy(6, 1, 1))
  for (let i = 0; i < 20; i++) { sim.step(); sim.kube(0) }
  sim.d.spec.replicas = 0
  for (let i = 0; i < 5; i++) { sim.step(); sim.kube(0) }
  t.equal(sim.total(), 0)
  sim.d.spec.replicas = 6
  for (let i = 0; i < 5; i++) { sim.step(); sim.kube(0) }
  t.equal(sim.ready(), 6)
  t.equal(sim.rss.size, 1)
  sim.d.spec.paused = true
  sim.d.spec.template = deploy(6, 1, 1, 'v2').spec.template
  for (let i = 0; i < 10; i++) { sim.step(); sim.kube(0) }
  t.equal(sim.rss.size, 1, 'paused: no new RS')
  t.equal(sim.d.status?.conditions?.find((c) => c.type === 'Progressing')?.reason, 'DeploymentPaused')
  sim.d.spec.paused = false
  for (let i = 0; i < 30; i++) { sim.step(); sim.kube(0) }
  t.equal(sim.rss.size, 2, 'resumed: rollout happens')
  t.equal(sim.d.status?.updatedReplicas, 6)
})

t.test('scaling during a rollout is proportional and stays within bounds', async (t) => {
  const sim = new Sim(deploy(10, 3, 2))
  for (let i = 0; i < 20; i++) { sim.step(); sim.kube(0) }
  sim.d.spec.template = deploy(10, 3, 2, 'v2').spec.template
  sim.step(); sim.kube(5)
  sim.d.spec.replicas = 20
  sim.step()
  t.ok(sim.specTotal() <= 20 + 5, `total ${sim.specTotal()} within 20 + surge 5`)
  const sizes = [...sim.rss.values()].map((r) => r.spec.replicas ?? 0)
  t.ok(sizes.every((s) => s > 0), `both RSs grew: ${sizes}`)
  for (let i = 0; i < 60; i++) { sim.step(); sim.kube(1) }
  t.equal(sim.ready(), 20)
})

t.test('revisionHistoryLimit deletes the oldest zero-size RSs', async (t) => {
  const sim = new Sim(deploy(2, 1, 0))
  sim.d.spec.revisionHistoryLimit = 1
  for (let v = 1; v <= 4; v++) {
    sim.d.spec.template = deploy(2, 1, 0, `v${v}`).spec.template
    for (let i = 0; i < 30; i++) { sim.step(); sim.kube(0) }
  }
  const revs = [...sim.rss.values()].map((r) => r.metadata.annotations?.[ANNOTATION_REVISION]).sort()
  t.same(revs, ['3', '4'])
})

t.test('Recreate: old pods gone before new ones start', async (t) => {
  const d = deploy(3, 1, 1)
  d.spec.strategy = { type: 'Recreate' }
  const sim = new Sim(d)
  for (let i = 0; i < 10; i++) { sim.step(); sim.kube(0) }
  t.equal(sim.ready(), 3)
  sim.d.spec.template = deploy(3, 1, 1, 'v2').spec.template
  let overlap = false
  for (let i = 0; i < 20; i++) {
    sim.step(); sim.kube(0)
    const active = [...sim.rss.values()].filter((r) => r.pods.length > 0)
    if (active.length > 1) overlap = true
  }
  t.notOk(overlap, 'never two RSs with pods at once')
  t.equal(sim.d.status?.updatedReplicas, 3)
})

t.test('progress deadline exceeded when nothing moves', async (t) => {
  const d = deploy(2, 1, 0)
  d.spec.progressDeadlineSeconds = 5
  const sim = new Sim(d)
  sim.step(); sim.kube(1000)
  for (let i = 0; i < 10; i++) { sim.step(); sim.kube(1000) }
  t.equal(sim.d.status?.conditions?.find((c) => c.type === 'Progressing')?.reason, 'ProgressDeadlineExceeded')
  t.equal(sim.d.status?.conditions?.find((c) => c.type === 'Available')?.status, 'False')
})

t.test('templates compare equal across null/absent fields (what kubectl rollout undo sends)', async (t) => {
  const a = deploy(1, 1, 1).spec.template
  const b = { ...structuredClone(a), metadata: { ...a.metadata, creationTimestamp: null as unknown as string } }
  t.equal(computeTemplateHash(b), computeTemplateHash(a))
})
