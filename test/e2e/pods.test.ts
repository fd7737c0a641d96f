// Issue 11 (the kubelet's part), end to end in a lab with real kubectl 1.27 and 1.33: a pod
// with two init containers goes Init:0/2 → Init:1/2 → Running as `kubectl get -w` shows it,
// each init container's log is served, and the pod's hostname and FQDN are what its process
// sees (read back with `kubectl logs`, no exec); a failing init container under Never ends in
// Init:Error.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pod } from '../../src/api/types.js'
import { run, start } from '../../src/util/exec.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { withLab, waitUntil, res } from '../helpers/lab.js'

const POD = `
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {demo: init}}
spec:
  hostname: web-0
  subdomain: nginx
  terminationGracePeriodSeconds: 1
  initContainers:
  - {name: i1, image: busybox, command: [sh, -c, 'echo first; sleep 3']}
  - {name: i2, image: busybox, command: [sh, -c, 'echo second; sleep 3']}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'echo "hostname=$(hostname)"; grep web-0 /etc/hosts; sleep 3600']
`

const FAILING = `
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  restartPolicy: Never
  initContainers:
  - {name: setup, image: busybox, command: [sh, -c, 'echo cannot; exit 2']}
  containers:
  - {name: app, image: busybox, command: [sleep, '3600']}
`

t.test('init containers and the pod hostname in a lab', { skip: need('kubectl 1.27', 'kubectl 1.33', 'busybox') }, async (t) => {
  const lab = await withLab(t, { nodes: 1, serverFlags: ['--no-dns'], agentFlags: ['--backoff-initial', '1s'] })
  const kc = async (v: '1.27' | '1.33', args: string[], input?: string): Promise<string> => {
    const r = await run(kubectlPath(v), ['--kubeconfig', lab.kubeconfig, ...args], { allowFailure: true, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) })
    if (r.code !== 0) throw new Error(`kubectl ${v} ${args.join(' ')}: ${r.stderr || r.stdout}`)
    return r.stdout
  }
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  const dir = mkdtempSync(join(tmpdir(), 'netkube-e2e-pods-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  await t.test('Init:0/2 → Init:1/2 → Running, watched with kubectl get -w', async (t) => {
    // The watch starts before the pod exists (a selector, not a name), so no state is missed.
    const watchLog = join(dir, 'watch.log')
    const watch = start(kubectlPath('1.33'), ['--kubeconfig', lab.kubeconfig, 'get', 'pods', '-l', 'demo=init', '-w', '--no-headers'], { logPath: watchLog })
    t.teardown(() => {
      watch.kill('SIGTERM')
    })
    await new Promise((r) => setTimeout(r, 1500))
    t.match(await kc('1.27', ['apply', '-f', '-'], POD), /pod\/web-0 created/)
    await waitUntil('web-0 Running in the watch', async () => /\sRunning\s/.test(readFileSync(watchLog, 'utf8')), 90_000, 500)
    watch.kill('SIGTERM')
    const statuses = readFileSync(watchLog, 'utf8').split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[2]!)
    const distinct = statuses.filter((s, i) => s !== statuses[i - 1])
    t.same(distinct.filter((s) => s !== 'Pending' && s !== 'PodInitializing'), ['Init:0/2', 'Init:1/2', 'Running'], `kubectl -w showed ${distinct.join(' → ')}`)
    t.match(await kc('1.27', ['get', 'pod', 'web-0']), /web-0\s+1\/1\s+Running\s+0\s/)
    t.equal(await kc('1.33', ['get', 'pod', 'web-0', '-o', 'jsonpath={.status.initContainerStatuses[*].state.terminated.reason}']), 'Completed Completed')
    t.equal(await kc('1.33', ['logs', 'web-0', '-c', 'i1']), 'first\n', 'an init container\'s log, by name')
    t.equal(await kc('1.27', ['logs', 'web-0', '-c', 'i2']), 'second\n')
  })

  await t.test('the process sees the pod hostname and its FQDN in /etc/hosts', async (t) => {
    const p = await pods.get('web-0')
    await waitUntil('app log', async () => (await kc('1.33', ['logs', 'web-0'])).includes('nginx'), 30_000)
    t.equal(await kc('1.33', ['logs', 'web-0', '-c', 'app']), `hostname=web-0\n${p.status!.podIP}\tweb-0.nginx.default.svc.cluster.local\tweb-0\n`)
  })

  await t.test('a failing init container under restartPolicy Never: Init:Error, the app never runs', async (t) => {
    await kc('1.33', ['apply', '-f', '-'], FAILING)
    await waitUntil('broken Failed', async () => (await pods.get('broken')).status?.phase === 'Failed', 60_000)
    t.match(await kc('1.27', ['get', 'pod', 'broken']), /broken\s+0\/1\s+Init:Error\s+0\s/)
    t.match(await kc('1.33', ['get', 'pod', 'broken']), /broken\s+0\/1\s+Init:Error\s+0\s/)
    t.equal(await kc('1.33', ['logs', 'broken', '-c', 'setup']), 'cannot\n')
    t.equal(await kc('1.33', ['get', 'pod', 'broken', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting.reason}']), 'PodInitializing')
  })
})
