// DaemonSets through the real controllers + scheduler + apiserver, with fake nodes acting as
// kubelets, driven by real kubectl 1.27 and 1.33: one pod per node, nodes joining and leaving,
// a tainted node, a rolling update watched for its maxUnavailable bound, rollout status /
// history / undo, and 422s with upstream's words.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DaemonSet, Node, Pod } from '../../src/api/types.js'
import { podIsReady } from '../../src/api/meta.js'
import { R } from '../../src/controllers/informers.js'
import { createInformer } from '../../src/client/informer.js'
import { run } from '../../src/util/exec.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { eventually, withCluster } from './fakecluster.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

const manifest = (ns: string, image: string, extra = '') => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ${ns}}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agent}}
    spec:
${extra}      containers: [{name: agent, image: ${image}}]
`

t.test('DaemonSets with fake nodes and real kubectl', async (t) => {
  const { api, client, kubelet } = await withCluster(t, { graceMs: 30_000 })
  const dir = mkdtempSync(join(tmpdir(), 'netkube-ds-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const n of ['node1', 'node2', 'node3']) await kubelet.addNode(n)
  const nodes = client.resource<Node>(R.nodes)

  for (const c of CLIENTS) {
    await t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `ds-${c.name.replace(/\W/g, '')}`
      const k = (...args: string[]) => run(c.path, ['--kubeconfig', api.kubeconfigPath, ...args], { allowFailure: true, timeoutMs: 60_000 })
      const ok = async (...args: string[]) => {
        const r = await k(...args)
        t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
        return r.stdout
      }
      const pods = client.resource<Pod>(R.pods, ns)
      const live = async () => (await pods.list({ labelSelector: 'app=agent' })).items.filter((p) => !p.metadata.deletionTimestamp)
      const perNode = (l: Pod[]) => l.map((p) => p.spec.nodeName ?? '-').sort()
      await ok('create', 'namespace', ns)

      t.match(await ok('api-resources', '--api-group=apps'), /\ndaemonsets\s+ds\s+apps\/v1\s+true\s+DaemonSet\n/)
      const f = join(dir, `${ns}.yaml`)
      writeFileSync(f, manifest(ns, 'agnhost:v1'))
      t.match(await ok('apply', '-f', f), 'daemonset.apps/agent created')
      const first = await eventually('one ready pod on each of the 3 nodes', async () => {
        const l = await live()
        return l.length === 3 && l.every(podIsReady) && JSON.stringify(perNode(l)) === '["node1","node2","node3"]' && l
      })
      for (const p of first) {
        t.same(p.spec.affinity, { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [p.spec.nodeName] }] }] } } }, 'pinned by matchFields')
        t.equal(p.metadata.labels?.['pod-template-generation'], '1')
        t.ok(p.spec.tolerations?.some((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoExecute'), 'default tolerations')
      }
      await ok('rollout', 'status', 'ds/agent', '-n', ns, '--timeout=60s')
      t.match(await ok('get', 'ds', '-n', ns), /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE\nagent\s+3\s+3\s+3\s+3\s+3\s+<none>\s+\d+s\n$/)
      t.match(await ok('get', 'ds', '-n', ns, '-o', 'wide'), /CONTAINERS\s+IMAGES\s+SELECTOR\nagent\s+3\s+3\s+3\s+3\s+3\s+<none>\s+\d+s\s+agent\s+agnhost:v1\s+app=agent\n/)
      t.equal((await ok('get', 'ds', 'agent', '-n', ns, '-o', 'jsonpath={.metadata.generation}')).trim(), '1', 'generation 1 after create and status writes')
      t.match(await ok('get', 'all', '-n', ns), /daemonset\.apps\/agent/)
      await eventually('SuccessfulCreate events on the DaemonSet', async () => {
        const ev = await ok('get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=DaemonSet')
        return (ev.match(/Normal\s+SuccessfulCreate\s+daemonset\/agent\s+Created pod: agent-\w{5}\n/g) ?? []).length === 3
      })

      // A node joins → it gets a pod; it leaves → the pod goes.
      await kubelet.addNode(`extra-${ns}`)
      await eventually('a pod on the new node', async () => (await live()).some((p) => p.spec.nodeName === `extra-${ns}` && podIsReady(p)))
      await nodes.delete(`extra-${ns}`)
      kubelet.kill(`extra-${ns}`)
      await eventually('the pod of the removed node is gone', async () => (await pods.list({ labelSelector: 'app=agent' })).items.every((p) => p.spec.nodeName !== `extra-${ns}`))

      // A rolling update, watched: never more than maxUnavailable (1) of the 3 nodes without a ready pod.
      const inf = createInformer(client.resource<Pod>(R.pods, ns), { name: `watch-${ns}` })
      let worst = 0
      let synced = false
      inf.addEventHandler({
        onAdd: () => check(),
        onUpdate: () => check(),
        onDelete: () => check(),
      })
      function check(): void {
        if (!synced) return // the initial list arrives pod by pod
        const ready = new Set(inf.store.list().filter((p) => p.metadata.labels?.app === 'agent' && !p.metadata.deletionTimestamp && podIsReady(p)).map((p) => p.spec.nodeName))
        const missing = ['node1', 'node2', 'node3'].filter((n) => !ready.has(n)).length
        worst = Math.max(worst, missing)
      }
      await inf.start()
      synced = true
      check()
      t.equal(worst, 0, 'before the update every node has a ready pod')
      t.match(await ok('set', 'image', 'ds/agent', '-n', ns, 'agent=agnhost:v2'), 'daemonset.apps/agent image updated')
      await ok('rollout', 'status', 'ds/agent', '-n', ns, '--timeout=90s')
      const v2 = await eventually('3 pods on v2', async () => {
        const l = await live()
        return l.length === 3 && l.every((p) => p.spec.containers[0]!.image === 'agnhost:v2' && podIsReady(p)) && l
      })
      inf.stop()
      t.equal(worst, 1, `at most maxUnavailable=1 node without a ready pod during the rollout (watch-observed worst: ${worst})`)
      t.same(perNode(v2), ['node1', 'node2', 'node3'])
      t.equal(v2[0]!.metadata.labels?.['pod-template-generation'], '2')

      const hist = await ok('rollout', 'history', 'ds/agent', '-n', ns)
      t.match(hist, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/)
      t.match(await ok('get', 'controllerrevisions', '-n', ns), /agent-\w+\s+daemonset\.apps\/agent\s+2\s+/)
      t.match(await ok('rollout', 'history', 'ds/agent', '-n', ns, '--revision=1'), /Image:\s+agnhost:v1/)

      t.match(await ok('rollout', 'undo', 'ds/agent', '-n', ns), 'daemonset.apps/agent rolled back')
      await ok('rollout', 'status', 'ds/agent', '-n', ns, '--timeout=90s')
      await eventually('back on v1', async () => {
        const l = await live()
        return l.length === 3 && l.every((p) => p.spec.containers[0]!.image === 'agnhost:v1' && podIsReady(p))
      })
      t.match(await ok('rollout', 'history', 'ds/agent', '-n', ns), /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>\n/, 'the old revision is renumbered, not duplicated')
      t.equal((await ok('get', 'controllerrevisions', '-n', ns, '-o', 'name')).trim().split('\n').length, 2)

      // Bad input: 422 with upstream's words, nothing written.
      const bad = join(dir, `${ns}-bad.yaml`)
      writeFileSync(bad, manifest(ns, 'x', '      restartPolicy: Never\n').replace('name: agent, namespace', 'name: bad, namespace').replace('maxUnavailable: 1', 'maxUnavailable: 0'))
      const r = await k('apply', '-f', bad)
      t.equal(r.code, 1)
      t.match(r.stderr, 'The DaemonSet "bad" is invalid: \n* spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"\n* spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0')
      t.equal((await k('get', 'ds', 'bad', '-n', ns)).code, 1, 'nothing half-written')
      const sel = await k('patch', 'ds', 'agent', '-n', ns, '-p', '{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}')
      t.equal(sel.code, 1)
      t.match(sel.stderr, /The DaemonSet "agent" is invalid: spec\.selector: Invalid value: .*: field is immutable/)

      // Deleting the DaemonSet removes its pods (GC) and revisions.
      await ok('delete', 'ds', 'agent', '-n', ns)
      await eventually('pods gone', async () => (await pods.list({ labelSelector: 'app=agent' })).items.length === 0)
    })
  }

  await t.test('nodeSelector and a tainted node', async (t) => {
    const ns = 'ds-place'
    await client.resource(R.namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })
    await nodes.patch('node2', { metadata: { labels: { edge: 'true' } } }, 'merge')
    await nodes.patch('node3', { metadata: { labels: { edge: 'true' } } }, 'merge')
    await nodes.patch('node3', { spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } }, 'merge')
    const dss = client.resource<DaemonSet>(R.daemonsets, ns)
    const pods = client.resource<Pod>(R.pods, ns)
    await dss.create({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'edge' },
      spec: { selector: { matchLabels: { app: 'edge' } }, template: { metadata: { labels: { app: 'edge' } }, spec: { nodeSelector: { edge: 'true' }, containers: [{ name: 'c', image: 'agnhost' }] } } },
    })
    const st = await eventually('status: desired 1 (node2)', async () => {
      const d = await dss.get('edge')
      return d.status?.desiredNumberScheduled === 1 && d.status.numberReady === 1 && d.status
    })
    t.equal(st.numberMisscheduled, 0)
    t.same((await pods.list()).items.map((p) => p.spec.nodeName), ['node2'], 'not on node1 (selector), not on node3 (taint)')
    // Tolerate the taint → node3 gets one too.
    await dss.patch('edge', { spec: { template: { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] } } } }, 'strategic')
    await eventually('node2 and node3', async () => JSON.stringify((await pods.list()).items.filter((p) => !p.metadata.deletionTimestamp && podIsReady(p)).map((p) => p.spec.nodeName).sort()) === '["node2","node3"]')
    await nodes.patch('node3', { spec: { taints: null } }, 'merge')
  })
})
