// PersistentVolumes, claims and StorageClasses through real kubectl 1.27 and 1.33 against a
// real apiserver + etcd (no controllers: the binding is written as the PV controller writes it).
// What a user sees: apply, the default class filled in, refusals with upstream's wording
// (kubectl's "The X is invalid" / "Error from server (Forbidden)"), the wide columns,
// Terminating while protected.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withApiServer } from '../helpers/apiserver.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { createClient } from '../../src/client/index.js'
import { resourceFor } from '../../src/api/resources.js'
import type { PersistentVolume, PersistentVolumeClaim } from '../../src/api/types.js'
import { kubectlRunner } from '../helpers/kubectl.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

t.test('kubectl: pv, pvc, sc', async (t) => {
  const srv = await withApiServer(t)
  const client = createClient({ server: srv.url, token: srv.token, caPem: srv.caPem })
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-storage-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, text: string): string => {
    const p = join(dir, name)
    writeFileSync(p, text)
    return p
  }
  const sc = file('sc.yaml', `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: example.com/disk
volumeBindingMode: WaitForFirstConsumer
`)

  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `s-${c.name.replace(/\W/g, '')}`
      const { k, ok } = kubectlRunner(t, c.path, srv.kubeconfigPath)
      await ok('create', 'namespace', ns)
      t.match(await ok('apply', '-f', sc), /storageclass\.storage\.k8s\.io\/standard (created|unchanged)/)
      const pvc = file(`pvc-${ns}.yaml`, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: ${ns}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)
      t.match(await ok('apply', '-f', pvc), 'persistentvolumeclaim/data created')
      t.equal(await ok('get', 'pvc', 'data', '-n', ns, '-o', 'jsonpath={.spec.storageClassName}'), 'standard', 'the default class was filled in')
      t.match(await ok('apply', '-f', pvc), 'persistentvolumeclaim/data unchanged', 'a second apply changes nothing')

      const bad = await k('apply', '-f', file(`bad-${ns}.yaml`, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: bad, namespace: ${ns}}
spec:
  resources: {requests: {storage: 1Gi}}
`))
      t.not(bad.code, 0)
      t.match(bad.stderr, 'The PersistentVolumeClaim "bad" is invalid: spec.accessModes: Required value: at least 1 access mode is required')

      // Bound, as the PV controller leaves it.
      const pvName = `pv-${ns}`
      await client.resource<PersistentVolume>(resourceFor('persistentvolumes')).create({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: pvName },
        spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: 'standard', hostPath: { path: `/tmp/${pvName}` }, claimRef: { namespace: ns, name: 'data' } },
      })
      const claims = client.resource<PersistentVolumeClaim>(resourceFor('persistentvolumeclaims'), ns)
      await claims.patch('data', { spec: { volumeName: pvName } }, 'merge')
      await claims.patchStatus('data', { status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] } }, 'merge')
      t.match(await ok('get', 'pvc', '-n', ns, '-o', 'wide'), new RegExp(`^NAME\\s+STATUS\\s+VOLUME\\s+CAPACITY\\s+ACCESS MODES\\s+STORAGECLASS\\s+VOLUMEATTRIBUTESCLASS\\s+AGE\\s+VOLUMEMODE\\ndata\\s+Bound\\s+${pvName}\\s+1Gi\\s+RWO\\s+standard\\s+<unset>\\s+\\d+s\\s+Filesystem\\n$`))
      t.match(await ok('get', 'pv', pvName, '-o', 'wide'), new RegExp(`^NAME\\s+CAPACITY\\s+ACCESS MODES\\s+RECLAIM POLICY\\s+STATUS\\s+CLAIM\\s+STORAGECLASS\\s+VOLUMEATTRIBUTESCLASS\\s+REASON\\s+AGE\\s+VOLUMEMODE\\n${pvName}\\s+1Gi\\s+RWO\\s+Retain\\s+Pending\\s+${ns}/data\\s+standard\\s+<unset>\\s+\\d+s\\s+Filesystem\\n$`))

      const shrink = await k('patch', 'pvc', 'data', '-n', ns, '-p', '{"spec":{"resources":{"requests":{"storage":"500Mi"}}}}')
      t.not(shrink.code, 0)
      t.match(shrink.stderr, 'The PersistentVolumeClaim "data" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity')
      const grow = await k('patch', 'pvc', 'data', '-n', ns, '-p', '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}')
      t.not(grow.code, 0)
      t.match(grow.stderr, 'Error from server (Forbidden): persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize')
      const mode = await k('patch', 'pvc', 'data', '-n', ns, '-p', '{"spec":{"accessModes":["ReadWriteMany"]}}')
      t.match(mode.stderr, 'The PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims')

      // pvc-protection: with no controller to lift it, the claim stays Terminating.
      await ok('delete', 'pvc', 'data', '-n', ns, '--wait=false')
      t.match(await ok('get', 'pvc', 'data', '-n', ns), /data\s+Terminating\s+/)
      t.match(await ok('get', 'sc'), /^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE\nstandard \(default\)\s+example\.com\/disk\s+Delete\s+WaitForFirstConsumer\s+false\s+\d+s\n$/)
    })
  }
})
