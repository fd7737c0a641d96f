// Issue 11 (StatefulSet), end to end in a lab with real kubelets, the cluster DNS and real kubectl
// 1.27 and 1.33: 3 pods behind a headless Service appear 0 → 1 → 2 (each only after the previous
// is Ready, as the watch saw it), `web-1.nginx` resolves to web-1's IP from another pod, a deleted
// web-1 comes back under its name with its claim (and its data, once claims bind to volumes),
// scale to 1 removes web-2 then web-1, `rollout undo` restores the old template, and refused
// updates answer upstream's 422 texts.
import t from 'tap'
import type { PersistentVolumeClaim, Pod, StatefulSet } from '../../src/api/types.js'
import { execInNetns } from '../../src/net/netns.js'
import { run } from '../../src/util/exec.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { followPods, ready, res, waitUntil, withLab } from '../helpers/lab.js'

const MANIFESTS = (image: string): string => `
apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: web, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: w
        image: ${image}
        # The first pod of an ordinal writes its ordinal and a random tag into its claim;
        # every pod prints what the claim holds.
        command: ["sh", "-c", "[ -f /data/id ] || echo \\"ordinal=\${HOSTNAME##*-} tag=$RANDOM$RANDOM\\" > /data/id; cat /data/id; exec sleep 1000000"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: pause
`

