// The DaemonSet core as tables: placement (nodeSelector, affinity, taints, default tolerations,
// nodes that come and go), RollingUpdate with maxUnavailable / maxSurge, OnDelete, failed and
// extra pods, history (create, renumber on rollback, truncate), status. No apiserver.
import t from 'tap'
import type { ControllerRevision, DaemonSet, Node, Pod, Taint } from '../../src/api/types.js'
import { currentHash, newDaemonPod, nodeShouldRunDaemonPod, reconcileDaemonSet, revisionData, type DSAction } from '../../src/controllers/daemonset-core.js'
import { newControllerRevision } from '../../src/controllers/history.js'

const NOW = Date.parse('2026-01-01T00:10:00Z')

function daemonSet(o: { image?: string; sel?: Record<string, string>; strategy?: DaemonSet['spec']['updateStrategy']; gen?: string; minReady?: number; history?: number } = {}): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'd', uid: 'ds1', generation: 2, annotations: { 'deprecated.daemonset.template.generation': o.gen ?? '1' } },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'c', image: o.image ?? 'v1' }], restartPolicy: 'Always', ...(o.sel ? { nodeSelector: o.sel } : {}) } },
      updateStrategy: o.strategy ?? { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      revisionHistoryLimit: o.history ?? 10,
      ...(o.minReady ? { minReadySeconds: o.minReady } : {}),
    },
    status: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 },
  }
}

function node(name: string, o: { labels?: Record<string, string>; taints?: Taint[]; unschedulable?: boolean } = {}): Node {
  return { metadata: { name, labels: o.labels ?? {} }, spec: { taints: o.taints ?? [], ...(o.unschedulable ? { unschedulable: true } : {}) }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }
}

interface P { name: string; node: string; hash?: string; ready?: number; phase?: 'Pending' | 'Running' | 'Failed' | 'Succeeded'; deleting?: boolean; created?: number; bound?: boolean }
function pod(ds: DaemonSet, o: P): Pod {
  const p = newDaemonPod(ds, o.node, o.hash ?? currentHash(ds))
  p.metadata.name = o.name
  p.metadata.uid = `u-${o.name}`
  p.metadata.creationTimestamp = new Date(NOW - (o.created ?? 100) * 1000).toISOString()
  p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds1', controller: true }]
  if (o.bound !== false) p.spec.nodeName = o.node
  p.status = { phase: o.phase ?? 'Running', ...(o.ready !== undefined ? { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(NOW - o.ready * 1000).toISOString() }] } : {}) }
  if (o.deleting) p.metadata.deletionTimestamp = new Date(NOW).toISOString()
  return p
}

/** The revision a DaemonSet would record for its current template. */
function rev(ds: DaemonSet, revision: number): ControllerRevision {
  const r = newControllerRevision(ds, { apiVersion: 'apps/v1', kind: 'DaemonSet' }, ds.spec.template.metadata?.labels, revisionData(ds), revision)
  r.metadata.labels!['controller-revision-hash'] = currentHash(ds)
  return r
}

const podActions = (as: DSAction[]) => as.filter((a) => a.kind === 'create' || a.kind === 'delete' || a.kind === 'failedPod')
const three = [node('node1'), node('node2'), node('node3')]

