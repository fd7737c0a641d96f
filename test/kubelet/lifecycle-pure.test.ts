// Pure decisions of the kubelet's container lifecycle, as tables: which init container runs
// next, restart and back-off, the terminated state of an exit (signals, reasons), the pod's
// names, the container record format, and the status an init phase produces.
import t from 'tap'
import type { ContainerStatus, Pod } from '../../src/api/types.js'
import { admitPod, initShouldRestart, nextInitAction, type InitProgress } from '../../src/kubelet/init-containers.js'
import { exitCodeOf, nextBackoff, shouldRestart, terminatedState } from '../../src/kubelet/restart.js'
import { podNames } from '../../src/kubelet/hostname.js'
import { decodeContainerRecord, encodeContainerRecord, type ContainerRecord } from '../../src/kubelet/container-record.js'
import { computePodStatus, type ContainerView } from '../../src/kubelet/pod-status.js'
import { podStatusReason } from '../../src/api/table.js'
import { podHosts } from '../../src/kubelet/sandbox.js'

const none: InitProgress = { phase: 'none' }
const running: InitProgress = { phase: 'running' }
const ok: InitProgress = { phase: 'succeeded' }
const failed: InitProgress = { phase: 'failed', exitCode: 1 }

t.test('the next init container step', async (t) => {
  const rows: [InitProgress[], 'Always' | 'OnFailure' | 'Never' | undefined, ReturnType<typeof nextInitAction>][] = [
    [[], 'Always', { action: 'done' }],
    [[none, none], 'Always', { action: 'start', index: 0 }],
    [[running, none], 'Always', { action: 'wait', index: 0 }],
    [[ok, none], 'Always', { action: 'start', index: 1 }],
    [[ok, running], undefined, { action: 'wait', index: 1 }],
    [[ok, ok], 'Never', { action: 'done' }],
    [[ok, failed], 'Always', { action: 'restart', index: 1 }],
    [[failed, none], 'OnFailure', { action: 'restart', index: 0 }],
    [[failed, none], 'Never', { action: 'fail', index: 0 }],
    // After a sandbox change: the first one runs again, even though a later one had succeeded.
    [[none, ok], 'Always', { action: 'start', index: 0 }],
  ]
  for (const [progress, policy, want] of rows) t.same(nextInitAction(progress, policy), want, `${JSON.stringify(progress.map((p) => p.phase))} ${policy ?? '(default)'}`)
})

t.test('restart policy and back-off', async (t) => {
  const rows: [Parameters<typeof shouldRestart>[0], number, boolean, boolean][] = [
    // policy, exit, app restarts, init restarts
    ['Always', 0, true, false],
    ['Always', 1, true, true],
    ['OnFailure', 0, false, false],
    ['OnFailure', 2, true, true],
    ['Never', 1, false, false],
    [undefined, 0, true, false],
  ]
  for (const [policy, code, app, init] of rows) {
    t.equal(shouldRestart(policy, code), app, `app ${policy} exit ${code}`)
    t.equal(initShouldRestart(policy, code), init, `init ${policy} exit ${code}`)
  }
  const seq: number[] = []
  let b = 0
  for (let i = 0; i < 8; i++) seq.push((b = nextBackoff(b)))
  t.same(seq, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000], '10 s doubling to the 5 min cap')
  t.equal(nextBackoff(0, 1000), 1000, 'a configured initial period')
})