t.test('StatefulSet in a lab', { skip: need('kubectl 1.27', 'kubectl 1.33', 'dig') }, async (t) => {
  const lab = await withLab(t, { nodes: 2, serverFlags: ['--dns-replicas', '1'] })
  const kc = async (v: '1.27' | '1.33', args: string[], input?: string): Promise<string> => {
    const r = await run(kubectlPath(v), ['--kubeconfig', lab.kubeconfig, ...args], { allowFailure: true, timeoutMs: 150_000, ...(input !== undefined ? { input } : {}) })
    if (r.code !== 0) throw new Error(`kubectl ${v} ${args.join(' ')}: ${r.stderr || r.stdout}`)
    return r.stdout
  }
  const kcErr = async (v: '1.27' | '1.33', args: string[]): Promise<string> => {
    const r = await run(kubectlPath(v), ['--kubeconfig', lab.kubeconfig, ...args], { allowFailure: true, timeoutMs: 60_000 })
    if (r.code === 0) throw new Error(`kubectl ${args.join(' ')} was accepted`)
    return r.stderr
  }
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  const sets = lab.client.resource<StatefulSet>(res('statefulsets'), 'default')
  const claims = lab.client.resource<PersistentVolumeClaim>(res('persistentvolumeclaims'), 'default')
  const webPods = async (): Promise<Pod[]> => (await pods.list({ labelSelector: 'app=web' })).items

  // Every watch event, in order: which pods exist and which are ready.
  const seen: string[] = []
  const unfollow = await followPods(lab.client, 'default', 'app=web', (list) => {
    for (const p of list) {
      const n = p.metadata.name!
      if (!seen.includes(`+${n}`)) seen.push(`+${n}`)
      if (ready(p) && !seen.includes(`ready ${n}`)) seen.push(`ready ${n}`)
    }
  })
  t.teardown(unfollow)

  await t.test('3 pods appear 0 → 1 → 2, each only after the previous is Ready', async (t) => {
    t.match(await kc('1.33', ['apply', '-f', '-'], MANIFESTS('busybox')), /statefulset.apps\/web created/)
    t.match(await kc('1.27', ['rollout', 'status', 'sts/web', '--timeout=120s']), /partitioned roll out complete: 3 new pods have been updated/)
    t.same(seen, ['+web-0', 'ready web-0', '+web-1', 'ready web-1', '+web-2', 'ready web-2'])
    t.match(await kc('1.33', ['get', 'sts', 'web']), /web\s+3\/3\s+\d+s/)
    t.same((await claims.list()).items.map((c) => c.metadata.name).sort(), ['data-web-0', 'data-web-1', 'data-web-2'])
    for (const i of [0, 1, 2]) t.match(await kc('1.27', ['logs', `web-${i}`]), new RegExp(`^ordinal=${i} tag=\\d+`), `web-${i} wrote its ordinal into its claim`)
  })

  await t.test('web-1.nginx resolves to web-1 from another pod', async (t) => {
    await waitUntil('client and DNS ready', async () => {
      const dns = (await lab.client.resource<Pod>(res('pods'), 'kube-system').list({ labelSelector: 'k8s-app=kube-dns' })).items
      return ready(await pods.get('client')) && dns.some(ready)
    }, 90_000)
    const clientNs = lab.podNetns(await pods.get('client'))
    const web1 = await pods.get('web-1')
    const dig = async (name: string): Promise<string> => (await execInNetns(clientNs, 'dig', ['@10.96.0.10', '+short', '+time=1', '+tries=1', name], { allowFailure: true })).stdout.trim()
    await waitUntil('web-1.nginx.default.svc.cluster.local answers', async () => (await dig('web-1.nginx.default.svc.cluster.local')) === web1.status!.podIP, 45_000)
    t.equal(await dig('web-1.nginx.default.svc.cluster.local'), web1.status!.podIP)
    const all = (await webPods()).map((p) => p.status!.podIP).sort()
    t.same((await dig('nginx.default.svc.cluster.local')).split('\n').sort(), all, 'the headless name lists all three')
  })

  await t.test('delete web-1: the same name comes back with the same claim', async (t) => {
    const before = await pods.get('web-1')
    const claimUid = (await claims.get('data-web-1')).metadata.uid
    const firstId = (await kc('1.33', ['logs', 'web-1'])).trim()
    await kc('1.33', ['delete', 'pod', 'web-1', '--wait=false'])
    await waitUntil('a new web-1 ready', async () => {
      const p = await pods.get('web-1').catch(() => undefined)
      return !!p && p.metadata.uid !== before.metadata.uid && ready(p)
    }, 90_000)
    const after = await pods.get('web-1')
    t.same(after.spec.volumes?.find((v) => v.name === 'data'), { name: 'data', persistentVolumeClaim: { claimName: 'data-web-1' } })
    t.equal((await claims.get('data-web-1')).metadata.uid, claimUid, 'the claim was kept, not recreated')
    // The data survives only if the claim is bound to a volume outside the pod (a
    // PersistentVolume from the local-path provisioner, installed by every server).
    const bound = await waitUntil('data-web-1 Bound', async () => (await claims.get('data-web-1')).status?.phase === 'Bound', 20_000).then(() => true, () => false)
    if (!bound) {
      t.fail('claim data-web-1 never became Bound (the local-path provisioner did not answer)')
    } else t.equal((await kc('1.27', ['logs', 'web-1'])).trim(), firstId, 'the new web-1 reads what the first one wrote')
  })

  // What the pods and the controller did, printed when a rollout does not finish.
  const diagnose = async (): Promise<void> => {
    t.comment(await kc('1.33', ['get', 'pods', '-o', 'wide', '--show-labels']).catch((e: Error) => e.message))
    t.comment(await kc('1.33', ['get', 'events', '--sort-by=.lastTimestamp']).catch((e: Error) => e.message))
    t.comment(JSON.stringify((await webPods()).map((p) => ({ n: p.metadata.name, del: p.metadata.deletionTimestamp, st: p.status }))))
  }
  await t.test('rollout undo restores the previous template', async (t) => {
    t.teardown(async () => {
      if (t.passing()) return
      await diagnose()
    })
    const r1 = (await sets.get('web')).status!.currentRevision
    await kc('1.33', ['set', 'image', 'sts/web', 'w=busybox:2'])
    await kc('1.33', ['rollout', 'status', 'sts/web', '--timeout=150s'])
    t.ok((await webPods()).every((p) => p.spec.containers[0]!.image === 'busybox:2'))
    t.match(await kc('1.27', ['rollout', 'history', 'sts/web']), /\n1\s+<none>\s*\n2\s+<none>/)
    t.match(await kc('1.27', ['rollout', 'undo', 'sts/web']), /statefulset.apps\/web rolled back/)
    await kc('1.27', ['rollout', 'status', 'sts/web', '--timeout=150s'])
    await waitUntil('all back at busybox', async () => (await webPods()).every((p) => p.spec.containers[0]!.image === 'busybox' && ready(p)), 60_000)
    const s = await sets.get('web')
    t.equal(s.status!.currentRevision, r1, 'the first revision is current again')
    t.match(await kc('1.33', ['rollout', 'history', 'sts/web']), /\n2\s+<none>\s*\n3\s+<none>/, 'and re-numbered 3')
  })

  await t.test('scale to 1 removes web-2, then web-1', async (t) => {
    const gone: string[] = []
    const present = new Set<string>()
    const stop = await followPods(lab.client, 'default', 'app=web', (list) => {
      for (const p of list) present.add(p.metadata.name!)
      for (const n of ['web-2', 'web-1']) if (present.has(n) && !gone.includes(n) && !list.some((p) => p.metadata.name === n)) gone.push(n)
      for (const p of list) if (p.metadata.deletionTimestamp && !gone.includes(`terminating ${p.metadata.name}`)) gone.push(`terminating ${p.metadata.name}`)
    })
    t.teardown(stop)
    t.match(await kc('1.27', ['scale', 'sts/web', '--replicas=1']), /statefulset.apps\/web scaled/)
    await waitUntil('one pod left', async () => (await webPods()).length === 1, 60_000)
    stop()
    t.same(gone, ['terminating web-2', 'web-2', 'terminating web-1', 'web-1'], 'web-1 was deleted only after web-2 was gone')
    t.match(await kc('1.33', ['get', 'sts', 'web']), /web\s+1\/1\s/)
  })

  await t.test('refused updates: 422 with upstream texts', async (t) => {
    t.match(
      await kcErr('1.33', ['patch', 'sts', 'web', '--type=merge', '-p', '{"spec":{"serviceName":"other"}}']),
      `The StatefulSet "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`,
    )
    t.match(
      await kcErr('1.27', ['patch', 'sts', 'web', '--type=merge', '-p', '{"spec":{"podManagementPolicy":"Random"}}']),
      `spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`,
    )
    await kc('1.33', ['delete', 'sts', 'web'])
    await waitUntil('pods gone', async () => (await webPods()).length === 0, 60_000)
  })
})
