// Issue 10, a node restart end to end: `lab node restart node2` three ways — the agent alone
// (kubelet crash), every process (power loss), every process and the kernel state a reboot
// clears — and each time node2 comes back clean: Ready, its pods Running (adopted, or
// recreated with restartCount + 1), its Service answering, and nothing leaked: pod namespaces,
// veths on cni0 and IPAM files each equal to its pods, nft tables and overlay entries as before.
import t from 'tap'
import type { Test } from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Node, Pod, Service } from '../../src/api/types.js'
import { createNetns } from '../../src/net/netns.js'
import { nthAddress, parseCidr } from '../../src/net/ip.js'
import { labNodeRestart, nodeIpamFiles, nodePodNamespaces, type RestartDepth } from '../../src/lab/node-restart.js'
import { netnsHandle } from '../../src/net/door.js'
import { processesInNamespaces } from '../../src/lab/procs.js'
import { run } from '../../src/util/exec.js'
import { MAIN } from '../helpers/prereq.js'
import { withLab, waitUntil, res, ready, httpLoopScript, parseHttpResults, type Lab } from '../helpers/lab.js'

const MANIFESTS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/hostname: node2}
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: agnhost
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
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeSelector: {kubernetes.io/hostname: node1}
  containers:
  - name: c
    image: pause
