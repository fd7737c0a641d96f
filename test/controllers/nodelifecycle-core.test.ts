import t from 'tap'
import type { Lease, Node, Pod } from '../../src/api/types.js'
import { decideNode, observeNode, type NodeHealth } from '../../src/controllers/nodelifecycle-core.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const cfg = { gracePeriodMs: 40_000, podEvictionTimeoutMs: 300_000 }
const node = (ready: 'True' | 'False' | 'Unknown', taints: Node['spec'] extends infer S ? S extends { taints?: infer X } ? X : never : never = []): Node => ({
  metadata: { name: 'n1' },
  spec: { taints },
  status: { conditions: [{ type: 'Ready', status: ready, lastHeartbeatTime: '2026-01-01T00:00:00Z' }, { type: 'MemoryPressure', status: 'False' }] },
})
const lease = (renew: string): Lease => ({ metadata: { name: 'n1', namespace: 'kube-node-lease' }, spec: { renewTime: renew } })
const pod = (name: string, tolerationSeconds?: number, ready = true): Pod => ({
  metadata: { name, namespace: 'd' },
  spec: {
    nodeName: 'n1',
    containers: [],
    ...(tolerationSeconds !== undefined ? { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds }] } : {}),
  },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
})

t.test('heartbeats: a lease renewal moves the probe time; silence does not', async (t) => {
  let h = observeNode(undefined, node('True'), lease('a'), T0)
  t.equal(h.probeTimestamp, T0)
  h = observeNode(h, node('True'), lease('a'), T0 + 10_000)
  t.equal(h.probeTimestamp, T0, 'same renewTime: no heartbeat')
  h = observeNode(h, node('True'), lease('b'), T0 + 20_000)
  t.equal(h.probeTimestamp, T0 + 20_000)
})

t.test('decisions over time with a fake clock', async (t) => {
  const h: NodeHealth = { probeTimestamp: T0, leaseRenewTime: 'a' }
  // Within the grace period: nothing, but look again when it ends.
  let d = decideNode(node('True'), h, [pod('p')], T0 + 30_000, cfg)
  t.same(d.actions, [])
  t.equal(d.requeueAfterMs, 10_050)
  // Past it: conditions Unknown, unreachable taints, pods not ready; nobody evicted yet.
  d = decideNode(node('True'), h, [pod('p'), pod('tol', 60), pod('idle', undefined, false)], T0 + 41_000, cfg)
  const conds = d.actions.find((a) => a.kind === 'nodeConditions')
  t.ok(conds?.kind === 'nodeConditions' && conds.conditions.every((c) => c.status === 'Unknown' && c.reason === 'NodeStatusUnknown'))
  const taints = d.actions.find((a) => a.kind === 'taints')
  t.same(taints?.kind === 'taints' && taints.taints.map((x) => `${x.key}:${x.effect}`), ['node.kubernetes.io/unreachable:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute'])
  t.same(d.actions.filter((a) => a.kind === 'markPodNotReady').map((a) => (a as { name: string }).name), ['p', 'tol'])
  t.same(d.actions.filter((a) => a.kind === 'evictPod'), [])
  // Later, with the taints stored: tolerationSeconds 60 goes first, default timeout later.
  const tainted = node('Unknown', [
    { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: new Date(T0 + 41_000).toISOString() },
    { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: new Date(T0 + 41_000).toISOString() },
  ])
  d = decideNode(tainted, h, [pod('p'), pod('tol', 60), pod('forever', undefined)], T0 + 102_000, cfg)
  t.same(d.actions.filter((a) => a.kind === 'evictPod').map((a) => (a as { name: string }).name), ['tol'])
  d = decideNode(tainted, h, [pod('p'), pod('tol', 60)], T0 + 342_000, cfg)
  t.same(d.actions.filter((a) => a.kind === 'evictPod').map((a) => (a as { name: string }).name), ['p', 'tol'])
  const tolForever = pod('x')
  tolForever.spec.tolerations = [{ operator: 'Exists' }]
  d = decideNode(tainted, h, [tolForever], T0 + 999_000, cfg)
  t.same(d.actions.filter((a) => a.kind === 'evictPod'), [], 'a toleration without seconds tolerates forever')
  // Back: a fresh heartbeat and Ready=True from the kubelet → taints removed.
  d = decideNode({ ...tainted, status: node('True').status! }, { probeTimestamp: T0 + 400_000 }, [], T0 + 401_000, cfg)
  t.same(d.actions, [{ kind: 'taints', taints: [] }])
  // Kubelet says NotReady: not-ready taints instead.
  d = decideNode(node('False'), { probeTimestamp: T0 }, [], T0 + 1000, cfg)
  t.same(d.actions.map((a) => a.kind === 'taints' && a.taints.map((x) => x.key)), [['node.kubernetes.io/not-ready', 'node.kubernetes.io/not-ready']])
})

t.test('pods bound to vanished nodes are collected after a quarantine', async (t) => {
  const { orphanedPods } = await import('../../src/controllers/nodelifecycle-core.js')
  const seen = new Map<string, number>()
  const p = (name: string, nodeName?: string): Pod => ({ metadata: { name, namespace: 'd' }, spec: { containers: [], ...(nodeName ? { nodeName } : {}) } })
  const pods = [p('a', 'n1'), p('b', 'gone'), p('c')]
  t.same(orphanedPods(pods, new Set(['n1']), seen, T0, 20_000), [], 'first sight: quarantined')
  t.same(orphanedPods(pods, new Set(['n1']), seen, T0 + 20_000, 20_000).map((x) => x.metadata.name), ['b'])
  t.same(orphanedPods(pods, new Set(['n1', 'gone']), seen, T0 + 30_000, 20_000), [], 'node back: forgiven')
  t.equal(seen.size, 0)
})