t.test('the terminated state of an exit', async (t) => {
  const base = { id: 'u_c_3', startedAt: 'a', finishedAt: 'b' }
  t.equal(exitCodeOf(null, 'SIGKILL'), 137)
  t.equal(exitCodeOf(null, 'SIGTERM'), 143)
  t.equal(exitCodeOf(null, 'SIGSEGV'), 139)
  t.equal(exitCodeOf(3, null), 3)
  const rows: [Parameters<typeof terminatedState>[0], Partial<ReturnType<typeof terminatedState>>][] = [
    [{ ...base, exitCode: 0 }, { exitCode: 0, reason: 'Completed' }],
    [{ ...base, exitCode: 3 }, { exitCode: 3, reason: 'Error' }],
    [{ ...base, exitCode: 137, signal: 'SIGKILL' }, { exitCode: 137, signal: 9, reason: 'Error' }],
    [{ ...base, exitCode: 143, signal: 'SIGTERM' }, { exitCode: 143, signal: 15, reason: 'Error' }],
    [{ ...base, exitCode: 137, oomKilled: true }, { exitCode: 137, reason: 'OOMKilled' }],
    [{ ...base, exitCode: 137, lost: true }, { exitCode: 137, reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' }],
  ]
  for (const [facts, want] of rows) {
    const got = terminatedState(facts)
    t.match(got, { ...want, startedAt: 'a', finishedAt: 'b', containerID: 'process://u_c_3' }, JSON.stringify(facts))
    if (!facts.signal) t.notOk('signal' in got, 'no signal without one')
  }
  t.equal(terminatedState({ ...base, exitCode: 137 }, 'Container c failed liveness probe, will be restarted').message, 'Container c failed liveness probe, will be restarted')
})

const pod = (spec: Partial<Pod['spec']> = {}, name = 'web-0'): Pod => ({
  metadata: { name, namespace: 'shop', uid: 'u1' },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
})

t.test('pod hostname, domain and FQDN', async (t) => {
  t.same(podNames(pod(), 'cluster.local'), { hostname: 'web-0', kernelHostname: 'web-0' })
  t.same(podNames(pod({ hostname: 'h' }), 'cluster.local'), { hostname: 'h', kernelHostname: 'h' })
  t.same(podNames(pod({ subdomain: 'nginx' }), 'cluster.local'), { hostname: 'web-0', domain: 'nginx.shop.svc.cluster.local', kernelHostname: 'web-0' })
  t.same(podNames(pod({ subdomain: 'nginx', setHostnameAsFQDN: true }), 'cluster.local').kernelHostname, 'web-0.nginx.shop.svc.cluster.local')
  t.same(podNames(pod({ setHostnameAsFQDN: true }), 'cluster.local').kernelHostname, 'web-0', 'no subdomain, no FQDN')
  const long = `${'a'.repeat(62)}-b`
  t.equal(podNames(pod({}, `${long}cd`), 'cluster.local').hostname, 'a'.repeat(62), 'a pod name over 63 is cut, without a trailing dash')
  t.throws(() => podNames(pod({ hostname: 'h'.repeat(40), subdomain: 's'.repeat(10), setHostnameAsFQDN: true }), 'cluster.local'), /FQDN h+\.s+\.shop\.svc\.cluster\.local is too long \(64 characters is the max, 74 characters requested\)/)
  t.equal(
    podHosts(pod({ hostname: 'web-0', subdomain: 'nginx' }), '10.244.1.5', 'cluster.local').split('\n').at(-2),
    '10.244.1.5\tweb-0.nginx.shop.svc.cluster.local\tweb-0',
    'the managed /etc/hosts names the FQDN first',
  )
  t.equal(podHosts(pod(), '10.244.1.5', 'cluster.local').split('\n').at(-2), '10.244.1.5\tweb-0')
})

t.test('sidecar-style init containers are refused at admission', async (t) => {
  t.same(admitPod(pod({ initContainers: [{ name: 'i', image: 'busybox' }] })), { admit: true })
  t.same(admitPod(pod({ initContainers: [{ name: 'i', image: 'busybox' }, { name: 'proxy', image: 'busybox', restartPolicy: 'Always' }] })), {
    admit: false,
    reason: 'InitContainerRestartPolicyForbidden',
    message: 'Init container "proxy" may not have a non-default restartPolicy',
  })
})

t.test('the container record format', async (t) => {
  const rec: ContainerRecord = {
    version: 1, name: 'c', restartCount: 4, backoffMs: 40_000, backoffUntil: 1_700_000_000_000, current: 'u_c_4', seenExit: 'u_c_4',
    lastTerminated: { exitCode: 1, reason: 'Error', startedAt: 'a', finishedAt: 'b', containerID: 'process://u_c_4' }, sandbox: 's',
  }
  t.same(decodeContainerRecord(encodeContainerRecord(rec)), rec, 'round trip')
  for (const bad of ['', '{', '{"version":2,"name":"c","restartCount":1,"backoffMs":0,"backoffUntil":0}', '{"version":1,"name":"c","restartCount":"1","backoffMs":0,"backoffUntil":0}', '{"version":1,"name":"c","restartCount":1,"backoffMs":0,"backoffUntil":0,"lastTerminated":{}}'])
    t.equal(decodeContainerRecord(bad), undefined, `refused: ${bad || '(empty)'}`)
})

const view = (name: string, state: ContainerStatus['state'], extra: Partial<ContainerStatus> = {}): ContainerView => ({
  status: { name, ready: false, restartCount: 0, image: 'busybox', imageID: 'x', state, ...extra },
  finished: !!state?.terminated,
})
const initPod = (policy?: 'Always' | 'Never'): Pod =>
  pod({ ...(policy ? { restartPolicy: policy } : {}), initContainers: [{ name: 'i1', image: 'busybox' }, { name: 'i2', image: 'busybox' }] })
const waitingInit = { waiting: { reason: 'PodInitializing' } }
const done = { terminated: { exitCode: 0, reason: 'Completed' } }

t.test('status while initializing: phase, Initialized, initContainerStatuses, kubectl STATUS', async (t) => {
  const rows: { name: string; policy?: 'Always' | 'Never'; inits: ContainerView[]; app: ContainerView; phase: string; initialized: string; column: string }[] = [
    { name: 'first running', inits: [view('i1', { running: {} }), view('i2', waitingInit)], app: view('c', waitingInit), phase: 'Pending', initialized: 'False', column: 'Init:0/2' },
    { name: 'second running', inits: [view('i1', done, { ready: true }), view('i2', { running: {} })], app: view('c', waitingInit), phase: 'Pending', initialized: 'False', column: 'Init:1/2' },
    { name: 'both done, app not yet', inits: [view('i1', done), view('i2', done)], app: view('c', waitingInit), phase: 'Pending', initialized: 'True', column: 'PodInitializing' },
    { name: 'both done, app running', inits: [view('i1', done), view('i2', done)], app: view('c', { running: {} }, { ready: true }), phase: 'Running', initialized: 'True', column: 'Running' },
    {
      name: 'crash-looping init', inits: [view('i1', { waiting: { reason: 'CrashLoopBackOff' } }, { lastState: { terminated: { exitCode: 1, reason: 'Error' } }, restartCount: 2 }), view('i2', waitingInit)],
      app: view('c', waitingInit), phase: 'Pending', initialized: 'False', column: 'Init:CrashLoopBackOff',
    },
    { name: 'failed init, Never', policy: 'Never', inits: [view('i1', { terminated: { exitCode: 3, reason: 'Error' } }), view('i2', waitingInit)], app: view('c', waitingInit), phase: 'Failed', initialized: 'False', column: 'Init:Error' },
    { name: 'failed init, Always (before its restart)', policy: 'Always', inits: [view('i1', { terminated: { exitCode: 3, reason: 'Error' } }), view('i2', waitingInit)], app: view('c', waitingInit), phase: 'Pending', initialized: 'False', column: 'Init:Error' },
  ]
  for (const r of rows) {
    const p = initPod(r.policy)
    const st = computePodStatus({ pod: p, hostIP: '192.168.56.10', podIP: '10.244.1.5', sandboxReady: true, containers: [r.app], initContainers: r.inits, startTime: 'x' }, 'now')
    t.equal(st.phase, r.phase, `${r.name}: phase`)
    const init = st.conditions!.find((c) => c.type === 'Initialized')!
    t.equal(init.status, r.initialized, `${r.name}: Initialized`)
    if (r.initialized === 'False') {
      t.equal(init.reason, 'ContainersNotInitialized')
      t.match(init.message, /^containers with incomplete status: \[i1( i2)?\]$|^containers with incomplete status: \[i2\]$/)
    }
    t.same(st.initContainerStatuses?.map((c) => c.name), ['i1', 'i2'])
    t.equal(podStatusReason({ ...p, status: st }), r.column, `${r.name}: kubectl STATUS`)
  }
  const none = computePodStatus({ pod: pod(), hostIP: 'h', sandboxReady: true, containers: [view('c', { running: {} })], startTime: 'x' }, 'now')
  t.notOk('initContainerStatuses' in none, 'no init containers, no initContainerStatuses')
  const rejected = computePodStatus({ pod: pod(), hostIP: 'h', sandboxReady: false, containers: [], rejected: { reason: 'InitContainerRestartPolicyForbidden', message: 'm' }, startTime: 'x' }, 'now')
  t.match(rejected, { phase: 'Failed', reason: 'InitContainerRestartPolicyForbidden', message: 'Pod was rejected: m' })
})