t.test('placement: one pod per eligible node', async (t) => {
  const ds = daemonSet()
  const cur = rev(ds, 1)
  const old = daemonSet({ image: 'v0' })
  const rows: { name: string; ds?: DaemonSet; nodes: Node[]; pods: (ds: DaemonSet) => Pod[]; want: unknown[] }[] = [
    { name: 'empty cluster of 3 → one pod each', nodes: three, pods: () => [], want: [{ kind: 'create', nodes: ['node1', 'node2', 'node3'] }] },
    { name: 'a node joins → only it gets one', nodes: [...three, node('node4')], pods: (d) => three.map((n, i) => pod(d, { name: `p${i}`, node: n.metadata.name!, ready: 60 })), want: [{ kind: 'create', nodes: ['node4'] }] },
    { name: 'a node leaves → its pod goes', nodes: three.slice(0, 2), pods: (d) => three.map((n, i) => pod(d, { name: `p${i}`, node: n.metadata.name!, ready: 60 })), want: [{ kind: 'delete', pods: ['p2'] }] },
    {
      name: 'nodeSelector: only matching nodes; a node that stops matching loses its pod',
      ds: daemonSet({ sel: { role: 'edge' } }),
      nodes: [node('node1', { labels: { role: 'edge' } }), node('node2'), node('node3', { labels: { role: 'edge' } })],
      pods: (d) => [pod(d, { name: 'p1', node: 'node1', ready: 60 }), pod(d, { name: 'p2', node: 'node2', ready: 60 })],
      want: [{ kind: 'create', nodes: ['node3'] }, { kind: 'delete', pods: ['p2'] }],
    },
    {
      name: 'NoSchedule taint: no new pod, but a running one stays',
      nodes: [node('node1', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }), node('node2', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] })],
      pods: (d) => [pod(d, { name: 'p1', node: 'node1', ready: 60 })],
      want: [],
    },
    { name: 'NoExecute taint evicts', nodes: [node('node1', { taints: [{ key: 'dedicated', effect: 'NoExecute' }] })], pods: (d) => [pod(d, { name: 'p1', node: 'node1', ready: 60 })], want: [{ kind: 'delete', pods: ['p1'] }] },
    {
      name: 'default tolerations: cordoned, not-ready, unreachable, pressure nodes still run daemons',
      nodes: [
        node('node1', { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }),
        node('node2', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }),
        node('node3', { taints: [{ key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' }] }),
        node('node4', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] }),
      ],
      pods: () => [],
      want: [{ kind: 'create', nodes: ['node1', 'node2', 'node3'] }],
    },
    { name: 'an unscheduled pod counts for the node it is pinned to', nodes: three.slice(0, 1), pods: (d) => [pod(d, { name: 'p1', node: 'node1', bound: false, phase: 'Pending' })], want: [] },
    { name: 'a failed pod is reported and deleted', nodes: three.slice(0, 1), pods: (d) => [pod(d, { name: 'p1', node: 'node1', phase: 'Failed' })], want: [{ kind: 'failedPod', pod: 'p1', node: 'node1' }, { kind: 'delete', pods: ['p1'] }] },
    { name: 'two pods on a node: the oldest stays', nodes: three.slice(0, 1), pods: (d) => [pod(d, { name: 'young', node: 'node1', created: 5 }), pod(d, { name: 'old', node: 'node1', created: 500, ready: 60 })], want: [{ kind: 'delete', pods: ['young'] }] },
    { name: 'a terminating pod holds its node (no create until it is gone)', nodes: three.slice(0, 1), pods: (d) => [pod(d, { name: 'p1', node: 'node1', deleting: true, ready: 60 })], want: [] },
    { name: 'OnDelete leaves old pods alone', ds: daemonSet({ strategy: { type: 'OnDelete' } }), nodes: three.slice(0, 2), pods: () => [pod(old, { name: 'o1', node: 'node1', ready: 60 }), pod(old, { name: 'o2', node: 'node2', ready: 60 })], want: [] },
  ]
  for (const r of rows) {
    const d = r.ds ?? ds
    const res = reconcileDaemonSet({ ds: d, nodes: r.nodes, pods: r.pods(d), revisions: r.ds ? [] : [cur], now: NOW })
    t.same(podActions(res.actions), r.want, r.name)
  }
  const blocked = reconcileDaemonSet({ ds, nodes: three, pods: [], revisions: [cur], now: NOW, expectationsSatisfied: false })
  t.same(podActions(blocked.actions), [], 'unobserved creates: no new actions')
  t.ok(blocked.actions.some((a) => a.kind === 'status'), 'but status is still written')
})