`

/** What node2 holds in the kernel and on disk, to be compared with its pods. */
interface NodeCounts {
  podNamespaces: string[]
  /** Host veths enslaved to cni0. */
  bridgePorts: string[]
  ipamFiles: string[]
  nftTables: string[]
  /** Rules in the kube-proxy table (same Services and endpoint count → same number). */
  proxyRules: number
  /** flannel.1: FDB entries, routes, permanent neighbours. */
  overlay: { fdb: number; routes: number; neigh: number }
}

async function nodeCounts(lab: Lab, nodeName: string): Promise<NodeCounts> {
  const node = lab.state.plan.nodes.find((n) => n.name === nodeName)!
  const ns = netnsHandle(node.netns)
  const bridgePorts = await ns.withOps(async (ops) => {
    const links = await ops.listLinks()
    const br = links.find((l) => l.name === 'cni0')
    return br ? links.filter((l) => l.master === br.index).map((l) => l.name).sort() : []
  })
  const tables = (await ns.run('nft', ['list', 'tables'])).stdout.trim().split('\n').filter(Boolean).sort()
  const proxy = (await ns.run('nft', ['list', 'table', 'ip', 'netkube-proxy'], { allowFailure: true })).stdout
  const lines = async (file: string, args: string[]): Promise<number> => (await ns.run(file, args, { allowFailure: true })).stdout.split('\n').filter((l) => l.trim()).length
  return {
    podNamespaces: nodePodNamespaces(node).sort(),
    bridgePorts,
    ipamFiles: nodeIpamFiles(lab.state.stateDir, node).sort(),
    nftTables: tables,
    // rules plus set/map elements (the maps layout holds Services as elements)
    proxyRules:
      proxy.split('\n').filter((l) => /^\s+(ip |meta |numgen |goto |jump |dnat |masquerade|reject|ct |fib |update |tcp |udp )/.test(l)).length +
      [...proxy.matchAll(/elements = \{([^}]*)\}/g)].reduce((a, m) => a + m[1]!.split(',').filter((x) => x.trim() && !x.includes('expires')).length, 0),
    overlay: {
      fdb: await lines('bridge', ['fdb', 'show', 'dev', 'flannel.1']),
      routes: await lines('ip', ['route', 'show', 'dev', 'flannel.1']),
      neigh: await lines('ip', ['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent']),
    },
  }
}

t.test('lab node restart: adopted, recreated, rebooted — and nothing leaks', async (t) => {
  const lab = await withLab(t, {
    serverFlags: ['--no-dns'],
    agentFlags: ['--backoff-initial', '1s', '--node-status-update-frequency', '2s'],
  })
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  const webPods = async (): Promise<Pod[]> => (await pods.list({ labelSelector: 'app=web' })).items
  await lab.k(['apply', '-f', '-'], MANIFESTS)
  await waitUntil('3 ready web pods on node2 and the client', async () => (await webPods()).filter(ready).length === 3 && ready(await pods.get('client')), 90_000)
  const clusterIP = (await lab.client.resource<Service>(res('services'), 'default').get('web')).spec.clusterIP!
  const clientNs = lab.podNetns(await pods.get('client'))
  const names = (await webPods()).map((p) => p.metadata.name!).sort()

  /** 30 fresh connections from node1's client to the ClusterIP: every one answered, by every pod. */
  const serviceAnswers = async (t: Test, what: string): Promise<void> => {
    const loop = async (n: number): Promise<ReturnType<typeof parseHttpResults>> => parseHttpResults(await lab.nodeIn(clientNs, httpLoopScript(`http://${clusterIP}/hostname`, n), 60_000))
    // kube-proxy on node1 follows the new endpoints a sync after the pods turn ready.
    await waitUntil(`${what}: the Service answers`, async () => (await loop(3)).every((r) => r.ok), 30_000, 500)
    const rs = await loop(30)
    t.ok(rs.every((r) => r.ok), `${what}: 30/30 requests to ${clusterIP} answered (${rs.filter((r) => !r.ok).map((r) => r.err).join(',')})`)
    t.same([...new Set(rs.map((r) => r.body))].sort(), names, `${what}: all 3 pods answer through the Service`)
  }

  // Every pod bound to node2, not only the web pods: the add-ons (kube-system DNS, the ingress
  // controller) land wherever the scheduler puts them while the nodes come up, node2 included.
  const podsOn2 = async (): Promise<Pod[]> =>
    (await lab.client.resource<Pod>(res('pods')).list()).items.filter((p) => p.spec.nodeName === 'node2' && !p.spec.hostNetwork && !p.metadata.deletionTimestamp)

  /** The leak checks: each count equals node2's pods, the tables and overlay entries as before. */
  const noLeaks = async (t: Test, what: string, before: NodeCounts): Promise<void> => {
    let on2 = await podsOn2()
    // The old sandboxes' teardown and the GC pass finish shortly after the pods are ready (an
    // add-on pod on node2 is recreated too, and has its address a moment later).
    let c = await nodeCounts(lab, 'node2')
    await waitUntil(`${what}: node2's counts settle`, async () => {
      on2 = await podsOn2()
      c = await nodeCounts(lab, 'node2')
      return on2.every((p) => p.status?.podIP) && c.podNamespaces.length === on2.length && c.bridgePorts.length === on2.length && c.ipamFiles.length === on2.length && c.proxyRules === before.proxyRules
    }, 20_000, 500).catch(() => {})
    t.same(c.podNamespaces, on2.map((p) => lab.podNetns(p)).sort(), `${what}: pod namespaces on node2 = its ${on2.length} pods`)
    t.equal(c.bridgePorts.length, on2.length, `${what}: veths on node2's cni0 = its pods (${c.bridgePorts.join(' ')})`)
    t.same(c.ipamFiles, on2.map((p) => p.status!.podIP!).sort(), `${what}: IPAM files = the pods' IPs`)
    t.same(c.nftTables, before.nftTables, `${what}: the same nft tables, none duplicated (${c.nftTables.join(', ')})`)
    t.equal(c.nftTables.filter((x) => x === 'table ip netkube-proxy').length, 1, `${what}: one kube-proxy table`)
    t.equal(c.proxyRules, before.proxyRules, `${what}: kube-proxy's table holds as many rules as before (${before.proxyRules})`)
    t.same(c.overlay, before.overlay, `${what}: flannel.1 FDB/routes/neighbours as before (${JSON.stringify(c.overlay)})`)
    const etc = readdirSync('/etc/netns').filter((d) => d.startsWith(node2.podNetnsPrefix)).sort()
    t.same(etc, c.podNamespaces, `${what}: /etc/netns files only for node2's pod namespaces`)
    const strays = processesInNamespaces(c.podNamespaces).length
    t.ok(strays >= on2.length, `${what}: ${strays} processes run in node2's ${on2.length} pod namespaces`)
  }

  const node2 = lab.state.plan.nodes.find((n) => n.name === 'node2')!
  // A new sandbox is a new CNI ADD: host-local hands out the next address round-robin, so the
  // pod IP tells a kept sandbox from a recreated one (a netns inode number can be reused).
  const podIPs = async (): Promise<Map<string, string>> => new Map((await webPods()).map((p) => [p.metadata.name!, p.status!.podIP!]))
  // The baseline once node2's kube-proxy has caught up: the Service answers, the rules hold still.
  await serviceAnswers(t, 'before')
  let base = await nodeCounts(lab, 'node2')
  await waitUntil("node2's kube-proxy rules settled", async () => {
    await new Promise((r) => setTimeout(r, 1500))
    const again = await nodeCounts(lab, 'node2')
    const same = again.proxyRules === base.proxyRules
    base = again
    return same
  }, 30_000, 0)
  const before2 = await podsOn2()
  t.ok(before2.filter((p) => p.metadata.labels?.['app'] === 'web').length === 3, 'before: node2 runs the 3 web pods')
  t.same(base.podNamespaces, before2.map((p) => lab.podNetns(p)).sort(), `before: node2's pod namespaces = its ${before2.length} pods (${before2.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')})`)
  t.equal(base.overlay.fdb, 2, 'before: node2 has an FDB entry per other node')

  /** The kubelet's own account of the restart (its sandbox decisions), as test comments. */
  let logSeen = 0
  const agentLog = (t: Test, what: string): void => {
    const lines = readFileSync(join(lab.state.stateDir, 'logs', 'agent-node2.log'), 'utf8').split('\n')
    const news = lines.slice(logSeen).filter((l) => /sandbox changed|orphan|leaked|GC|\/etc\/netns|adopted/.test(l))
    logSeen = lines.length
    for (const l of news.slice(0, 12)) t.comment(`${what}: ${l.slice(0, 300)}`)
  }

  let restartedAt = 0
  const restart = async (t: Test, depth: RestartDepth): Promise<number> => {
    restartedAt = Date.now()
    if (depth === 'reboot') {
      // Once through the real command line, as a user types it.
      const out = await run(process.execPath, [MAIN, 'lab', 'node', 'restart', 'node2', '--name', lab.state.plan.name, '--state-dir', lab.state.stateDir, '--reboot', '--wait', '60s'], { timeoutMs: 90_000 })
      t.match(out.stdout, /^node\/node2 restarted: \d+ processes killed, Ready after \d+\.\d s\n$/, `the CLI's summary: ${out.stdout.trim()}`)
      for (const l of out.stderr.trim().split('\n')) t.comment(l)
      return Number(/restarted: (\d+) processes/.exec(out.stdout)?.[1] ?? 0)
    }
    const r = await labNodeRestart({ name: lab.state.plan.name, stateDir: lab.state.stateDir, node: 'node2', depth, waitReadyMs: 60_000, progress: (l) => t.comment(l) })
    t.ok(r.killed.some((k) => k.what === 'supervisor'), `${depth}: the agent's supervisor was killed`)
    return r.killed.length
  }
  /** Timing, for the record (noisy on a shared machine; bench/ is where speed is judged). */
  const podsBack = (t: Test, what: string): void => t.comment(`${what}: 3 pods Ready ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the restart`)

  /** Restart at `depth`; the same pods come back Running, each in a new sandbox, restarted `count` times. */
  const recreated = async (t: Test, depth: RestartDepth, what: string, count: number, ipsBefore: Map<string, string>): Promise<void> => {
    const killed = await restart(t, depth)
    t.ok(killed >= 5, `${what}: agent, supervisor and the 3 containers killed (${killed} processes)`)
    await waitUntil(`3 pods ready again, restarted ${count}×`, async () => {
      const l = await webPods()
      return l.filter(ready).length === 3 && l.every((p) => p.status?.containerStatuses?.[0]?.restartCount === count)
    }, 90_000)
    podsBack(t, what)
    const after = await webPods()
    t.same(after.map((p) => p.metadata.name).sort(), names, `${what}: the same pod names (the pods, not the ReplicaSet, recover)`)
    for (const p of after) {
      t.equal(p.status?.phase, 'Running', `${p.metadata.name} Running`)
      t.equal(p.status?.containerStatuses?.[0]?.restartCount, count, `${p.metadata.name}: restartCount ${count}`)
    }
    const ipsAfter = await podIPs()
    t.ok([...ipsAfter].every(([name, ip]) => ipsBefore.get(name) !== ip), `${what}: every pod got a new sandbox: ${JSON.stringify([...ipsBefore.values()])} → ${JSON.stringify([...ipsAfter.values()])}`)
    agentLog(t, what)
  }

  await t.test('kubelet-only crash: the same pods, the same processes, adopted', async (t) => {
    const before = new Map((await webPods()).map((p) => [p.metadata.uid!, p.status!.containerStatuses![0]!.state!.running!.startedAt]))
    const ipsBefore = await podIPs()
    const killed = await restart(t, 'agent')
    t.ok(killed >= 2, `agent and supervisor killed (${killed} processes)`)
    await waitUntil('the 3 pods ready again', async () => (await webPods()).filter(ready).length === 3, 60_000)
    podsBack(t, 'kubelet-only')
    const after = await webPods()
    t.same(after.map((p) => p.metadata.name).sort(), names, 'the same pod names')
    for (const p of after) {
      const cs = p.status!.containerStatuses![0]!
      t.equal(cs.restartCount, 0, `${p.metadata.name}: restartCount 0`)
      t.equal(cs.state?.running?.startedAt, before.get(p.metadata.uid!), `${p.metadata.name}: the container that ran before (adopted)`)
    }
    t.same(await podIPs(), ipsBefore, 'the same pod IPs (sandboxes kept)')
    await serviceAnswers(t, 'kubelet-only')
    await noLeaks(t, 'kubelet-only', base)
  })

  await t.test('power loss: every process dies, pods recreated with restartCount 1', async (t) => {
    const ipsBefore = await podIPs()
    // What a crash can leave that no sandbox record names: an IP taken by an ADD whose record
    // was never written, a pod namespace and its /etc/netns files. The restarted kubelet's
    // orphan pass (CNI GC, namespace sweep) must remove all three.
    const podCIDR = (await lab.client.resource<Node>(res('nodes')).get('node2')).spec!.podCIDR!
    const ipamDir = join(lab.state.stateDir, 'node2', 'ipam', 'netkube')
    const leakedIp = nthAddress(parseCidr(podCIDR), 200)
    writeFileSync(join(ipamDir, leakedIp), 'crashed-before-its-record\r\neth0')
    const leakedNs = `${node2.podNetnsPrefix}0bad0bad0bad`
    await createNetns(leakedNs)
    mkdirSync(join('/etc/netns', leakedNs), { recursive: true })
    writeFileSync(join('/etc/netns', leakedNs, 'resolv.conf'), 'nameserver 127.0.0.1\n')
    await recreated(t, 'power', 'power loss', 1, ipsBefore)
    await serviceAnswers(t, 'power loss')
    t.notOk(existsSync(join(ipamDir, leakedIp)), `the IP ${leakedIp} held for no sandbox was released (CNI GC)`)
    await noLeaks(t, 'power loss', base)
  })

  await t.test('reboot: processes and kernel state gone, pods recreated with restartCount 2', async (t) => {
    await recreated(t, 'reboot', 'reboot', 2, await podIPs())
    await serviceAnswers(t, 'reboot')
    await noLeaks(t, 'reboot', base)
  })
})
