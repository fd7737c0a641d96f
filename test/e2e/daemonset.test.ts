// Issue 11 (DaemonSets, and the lab growing and shrinking), end to end in a lab with real
// kubelets and real kubectl 1.27 and 1.33: a DaemonSet runs exactly one pod on each of the 3
// nodes; `lab node add node4` → node4 registers and gets its pod within seconds (and the other
// nodes route to its pod subnet); `lab node remove node4` → the pod, the Node, its namespace and
// the others' route to it go; a rolling update keeps at most maxUnavailable nodes without a ready
// pod (watch-observed); nodeSelector and a tainted node are honoured; `rollout undo ds` works;
// `lab down` removes an added node too.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DaemonSet, Node, Pod } from '../../src/api/types.js'
import { run } from '../../src/util/exec.js'
import { netnsHandle } from '../../src/net/door.js'
import { netnsExists } from '../../src/net/netns.js'
import { labDown, labStatus, readLabState } from '../../src/lab/lab.js'
import { labNodeAdd, labNodeRemove } from '../../src/lab/node-add.js'
import { kubectlPath, need, MAIN } from '../helpers/prereq.js'
import { withLab, waitUntil, res, ready, followPods, labNamespaces } from '../helpers/lab.js'

const DS = `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: agent
        image: pause
        env: [{name: VERSION, value: "1"}]
`