t.test('rolling update, maxUnavailable 1 (maxSurge 0): one node at a time', async (t) => {
  const v1 = daemonSet({ image: 'v1' })
  const ds = daemonSet({ image: 'v2', gen: '2' })
  const revs = [rev(v1, 1), rev(ds, 2)]
  const step = (pods: Pod[], d = ds) => podActions(reconcileDaemonSet({ ds: d, nodes: three, pods, revisions: revs, now: NOW }).actions)
  const olds = three.map((n, i) => pod(v1, { name: `old${i + 1}`, node: n.metadata.name!, ready: 60 }))
  t.same(step(olds), [{ kind: 'delete', pods: ['old1'] }], 'all old and available → delete exactly one')
  t.same(step([{ ...olds[0]!, metadata: { ...olds[0]!.metadata, deletionTimestamp: new Date(NOW).toISOString() } }, olds[1]!, olds[2]!]), [], 'its pod terminating: that node counts as unavailable, nothing more')
  t.same(step([olds[1]!, olds[2]!]), [{ kind: 'create', nodes: ['node1'] }], 'gone → manage creates the new pod')
  const fresh = pod(ds, { name: 'new1', node: 'node1' })
  t.same(step([fresh, olds[1]!, olds[2]!]), [], 'new pod not ready yet → no further deletion')
  const readyNew = pod(ds, { name: 'new1', node: 'node1', ready: 1 })
  t.same(step([readyNew, olds[1]!, olds[2]!]), [{ kind: 'delete', pods: ['old2'] }], 'new pod ready → next node')
  const unavailOld = pod(v1, { name: 'old3', node: 'node3' })
  t.same(step([readyNew, olds[1]!, unavailOld]), [{ kind: 'delete', pods: ['old3', 'old2'] }], 'an old pod that is not available anyway is replaced without using the budget')
  const mu2 = daemonSet({ image: 'v2', gen: '2', strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '34%', maxSurge: 0 } } })
  t.same(step(olds, mu2), [{ kind: 'delete', pods: ['old1', 'old2'] }], 'a percentage resolves against desired, rounded up (34% of 3 → 2)')
  const minReady = daemonSet({ image: 'v2', gen: '2', minReady: 30 })
  t.same(step([pod(minReady, { name: 'new1', node: 'node1', ready: 5 }), olds[1]!, olds[2]!], minReady), [], 'ready but not yet available (minReadySeconds) → wait')
})

t.test('rolling update, maxSurge 1: new beside old, old goes once new is available', async (t) => {
  const v1 = daemonSet({ image: 'v1' })
  const ds = daemonSet({ image: 'v2', gen: '2', strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } })
  const step = (pods: Pod[]) => podActions(reconcileDaemonSet({ ds, nodes: three, pods, revisions: [], now: NOW }).actions)
  const olds = three.map((n, i) => pod(v1, { name: `old${i + 1}`, node: n.metadata.name!, ready: 60 }))
  t.same(step(olds), [{ kind: 'create', nodes: ['node1'] }], 'surge onto one node')
  const surging = pod(ds, { name: 'new1', node: 'node1' })
  t.same(step([surging, ...olds]), [], 'new not available: wait, no second surge')
  const avail = pod(ds, { name: 'new1', node: 'node1', ready: 1 })
  t.same(step([avail, ...olds]), [{ kind: 'delete', pods: ['old1'] }], 'new available → its old pod goes')
})

