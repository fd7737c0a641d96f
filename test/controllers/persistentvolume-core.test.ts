// The PV controller core as tables: claim in, writes and events out (no apiserver).
import t from 'tap'
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../src/api/types.js'
import { syncClaim, syncVolume, type BinderView } from '../../src/controllers/persistentvolume-core.js'

const claim = (name: string, spec: Partial<PersistentVolumeClaim['spec']> = {}, meta: Partial<PersistentVolumeClaim['metadata']> = {}, status: PersistentVolumeClaim['status'] = { phase: 'Pending' }): PersistentVolumeClaim => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '7', ...meta },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'manual', ...spec },
  status,
})
const volume = (name: string, size: string, spec: Partial<PersistentVolume['spec']> = {}, meta: Partial<PersistentVolume['metadata']> = {}, phase: NonNullable<PersistentVolume['status']>['phase'] = 'Available'): PersistentVolume => ({
  metadata: { name, resourceVersion: '3', ...meta },
  spec: { capacity: { storage: size }, accessModes: ['ReadWriteOnce'], storageClassName: 'manual', hostPath: { path: `/d/${name}` }, ...spec },
  status: { phase },
})
const onNode = (n: string) => ({ required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In' as const, values: [n] }] }] } })
const node = (name: string): Node => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } } })
const sc = (name: string, o: Partial<StorageClass> = {}, def = false): StorageClass => ({
  metadata: { name, ...(def ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } : {}) },
  provisioner: 'kubernetes.io/no-provisioner',
  volumeBindingMode: 'Immediate',
  ...o,
})

function view(o: { claims?: PersistentVolumeClaim[]; volumes?: PersistentVolume[]; classes?: StorageClass[]; pods?: Pod[] } = {}): BinderView {
  const nodes = [node('n1'), node('n2')]
  return {
    claims: (ns, name) => o.claims?.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
    volumes: o.volumes ?? [],
    volume: (name) => o.volumes?.find((v) => v.metadata.name === name),
    classes: o.classes ?? [sc('manual'), sc('local-path', { provisioner: 'netkube.io/local-path', volumeBindingMode: 'WaitForFirstConsumer' }, true)],
    node: (name) => nodes.find((n) => n.metadata.name === name),
    pods: (ns) => (o.pods ?? []).filter((p) => p.metadata.namespace === ns),
  }
}

const summary = (r: ReturnType<typeof syncClaim>) => ({
  writes: r.writes.map((w) => `${w.target}${w.status ? '/status' : ''} ${JSON.stringify(w.patch)}`),
  events: r.events.map((e) => `${e.type} ${e.reason}: ${e.message}`),
})

