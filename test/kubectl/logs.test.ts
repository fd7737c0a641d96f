// `kubectl logs` with real kubectl 1.27 and 1.33 against a real apiserver + etcd and a real
// kubelet running real processes in pod namespaces (the log shim writing CRI-format files):
// -f shows a line written after it started and ends when the container exits; --tail, --since,
// --since-time, --timestamps, --limit-bytes, -c, --all-containers, -l, deploy/x, --previous, and
// upstream's error texts.
import t from 'tap'
import type { Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { netnsHandle } from '../../src/net/door.js'
import { run } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
import { withKubeletNode } from '../helpers/kubelet-node.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

const sh = (name: string, script: string) => ({ name, image: 'busybox', command: ['sh', '-c', script] })

async function cluster(t: Test) {
  const api = await withApiServer(t)
  const { client } = await withKubeletNode(t, api, '10.250.9.0/24', { backoffInitialMs: 1000 })
  const pods = client.resource<Pod>(resourceFor('pods'), 'default')
  const create = (pod: Pod) => pods.create({ ...pod, spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, ...pod.spec } })
  return { api, client, pods, create }
}

t.test('kubectl logs', { skip: need('busybox', 'etcd', 'addon:setns') }, async (t) => {
  const c = await cluster(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-logs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  await c.create({
    metadata: { name: 'duo', labels: { app: 'duo' } },
    spec: {
      initContainers: [sh('setup', 'echo init done')],
      containers: [sh('a', 'echo a1; sleep 1.2; echo a2 >&2; sleep 0.3; echo a3; sleep 3600'), sh('b', 'echo b1; sleep 3600')],
    },
  })
  await c.create({ metadata: { name: 'crash' }, spec: { restartPolicy: 'Always', containers: [sh('c', 'echo run $(date +%s); sleep 0.5; exit 1')] } })
  // A Deployment object only (no controllers here): kubectl resolves deploy/x to a pod by its selector.
  await c.client.resource(resourceFor('deployments'), 'default').create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { selector: { matchLabels: { app: 'duo' } }, template: { metadata: { labels: { app: 'duo' } }, spec: { containers: [{ name: 'b', image: 'busybox' }] } } },
  } as never)
  const kube = (...args: string[]) => run(CLIENTS[1]!.path, ['--kubeconfig', c.api.kubeconfigPath, ...args], { allowFailure: true })
  await waitUntil('duo has written a3', async () => (await kube('logs', 'duo', '-c', 'a')).stdout.includes('a3'), 60_000)
  await waitUntil('crash restarted', async () => ((await c.pods.get('crash')).status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 60_000)

  for (const cl of CLIENTS) {
    t.test(`kubectl ${cl.name}`, { skip: cl.skip }, async (t) => {
      const k = (...args: string[]) => run(cl.path, ['--kubeconfig', c.api.kubeconfigPath, '-n', 'default', ...args], { allowFailure: true, timeoutMs: 30_000 })
      const ok = async (...args: string[]) => {
        const r = await k(...args)
        t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
        return r.stdout
      }

      t.equal(await ok('logs', 'duo', '-c', 'a'), 'a1\na2\na3\n', 'stdout and stderr, in order')
      t.equal(await ok('logs', 'duo', '-c', 'setup'), 'init done\n', 'an init container by name')
      t.equal(await ok('logs', 'duo', '-c', 'a', '--tail=2'), 'a2\na3\n', '--tail')
      t.equal(await ok('logs', 'duo', '-c', 'a', '--limit-bytes=4'), 'a1\na', '--limit-bytes')
      const stamped = await ok('logs', 'duo', '-c', 'a', '--timestamps')
      t.match(stamped, /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z a\d\n){3}$/, '--timestamps: RFC3339Nano before each line')
      const times = stamped.trim().split('\n').map((l) => l.split(' ')[0]!)
      t.ok(Date.parse(times[1]!) - Date.parse(times[0]!) >= 250, `the times are when the lines were written (${times.join(', ')})`)
      // kubectl sends sinceTime at second precision (metav1.Time), hence 1.2 s between a1 and a2.
      t.equal(await ok('logs', 'duo', '-c', 'a', `--since-time=${times[1]}`), 'a2\na3\n', '--since-time keeps the lines from then on')
      t.equal(await ok('logs', 'duo', '-c', 'a', '--since=1h'), 'a1\na2\na3\n', '--since')
      t.equal(await ok('logs', 'duo', '-c', 'a', `--since-time=${new Date(Date.now() + 3_600_000).toISOString()}`), '', 'nothing after a future time')
      const all = await ok('logs', 'duo', '--all-containers')
      t.same(all.split('\n').filter(Boolean).sort(), ['a1', 'a2', 'a3', 'b1', 'init done'], '--all-containers: the init container and both app containers')
      t.equal(await ok('logs', '-l', 'app=duo', '-c', 'b'), 'b1\n', '-l selector')
      t.equal(await ok('logs', 'deploy/web', '-c', 'b'), 'b1\n', 'deploy/x')
      t.match(await ok('logs', 'crash', '--previous'), /^run \d+\n$/, '--previous: the last terminated instance')

      const noPrev = await k('logs', 'duo', '-c', 'b', '--previous')
      t.equal(noPrev.code, 1)
      t.equal(noPrev.stderr.trim(), 'Error from server (BadRequest): previous terminated container "b" in pod "duo" not found')
      const bad = await k('logs', 'duo', '-c', 'nope')
      t.equal(bad.code, 1)
      t.match(bad.stderr, /container nope is not valid for pod duo/, 'kubectl checks the name itself; the apiserver says the same')

      // -f: a line written after kubectl started is shown; kubectl ends when the container exits.
      const go = join(dir, `go-${cl.name}`)
      const name = `follow-${cl.name.replace('.', '')}`
      await c.create({ metadata: { name }, spec: { restartPolicy: 'Never', containers: [sh('f', `echo before; while [ ! -e ${go} ]; do sleep 0.1; done; echo after; sleep 0.5; echo last`)] } })
      await waitUntil(`${name} running`, async () => !!(await c.pods.get(name)).status?.containerStatuses?.[0]?.state?.running, 30_000)
      const child = netnsHandle().spawn([cl.path, '--kubeconfig', c.api.kubeconfigPath, '-n', 'default', 'logs', '-f', name], { stdio: 'pipe' })
      child.stdin!.end()
      let out = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      t.teardown(() => void child.kill('SIGKILL'))
      await waitUntil('kubectl -f printed the first line', async () => out.includes('before'), 20_000)
      await new Promise((r) => setTimeout(r, 500))
      t.equal(out, 'before\n', 'kubectl -f is still waiting: nothing more yet')
      writeFileSync(go, '')
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000))])
      t.equal(code, 0, 'kubectl logs -f ended when the container exited')
      t.equal(out, 'before\nafter\nlast\n', 'the lines written after it started, to the last one')
    })
  }
})
