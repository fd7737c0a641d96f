import t from 'tap'
import type { Node, Pod, Taint } from '../../src/api/types.js'
import { buildNodeInfos, filterNode, schedulePod, assumePod } from '../../src/scheduler/core.js'

function node(name: string, o: { cpu?: string; mem?: string; pods?: string; taints?: Taint[]; labels?: Record<string, string>; ready?: boolean; unschedulable?: boolean } = {}): Node {
  return {
    metadata: { name, labels: o.labels ?? {} },
    spec: { taints: o.taints ?? [], ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable: { cpu: o.cpu ?? '2', memory: o.mem ?? '4Gi', pods: o.pods ?? '110' },
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  }
}
function pod(name: string, o: { cpu?: string; mem?: string; node?: string; owner?: string; sel?: Record<string, string>; tol?: Pod['spec']['tolerations'] } = {}): Pod {
  const p: Pod = {
    metadata: { name, namespace: 'd', uid: `u-${name}` },
    spec: {
      containers: [{ name: 'c', resources: { requests: { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.mem ? { memory: o.mem } : {}) } } }],
      ...(o.node ? { nodeName: o.node } : {}),
      ...(o.sel ? { nodeSelector: o.sel } : {}),
      ...(o.tol ? { tolerations: o.tol } : {}),
    },
  }
  if (o.owner) p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.owner, uid: o.owner, controller: true }]
  return p
}
const unreach: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }

t.test('filters give their reasons', async (t) => {
  const bound = [pod('b1', { cpu: '1500m', node: 'full' }), pod('b2', { node: 'fewpods' })]
  const infos = buildNodeInfos([
    node('full'),
    node('tainted', { taints: [unreach] }),
    node('cordoned', { unschedulable: true }),
    node('notready', { ready: false }),
    node('fewpods', { pods: '1' }),
    node('small', { mem: '100Mi' }),
    node('ok', { labels: { disk: 'ssd' } }),
  ], bound)
  const p = pod('p', { cpu: '1', mem: '200Mi' })
  const why = (n: string, x = p) => filterNode(x, infos.get(n)!)
  t.same(why('full'), ['Insufficient cpu'])
  t.same(why('tainted'), ['node(s) had untolerated taint {node.kubernetes.io/unreachable: }'])
  t.same(why('tainted', pod('q', { tol: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }] })), [])
  t.same(why('cordoned'), ['node(s) were unschedulable'])
  t.same(why('notready'), ['node(s) were not ready'])
  t.same(why('fewpods'), ['Too many pods'])
  t.same(why('small'), ['Insufficient memory'])
  t.same(why('ok'), [])
  t.same(why('ok', pod('s', { sel: { disk: 'hdd' } })), ["node(s) didn't match Pod's node affinity/selector"])
  const r = schedulePod(pod('huge', { cpu: '3' }), infos)
  t.same(r, {
    ok: false,
    reasons: r.ok ? {} : r.reasons,
    // Sorted byte-wise, as upstream's sort.Strings does.
    message: '0/7 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were not ready, 1 node(s) were unschedulable, 4 Insufficient cpu.',
  })
  t.same(schedulePod(p, new Map()), { ok: false, message: 'no nodes available to schedule pods', reasons: {} })
})

t.test('scores: least allocated, and one owner spread across nodes', async (t) => {
  const infos = buildNodeInfos([node('a'), node('b'), node('c')], [pod('x', { cpu: '1', node: 'a' })])
  const r = schedulePod(pod('p', { cpu: '100m' }), infos, () => 0)
  t.ok(r.ok && r.node !== 'a', 'the loaded node is avoided')
  // Six pods of one ReplicaSet go 2/2/2 when each decision is assumed before the next.
  const infos2 = buildNodeInfos([node('a'), node('b'), node('c')], [])
  const per: Record<string, number> = {}
  for (let i = 0; i < 6; i++) {
    const p = pod(`w${i}`, { owner: 'rs1' })
    const r2 = schedulePod(p, infos2, () => 0.5)
    if (!r2.ok) throw new Error('unschedulable')
    assumePod(infos2, p, r2.node)
    per[r2.node] = (per[r2.node] ?? 0) + 1
  }
  t.same(per, { a: 2, b: 2, c: 2 })
})