t.test('claims', async (t) => {
  const cases: { name: string; claim: PersistentVolumeClaim; v: BinderView; writes: RegExp[]; events?: RegExp[] }[] = [
    {
      name: 'static: the smallest volume that fits is bound, volume first, then the claim',
      claim: claim('c'),
      v: view({ volumes: [volume('big', '10Gi'), volume('small', '500Mi'), volume('fit', '2Gi'), volume('other-class', '1Gi', { storageClassName: 'x' }), volume('rox', '1Gi', { accessModes: ['ReadOnlyMany'] })] }),
      writes: [
        /^volume \{"metadata":\{"resourceVersion":"3","annotations":\{"pv.kubernetes.io\/bound-by-controller":"yes"\}\},"spec":\{"claimRef":\{"kind":"PersistentVolumeClaim","namespace":"default","name":"c","uid":"uid-c","apiVersion":"v1","resourceVersion":"7"\}\}\}$/,
        /^volume\/status \{"status":\{"phase":"Bound"\}\}$/,
        /^claim \{"metadata":\{"annotations":\{"pv.kubernetes.io\/bind-completed":"yes","pv.kubernetes.io\/bound-by-controller":"yes"\}\},"spec":\{"volumeName":"fit"\}\}$/,
        /^claim\/status \{"status":\{"phase":"Bound","capacity":\{"storage":"2Gi"\},"accessModes":\["ReadWriteOnce"\]\}\}$/,
      ],
    },
    {
      name: 'selector: only labelled volumes',
      claim: claim('c', { selector: { matchLabels: { tier: 'db' } } }),
      v: view({ volumes: [volume('plain', '1Gi'), volume('db', '5Gi', {}, { labels: { tier: 'db' } })] }),
      writes: [/"spec":\{"claimRef"/, /Bound/, /"volumeName":"db"/, /Bound/],
    },
    {
      name: 'no class, nothing fits: FailedBinding',
      claim: claim('c', { storageClassName: '' }),
      v: view({ volumes: [volume('v', '1Gi')] }),
      writes: [],
      events: [/^Normal FailedBinding: no persistent volumes available for this claim and no storage class is set$/],
    },
    {
      name: 'WaitForFirstConsumer without a selected node waits',
      claim: claim('c', { storageClassName: 'local-path' }),
      v: view(),
      writes: [],
      events: [/^Normal WaitForFirstConsumer: waiting for first consumer to be created before binding$/],
    },
    {
      name: 'WaitForFirstConsumer with a node and no volume: external provisioning is asked for',
      claim: claim('c', { storageClassName: 'local-path' }, { annotations: { 'volume.kubernetes.io/selected-node': 'n1' } }),
      v: view(),
      writes: [/^claim \{"metadata":\{"annotations":\{"volume.kubernetes.io\/storage-provisioner":"netkube.io\/local-path","volume.beta.kubernetes.io\/storage-provisioner":"netkube.io\/local-path"\}\}\}$/],
      events: [/^Normal ExternalProvisioning: Waiting for a volume to be created either by the external provisioner 'netkube.io\/local-path' or manually by the system administrator\. If volume creation is delayed, please verify that the provisioner is running and correctly registered\.$/],
    },
    {
      name: 'WaitForFirstConsumer with a node: a static volume on that node, not one elsewhere',
      claim: claim('c', { storageClassName: 'wffc' }, { annotations: { 'volume.kubernetes.io/selected-node': 'n2' } }),
      v: view({ classes: [sc('wffc', { volumeBindingMode: 'WaitForFirstConsumer' })], volumes: [volume('on-n1', '1Gi', { storageClassName: 'wffc', nodeAffinity: onNode('n1') }), volume('on-n2', '5Gi', { storageClassName: 'wffc', nodeAffinity: onNode('n2') })] }),
      writes: [/claimRef/, /Bound/, /"volumeName":"on-n2"/, /Bound/],
    },
    {
      name: 'a provisioned volume pre-bound to the claim (uid) is taken whatever its size',
      claim: claim('c', { storageClassName: 'local-path' }, { annotations: { 'volume.kubernetes.io/selected-node': 'n1' } }),
      v: view({ volumes: [volume('pvc-uid-c', '1Gi', { storageClassName: 'local-path', claimRef: { namespace: 'default', name: 'c', uid: 'uid-c' } }, {}, 'Pending')] }),
      writes: [/^volume\/status \{"status":\{"phase":"Bound"\}\}$/, /^claim \{"metadata":\{"annotations":\{"pv.kubernetes.io\/bind-completed":"yes","pv.kubernetes.io\/bound-by-controller":"yes"\}\},"spec":\{"volumeName":"pvc-uid-c"\}\}$/, /^claim\/status .*"Bound"/],
    },
    {
      name: 'an admin pre-bound volume (claimRef by name, no uid) is taken, even if smaller ones fit',
      claim: claim('c'),
      v: view({ volumes: [volume('small', '1Gi'), volume('reserved', '9Gi', { claimRef: { namespace: 'default', name: 'c' } })] }),
      writes: [/^volume \{"metadata":\{"resourceVersion":"3"\},"spec":\{"claimRef":\{"kind":"PersistentVolumeClaim","namespace":"default","name":"c","uid":"uid-c"/, /Bound/, /"volumeName":"reserved"/, /Bound/],
    },
    {
      name: 'a claim naming its volume binds it (the volume gets the claimRef; the claim is not marked bound-by-controller)',
      claim: claim('c', { volumeName: 'v' }),
      v: view({ volumes: [volume('v', '1Gi')] }),
      writes: [/"annotations":\{"pv.kubernetes.io\/bound-by-controller":"yes"\}\},"spec":\{"claimRef"/, /Bound/, /^claim \{"metadata":\{"annotations":\{"pv.kubernetes.io\/bind-completed":"yes"\}\},"spec":\{"volumeName":"v"\}\}$/, /Bound/],
    },
    {
      name: 'a volume pre-bound to another claim uid is not taken (and a no-provisioner class makes none)',
      claim: claim('c'),
      v: view({ volumes: [volume('v', '1Gi', { claimRef: { namespace: 'default', name: 'c', uid: 'someone-else' } })] }),
      writes: [],
      events: [/^Warning ProvisioningFailed: no volume plugin matched name: kubernetes.io\/no-provisioner$/],
    },
    {
      name: 'bound claim, everything in place: nothing to do',
      claim: claim('c', { volumeName: 'v' }, { annotations: { 'pv.kubernetes.io/bind-completed': 'yes' } }, { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] }),
      v: view({ volumes: [volume('v', '1Gi', { claimRef: { namespace: 'default', name: 'c', uid: 'uid-c' } }, {}, 'Bound')] }),
      writes: [],
    },
    {
      name: 'bound claim whose volume is gone: Lost',
      claim: claim('c', { volumeName: 'v' }, {}, { phase: 'Bound' }),
      v: view(),
      writes: [/^claim\/status \{"status":\{"phase":"Lost"\}\}$/],
      events: [/^Warning ClaimLost: Bound claim has lost its PersistentVolume\. Data on the volume is lost!$/],
    },
    {
      name: 'bound claim whose volume went to another claim: Lost (misbound)',
      claim: claim('c', { volumeName: 'v' }, {}, { phase: 'Bound' }),
      v: view({ volumes: [volume('v', '1Gi', { claimRef: { namespace: 'default', name: 'd', uid: 'uid-d' } }, {}, 'Bound')] }),
      writes: [/Lost/],
      events: [/^Warning ClaimMisbound: Two claims are bound to the same volume, this one is bound incorrectly$/],
    },
    {
      name: 'a claim without a class gets the default retroactively',
      claim: claim('c', { storageClassName: undefined }),
      v: view(),
      writes: [/^claim \{"spec":\{"storageClassName":"local-path"\}\}$/],
    },
    {
      name: 'pvc-protection: a deleted claim used by a running pod keeps its finalizer',
      claim: claim('c', {}, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['kubernetes.io/pvc-protection'] }),
      v: view({ pods: [{ metadata: { name: 'p', namespace: 'default' }, spec: { containers: [], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'c' } }] }, status: { phase: 'Running' } }] }),
      writes: [],
    },
    {
      name: 'pvc-protection: once the pod has finished, the finalizer goes (conditional on the resourceVersion)',
      claim: claim('c', {}, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['kubernetes.io/pvc-protection', 'other'] }),
      v: view({ pods: [{ metadata: { name: 'p', namespace: 'default' }, spec: { containers: [], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'c' } }] }, status: { phase: 'Succeeded' } }] }),
      writes: [/^claim \{"metadata":\{"resourceVersion":"7","finalizers":\["other"\]\}\}$/],
    },
  ]
  for (const c of cases) {
    const got = summary(syncClaim(c.claim, c.v))
    t.equal(got.writes.length, c.writes.length, `${c.name}: ${got.writes.length} writes\n${got.writes.join('\n')}`)
    c.writes.forEach((re, i) => t.match(got.writes[i] ?? '', re, `${c.name}: write ${i}`))
    if (c.events) {
      t.equal(got.events.length, c.events.length, `${c.name}: events ${got.events.join(' | ')}`)
      c.events.forEach((re, i) => t.match(got.events[i] ?? '', re, `${c.name}: event ${i}`))
    }
  }
})

