// Issue 5, end to end: a 3-node lab driven with real kubectl. Deployments spread and talk
// across nodes, roll and roll back, restart what crashes, follow their probes, survive a
// dead node, and leave nothing behind.
import t from 'tap'
import { readdirSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Endpoints, Node, Pod } from '../../src/api/types.js'
import { cidrContains, parseCidr } from '../../src/net/ip.js'
import { listNetns } from '../../src/net/netns.js'
import { labDown, componentPidfile } from '../../src/lab/lab.js'
import { processesInNamespaces } from '../../src/lab/procs.js'
import { procStartTicks, processAlive } from '../../src/util/proc.js'
import { withLab, waitUntil, res, ready, followPods, labNamespaces } from '../helpers/lab.js'


const web = (image: string, replicas = 6): string => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${replicas}
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: ${image}
        args: ["netexec", "--http-port=8080"]
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
`

t.test('orchestration in a 3-node lab', async (t) => {
  const lab = await withLab(t, {
    serverFlags: ['--node-monitor-grace-period', '8s', '--pod-eviction-timeout', '4s', '--no-dns'],
    // Leases renew every 2 s, well inside the 8 s grace period (kubelet: 10 s vs 40 s).
    agentFlags: ['--backoff-initial', '1s', '--node-status-update-frequency', '2s'],
  })
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  const webPods = async (): Promise<Pod[]> => (await pods.list({ labelSelector: 'app=web' })).items

  await t.test('a Deployment of 6 spreads over 3 nodes and every pod reaches every other', async (t) => {
    t.match(await lab.k(['apply', '-f', '-'], web('registry.k8s.io/e2e-test-images/agnhost:2.45')), /deployment.apps\/web created/)
    await waitUntil('6 ready web pods', async () => (await webPods()).filter(ready).length === 6, 60_000)
    const list = await webPods()
    const nodes = (await lab.client.resource<Node>(res('nodes')).list()).items
    t.same(new Set(list.map((p) => p.spec.nodeName)).size, 3, 'pods on all three nodes')
    for (const p of list) {
      const node = nodes.find((n) => n.metadata.name === p.spec.nodeName)!
      t.ok(cidrContains(parseCidr(node.spec!.podCIDR!), p.status!.podIP!), `${p.metadata.name} ${p.status!.podIP} inside ${node.metadata.name}'s ${node.spec!.podCIDR}`)
      t.equal(p.status?.phase, 'Running')
    }
    const ips = list.map((p) => p.status!.podIP!)
    for (const from of list) {
      const script = `
const out = []
for (const ip of ${JSON.stringify(ips)}) {
  try { out.push((await (await fetch('http://' + ip + ':8080/hostname', { signal: AbortSignal.timeout(3000) })).text()).trim()) }
  catch (e) { out.push('ERR ' + (e.cause?.code || e.message)) }
}
process.stdout.write(JSON.stringify(out))`
      const answers = JSON.parse(await lab.nodeIn(lab.podNetns(from), script)) as string[]
      t.same(answers, list.map((p) => p.metadata.name), `${from.metadata.name} (${from.spec.nodeName}) reaches all 6 pods`)
    }
  })

  await t.test('rolling update keeps >= 5 ready, rollout status/undo work, scale 0 and back', async (t) => {
    // Ready counts after every watch event, in order: a dip that lasts one event still shows.
    const readyCounts: number[] = []
    const unfollow = await followPods(lab.client, 'default', 'app=web', (list) => readyCounts.push(list.filter(ready).length))
    t.teardown(unfollow)
    // The initial list arrives as one add per pod: the count before the rollout is its last entry.
    const atStart = readyCounts.length
    t.equal(readyCounts[atStart - 1], 6, '6 ready when the rollout starts')
    await lab.k(['set', 'image', 'deployment/web', 'web=registry.k8s.io/e2e-test-images/agnhost:2.46'])
    const status = await lab.kubectl(['rollout', 'status', 'deployment/web', '--timeout=120s'])
    unfollow()
    const during = readyCounts.slice(atStart)
    const minReady = Math.min(...during)
    // Each of 6 replacements is at least a create, a ready and a delete.
    t.ok(during.length >= 18, `the watch saw the rollout (${during.length} pod events)`)
    t.equal(status.code, 0, `rollout status: ${status.stdout}${status.stderr}`)
    t.match(status.stdout, /successfully rolled out/)
    t.ok(minReady >= 5, `never fewer than 5 ready pods during the update (min ${minReady})`)
    const images = new Set((await webPods()).filter(ready).map((p) => p.spec.containers[0]!.image))
    t.same([...images], ['registry.k8s.io/e2e-test-images/agnhost:2.46'])

    await lab.k(['rollout', 'undo', 'deployment/web'])
    t.equal((await lab.kubectl(['rollout', 'status', 'deployment/web', '--timeout=120s'])).code, 0)
    await waitUntil('pods back on 2.45', async () => {
      const l = (await webPods()).filter(ready)
      return l.length === 6 && l.every((p) => p.spec.containers[0]!.image!.endsWith(':2.45'))
    })
    t.match(await lab.k(['get', 'deploy', 'web', '-o', 'jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}']), /^3$/, 'undo made revision 3')

    await lab.k(['scale', 'deployment/web', '--replicas=0'])
    await waitUntil('no web pods', async () => (await webPods()).length === 0)
    await lab.k(['scale', 'deployment/web', '--replicas=6'])
    await waitUntil('6 ready again', async () => (await webPods()).filter(ready).length === 6, 60_000)
    t.pass('scaled to 0 and back to 6')
  })

  await t.test('restart back-off, readiness and liveness probes', async (t) => {
    await lab.k(['run', 'crasher', '--image=busybox', '--restart=Always', '--', 'sh', '-c', 'echo crashing; exit 3'])
    let sawBackoff = false
    await waitUntil('crasher restarted twice', async () => {
      const p = await pods.get('crasher')
      const cs = p.status?.containerStatuses?.[0]
      if (cs?.state?.waiting?.reason === 'CrashLoopBackOff') sawBackoff = true
      return (cs?.restartCount ?? 0) >= 2 && cs?.lastState?.terminated?.exitCode === 3
    }, 60_000)
    t.ok(sawBackoff, 'CrashLoopBackOff reported between restarts')
    t.equal((await pods.get('crasher')).status?.containerStatuses?.[0]?.lastState?.terminated?.message, undefined, 'a crash is not reported as a probe kill')
    t.match(await lab.k(['logs', 'crasher']), /crashing/, 'kubectl logs reads the container log through the apiserver')

    // Readiness: flip one web pod to not-ready; it leaves the Service's ready addresses.
    const victim = (await webPods()).filter(ready)[0]!
    const ip = victim.status!.podIP!
    const nodeNs = lab.state.plan.nodes.find((n) => n.name === victim.spec.nodeName)!.netns
    const flip = (q: string): Promise<string> => lab.nodeIn(nodeNs, `process.stdout.write(await (await fetch('http://${ip}:8080/set?${q}')).text())`)
    await flip('ready=false')
    const eps = lab.client.resource<Endpoints>(res('endpoints'), 'default')
    await waitUntil('pod out of ready endpoints', async () => {
      const e = await eps.get('web')
      const readyIps = (e.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip))
      const notReady = (e.subsets ?? []).flatMap((s) => (s.notReadyAddresses ?? []).map((a) => a.ip))
      return !readyIps.includes(ip) && notReady.includes(ip)
    }, 20_000)
    t.pass(`${victim.metadata.name} moved to notReadyAddresses after its readiness probe failed`)
    await flip('ready=true')
    await waitUntil('pod back in ready endpoints', async () => ((await eps.get('web')).subsets ?? []).some((s) => (s.addresses ?? []).some((a) => a.ip === ip)), 20_000)

    // Liveness: an unhealthy container is killed and restarted.
    await lab.k(['apply', '-f', '-'], `
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: live
    image: agnhost
    args: ["--http-port=8080"]
    livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1, failureThreshold: 2}
`)
    await waitUntil('live running', async () => (await pods.get('live')).status?.containerStatuses?.[0]?.state?.running !== undefined)
    const live = await pods.get('live')
    const liveNs = lab.state.plan.nodes.find((n) => n.name === live.spec.nodeName)!.netns
    // "Running" comes before the server listens: wait until it answers, and only then record the
    // instance. Reading it after the flag is set races the probe: under load the kill and restart
    // can both happen before the status is read, and the wait below would never end.
    await waitUntil('live answers', async () => {
      await lab.nodeIn(liveNs, `const r = await fetch('http://${live.status!.podIP}:8080/healthz'); if (!r.ok) throw new Error(String(r.status))`)
      return true
    }, 20_000)
    const first = (await pods.get('live')).status!.containerStatuses![0]!
    await lab.nodeIn(liveNs, `await fetch('http://${live.status!.podIP}:8080/set?healthy=false')`)
    await waitUntil('live restarted', async () => ((await pods.get('live')).status?.containerStatuses?.[0]?.restartCount ?? 0) > first.restartCount, 30_000)
    const killed = (await pods.get('live')).status!.containerStatuses![0]!.lastState?.terminated
    t.equal(killed?.containerID, first.containerID, 'the instance that stopped is the one made unhealthy (lastState carries the runtime-prefixed ID, as upstream)')
    t.equal(killed?.message, 'Container live failed liveness probe, will be restarted', `the kubelet killed it for its liveness probe: ${JSON.stringify(killed)}`)
  })

  await t.test('a restarted kubelet adopts its pods and cleans up what no longer belongs', async (t) => {
    const onNode2 = (await webPods()).filter((p) => p.spec.nodeName === 'node2' && ready(p))
    t.ok(onNode2.length >= 2, `node2 runs ${onNode2.length} ready web pods`)
    const [doomed, ...kept] = onNode2
    const startedBefore = new Map(kept.map((p) => [p.metadata.uid!, p.status!.containerStatuses![0]!.state!.running!.startedAt]))
    const doomedNs = lab.podNetns(doomed!)
    const pidfile = componentPidfile(lab.state.stateDir, 'agent', 'node2')
    const oldPid = Number(readFileSync(pidfile, 'utf8'))
    process.kill(oldPid, 'SIGKILL')
    // While node2's kubelet is down, its pod disappears from the API for good.
    await lab.k(['delete', 'pod', doomed!.metadata.name!, '--grace-period=0', '--force'])
    await waitUntil('agent restarted', async () => Number(readFileSync(pidfile, 'utf8')) !== oldPid, 30_000)
    await waitUntil('orphaned sandbox removed', async () => !listNetns().includes(doomedNs), 60_000)
    t.pass(`the force-deleted pod's namespace ${doomedNs} was removed after the restart`)
    const ipamDir = join(lab.state.stateDir, 'node2', 'ipam', 'netkube')
    t.notOk(existsSync(join(ipamDir, doomed!.status!.podIP!)), 'its IP allocation was released')
    await waitUntil('kept pods ready again', async () => (await webPods()).filter((p) => startedBefore.has(p.metadata.uid!) && ready(p)).length === kept.length, 30_000)
    for (const p of (await webPods()).filter((x) => startedBefore.has(x.metadata.uid!))) {
      const cs = p.status!.containerStatuses![0]!
      t.equal(cs.restartCount, 0, `${p.metadata.name} was not restarted`)
      t.equal(cs.state?.running?.startedAt, startedBefore.get(p.metadata.uid!), `${p.metadata.name} kept its running container (adopted)`)
    }
  })

  await t.test('a node whose agent dies turns NotReady and its pods move', async (t) => {
    const agent3 = lab.state.daemons.find((d) => d.role === 'agent' && d.node === 'node3')!
    const before = (await webPods()).filter((p) => p.spec.nodeName === 'node3').length
    t.ok(before > 0, `node3 runs ${before} web pods`)
    // The node dies: its supervisor first (or it would restart the agent), then the agent.
    const agentPid = Number(readFileSync(componentPidfile(lab.state.stateDir, 'agent', 'node3'), 'utf8'))
    process.kill(agent3.pid, 'SIGKILL')
    process.kill(agentPid, 'SIGKILL')
    const nodes = lab.client.resource<Node>(res('nodes'))
    await waitUntil('node3 Ready=Unknown', async () => (await nodes.get('node3')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'Unknown', 40_000)
    t.match(await lab.k(['get', 'node', 'node3']), /NotReady/)
    await waitUntil('6 ready web pods on node1/node2', async () => {
      const l = (await webPods()).filter(ready)
      return l.length === 6 && l.every((p) => p.spec.nodeName !== 'node3')
    }, 90_000)
    t.pass('the ReplicaSet replaced node3 pods on the other nodes')
  })

  await t.test('delete everything, lab down: nothing remains', async (t) => {
    await lab.k(['delete', 'deployment', 'web'])
    await lab.k(['delete', 'pod', 'crasher', 'live', '--wait=false'])
    await waitUntil('pods gone from node1 and node2', async () =>
      (await pods.list()).items.filter((p) => p.spec.nodeName !== 'node3').length === 0, 60_000)
    // What is left on a node is exactly what its remaining pods hold: the add-ons (kube-system)
    // stay, and one that lived on node3 was rescheduled onto node1 or node2.
    const remaining = (await lab.client.resource<Pod>(res('pods')).list()).items
    for (const n of lab.state.plan.nodes.slice(0, 2)) {
      const mine = remaining.filter((p) => p.spec.nodeName === n.name)
      const ipamDir = join(lab.state.stateDir, n.name, 'ipam', 'netkube')
      const leftover = existsSync(ipamDir) ? readdirSync(ipamDir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []
      const names = mine.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ') || 'none'
      t.same(leftover.sort(), mine.map((p) => p.status?.podIP).filter((ip): ip is string => !!ip).sort(), `${n.name}: the only IP allocations left are its remaining pods' (${names})`)
      t.same(listNetns().filter((x) => x.startsWith(n.podNetnsPrefix)).sort(), mine.map((p) => lab.podNetns(p)).sort(), `${n.name}: the only pod namespaces left are its remaining pods'`)
    }
    const prefix = lab.state.plan.prefix
    // Every process of the lab, by PID + start time, while it still runs: the daemons, the
    // supervised components, and everything inside the lab's namespaces (node3's containers
    // outlived their agent).
    const procs = new Map<number, { what: string; startTicks: string }>()
    const record = (what: string, pid: number): void => {
      const startTicks = procStartTicks(pid)
      if (startTicks !== undefined && !procs.has(pid)) procs.set(pid, { what: `${what} (pid ${pid})`, startTicks })
    }
    for (const d of lab.state.daemons) if (processAlive(d.pid, d.startTicks)) record(`daemon ${d.role}/${d.node}`, d.pid)
    const labNs = labNamespaces(prefix)
    const inLab = new Set(processesInNamespaces(labNs))
    // A pidfile of a dead component (node3's agent) may name a recycled PID: only ours count.
    const components = [{ role: 'server', node: 'node1' }, ...lab.state.plan.nodes.map((n) => ({ role: 'agent', node: n.name }))]
    for (const c of components) {
      const pidfile = componentPidfile(lab.state.stateDir, c.role, c.node)
      const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0
      if (inLab.has(pid)) record(`${c.role}/${c.node}`, pid)
    }
    const podNs = labNs.filter((x) => lab.state.plan.nodes.some((n) => x.startsWith(n.podNetnsPrefix)))
    for (const pid of processesInNamespaces(podNs)) record('container', pid)
    for (const pid of inLab) record('in a lab namespace', pid)
    const whats = [...procs.values()].map((p) => p.what)
    for (const c of ['daemon etcd/node1', 'daemon dnsmasq/underlay', 'server/node1', 'agent/node1', 'agent/node2']) {
      t.ok(whats.some((w) => w.startsWith(`${c} `)), `${c} runs before lab down`)
    }
    t.ok(whats.some((w) => w.startsWith('container ')), `node3's containers run before lab down (recorded: ${whats.join(', ')})`)
    await labDown({ name: lab.state.plan.name, stateDir: lab.state.stateDir, progress: () => {}, keepState: true })
    t.same(labNamespaces(prefix), [], 'no lab namespaces (pods, nodes, underlay: nft tables and veths go with them)')
    const survivors = [...procs.entries()].filter(([pid, p]) => processAlive(pid, p.startTicks)).map(([, p]) => p.what)
    t.same(survivors, [], `none of the ${procs.size} lab processes outlived lab down`)
  })
})
