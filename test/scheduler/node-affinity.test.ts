// Required node affinity (nodeSelector + nodeSelectorTerms, matchFields metadata.name) as a table,
// and the scheduler's NodeAffinity filter using it.
import t from 'tap'
import type { Node, NodeSelectorTerm, Pod } from '../../src/api/types.js'
import { buildNodeInfos, filterNode } from '../../src/scheduler/core.js'
import { podMatchesNodeAffinity } from '../../src/api/node-affinity.js'

const node = (name: string, labels: Record<string, string> = {}): Node => ({
  metadata: { name, labels },
  spec: {},
  status: { allocatable: { cpu: '2', memory: '4Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
})
const pod = (terms?: NodeSelectorTerm[], sel?: Record<string, string>): Pod => ({
  metadata: { name: 'p', namespace: 'd' },
  spec: {
    containers: [{ name: 'c' }],
    ...(sel ? { nodeSelector: sel } : {}),
    ...(terms ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } } : {}),
  },
})

t.test('required node affinity: terms ORed, expressions ANDed', async (t) => {
  const n = node('node2', { zone: 'b', cores: '8', gpu: '' })
  const rows: [string, Pod, boolean][] = [
    ['no affinity', pod(), true],
    ['nodeSelector matches', pod(undefined, { zone: 'b' }), true],
    ['nodeSelector misses', pod(undefined, { zone: 'a' }), false],
    ['matchFields name In', pod([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node2'] }] }]), true],
    ['matchFields name In other', pod([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node1'] }] }]), false],
    ['matchFields name NotIn', pod([{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node1'] }] }]), true],
    ['unknown field', pod([{ matchFields: [{ key: 'spec.x', operator: 'In', values: ['y'] }] }]), false],
    ['In', pod([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }]), true],
    ['NotIn', pod([{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }]), false],
    ['NotIn absent key', pod([{ matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['r1'] }] }]), true],
    ['Exists (empty value)', pod([{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }]), true],
    ['DoesNotExist', pod([{ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }]), false],
    ['Gt', pod([{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }]), true],
    ['Lt', pod([{ matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }]), false],
    ['Gt on a non-integer', pod([{ matchExpressions: [{ key: 'zone', operator: 'Gt', values: ['4'] }] }]), false],
    ['AND within a term', pod([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node1'] }] }]), false],
    ['OR across terms', pod([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node2'] }] }]), true],
    ['an empty term matches nothing', pod([{}]), false],
    ['no terms match nothing', pod([]), false],
    ['selector AND affinity', pod([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node2'] }] }], { zone: 'a' }), false],
  ]
  for (const [what, p, want] of rows) t.equal(podMatchesNodeAffinity(p, n), want, what)
})

t.test('the scheduler filter rejects with upstream reason', async (t) => {
  const infos = buildNodeInfos([node('node1'), node('node2')], [])
  const pinned = pod([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node2'] }] }])
  t.same(filterNode(pinned, infos.get('node1')!), ["node(s) didn't match Pod's node affinity/selector"])
  t.same(filterNode(pinned, infos.get('node2')!), [])
})
