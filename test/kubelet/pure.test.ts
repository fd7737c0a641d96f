// Pure parts of the kubelet: image catalogue, resolv.conf/hosts per dnsPolicy, pod phase.
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pod } from '../../src/api/types.js'
import { resolveArgv, imageRepoName, NETKUBE_MAIN } from '../../src/kubelet/images.js'
import { podResolvConf, podHosts, sandboxDeathReason } from '../../src/kubelet/sandbox.js'
import { computePodStatus, podPhase, statusKey, statusWriteNeeded, type ContainerView } from '../../src/kubelet/pod-status.js'

const pod = (spec: Partial<Pod['spec']> = {}): Pod => ({
  metadata: { name: 'web-1', namespace: 'shop', uid: 'u1' },
  spec: { containers: [{ name: 'c', image: 'agnhost' }], ...spec },
})

t.test('image catalogue follows ENTRYPOINT/CMD override rules', async (t) => {
  t.equal(imageRepoName('registry.k8s.io/e2e-test-images/agnhost:2.45'), 'agnhost')
  t.equal(imageRepoName('busybox@sha256:abc'), 'busybox')
  t.same(resolveArgv('agnhost', undefined, undefined).slice(1), [NETKUBE_MAIN, 'agnhost', 'serve-hostname'])
  t.same(resolveArgv('agnhost:2.45', undefined, ['netexec', '--http-port=8080']).slice(-2), ['netexec', '--http-port=8080'])
  const bb = resolveArgv('busybox', ['sh', '-c', 'exit 3'], undefined)
  t.match(bb[0], /busybox$/)
  t.same(bb.slice(1), ['sh', '-c', 'exit 3'])
  t.throws(() => resolveArgv('quay.io/nope/unknown:1', undefined, undefined), { name: 'ImageNotFoundError' })
})

t.test('resolv.conf per dnsPolicy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nk-dns-'))
  const host = join(dir, 'resolv.conf')
  writeFileSync(host, 'nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n')
  const dns = { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', hostResolvConf: host }
  t.equal(
    podResolvConf(pod(), dns),
    'search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n',
  )
  t.equal(podResolvConf(pod({ dnsPolicy: 'Default' }), dns), 'search corp.example\nnameserver 192.0.2.53\noptions edns0\n')
  t.equal(
    podResolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.2.3.4'], searches: ['a.b'], options: [{ name: 'ndots', value: '2' }] } }), dns),
    'search a.b\nnameserver 1.2.3.4\noptions ndots:2\n',
  )
  t.match(podHosts(pod({ hostname: 'h', subdomain: 'sub' }), '10.244.1.5', 'cluster.local'), /10\.244\.1\.5\th\.sub\.shop\.svc\.cluster\.local\th/)
})

const cs = (state: ContainerView['status']['state'], extra: Partial<ContainerView['status']> = {}): ContainerView => ({
  status: { name: 'c', ready: false, restartCount: 0, image: 'x', imageID: 'x', state, ...extra },
  finished: !!state?.terminated,
})

t.test('pod phase follows the kubelet rules', async (t) => {
  t.equal(podPhase(pod(), [cs({ waiting: { reason: 'ContainerCreating' } })]), 'Pending')
  t.equal(podPhase(pod(), [cs({ running: {} })]), 'Running')
  t.equal(podPhase(pod(), [cs({ waiting: { reason: 'CrashLoopBackOff' } }, { lastState: { terminated: { exitCode: 1 } } })]), 'Running')
  t.equal(podPhase(pod({ restartPolicy: 'Never' }), [cs({ terminated: { exitCode: 0 } })]), 'Succeeded')
  t.equal(podPhase(pod({ restartPolicy: 'Never' }), [cs({ terminated: { exitCode: 2 } })]), 'Failed')
  const st = computePodStatus(
    { pod: pod(), hostIP: '192.168.56.10', podIP: '10.244.1.5', sandboxReady: true, containers: [cs({ running: {} }, { ready: true })], startTime: 'x' },
    '2026-01-01T00:00:00Z',
  )
  t.equal(st.phase, 'Running')
  t.equal(st.podIP, '10.244.1.5')
  t.equal(st.conditions?.find((c) => c.type === 'Ready')?.status, 'True')
})

t.test('$(VAR) expansion follows Kubernetes rules', async (t) => {
  const { expandVars } = await import('../../src/kubelet/pod-worker.js')
  const env = { POD: 'web-1', PORT: '8080' }
  t.equal(expandVars('--name=$(POD) --port=$(PORT)', env), '--name=web-1 --port=8080')
  t.equal(expandVars('$(MISSING) stays', env), '$(MISSING) stays', 'an undefined variable is left as written')
  t.equal(expandVars('$$(POD) costs $$5', env), '$(POD) costs $5', '$$ escapes a literal $')
})

t.test('a sandbox is dead when its namespace is gone or every process was lost unwatched', async (t) => {
  const run = { running: true }
  const lost = { running: false, lost: true }
  const exited = { running: false }
  t.equal(sandboxDeathReason(true, [run]), undefined, 'a running container: alive (kubelet-only restart adopts it)')
  t.equal(sandboxDeathReason(true, [exited, run]), undefined, 'an old instance exited, the current one runs: alive')
  t.equal(sandboxDeathReason(true, [exited]), undefined, 'exited under a watching kubelet (crash loop, completion): the sandbox stays')
  t.equal(sandboxDeathReason(true, []), undefined, 'no container yet: alive')
  t.equal(sandboxDeathReason(true, [lost, exited]), 'all its processes died while no kubelet watched', 'power loss')
  t.equal(sandboxDeathReason(true, [lost, run]), undefined, 'one container lost, another still running: alive')
  t.equal(sandboxDeathReason(false, [run]), 'its network namespace is gone', 'reboot')
})

t.test('a pod status is written again when another writer changed its conditions in the API', async (t) => {
  const ready = { phase: 'Running' as const, conditions: [{ type: 'Ready', status: 'True' as const, lastTransitionTime: 'a' }] }
  const key = statusKey(ready)
  t.ok(statusWriteNeeded(undefined, ready, undefined), 'never sent → write')
  t.notOk(statusWriteNeeded(key, ready, { ...ready, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: 'b' }] }), 'sent and the API agrees (timestamps aside) → skip')
  t.ok(statusWriteNeeded(key, ready, { ...ready, conditions: [{ type: 'Ready', status: 'False', reason: 'NodeNotReady' }] }), "node lifecycle's Ready=False in the API → write our Ready=True again")
  t.ok(statusWriteNeeded(key, { ...ready, phase: 'Succeeded' }, ready), 'a new status → write')
})