t.test('DaemonSets and lab node add/remove', { skip: need('kubectl 1.27', 'kubectl 1.33', 'podman', 'etcdctl', 'build') }, async (t) => {
  const lab = await withLab(t, { nodes: 3, serverFlags: ['--no-dns'], agentFlags: ['--backoff-initial', '1s'] })
  const { name, stateDir } = { name: lab.state.plan.name, stateDir: lab.state.stateDir }
  const kc = async (v: '1.27' | '1.33', args: string[], input?: string): Promise<string> => {
    const r = await run(kubectlPath(v), ['--kubeconfig', lab.kubeconfig, ...args], { allowFailure: true, timeoutMs: 150_000, ...(input !== undefined ? { input } : {}) })
    if (r.code !== 0) throw new Error(`kubectl ${v} ${args.join(' ')}: ${r.stderr || r.stdout}`)
    return r.stdout
  }
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  const nodes = lab.client.resource<Node>(res('nodes'))
  const agents = async () => (await pods.list({ labelSelector: 'app=agent' })).items
  const readyOn = async () => (await agents()).filter(ready).map((p) => p.spec.nodeName).sort()
  const routesIn = async (node: string) => (await netnsHandle(`${lab.state.plan.prefix}-${node}`).run('ip', ['-4', 'route', 'show'])).stdout

  await t.test('one pod on each of the 3 nodes', async (t) => {
    t.match(await kc('1.27', ['apply', '-f', '-'], DS), /daemonset.apps\/agent created/)
    await waitUntil('3 ready daemon pods', async () => JSON.stringify(await readyOn()) === '["node1","node2","node3"]', 120_000)
    t.match(await kc('1.33', ['rollout', 'status', 'ds/agent', '--timeout=60s']), /daemon set "agent" successfully rolled out/)
    t.equal((await agents()).length, 3, 'exactly one per node')
    t.match(await kc('1.33', ['get', 'ds', 'agent']), /agent\s+3\s+3\s+3\s+3\s+3\s+<none>\s+/)
  })

  await t.test('lab node add node4: it registers and gets its daemon pod within seconds; remove takes it all away', async (t) => {
    const t0 = Date.now()
    const n4 = await labNodeAdd({ name, stateDir, node: 'node4', waitReadyMs: 90_000, progress: (l) => t.comment(l) })
    const readyAt = Date.now()
    t.equal(n4.ip, '192.168.56.13')
    await waitUntil('a ready daemon pod on node4', async () => (await readyOn()).includes('node4'), 60_000, 100)
    const podAt = Date.now()
    t.comment(`node4: Ready ${((readyAt - t0) / 1000).toFixed(1)} s after \`lab node add\`, its daemon pod ready ${((podAt - readyAt) / 1000).toFixed(1)} s later`)
    t.ok(podAt - readyAt < 30_000, `the daemon pod within seconds of the node (${podAt - readyAt} ms)`)
    t.match(labStatus({ name, stateDir }), /node4\s+192\.168\.56\.13/, '`lab status` shows it')
    t.match(labStatus({ name, stateDir }), /agent\s+node4\s+running/)
    const podCIDR = (await nodes.get('node4')).spec?.podCIDR
    t.ok(podCIDR, `node4 leased ${podCIDR}`)
    await waitUntil('node1 routes to node4 pods', async () => (await routesIn('node1')).includes(podCIDR!), 30_000)
    await t.rejects(labNodeAdd({ name, stateDir, node: 'node4', progress: () => {} }), { message: `node "node4" already exists in lab "${name}"` })

    const r = await labNodeRemove({ name, stateDir, node: 'node4', progress: (l) => t.comment(l) })
    t.same(r.forced, [], 'the drain finished while the kubelet ran: nothing removed by force')
    t.ok(r.drained.some((p) => p.startsWith('default/agent-')), 'its daemon pod was drained')
    t.equal(r.leaseKeys.length, 1, 'its subnet lease released')
    t.same((await agents()).filter((p) => p.spec.nodeName === 'node4'), [], 'the pod is gone')
    await t.rejects(nodes.get('node4'), /not found/, 'the Node is gone')
    t.notOk(netnsExists(n4.netns), 'its namespace is gone')
    t.same(labNamespaces(n4.podNetnsPrefix.replace(/-$/, '')), [], 'no pod namespaces left')
    await waitUntil('node1 no longer routes to node4 pods', async () => !(await routesIn('node1')).includes(podCIDR!), 30_000)
    t.notMatch(labStatus({ name, stateDir }), /node4/, '`lab status` forgets it')
    t.equal((await agents()).filter(ready).length, 3, 'the other nodes keep their pods')
    await t.rejects(labNodeRemove({ name, stateDir, node: 'node4', progress: () => {} }), { message: /^node "node4" not found in lab/ })
    const cli = await run(process.execPath, [MAIN, 'lab', 'node', 'remove', 'node1', '--name', name, '--state-dir', stateDir], { allowFailure: true })
    t.equal(cli.code, 1)
    t.equal(cli.stderr.trim(), 'error: node "node1" runs the lab\'s control plane (etcd, server); only worker nodes can be removed')
  })

  await t.test('a rolling update keeps at most maxUnavailable nodes without a ready pod; rollout undo', async (t) => {
    let synced = false
    let worst = 0
    let events = 0
    const unfollow = await followPods(lab.client, 'default', 'app=agent', (list) => {
      if (!synced) return
      events++
      const have = new Set(list.filter(ready).map((p) => p.spec.nodeName))
      worst = Math.max(worst, ['node1', 'node2', 'node3'].filter((n) => !have.has(n)).length)
    })
    synced = true
    t.teardown(unfollow)
    t.match(await kc('1.33', ['set', 'env', 'ds/agent', 'VERSION=2']), /daemonset.apps\/agent env updated/)
    t.match(await kc('1.27', ['rollout', 'status', 'ds/agent', '--timeout=120s']), /successfully rolled out/)
    await waitUntil('3 ready v2 pods', async () => (await agents()).filter((p) => ready(p) && p.spec.containers[0]!.env?.[0]?.value === '2').length === 3, 60_000)
    unfollow()
    t.ok(events >= 9, `the watch saw the rollout (${events} events)`)
    t.equal(worst, 1, `never more than maxUnavailable=1 node without a ready pod (worst seen: ${worst})`)
    t.match(await kc('1.27', ['rollout', 'history', 'ds/agent']), /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/)
    t.match(await kc('1.33', ['rollout', 'undo', 'ds/agent']), /daemonset.apps\/agent rolled back/)
    t.match(await kc('1.33', ['rollout', 'status', 'ds/agent', '--timeout=120s']), /successfully rolled out/)
    await waitUntil('3 ready v1 pods again', async () => (await agents()).filter((p) => ready(p) && p.spec.containers[0]!.env?.[0]?.value === '1').length === 3, 60_000)
    t.match(await kc('1.27', ['rollout', 'history', 'ds/agent']), /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>\n/)
  })

  await t.test('nodeSelector and a tainted node', async (t) => {
    await kc('1.27', ['label', 'node', 'node2', 'node3', 'edge=true'])
    await kc('1.33', ['taint', 'node', 'node3', 'dedicated=db:NoSchedule'])
    t.teardown(() => kc('1.33', ['taint', 'node', 'node3', 'dedicated-']).then(() => {}, () => {}))
    const edge = DS.replace(/agent/g, 'edge').replace('    spec:\n      terminationGracePeriodSeconds', '    spec:\n      nodeSelector: {edge: "true"}\n      terminationGracePeriodSeconds')
    await kc('1.33', ['apply', '-f', '-'], edge)
    const dss = lab.client.resource<DaemonSet>(res('daemonsets'), 'default')
    await waitUntil('edge: 1 desired, 1 ready', async () => {
      const d = await dss.get('edge')
      return d.status?.desiredNumberScheduled === 1 && d.status.numberReady === 1
    }, 60_000)
    t.same((await pods.list({ labelSelector: 'app=edge' })).items.map((p) => p.spec.nodeName), ['node2'], 'node1 lacks the label, node3 has an untolerated taint')
    t.match(await kc('1.27', ['get', 'ds', 'edge']), /edge\s+1\s+1\s+1\s+1\s+1\s+edge=true\s+/)
  })

  await t.test('lab node add node5 --join: a bootstrap token and the CSR flow; its kubeconfig holds its own certificate; lab down removes it too', async (t) => {
    // Issue #15: the kubelet's certificate comes from an auto-approved CSR, not from the lab's CA key.
    await labNodeAdd({ name, stateDir, node: 'node5', join: true, waitReadyMs: 90_000, progress: (l) => t.comment(l) })
    const kubeconfig = join(stateDir, 'node5', 'kubelet.kubeconfig')
    const doc = JSON.parse(readFileSync(kubeconfig, 'utf8')) as { users: { user: Record<string, string> }[] }
    const crt = join(stateDir, 'node5.crt')
    writeFileSync(crt, Buffer.from(doc.users[0]!.user['client-certificate-data']!, 'base64'))
    const subject = (await run('openssl', ['x509', '-noout', '-subject', '-in', crt])).stdout.trim()
    t.equal(subject, 'subject=CN = system:node:node5, O = system:nodes', 'openssl x509 -subject of the joined node')
    t.notMatch(readFileSync(kubeconfig, 'utf8'), /insecure-skip-tls-verify/)
    const csr = JSON.parse(await kc('1.33', ['get', 'csr', '-o', 'json'])) as { items: { spec: { username: string }; status?: { conditions?: { type: string; reason?: string }[] } }[] }
    t.ok(csr.items.some((c) => c.spec.username.startsWith('system:bootstrap:') && c.status?.conditions?.some((x) => x.type === 'Approved' && x.reason === 'AutoApproved')), 'its CSR came from the bootstrap token and was auto-approved')
    t.ok(readLabState(stateDir)?.plan.nodes.some((n) => n.name === 'node5'), 'the state remembers it')
    await labDown({ name, stateDir, progress: () => {}, keepState: true })
    t.same(labNamespaces(lab.state.plan.prefix), [], 'no namespace of the lab is left, node5 included')
  })
})
