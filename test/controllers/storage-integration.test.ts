// Storage against a real apiserver: the PV controller, the scheduler and two nodes' local-path
// provisioners (the real ones, on temp directories), with fake kubelets. A claim created by
// anyone (here with an ownerReference, as a StatefulSet's would be) binds once its first pod is
// scheduled; the pod's node and only that node provisions; the claim's later pods follow the
// volume; deleting the claim reclaims directory and volume.
import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../../src/api/types.js'
import { R } from '../../src/controllers/informers.js'
import { isNotFound } from '../../src/client/errors.js'
import { startLocalPathProvisioner } from '../../src/localpath/provisioner.js'
import { localPathStorageClass } from '../../src/server/addons.js'
import { eventually, withCluster } from './fakecluster.js'

const pod = (name: string, claim: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] },
})

t.test('claims bind through the scheduler and the node provisioners', async (t) => {
  const c = await withCluster(t)
  const root = mkdtempSync(join(tmpdir(), 'netkube-storage-int-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  await c.client.resource<StorageClass>(R.storageclasses).create(localPathStorageClass())
  const provisioners = await Promise.all(['n1', 'n2'].map((n) => startLocalPathProvisioner({ client: c.client, nodeName: n, volumesDir: join(root, n) })))
  t.teardown(() => Promise.all(provisioners.map((p) => p.stop())))
  await c.kubelet.addNode('n1')
  await c.kubelet.addNode('n2')
  const claims = c.client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims, 'default')
  const pvs = c.client.resource<PersistentVolume>(R.persistentvolumes)
  const pods = c.client.resource<Pod>(R.pods, 'default')

  // As a StatefulSet controller would create it: no class named. (No owner reference: the garbage
  // collector would delete a claim whose StatefulSet does not exist; test/e2e/statefulset.test.ts
  // covers claims a real StatefulSet owns.)
  await claims.create({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data-web-0', namespace: 'default', labels: { app: 'web' } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  })
  await new Promise((r) => setTimeout(r, 500))
  t.equal((await claims.get('data-web-0')).status?.phase, 'Pending', 'WaitForFirstConsumer: nothing happens without a pod')
  t.equal((await pvs.list()).items.length, 0)

  const t0 = Date.now()
  await pods.create(pod('web-0', 'data-web-0'))
  const bound = await eventually('claim bound', async () => {
    const cl = await claims.get('data-web-0')
    return cl.status?.phase === 'Bound' ? cl : undefined
  }, 30_000, 20)
  t.comment(`pod created → claim Bound in ${Date.now() - t0} ms (scheduler, binder, node provisioner; one run, noisy)`)
  const node = (await pods.get('web-0')).spec.nodeName!
  t.equal(bound.metadata.annotations?.['volume.kubernetes.io/selected-node'], node)
  t.equal(bound.spec.storageClassName, 'local-path')
  const pv = await pvs.get(bound.spec.volumeName!)
  t.equal(pv.spec.hostPath?.path, join(root, node, pv.metadata.name!), 'the directory is on the pod\'s node')
  t.ok(existsSync(pv.spec.hostPath!.path))
  t.notOk(existsSync(join(root, node === 'n1' ? 'n2' : 'n1', pv.metadata.name!)), 'and only there')
  t.equal(pv.status?.phase, 'Bound')

  // The next pod of the claim follows the volume to its node.
  await pods.delete('web-0', { gracePeriodSeconds: 0 })
  await eventually('web-0 gone', async () => (await pods.list()).items.length === 0)
  for (let k = 0; k < 4; k++) {
    await pods.create(pod(`again-${k}`, 'data-web-0'))
    const p = await eventually('scheduled', async () => (await pods.get(`again-${k}`)).spec.nodeName)
    t.equal(p, node, `again-${k} on the volume's node`)
  }
  for (let k = 0; k < 4; k++) await pods.delete(`again-${k}`, { gracePeriodSeconds: 0 })

  // Claim deleted (once no pod uses it) → Released → the node removes directory and volume.
  await eventually('pods gone', async () => (await pods.list()).items.length === 0)
  await claims.delete('data-web-0')
  await eventually('volume reclaimed', async () => {
    try {
      await pvs.get(pv.metadata.name!)
      return false
    } catch (err) {
      return isNotFound(err)
    }
  }, 30_000)
  t.notOk(existsSync(pv.spec.hostPath!.path), 'directory removed')
})