t.test('history: first revision, rollback renumbers, truncation keeps live ones', async (t) => {
  const ds = daemonSet()
  const first = reconcileDaemonSet({ ds, nodes: [], pods: [], revisions: [], now: NOW })
  const created = first.actions.find((a) => a.kind === 'createRevision')
  t.ok(created && created.kind === 'createRevision')
  if (created?.kind === 'createRevision') {
    t.equal(created.revision.revision, 1)
    t.equal(created.revision.metadata.name, `agent-${currentHash(ds)}`)
    t.equal(created.revision.metadata.labels?.['controller-revision-hash'], currentHash(ds))
    t.same(created.revision.data, { spec: { template: { ...ds.spec.template, $patch: 'replace' } } }, "data is upstream's patch")
  }
  t.equal(first.hash, currentHash(ds))
  // Rollback: the template equals revision 1 again while revision 2 exists.
  const v2 = daemonSet({ image: 'v2' })
  const back = reconcileDaemonSet({ ds, nodes: [], pods: [], revisions: [rev(ds, 1), rev(v2, 2)], now: NOW })
  t.same(back.actions.filter((a) => a.kind === 'renumberRevision'), [{ kind: 'renumberRevision', name: `agent-${currentHash(ds)}`, revision: 3 }])
  t.equal(back.actions.filter((a) => a.kind === 'createRevision').length, 0, 'no new revision for a known template')
  // Limit 1: of three old revisions, the one a pod still runs stays.
  const limited = daemonSet({ image: 'v9', history: 1 })
  const olds = ['a', 'b', 'c'].map((img, i) => rev(daemonSet({ image: img }), i + 1))
  const running = pod(daemonSet({ image: 'a' }), { name: 'p', node: 'node1', ready: 60 })
  const cut = reconcileDaemonSet({ ds: limited, nodes: [node('node1')], pods: [running], revisions: [...olds, rev(limited, 4)], now: NOW })
  t.same(cut.actions.filter((a) => a.kind === 'deleteRevisions'), [{ kind: 'deleteRevisions', names: [olds[1]!.metadata.name] }], 'oldest not-live beyond the limit')
})

t.test('status counts', async (t) => {
  const v1 = daemonSet({ image: 'v1' })
  const ds = daemonSet({ image: 'v2', gen: '2', sel: { role: 'edge' } })
  const nodes = [node('node1', { labels: { role: 'edge' } }), node('node2', { labels: { role: 'edge' } }), node('node3', { labels: { role: 'edge' } }), node('node4')]
  const pods = [pod(ds, { name: 'a', node: 'node1', ready: 60 }), pod(v1, { name: 'b', node: 'node2', ready: 60 }), pod(ds, { name: 'c', node: 'node3' }), pod(ds, { name: 'd', node: 'node4', ready: 60 })]
  const st = reconcileDaemonSet({ ds, nodes, pods, revisions: [], now: NOW, expectationsSatisfied: false }).actions.find((a) => a.kind === 'status')
  t.same(st, {
    kind: 'status',
    status: { currentNumberScheduled: 3, numberMisscheduled: 1, desiredNumberScheduled: 3, numberReady: 2, observedGeneration: 2, updatedNumberScheduled: 2, numberAvailable: 2, numberUnavailable: 1 },
  })
})

t.test('the daemon pod: pinned by matchFields, default tolerations, labels', async (t) => {
  const ds = daemonSet()
  ds.spec.template.spec.tolerations = [{ key: 'dedicated', operator: 'Exists' }]
  ds.spec.template.spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'x', operator: 'Exists' }] }] } } }
  const p = newDaemonPod(ds, 'node2', 'h1')
  t.same(p.metadata.labels, { app: 'agent', 'pod-template-generation': '1', 'controller-revision-hash': 'h1' })
  t.equal(p.metadata.generateName, 'agent-')
  t.same(p.spec.affinity, { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node2'] }] }] } } })
  t.same(p.spec.tolerations?.map((x) => `${x.key}:${x.effect ?? ''}`), [
    'dedicated:',
    'node.kubernetes.io/not-ready:NoExecute',
    'node.kubernetes.io/unreachable:NoExecute',
    'node.kubernetes.io/disk-pressure:NoSchedule',
    'node.kubernetes.io/memory-pressure:NoSchedule',
    'node.kubernetes.io/pid-pressure:NoSchedule',
    'node.kubernetes.io/unschedulable:NoSchedule',
  ])
  ds.spec.template.spec.hostNetwork = true
  t.ok(newDaemonPod(ds, 'n', 'h').spec.tolerations?.some((x) => x.key === 'node.kubernetes.io/network-unavailable'), 'hostNetwork adds network-unavailable')
  t.same(nodeShouldRunDaemonPod(node('n1', { labels: { x: '' } }), ds), { shouldRun: true, shouldContinueRunning: true }, "the template's own affinity decides eligibility")
  t.same(nodeShouldRunDaemonPod(node('n1'), ds), { shouldRun: false, shouldContinueRunning: false })
})