t.test('volumes', async (t) => {
  const ref = { namespace: 'default', name: 'c', uid: 'uid-c' }
  const cases: { name: string; pv: PersistentVolume; v: BinderView; writes: RegExp[]; events?: RegExp[] }[] = [
    { name: 'pre-bound by name to a claim not there yet: Available (for that claim)', pv: volume('v', '1Gi', { claimRef: { namespace: 'default', name: 'later' } }, {}, 'Pending'), v: view(), writes: [/Available/] },
    { name: 'new static volume becomes Available', pv: volume('v', '1Gi', {}, {}, 'Pending'), v: view(), writes: [/^volume\/status \{"status":\{"phase":"Available"\}\}$/] },
    {
      name: 'bound volume stays Bound',
      pv: volume('v', '1Gi', { claimRef: ref }, {}, 'Bound'),
      v: view({ claims: [claim('c', { volumeName: 'v' }, {}, { phase: 'Bound' })] }),
      writes: [],
    },
    { name: 'claim gone, Retain: Released, nothing deleted', pv: volume('v', '1Gi', { claimRef: ref, persistentVolumeReclaimPolicy: 'Retain' }, {}, 'Bound'), v: view(), writes: [/^volume\/status \{"status":\{"phase":"Released"\}\}$/], events: [] },
    {
      name: 'claim gone, Delete, provisioned externally: Released, left to the provisioner',
      pv: volume('v', '1Gi', { claimRef: ref, persistentVolumeReclaimPolicy: 'Delete' }, { annotations: { 'pv.kubernetes.io/provisioned-by': 'netkube.io/local-path' } }, 'Bound'),
      v: view(),
      writes: [/Released/],
      events: [],
    },
    {
      name: 'claim gone, Delete, static: no deleter',
      pv: volume('v', '1Gi', { claimRef: ref, persistentVolumeReclaimPolicy: 'Delete' }, {}, 'Bound'),
      v: view(),
      writes: [/Released/],
      events: [/^Warning VolumeFailedDelete: error getting deleter volume plugin for volume "v": no deletable volume plugin matched$/],
    },
    {
      name: 'a claim of the same name but another uid is not the owner: Released',
      pv: volume('v', '1Gi', { claimRef: ref }, {}, 'Bound'),
      v: view({ claims: [claim('c', {}, { uid: 'new-uid' })] }),
      writes: [/Released/],
    },
    {
      name: 'claim bound elsewhere: a controller-made binding is undone',
      pv: volume('v', '1Gi', { claimRef: ref }, { annotations: { 'pv.kubernetes.io/bound-by-controller': 'yes' } }, 'Bound'),
      v: view({ claims: [claim('c', { volumeName: 'w' }, {}, { phase: 'Bound' })] }),
      writes: [/^volume \{"metadata":\{"resourceVersion":"3","annotations":\{"pv.kubernetes.io\/bound-by-controller":null\}\},"spec":\{"claimRef":null\}\}$/],
    },
    {
      name: 'pv-protection: a Bound volume keeps its finalizer',
      pv: volume('v', '1Gi', { claimRef: ref }, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['kubernetes.io/pv-protection'] }, 'Bound'),
      v: view(),
      writes: [],
    },
    {
      name: 'pv-protection: a Released volume loses it',
      pv: volume('v', '1Gi', { claimRef: ref }, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['kubernetes.io/pv-protection'] }, 'Released'),
      v: view(),
      writes: [/^volume \{"metadata":\{"resourceVersion":"3","finalizers":\[\]\}\}$/],
    },
  ]
  for (const c of cases) {
    const got = summary(syncVolume(c.pv, c.v))
    t.equal(got.writes.length, c.writes.length, `${c.name}: ${got.writes.join('\n')}`)
    c.writes.forEach((re, i) => t.match(got.writes[i] ?? '', re, `${c.name}: write ${i}`))
    if (c.events) {
      t.equal(got.events.length, c.events.length, `${c.name}: events ${got.events.join(' | ')}`)
      c.events.forEach((re, i) => t.match(got.events[i] ?? '', re, `${c.name}: event ${i}`))
    }
  }
})
