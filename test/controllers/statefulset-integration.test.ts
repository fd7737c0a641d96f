// StatefulSets against a real apiserver + etcd, the controller manager and the scheduler, with fake
// kubelets (pods turn Running + Ready after 300 ms). kubectl 1.27 and 1.33 drive it: apply, get,
// rollout status|history|undo, scale, set image, and refused updates.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { ControllerRevision, CoreEvent, PersistentVolumeClaim, Pod, StatefulSet } from '../../src/api/types.js'
import { createInformer } from '../../src/client/informer.js'
import { R } from '../../src/controllers/informers.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { eventually, withCluster } from './fakecluster.js'

const exec = promisify(execFile)

const MANIFEST = (image: string): string => `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers:
      - name: nginx
        image: ${image}
        volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`

t.test('StatefulSets with fake nodes and real kubectl', { skip: need('kubectl 1.27', 'kubectl 1.33') }, async (t) => {
  const { api, client, kubelet } = await withCluster(t)
  await kubelet.addNode('node1', { readyDelayMs: 300 })
  await kubelet.addNode('node2')
  // A default WaitForFirstConsumer class, as the server's local-path add-on provides: the claims
  // the StatefulSet makes then let their pods schedule (nothing provisions them here; the fake
  // kubelets do not mount volumes; test/e2e/statefulset.test.ts runs with real claims).
  await client.resource(R.storageclasses).create({
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'netkube.io/local-path',
    volumeBindingMode: 'WaitForFirstConsumer',
  } as never)
  const kubectl = async (v: string, args: string[], input?: string): Promise<string> => {
    const p = exec(kubectlPath(v), ['--kubeconfig', api.kubeconfigPath, ...args], { timeout: 90_000 })
    if (input !== undefined) p.child.stdin!.end(input)
    return (await p).stdout
  }
  const kubectlErr = async (v: string, args: string[], input?: string): Promise<string> => {
    try {
      await kubectl(v, args, input)
    } catch (err) {
      return (err as { stderr: string }).stderr
    }
    throw new Error(`kubectl ${args.join(' ')} succeeded`)
  }
  const sets = client.resource<StatefulSet>(R.statefulsets, 'default')
  const pods = client.resource<Pod>(R.pods, 'default')

  // Watch-observed order: when each pod first appears and when it first turns ready.
  const order: string[] = []
  const watch = createInformer(client.resource<Pod>(R.pods, 'default'), { name: 'order' })
  const note = (p: Pod): void => {
    const n = p.metadata.name!
    if (!order.includes(`+${n}`)) order.push(`+${n}`)
    if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !order.includes(`ready ${n}`)) order.push(`ready ${n}`)
  }
  watch.addEventHandler({ onAdd: note, onUpdate: (_o, p) => note(p) })
  await watch.start()
  t.teardown(() => watch.stop())

  await t.test('OrderedReady: 0 → 1 → 2, claims first, status and table', async (t) => {
    t.match(await kubectl('1.33', ['apply', '-f', '-'], MANIFEST('nginx:1')), /statefulset.apps\/web created/)
    t.match(await kubectl('1.27', ['rollout', 'status', 'sts/web', '--timeout=60s']), /partitioned roll out complete: 3 new pods have been updated/)
    t.same(order.filter((x) => x.includes('web-')), ['+web-0', 'ready web-0', '+web-1', 'ready web-1', '+web-2', 'ready web-2'], 'each pod only after the previous is ready')
    const claims = (await client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims, 'default').list()).items.map((c) => c.metadata.name).sort()
    t.same(claims, ['www-web-0', 'www-web-1', 'www-web-2'])
    const p1 = await pods.get('web-1')
    t.same([p1.spec.hostname, p1.spec.subdomain, p1.metadata.labels?.['apps.kubernetes.io/pod-index']], ['web-1', 'nginx', '1'])
    t.match(await kubectl('1.33', ['get', 'sts']), /^NAME\s+READY\s+AGE\s*\nweb\s+3\/3\s+\d+s\s*$/)
    t.match(await kubectl('1.27', ['get', 'sts', '-o', 'wide']), /web\s+3\/3\s+\d+s\s+nginx\s+nginx:1/)
    const s = await sets.get('web')
    t.equal(s.metadata.generation, 1, 'status writes do not bump generation')
    t.match(s.status, { replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3, observedGeneration: 1, collisionCount: 0 })
    t.equal(s.status!.currentRevision, s.status!.updateRevision)
    const ev = (await client.resource<CoreEvent>(R.events, 'default').list()).items.filter((e) => e.involvedObject?.name === 'web').map((e) => e.message)
    t.ok(ev.includes('create Pod web-0 in StatefulSet web successful'), JSON.stringify(ev))
    t.ok(ev.includes('create Claim www-web-0 Pod web-0 in StatefulSet web success'))
  })

  await t.test('set image rolls 2 → 1 → 0; history; undo rolls back to revision 1', async (t) => {
    order.length = 0
    await kubectl('1.33', ['set', 'image', 'sts/web', 'nginx=nginx:2'])
    t.match(await kubectl('1.33', ['rollout', 'status', 'sts/web', '--timeout=60s']), /partitioned roll out complete: 3 new pods have been updated/)
    t.same(order.filter((x) => x.startsWith('+')), ['+web-2', '+web-1', '+web-0'], 'recreated highest ordinal first')
    const c = (await sets.get('web')).spec.template.spec.containers[0]!
    t.same([c.image, c.volumeMounts], ['nginx:2', [{ name: 'www', mountPath: '/usr/share/nginx/html' }]], 'set image merged into the container (strategic merge by name)')
    const revs = (await client.resource<ControllerRevision>(R.controllerrevisions, 'default').list()).items
    t.same(revs.map((r) => r.revision).sort(), [1, 2])
    t.match(await kubectl('1.27', ['rollout', 'history', 'sts/web']), /REVISION\s+CHANGE-CAUSE\s*\n1\s+<none>\s*\n2\s+<none>/)
    t.match(await kubectl('1.33', ['rollout', 'history', 'sts/web', '--revision=1']), /Image:\s+nginx:1/)
    t.equal((await sets.get('web')).metadata.generation, 2)
    t.match(await kubectl('1.27', ['rollout', 'undo', 'sts/web']), /statefulset.apps\/web rolled back/)
    await kubectl('1.27', ['rollout', 'status', 'sts/web', '--timeout=60s'])
    await eventually('all pods at nginx:1', async () => (await pods.list({ labelSelector: 'app=nginx' })).items.every((p) => p.spec.containers[0]!.image === 'nginx:1' && !p.metadata.deletionTimestamp))
    const after = (await client.resource<ControllerRevision>(R.controllerrevisions, 'default').list()).items
    t.equal(after.length, 2, 'the old revision was reused, not copied')
    const s = await sets.get('web')
    const cur = after.find((r) => r.metadata.name === s.status!.updateRevision)!
    t.equal(cur.revision, 3, 'and re-numbered')
    t.equal(s.spec.template.spec.containers[0]!.image, 'nginx:1')
    t.match(await kubectl('1.33', ['rollout', 'history', 'sts/web']), /\n2\s+<none>\s*\n3\s+<none>/)
  })

  await t.test('scale to 1 removes web-2, then web-1; claims stay', async (t) => {
    const gone: string[] = []
    const w = createInformer(client.resource<Pod>(R.pods, 'default'), { name: 'gone' })
    w.addEventHandler({ onDelete: (p) => gone.push(p.metadata.name!), onUpdate: (o, p) => { if (p.metadata.deletionTimestamp && !o.metadata.deletionTimestamp) gone.push(`terminating ${p.metadata.name}`) } })
    await w.start()
    t.teardown(() => w.stop())
    t.match(await kubectl('1.33', ['scale', 'sts/web', '--replicas=1']), /statefulset.apps\/web scaled/)
    await eventually('one pod left', async () => (await pods.list({ labelSelector: 'app=nginx' })).items.length === 1, 30_000)
    t.same(gone, ['terminating web-2', 'web-2', 'terminating web-1', 'web-1'], 'web-1 went only after web-2 was gone')
    const claims = (await client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims, 'default').list()).items.map((c) => c.metadata.name).sort()
    t.same(claims, ['www-web-0', 'www-web-1', 'www-web-2'])
    await eventually('status.replicas 1', async () => (await sets.get('web')).status?.replicas === 1)
    t.match(await kubectl('1.27', ['get', 'sts', 'web']), /web\s+1\/1\s/)
  })

  await t.test('refused updates: 422 with upstream texts, nothing written', async (t) => {
    const before = await sets.get('web')
    const frozen = await kubectlErr('1.33', ['patch', 'sts', 'web', '--type=merge', '-p', '{"spec":{"serviceName":"other"}}'])
    t.match(frozen, `The StatefulSet "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`)
    const sel = await kubectlErr('1.27', ['patch', 'sts', 'web', '--type=merge', '-p', '{"spec":{"template":{"metadata":{"labels":{"app":"x"}}}}}'])
    t.match(sel, 'spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`')
    const neg = await kubectlErr('1.33', ['patch', 'sts', 'web', '--type=merge', '-p', '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":-1}}}}'])
    t.match(neg, 'spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0')
    const after = await sets.get('web')
    t.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'nothing half-written')
    const bad = await kubectlErr('1.27', ['apply', '-f', '-'], MANIFEST('nginx:1').replace('name: web}', 'name: bad}').replace('{app: nginx}}\n  template', '{}}\n  template'))
    t.match(bad, 'The StatefulSet "bad" is invalid: spec.selector: Invalid value: {"matchLabels":{}}: empty selector is invalid for statefulset')
  })

  await t.test('delete cascades to pods; Retain keeps the claims', async (t) => {
    await kubectl('1.33', ['delete', 'sts', 'web', '--wait=false'])
    await eventually('pods gone', async () => (await pods.list({ labelSelector: 'app=nginx' })).items.length === 0, 30_000)
    await eventually('revisions gone', async () => (await client.resource<ControllerRevision>(R.controllerrevisions, 'default').list()).items.length === 0, 30_000)
    t.equal((await client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims, 'default').list()).items.length, 3)
  })
})
