// VolumeBinding as tables: pods with claims against nodes, upstream's reason strings.
import t from 'tap'
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../src/api/types.js'
import { buildNodeInfos, schedulePod } from '../../src/scheduler/core.js'
import { claimsToSelect, type VolumeView } from '../../src/scheduler/volumebinding.js'

const node = (name: string): Node => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name } },
  status: { conditions: [{ type: 'Ready', status: 'True' }], allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
})
const nodes = [node('n1'), node('n2'), node('n3')]
const pod = (...claims: string[]): Pod => ({
  metadata: { name: 'p', namespace: 'default' },
  spec: { containers: [{ name: 'c' }], volumes: claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })) },
})
const claim = (name: string, cls: string, o: { volumeName?: string; selected?: string; deleting?: boolean } = {}): PersistentVolumeClaim => ({
  metadata: {
    name,
    namespace: 'default',
    uid: `u-${name}`,
    ...(o.selected ? { annotations: { 'volume.kubernetes.io/selected-node': o.selected } } : {}),
    ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
  },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: cls, ...(o.volumeName ? { volumeName: o.volumeName } : {}) },
  status: { phase: o.volumeName ? 'Bound' : 'Pending' },
})
const onNode = (n: string) => ({ required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: [n] }] }] } })
const pv = (name: string, cls: string, nodeName?: string): PersistentVolume => ({
  metadata: { name },
  spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: cls, hostPath: { path: '/x' }, ...(nodeName ? { nodeAffinity: onNode(nodeName) } : {}) },
  status: { phase: 'Available' },
})
const classes: StorageClass[] = [
  { metadata: { name: 'local-path' }, provisioner: 'netkube.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' },
  { metadata: { name: 'static' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' },
  { metadata: { name: 'now' }, provisioner: 'example.com/x', volumeBindingMode: 'Immediate' },
]
const view = (claims: PersistentVolumeClaim[], volumes: PersistentVolume[] = []): VolumeView => ({
  claim: (ns, n) => claims.find((c) => c.metadata.namespace === ns && c.metadata.name === n),
  volume: (n) => volumes.find((v) => v.metadata.name === n),
  storageClass: (n) => classes.find((c) => c.metadata.name === n),
  volumes: () => volumes,
})

t.test('VolumeBinding filter', async (t) => {
  const rows: [string, Pod, VolumeView, string | string[]][] = [
    ['no claims: any node', pod(), view([]), ['n1', 'n2', 'n3']],
    ['missing claim', pod('data'), view([]), '0/3 nodes are available: persistentvolumeclaim "data" not found.'],
    ['claim being deleted', pod('data'), view([claim('data', 'local-path', { deleting: true })]), '0/3 nodes are available: persistentvolumeclaim "data" is being deleted.'],
    ['unbound Immediate claim', pod('data'), view([claim('data', 'now')]), '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.'],
    ['bound claim: only the volume\'s node', pod('data'), view([claim('data', 'local-path', { volumeName: 'pv1' })], [pv('pv1', 'local-path', 'n2')]), ['n2']],
    [
      'two bound claims on different nodes: nowhere',
      pod('a', 'b'),
      view([claim('a', 'local-path', { volumeName: 'pa' }), claim('b', 'local-path', { volumeName: 'pb' })], [pv('pa', 'local-path', 'n1'), pv('pb', 'local-path', 'n2')]),
      '0/3 nodes are available: 3 node(s) had volume node affinity conflict.',
    ],
    ['bound to a missing volume', pod('data'), view([claim('data', 'local-path', { volumeName: 'gone' })]), '0/3 nodes are available: 3 pvc(s) bound to non-existent pv(s).'],
    ['WaitForFirstConsumer with a provisioner: any node', pod('data'), view([claim('data', 'local-path')]), ['n1', 'n2', 'n3']],
    ['WaitForFirstConsumer, already aimed at n3', pod('data'), view([claim('data', 'local-path', { selected: 'n3' })]), ['n3']],
    ['WaitForFirstConsumer without provisioner: nodes with a matching volume', pod('data'), view([claim('data', 'static')], [pv('s1', 'static', 'n1'), pv('s3', 'static', 'n3')]), ['n1', 'n3']],
    ['WaitForFirstConsumer without provisioner or volume', pod('data'), view([claim('data', 'static')]), "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind."],
  ]
  for (const [name, p, v, want] of rows) {
    const feasible: string[] = []
    let message = ''
    // The pick is random among equals: ask often enough to see every feasible node.
    for (let i = 0; i < 60; i++) {
      const r = schedulePod(p, buildNodeInfos(nodes, []), Math.random, v)
      if (r.ok) {
        if (!feasible.includes(r.node)) feasible.push(r.node)
      } else message = r.message
    }
    if (typeof want === 'string') t.equal(message, want, name)
    else t.same(feasible.sort(), want, name)
  }
})

t.test('PreBind: which claims learn the node', async (t) => {
  const v = view([claim('a', 'local-path'), claim('b', 'local-path', { selected: 'n1' }), claim('c', 'local-path', { volumeName: 'x' }), claim('d', 'now')])
  t.same(claimsToSelect(pod('a', 'b', 'c', 'd', 'a'), v).map((c) => c.metadata.name), ['a'], 'unbound WFFC claims without a node, once')
})
