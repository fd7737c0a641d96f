// Issue 11 (PersistentVolumes, claims, the local-path class), end to end in a 2-node lab with
// real kubelets and real kubectl 1.27 and 1.33: a claim waits for its first consumer, the
// scheduler picks the node, that node's agent makes the directory and the volume, the pod
// writes a file; a new pod on the same claim lands on the same node and reads it back (through a
// readOnly mount that refuses writes); a claim in use is kept (Terminating) until its pod is
// gone; deleting the claim removes the volume and its directory.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../../src/api/types.js'
import { need } from '../helpers/prereq.js'
import { withLab, waitUntil, res, kubectlAt } from '../helpers/lab.js'

const claim = (name: string) => `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
`
const podUsing = (name: string, claimName: string, mountPath: string, script: string, readOnly = false) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", ${JSON.stringify(script)}]
    volumeMounts:
    - {name: data, mountPath: ${mountPath}${readOnly ? ', readOnly: true' : ''}}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: ${claimName}}
`

t.test('PersistentVolumes and the local-path class in a lab', { skip: need('kubectl 1.27', 'kubectl 1.33', 'build') }, async (t) => {
  // The mount point is a directory on this machine (the runtime bind-mounts in a private mount namespace).
  const mnt = mkdtempSync(join(tmpdir(), 'netkube-e2e-pvc-'))
  t.teardown(() => rmSync(mnt, { recursive: true, force: true }))
  const lab = await withLab(t, { nodes: 2, serverFlags: ['--no-dns'], agentFlags: ['--backoff-initial', '1s'] })
  const kc = kubectlAt(lab)
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  const pvcs = lab.client.resource<PersistentVolumeClaim>(res('persistentvolumeclaims'), 'default')
  const pvs = lab.client.resource<PersistentVolume>(res('persistentvolumes'))

  await t.test('the local-path class is installed as the default', async (t) => {
    await waitUntil('local-path class', async () => (await lab.kubectl(['get', 'sc', 'local-path'])).code === 0, 30_000)
    for (const v of ['1.27', '1.33'] as const)
      t.match(await kc(v, ['get', 'sc']), /^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE\nlocal-path \(default\)\s+netkube\.io\/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s+\d+s\n$/, `kubectl ${v}`)
  })

  let node = ''
  let dir = ''
  let pvName = ''
  await t.test('a claim waits for its first consumer, then is provisioned on the pod\'s node', async (t) => {
    t.match(await kc('1.33', ['apply', '-f', '-'], claim('data')), /persistentvolumeclaim\/data created/)
    const c0 = await pvcs.get('data')
    t.equal(c0.spec.storageClassName, 'local-path', 'DefaultStorageClass filled the class in')
    t.same(c0.metadata.finalizers, ['kubernetes.io/pvc-protection'])
    await waitUntil('WaitForFirstConsumer event', async () => /WaitForFirstConsumer\s+persistentvolumeclaim\/data\s+waiting for first consumer to be created before binding/.test(await kc('1.33', ['get', 'events'])), 30_000)
    t.match(await kc('1.27', ['get', 'pvc', 'data']), /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE\ndata\s+Pending\s+local-path\s+<unset>\s+\d+s\n$/)

    const t0 = Date.now()
    await kc('1.33', ['apply', '-f', '-'], podUsing('writer', 'data', `${mnt}/w`, `echo "written by $HOSTNAME" > ${mnt}/w/file && echo wrote && sleep 3600`))
    await waitUntil('claim bound', async () => (await pvcs.get('data')).status?.phase === 'Bound', 90_000, 50)
    const bound = Date.now() - t0
    await waitUntil('writer wrote', async () => /wrote/.test((await lab.kubectl(['logs', 'writer'])).stdout), 90_000)
    t.comment(`first consumer created → claim Bound ${bound} ms, → data written ${Date.now() - t0} ms (one run, noisy)`)
    const w = await pods.get('writer')
    node = w.spec.nodeName!
    const c = await pvcs.get('data')
    t.equal(c.metadata.annotations?.['volume.kubernetes.io/selected-node'], node, 'the scheduler wrote the chosen node on the claim')
    t.equal(c.status?.phase, 'Bound')
    pvName = c.spec.volumeName!
    t.equal(pvName, `pvc-${c.metadata.uid}`)
    const pv = await pvs.get(pvName)
    t.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], 'netkube.io/local-path')
    t.same(pv.spec.nodeAffinity?.required?.nodeSelectorTerms, [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }])
    dir = pv.spec.hostPath!.path
    t.match(dir, new RegExp(`/volumes/${pvName}$`))
    t.equal(readFileSync(join(dir, 'file'), 'utf8'), 'written by writer\n', 'the file is in the volume directory on the node')
    const events = await kc('1.33', ['get', 'events', '--field-selector', 'involvedObject.name=data'])
    t.match(events, /Normal\s+ExternalProvisioning\s+persistentvolumeclaim\/data\s+Waiting for a volume to be created either by the external provisioner 'netkube\.io\/local-path'/)
    t.match(events, /Normal\s+ProvisioningSucceeded\s+persistentvolumeclaim\/data\s+Successfully provisioned volume pvc-/)
  })

  await t.test('kubectl get pv,pvc,sc shows upstream\'s columns (1.27 and 1.33)', async (t) => {
    for (const v of ['1.27', '1.33'] as const) {
      const out = await kc(v, ['get', 'pv,pvc,sc'])
      t.match(out, new RegExp(`NAME\\s+CAPACITY\\s+ACCESS MODES\\s+RECLAIM POLICY\\s+STATUS\\s+CLAIM\\s+STORAGECLASS\\s+VOLUMEATTRIBUTESCLASS\\s+REASON\\s+AGE\\npersistentvolume/${pvName}\\s+64Mi\\s+RWO\\s+Delete\\s+Bound\\s+default/data\\s+local-path\\s+<unset>\\s+\\d+s\\n`), `pv, kubectl ${v}`)
      t.match(out, new RegExp(`NAME\\s+STATUS\\s+VOLUME\\s+CAPACITY\\s+ACCESS MODES\\s+STORAGECLASS\\s+VOLUMEATTRIBUTESCLASS\\s+AGE\\npersistentvolumeclaim/data\\s+Bound\\s+${pvName}\\s+64Mi\\s+RWO\\s+local-path\\s+<unset>\\s+\\d+s\\n`), `pvc, kubectl ${v}`)
      t.match(out, /storageclass\.storage\.k8s\.io\/local-path \(default\)\s+netkube\.io\/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s+/, `sc, kubectl ${v}`)
    }
  })

  await t.test('a new pod on the same claim runs on the same node and reads the data; readOnly refuses writes', async (t) => {
    await kc('1.33', ['delete', 'pod', 'writer', '--grace-period=1'])
    await waitUntil('writer gone', async () => (await pods.list()).items.every((p) => p.metadata.name !== 'writer'), 30_000)
    await kc('1.27', ['apply', '-f', '-'], podUsing('reader', 'data', `${mnt}/r`, `cat ${mnt}/r/file; (echo x > ${mnt}/r/other) 2>/dev/null && echo rw || echo read-only; sleep 3600`, true))
    await waitUntil('reader read', async () => /only|rw/.test((await lab.kubectl(['logs', 'reader'])).stdout), 90_000)
    t.equal((await pods.get('reader')).spec.nodeName, node, 'the volume\'s node affinity held the pod to its node')
    t.equal((await lab.kubectl(['logs', 'reader'])).stdout, 'written by writer\nread-only\n')
    t.notOk(existsSync(join(dir, 'other')))
  })

  await t.test('a claim in use stays (Terminating) until its pod is gone; then the volume and its directory go', async (t) => {
    await kc('1.33', ['delete', 'pvc', 'data', '--wait=false'])
    await new Promise((r) => setTimeout(r, 3000))
    t.match(await kc('1.33', ['get', 'pvc', 'data']), /data\s+Terminating\s+pvc-/, 'kept while the reader uses it')
    t.ok(existsSync(join(dir, 'file')), 'data still there')
    await kc('1.33', ['delete', 'pod', 'reader', '--grace-period=1'])
    const t0 = Date.now()
    await waitUntil('directory gone', async () => !existsSync(dir), 60_000, 50)
    t.comment(`pod deleted → volume directory removed ${Date.now() - t0} ms (one run, noisy; includes the pod's termination)`)
    await waitUntil('claim gone', async () => (await lab.kubectl(['get', 'pvc', 'data'])).code !== 0, 60_000)
    await waitUntil('volume gone', async () => (await lab.kubectl(['get', 'pv', pvName])).code !== 0, 60_000)
    t.notOk(existsSync(dir), 'reclaimPolicy Delete removed the directory')
  })

  await t.test('a pod whose claim does not exist is not scheduled; with an unbound Immediate claim neither; a pod placed by hand waits (FailedMount)', async (t) => {
    await kc('1.33', ['apply', '-f', '-'], podUsing('orphan', 'nope', `${mnt}/o`, 'sleep 3600'))
    await waitUntil('FailedScheduling', async () => /persistentvolumeclaim "nope" not found/.test(await kc('1.33', ['get', 'events', '--field-selector', 'involvedObject.name=orphan'])), 30_000)
    await kc('1.33', ['apply', '-f', '-'], `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: manual}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
${claim('manual-claim').replace('accessModes', 'storageClassName: manual\n  accessModes')}`)
    await kc('1.33', ['apply', '-f', '-'], podUsing('waiter', 'manual-claim', `${mnt}/m`, 'cat /dev/null; sleep 3600'))
    await waitUntil('unbound immediate', async () => /0\/2 nodes are available: pod has unbound immediate PersistentVolumeClaims\./.test(await kc('1.33', ['get', 'events', '--field-selector', 'involvedObject.name=waiter'])), 30_000)
    // A pod placed by hand (no scheduler) on the unbound claim: the kubelet waits with FailedMount.
    const direct = podUsing('direct', 'manual-claim', `${mnt}/dm`, 'echo mounted; sleep 3600').replace('spec:\n  terminationGracePeriodSeconds: 1', `spec:\n  nodeName: ${node}\n  terminationGracePeriodSeconds: 1`)
    await kc('1.33', ['apply', '-f', '-'], direct)
    await waitUntil('FailedMount', async () =>
      /Warning\s+FailedMount\s+pod\/direct\s+Unable to attach or mount volumes: unmounted volumes=\[data\], failed to process volumes=\[data\]: error processing PVC default\/manual-claim: PVC is not bound/.test(
        await kc('1.33', ['get', 'events', '--field-selector', 'involvedObject.name=direct']),
      ), 30_000)
    t.match(await kc('1.33', ['get', 'pod', 'direct']), /direct\s+0\/1\s+ContainerCreating\s/)
    // A matching static volume appears: the claim binds and the pod runs.
    const pvDir = mkdtempSync(join(tmpdir(), 'netkube-e2e-pv-'))
    t.teardown(() => rmSync(pvDir, { recursive: true, force: true }))
    await kc('1.27', ['apply', '-f', '-'], `
apiVersion: v1
kind: PersistentVolume
metadata: {name: static-1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: ${pvDir}}
`)
    await waitUntil('waiter running', async () => (await pods.get('waiter')).status?.phase === 'Running', 90_000)
    await waitUntil('direct mounted once bound', async () => /mounted/.test((await lab.kubectl(['logs', 'direct'])).stdout), 60_000)
    t.match(await kc('1.33', ['get', 'pvc', 'manual-claim']), /manual-claim\s+Bound\s+static-1\s+1Gi\s+RWO\s+manual\s+/)
    await kc('1.33', ['delete', 'pod', 'waiter', 'orphan', 'direct', '--grace-period=1'])
    await kc('1.33', ['delete', 'pvc', 'manual-claim'])
    await waitUntil('static volume Released (Retain keeps it)', async () => /static-1\s+1Gi\s+RWO\s+Retain\s+Released\s+default\/manual-claim\s+manual\s/.test(await kc('1.33', ['get', 'pv', 'static-1'])), 60_000)
    t.ok(existsSync(pvDir), 'a Retain volume keeps its data')
  })
})
