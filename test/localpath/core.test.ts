// The node provisioner's decisions as tables, and the kubelet's claim → directory rule.
import t from 'tap'
import type { Node, PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../src/api/types.js'
import { decide, volumeNode, type ProvisionerView } from '../../src/localpath/core.js'
import { claimDirectory } from '../../src/kubelet/claims.js'

const P = 'netkube.io/local-path'
const sc: StorageClass = { metadata: { name: 'local-path' }, provisioner: P, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer' }
const claim = (name: string, ann: Record<string, string>, spec: Partial<PersistentVolumeClaim['spec']> = {}): PersistentVolumeClaim => ({
  metadata: { name, namespace: 'default', uid: `u-${name}`, resourceVersion: '5', annotations: ann },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } }, storageClassName: 'local-path', ...spec },
  status: { phase: 'Pending' },
})
const ready = { 'volume.kubernetes.io/storage-provisioner': P, 'volume.kubernetes.io/selected-node': 'n1' }
const view = (claims: PersistentVolumeClaim[], volumes: PersistentVolume[] = []): ProvisionerView => ({ provisioner: P, nodeName: 'n1', volumesDir: '/state/n1/volumes', claims, volumes, classes: [sc] })

t.test('provision: only claims handed to this provisioner and placed on this node', async (t) => {
  const acts = decide(
    view([
      claim('mine', ready),
      claim('other-node', { ...ready, 'volume.kubernetes.io/selected-node': 'n2' }),
      claim('no-node-yet', { 'volume.kubernetes.io/storage-provisioner': P }),
      claim('not-handed-over', { 'volume.kubernetes.io/selected-node': 'n1' }),
      claim('rwx', ready, { accessModes: ['ReadWriteMany'] }),
      claim('bound', ready, { volumeName: 'x' }),
    ]),
  )
  t.same(acts.map((a) => `${a.kind} ${a.kind === 'reclaim' ? a.volume.metadata.name : a.claim.metadata.name}`), ['provision mine', 'refuse rwx'])
  const p = acts[0]!
  if (p.kind !== 'provision') throw new Error('expected provision')
  t.equal(p.path, '/state/n1/volumes/pvc-u-mine')
  t.same(p.volume.metadata, { name: 'pvc-u-mine', annotations: { 'pv.kubernetes.io/provisioned-by': P } })
  t.same(p.volume.spec.claimRef, { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: 'mine', uid: 'u-mine', resourceVersion: '5' })
  t.same(p.volume.spec.capacity, { storage: '64Mi' })
  t.equal(p.volume.spec.persistentVolumeReclaimPolicy, 'Delete')
  t.same(p.volume.spec.hostPath, { path: '/state/n1/volumes/pvc-u-mine', type: 'DirectoryOrCreate' })
  t.equal(volumeNode(p.volume), 'n1')
  if (acts[1]!.kind === 'refuse') t.match(acts[1]!.message, 'only ReadWriteOnce and ReadWriteOncePod access modes are supported')
  // Done once: the volume exists → nothing more.
  t.same(decide(view([claim('mine', ready)], [p.volume])), [])
})

t.test('reclaim: released Delete volumes of this node, inside the volumes directory', async (t) => {
  const mk = (name: string, node: string, phase: 'Released' | 'Bound', policy: 'Delete' | 'Retain' = 'Delete', path = `/state/n1/volumes/${name}`): PersistentVolume => ({
    metadata: { name, uid: `u-${name}`, annotations: { 'pv.kubernetes.io/provisioned-by': P } },
    spec: { persistentVolumeReclaimPolicy: policy, hostPath: { path }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } } },
    status: { phase },
  })
  const acts = decide(view([], [mk('gone', 'n1', 'Released'), mk('in-use', 'n1', 'Bound'), mk('kept', 'n1', 'Released', 'Retain'), mk('elsewhere', 'n2', 'Released'), mk('escape', 'n1', 'Released', 'Delete', '/etc')]))
  t.same(acts.map((a) => (a.kind === 'reclaim' ? `${a.volume.metadata.name} ${a.path}` : a.kind)), ['gone /state/n1/volumes/gone'])
})

t.test('kubelet: a claim volume is its bound volume\'s directory, or a reason to wait', async (t) => {
  const node: Node = { metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } } }
  const c = claim('data', {}, { volumeName: 'pv1' })
  c.status = { phase: 'Bound' }
  const pv: PersistentVolume = { metadata: { name: 'pv1' }, spec: { claimRef: { uid: 'u-data' }, hostPath: { path: '/v/pv1', type: 'DirectoryOrCreate' } } }
  t.same(claimDirectory('d', 'default', 'data', c, pv, node), { path: '/v/pv1', type: 'DirectoryOrCreate' })
  const pending = claim('data', {})
  t.throws(() => claimDirectory('d', 'default', 'data', pending, undefined, node), { message: 'Unable to attach or mount volumes: unmounted volumes=[d], failed to process volumes=[d]: error processing PVC default/data: PVC is not bound' })
  t.throws(() => claimDirectory('d', 'default', 'data', undefined, undefined, node), { message: /PVC default\/data not found$/ })
  const far = { ...pv, spec: { ...pv.spec, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: ['n2'] }] }] } } } }
  t.throws(() => claimDirectory('d', 'default', 'data', c, far, node), { message: /is not reachable from node "n1"$/ })
})
