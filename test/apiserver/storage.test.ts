// PersistentVolume, PersistentVolumeClaim and StorageClass through the apiserver (inject, real
// etcd): defaults, validation with upstream's paths and texts, the claim's immutability and
// resize rules, DefaultStorageClass and the protection finalizers, kubectl's Table columns.
import t from 'tap'
import { withApiServer } from '../helpers/apiserver.js'
import { inj } from './util.js'

const PVC = '/api/v1/namespaces/default/persistentvolumeclaims'
const PV = '/api/v1/persistentvolumes'
const SC = '/apis/storage.k8s.io/v1/storageclasses'
const MERGE = { contentType: 'application/merge-patch+json' }
const TABLE = { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' }

const pvc = (name: string, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, ...meta },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
})
const pv = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name },
  spec: { accessModes: ['ReadWriteOnce'], capacity: { storage: '2Gi' }, hostPath: { path: `/tmp/${name}` }, ...spec },
})
const sc = (name: string, extra: Record<string, unknown> = {}, annotations?: Record<string, string>) => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  provisioner: 'example.com/fast',
  ...extra,
})

t.test('storage API', async (t) => {
  const srv = await withApiServer(t)

  t.test('discovery lists pv, pvc and sc with their short names', async (t) => {
    const core = await inj(srv, 'GET', '/api/v1')
    const byName = new Map((core.body.resources as { name: string; shortNames?: string[]; namespaced: boolean }[]).map((r) => [r.name, r]))
    t.same(byName.get('persistentvolumes')?.shortNames, ['pv'])
    t.equal(byName.get('persistentvolumes')?.namespaced, false)
    t.same(byName.get('persistentvolumeclaims')?.shortNames, ['pvc'])
    t.ok(byName.has('persistentvolumeclaims/status'))
    const st = await inj(srv, 'GET', '/apis/storage.k8s.io/v1')
    t.same(st.body.resources.find((r: { name: string }) => r.name === 'storageclasses')?.shortNames, ['sc'])
  })

  t.test('StorageClass defaults, validation and immutability', async (t) => {
    const r = await inj(srv, 'POST', SC, sc('fast'))
    t.equal(r.status, 201, r.text)
    t.equal(r.body.reclaimPolicy, 'Delete')
    t.equal(r.body.volumeBindingMode, 'Immediate')
    const bad = await inj(srv, 'POST', SC, sc('bad', { provisioner: '', reclaimPolicy: 'Recycle', volumeBindingMode: 'Later' }))
    t.equal(bad.status, 422)
    t.equal(
      bad.body.message,
      'StorageClass.storage.k8s.io "bad" is invalid: [provisioner: Required value, reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain", volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"]',
    )
    const up = await inj(srv, 'PATCH', `${SC}/fast`, { provisioner: 'other.io/x', reclaimPolicy: 'Retain' }, MERGE)
    t.equal(up.status, 422)
    t.equal(up.body.message, 'StorageClass.storage.k8s.io "fast" is invalid: [provisioner: Forbidden: updates to provisioner are forbidden., reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.]')
  })

  t.test('claim validation: accessModes and the storage request are required', async (t) => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['no access modes', { accessModes: [] }, 'spec.accessModes: Required value: at least 1 access mode is required'],
      ['bad access mode', { accessModes: ['ReadWriteSometimes'] }, 'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'],
      ['RWOP with others', { accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'] }, 'spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes'],
      ['no storage request', { resources: {} }, 'spec.resources[storage]: Required value'],
      ['zero storage', { resources: { requests: { storage: '0' } } }, 'spec.resources[storage]: Invalid value: "0": must be greater than zero'],
      ['bad class name', { storageClassName: 'Fast_One' }, 'spec.storageClassName: Invalid value: "Fast_One": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character (e.g. \'example.com\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\')'],
    ]
    for (const [what, spec, msg] of cases) {
      const r = await inj(srv, 'POST', PVC, pvc('bad', spec))
      t.equal(r.status, 422, what)
      t.equal(r.body.message, `PersistentVolumeClaim "bad" is invalid: ${msg}`, what)
    }
    t.equal((await inj(srv, 'GET', `${PVC}/bad`)).status, 404, 'nothing written')
  })

  t.test('volume validation', async (t) => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['no source', { hostPath: undefined }, 'spec: Required value: must specify a volume type'],
      ['two sources', { local: { path: '/x' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }] } } }, 'spec.local: Forbidden: may not specify more than 1 volume type'],
      ['no capacity', { capacity: undefined }, 'spec.capacity: Required value'],
      ['bad reclaim', { persistentVolumeReclaimPolicy: 'Keep' }, 'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"'],
      ['local without affinity', { hostPath: undefined, local: { path: '/d' } }, 'spec.nodeAffinity: Required value: Local volume requires node affinity'],
    ]
    for (const [what, spec, msg] of cases) {
      const r = await inj(srv, 'POST', PV, pv('bad', spec))
      t.equal(r.status, 422, what)
      t.equal(r.body.message, `PersistentVolume "bad" is invalid: ${msg}`, what)
    }
    const ok = await inj(srv, 'POST', PV, pv('pv1'))
    t.equal(ok.status, 201, ok.text)
    t.equal(ok.body.spec.persistentVolumeReclaimPolicy, 'Retain', 'static volumes default to Retain')
    t.equal(ok.body.spec.volumeMode, 'Filesystem')
    t.equal(ok.body.status.phase, 'Pending')
    t.same(ok.body.metadata.finalizers, ['kubernetes.io/pv-protection'], 'StorageObjectInUseProtection')
    const src = await inj(srv, 'PATCH', `${PV}/pv1`, { spec: { hostPath: { path: '/elsewhere' } } }, MERGE)
    t.equal(src.status, 422)
    t.equal(src.body.message, 'PersistentVolume "pv1" is invalid: spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation')
  })

  t.test('DefaultStorageClass: a claim without a class gets the newest default; an explicit "" stays classless', async (t) => {
    const none = await inj(srv, 'POST', PVC, pvc('before-default'))
    t.equal(none.status, 201, none.text)
    t.equal(none.body.spec.storageClassName, undefined, 'no default yet: left nil')
    t.same(none.body.metadata.finalizers, ['kubernetes.io/pvc-protection'])
    t.equal(none.body.status.phase, 'Pending')
    t.equal(none.body.spec.volumeMode, 'Filesystem')
    await inj(srv, 'POST', SC, sc('old-default', {}, { 'storageclass.kubernetes.io/is-default-class': 'true' }))
    await new Promise((r) => setTimeout(r, 1100)) // creationTimestamp has second resolution
    await inj(srv, 'POST', SC, sc('new-default', {}, { 'storageclass.beta.kubernetes.io/is-default-class': 'true' }))
    const got = await inj(srv, 'POST', PVC, pvc('c1'))
    t.equal(got.body.spec.storageClassName, 'new-default')
    const empty = await inj(srv, 'POST', PVC, pvc('c2', { storageClassName: '' }))
    t.equal(empty.body.spec.storageClassName, '', 'an explicit empty class means "no class"')
    const table = await inj(srv, 'GET', SC, undefined, TABLE)
    const names = table.body.rows.map((r: { cells: unknown[] }) => r.cells[0])
    t.ok(names.includes('new-default (default)') && names.includes('old-default (default)') && names.includes('fast'), names.join(','))
    t.same(table.body.columnDefinitions.map((c: { name: string }) => c.name), ['Name', 'Provisioner', 'ReclaimPolicy', 'VolumeBindingMode', 'AllowVolumeExpansion', 'Age'])
    const fast = table.body.rows.find((r: { cells: unknown[] }) => r.cells[0] === 'fast')
    t.same(fast.cells.slice(0, 5), ['fast', 'example.com/fast', 'Delete', 'Immediate', false])
  })

  t.test('claim spec is immutable; a bound claim may grow only when its class allows expansion, never shrink', async (t) => {
    const mod = await inj(srv, 'PATCH', `${PVC}/c1`, { spec: { accessModes: ['ReadWriteMany'] } }, MERGE)
    t.equal(mod.status, 422)
    t.equal(mod.body.message, 'PersistentVolumeClaim "c1" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims')
    const growPending = await inj(srv, 'PATCH', `${PVC}/c1`, { spec: { resources: { requests: { storage: '2Gi' } } } }, MERGE)
    t.equal(growPending.status, 422, 'an unbound claim cannot change its request')
    // Bind it by hand (what the PV controller does): volumeName once, then the status.
    t.equal((await inj(srv, 'PATCH', `${PVC}/c1`, { spec: { volumeName: 'pv1' } }, MERGE)).status, 200, 'volumeName may be set once')
    const st = await inj(srv, 'PATCH', `${PVC}/c1/status`, { status: { phase: 'Bound', capacity: { storage: '2Gi' }, accessModes: ['ReadWriteOnce'] } }, MERGE)
    t.equal(st.status, 200, st.text)
    t.equal((await inj(srv, 'PATCH', `${PVC}/c1`, { spec: { volumeName: 'other' } }, MERGE)).status, 422, 'but not moved')
    const grow = await inj(srv, 'PATCH', `${PVC}/c1`, { spec: { resources: { requests: { storage: '3Gi' } } } }, MERGE)
    t.equal(grow.status, 403)
    t.equal(grow.body.reason, 'Forbidden')
    t.equal(grow.body.message, 'persistentvolumeclaims "c1" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize')
    const shrink = await inj(srv, 'PATCH', `${PVC}/c1`, { spec: { resources: { requests: { storage: '500Mi' } } } }, MERGE)
    t.equal(shrink.status, 422)
    t.equal(shrink.body.message, 'PersistentVolumeClaim "c1" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity')
    // A class that allows expansion lets the bound claim grow.
    await inj(srv, 'POST', SC, sc('growable', { allowVolumeExpansion: true }))
    await inj(srv, 'POST', PVC, pvc('g1', { storageClassName: 'growable', volumeName: 'pvx' }))
    await inj(srv, 'PATCH', `${PVC}/g1/status`, { status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] } }, MERGE)
    const ok = await inj(srv, 'PATCH', `${PVC}/g1`, { spec: { resources: { requests: { storage: '5Gi' } } } }, MERGE)
    t.equal(ok.status, 200, ok.text)
    t.equal(ok.body.spec.resources.requests.storage, '5Gi')
  })

  t.test('kubectl Tables: pv and pvc columns and cells', async (t) => {
    await inj(srv, 'PATCH', `${PV}/pv1`, { spec: { claimRef: { namespace: 'default', name: 'c1' }, storageClassName: 'fast' } }, MERGE)
    await inj(srv, 'PATCH', `${PV}/pv1/status`, { status: { phase: 'Bound' } }, MERGE)
    const pvs = await inj(srv, 'GET', PV, undefined, TABLE)
    t.same(pvs.body.columnDefinitions.map((c: { name: string; priority: number }) => `${c.name}/${c.priority}`), [
      'Name/0', 'Capacity/0', 'Access Modes/0', 'Reclaim Policy/0', 'Status/0', 'Claim/0', 'StorageClass/0', 'VolumeAttributesClass/0', 'Reason/0', 'Age/0', 'VolumeMode/1',
    ])
    t.same(pvs.body.rows[0].cells.slice(0, 9), ['pv1', '2Gi', 'RWO', 'Retain', 'Bound', 'default/c1', 'fast', '<unset>', ''])
    const pvcs = await inj(srv, 'GET', PVC, undefined, TABLE)
    t.same(pvcs.body.columnDefinitions.map((c: { name: string }) => c.name), ['Name', 'Status', 'Volume', 'Capacity', 'Access Modes', 'StorageClass', 'VolumeAttributesClass', 'Age', 'VolumeMode'])
    const row = (n: string) => pvcs.body.rows.find((r: { cells: unknown[] }) => r.cells[0] === n).cells
    t.same(row('c1').slice(0, 7), ['c1', 'Bound', 'pv1', '2Gi', 'RWO', 'new-default', '<unset>'])
    t.same(row('before-default').slice(0, 7), ['before-default', 'Pending', '', '', '', '', '<unset>'])
  })

  t.test('deleting a protected claim leaves it Terminating until the finalizer goes', async (t) => {
    const d = await inj(srv, 'DELETE', `${PVC}/c2`)
    t.equal(d.status, 202, 'accepted, not yet gone')
    t.ok(d.body.metadata.deletionTimestamp)
    const pvcs = await inj(srv, 'GET', PVC, undefined, TABLE)
    t.equal(pvcs.body.rows.find((r: { cells: unknown[] }) => r.cells[0] === 'c2').cells[1], 'Terminating')
    const gone = await inj(srv, 'PATCH', `${PVC}/c2`, { metadata: { finalizers: null } }, MERGE)
    t.equal(gone.status, 200)
    t.equal((await inj(srv, 'GET', `${PVC}/c2`)).status, 404)
  })
})
