// The kubelet as a whole against a real apiserver + etcd, with real processes in real pod
// namespaces (the reference bridge + host-local CNI plugins, run inside a node namespace):
// init containers in order and their status as kubectl prints it, a failing init container
// under Never and under Always, signals in terminated states, the pod's hostname and /etc/hosts,
// sidecar refusal, and a kubelet restart that keeps restartCount, lastState and the back-off.
import t from 'tap'
import type { Test } from 'tap'
import { readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { CoreEvent as Event, Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { podStatusReason } from '../../src/api/table.js'
import { createClient } from '../../src/client/rest.js'
import { createInformer } from '../../src/client/informer.js'
import type { Client } from '../../src/client/interfaces.js'
import { startKubelet, type Kubelet, type KubeletOptions } from '../../src/kubelet/kubelet.js'
import { deleteNetns } from '../../src/net/netns.js'
import { withApiServer } from '../helpers/apiserver.js'
import { RUN_PREFIX } from '../helpers/netns.js'
import { withCniNode } from '../helpers/cni-node.js'
import { need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'

const res = resourceFor

interface Rig {
  client: Client
  opts: KubeletOptions
  start(): Promise<Kubelet>
  pods: ReturnType<Client['resource']>
  get(name: string): Promise<Pod>
  create(pod: Pod): Promise<Pod>
  logs(k: Kubelet, pod: string, container: string, previous?: boolean): Promise<string>
}

async function rig(t: Test): Promise<Rig> {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const { netns: node, dir, confDir } = await withCniNode(t, '10.250.7.0/24')
  const opts: KubeletOptions = {
    client,
    nodeName: 'n1',
    nodeIP: '10.250.7.1',
    stateDir: join(dir, 'kubelet'),
    netnsPrefix: `${RUN_PREFIX}-p-`,
    cniBinDirs: ['/usr/lib/cni'],
    cniConfDir: confDir,
    cniNetns: node,
    clusterDNS: ['10.96.0.10'],
    clusterDomain: 'cluster.local',
    port: 0,
    listenHost: '127.0.0.1',
    syncIntervalMs: 200,
    backoffInitialMs: 4000,
  }
  const pods = client.resource<Pod>(res('pods'), 'default')
  const running: Kubelet[] = []
  // Last: the pods go (processes, namespaces, IPs) before the node namespace and the apiserver.
  t.teardown(async () => {
    for (const k of running) await k.stop({ killPods: true }).catch(() => {})
  })
  return {
    client,
    opts,
    pods,
    async start() {
      const k = await startKubelet(opts)
      running.push(k)
      return k
    },
    get: (name) => pods.get(name),
    create: (pod) => pods.create({ ...pod, spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, ...pod.spec } }),
    async logs(k, pod, container, previous = false) {
      const r = await fetch(`http://127.0.0.1:${k.port}/containerLogs/default/${pod}/${container}${previous ? '?previous=true' : ''}`)
      return r.status === 200 ? r.text() : `HTTP ${r.status}`
    },
  }
}

const sh = (name: string, script: string, extra: Record<string, unknown> = {}) => ({ name, image: 'busybox', command: ['sh', '-c', script], ...extra })

/** Follow one pod through the watch: every distinct kubectl STATUS it showed, in order. */
async function followStatus(t: Test, client: Client, name: string): Promise<string[]> {
  const seen: string[] = []
  const inf = createInformer(client.resource<Pod>(res('pods'), 'default'), { fieldSelector: `metadata.name=${name}`, name: 'test-follow' })
  const note = (p: Pod): void => {
    const s = podStatusReason(p)
    if (seen.at(-1) !== s) seen.push(s)
  }
  inf.addEventHandler({ onAdd: note, onUpdate: (_o, p) => note(p), onDelete: () => {} })
  await inf.start()
  t.teardown(() => inf.stop())
  return seen
}

t.test('the kubelet with real processes', { skip: need('busybox', 'etcd', 'addon:setns') }, async (t) => {
  const r = await rig(t)
  let k = await r.start()

  await t.test('init containers run in order before the app; status as upstream and kubectl show it', async (t) => {
    const seen = await followStatus(t, r.client, 'web-0')
    await r.create({
      metadata: { name: 'web-0' },
      spec: {
        hostname: 'web-0',
        subdomain: 'nginx',
        initContainers: [sh('i1', 'echo i1 $(date +%s); sleep 1'), sh('i2', 'echo i2 $(date +%s); sleep 1')],
        containers: [sh('app', 'echo "host=$(hostname) env=$HOSTNAME"; tail -n1 /etc/hosts; sleep 3600')],
      },
    })
    await waitUntil('web-0 Running', async () => (await r.get('web-0')).status?.phase === 'Running', 30_000)
    await waitUntil('web-0 Ready', async () => podStatusReason(await r.get('web-0')) === 'Running', 10_000)
    const p = await r.get('web-0')
    t.same(seen.filter((s) => s !== 'Pending'), ['Init:0/2', 'Init:1/2', ...(seen.includes('PodInitializing') ? ['PodInitializing'] : []), 'Running'], `the watch saw ${seen.join(' → ')}`)
    const [i1, i2] = p.status!.initContainerStatuses!
    t.match(i1, { name: 'i1', ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } })
    t.match(i2, { name: 'i2', ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } })
    const app = p.status!.containerStatuses![0]!
    t.ok(Date.parse(i1!.state!.terminated!.finishedAt!) <= Date.parse(i2!.state!.terminated!.startedAt!), 'i2 started after i1 finished')
    t.ok(Date.parse(i2!.state!.terminated!.finishedAt!) <= Date.parse(app.state!.running!.startedAt!), 'the app started after i2 finished')
    t.equal(p.status!.conditions!.find((c) => c.type === 'Initialized')?.status, 'True')
    t.match(await r.logs(k, 'web-0', 'i1'), /^i1 \d+\n$/, 'an init container has its own log (kubectl logs -c i1)')
    await waitUntil('app log', async () => (await r.logs(k, 'web-0', 'app')).includes('web-0.nginx'), 10_000)
    t.equal(
      await r.logs(k, 'web-0', 'app'),
      `host=web-0 env=web-0\n${p.status!.podIP}\tweb-0.nginx.default.svc.cluster.local\tweb-0\n`,
      'the container sees its hostname and its FQDN in the managed /etc/hosts',
    )
    const events = (await r.client.resource<Event>(res('events'), 'default').list()).items.filter((e) => e.involvedObject?.name === 'web-0')
    for (const c of ['i1', 'i2'])
      for (const reason of ['Pulled', 'Created', 'Started'])
        t.ok(events.some((e) => e.reason === reason && e.involvedObject?.fieldPath === `spec.initContainers{${c}}`), `${reason} event for init container ${c}`)
  })

  await t.test('a new sandbox runs the init containers again', async (t) => {
    const before = await r.get('web-0')
    const netns = `${r.opts.netnsPrefix}${before.metadata.uid!.replace(/-/g, '').slice(0, 12)}`
    await deleteNetns(netns) // what a reboot does to it
    await waitUntil('web-0 re-initialized and Running', async () => {
      const p = await r.get('web-0')
      return p.status?.initContainerStatuses?.every((c) => c.restartCount === 1 && c.state?.terminated?.exitCode === 0) === true && podStatusReason(p) === 'Running'
    }, 30_000)
    const p = await r.get('web-0')
    t.equal(p.status!.containerStatuses![0]!.restartCount, 1, 'the app container restarted once, after them')
    t.ok(
      Date.parse(p.status!.initContainerStatuses![1]!.state!.terminated!.finishedAt!) <= Date.parse(p.status!.containerStatuses![0]!.state!.running!.startedAt!),
      'in order again: the app after the last init container',
    )
  })

  await t.test('setHostnameAsFQDN: the kernel hostname is the FQDN', async (t) => {
    await r.create({
      metadata: { name: 'fq' },
      spec: { hostname: 'db', subdomain: 'sub', setHostnameAsFQDN: true, restartPolicy: 'Never', containers: [sh('c', 'hostname; echo $HOSTNAME')] },
    })
    await waitUntil('fq Succeeded', async () => (await r.get('fq')).status?.phase === 'Succeeded', 30_000)
    t.equal(await r.logs(k, 'fq', 'c'), 'db.sub.default.svc.cluster.local\ndb.sub.default.svc.cluster.local\n')
    t.equal((await import('node:os')).hostname(), (await import('node:os')).hostname(), 'the host keeps its own hostname')
  })

  await t.test("a pod's containers share one UTS namespace, not the host's", async (t) => {
    // b's second instance starts a second after a is surely inside its namespace, and joins it.
    await r.create({ metadata: { name: 'pair' }, spec: { containers: [sh('a', 'readlink /proc/self/ns/uts; sleep 3600'), sh('b', 'readlink /proc/self/ns/uts; hostname; sleep 1; exit 1')] } })
    await waitUntil('b restarted', async () => ((await r.get('pair')).status?.containerStatuses?.[1]?.restartCount ?? 0) >= 1 && (await r.logs(k, 'pair', 'b')).includes('\npair'), 30_000)
    const a = (await r.logs(k, 'pair', 'a')).trim()
    const [b, name] = (await r.logs(k, 'pair', 'b')).trim().split('\n')
    t.match(a, /^uts:\[\d+\]$/)
    t.equal(b, a, "b's new instance joined the UTS namespace a runs in")
    t.equal(name, 'pair')
    t.not(a, readlinkSync('/proc/self/ns/uts'), "not the host's")
    await r.pods.delete('pair', { gracePeriodSeconds: 0 })
  })

  await t.test('a failing init container under restartPolicy Never fails the pod', async (t) => {
    await r.create({
      metadata: { name: 'never' },
      spec: { restartPolicy: 'Never', initContainers: [sh('i1', 'echo failing; exit 3'), sh('i2', 'true')], containers: [sh('app', 'sleep 3600')] },
    })
    await waitUntil('never Failed', async () => (await r.get('never')).status?.phase === 'Failed', 30_000)
    const p = await r.get('never')
    t.equal(podStatusReason(p), 'Init:Error')
    t.match(p.status!.initContainerStatuses![0], { name: 'i1', restartCount: 0, state: { terminated: { exitCode: 3, reason: 'Error' } } })
    t.match(p.status!.initContainerStatuses![1], { name: 'i2', state: { waiting: { reason: 'PodInitializing' } } })
    t.match(p.status!.containerStatuses![0], { name: 'app', state: { waiting: { reason: 'PodInitializing' } } }, 'the app never started')
    t.match(p.status!.conditions!.find((c) => c.type === 'Initialized'), { status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [i1 i2]' })
  })

  await t.test('a failing init container under restartPolicy Always crash-loops with back-off', async (t) => {
    const seen = await followStatus(t, r.client, 'loop')
    await r.create({ metadata: { name: 'loop' }, spec: { initContainers: [sh('i1', 'exit 1')], containers: [sh('app', 'sleep 3600')] } })
    await waitUntil('loop restarted twice', async () => ((await r.get('loop')).status?.initContainerStatuses?.[0]?.restartCount ?? 0) >= 2, 30_000)
    const p = await r.get('loop')
    t.equal(p.status?.phase, 'Pending')
    t.match(p.status!.initContainerStatuses![0], { lastState: { terminated: { exitCode: 1, reason: 'Error' } } })
    t.ok(seen.includes('Init:CrashLoopBackOff'), `the watch saw Init:CrashLoopBackOff (${seen.join(' → ')})`)
    t.equal(p.status!.containerStatuses![0]!.state?.waiting?.reason, 'PodInitializing')
    await r.pods.delete('loop', { gracePeriodSeconds: 0 })
  })

  await t.test('a container killed by a signal: exitCode 128+N, signal N, reason Error', async (t) => {
    // `$$$$`: Kubernetes expands `$$` in a command to a literal `$`, so the shell sees `$$`.
    await r.create({ metadata: { name: 'sig' }, spec: { restartPolicy: 'Never', containers: [sh('k', 'kill -KILL $$$$'), sh('t', 'kill -TERM $$$$'), sh('z', 'exit 0')] } })
    await waitUntil('sig Failed', async () => (await r.get('sig')).status?.phase === 'Failed', 30_000)
    const [kk, tt, zz] = (await r.get('sig')).status!.containerStatuses!
    t.match(kk!.state!.terminated, { exitCode: 137, signal: 9, reason: 'Error' })
    t.match(tt!.state!.terminated, { exitCode: 143, signal: 15, reason: 'Error' })
    t.match(zz!.state!.terminated, { exitCode: 0, reason: 'Completed' })
    t.notOk('signal' in zz!.state!.terminated!, 'no signal on a normal exit')
  })

  await t.test('sidecar-style init containers are refused, not run half right', async (t) => {
    await r.create({ metadata: { name: 'sidecar' }, spec: { initContainers: [sh('proxy', 'sleep 3600', { restartPolicy: 'Always' })], containers: [sh('app', 'sleep 3600')] } })
    await waitUntil('sidecar Failed', async () => (await r.get('sidecar')).status?.phase === 'Failed', 30_000)
    const p = await r.get('sidecar')
    t.match(p.status, { reason: 'InitContainerRestartPolicyForbidden', message: 'Pod was rejected: Init container "proxy" may not have a non-default restartPolicy' })
    t.notOk(p.status!.podIP, 'no sandbox was made')
  })

  await t.test('a kubelet restart keeps restartCount, lastState and the crash-loop back-off', async (t) => {
    await r.create({ metadata: { name: 'crash' }, spec: { containers: [sh('c', 'echo run; exit 1')] } })
    // Instance 0 exits → 1 at once (back-off 4 s next) → 2 after 4 s (8 s next).
    await waitUntil('crash at restart 2, exited', async () => {
      const c = (await r.get('crash')).status?.containerStatuses?.[0]
      return c?.restartCount === 2 && c.state?.waiting?.reason === 'CrashLoopBackOff'
    }, 30_000)
    const before = (await r.get('crash')).status!.containerStatuses![0]!
    const exitedAt = Date.parse(before.lastState!.terminated!.finishedAt!)
    // The kubelet goes away without touching its pods (as a crash leaves them), and a new one starts on the same state.
    await k.stop()
    k = await r.start()
    await new Promise((res) => setTimeout(res, 1500))
    const after = (await r.get('crash')).status!.containerStatuses![0]!
    t.equal(after.restartCount, 2, 'restartCount kept')
    t.same(after.lastState, before.lastState, 'lastState kept')
    t.equal(after.state?.waiting?.reason, 'CrashLoopBackOff', 'still backing off')
    await waitUntil('crash restarted by the new kubelet', async () => ((await r.get('crash')).status?.containerStatuses?.[0]?.restartCount ?? 0) >= 3, 30_000)
    const third = (await r.get('crash')).status!.containerStatuses![0]!
    const startedAt = Date.parse((third.state?.running?.startedAt ?? third.lastState?.terminated?.startedAt)!)
    t.ok(startedAt - exitedAt >= 7500, `the new kubelet waited out the 8 s back-off (${startedAt - exitedAt} ms after the exit)`)
    t.equal(await r.logs(k, 'crash', 'c', true), 'run\n', 'the previous instance\'s log is still served')
  })
})
