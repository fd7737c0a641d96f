// kubectl attach and `kubectl run -it --rm` against a real apiserver and a real kubelet: the
// container's stdin / terminal is kept by its log shim, reached over SPDY (kubectl 1.27) and
// WebSocket v5 (1.33, and the dispatcher); a tty container's output still reaches `kubectl logs`.
import t from 'tap'
import { spawn } from 'node:child_process'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { kubectl, streamRig, type Out } from '../helpers/stream-rig.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'

/** `cmd` on a terminal (script(1)) of 91x33; `feed` writes to it once its output matches `when`. */
function underScript(cmd: string, feed: { when: RegExp; send: string }[], timeoutMs = 60_000): Promise<Out> {
  return new Promise((resolve) => {
    const c = spawn('script', ['-qec', `stty cols 91 rows 33; ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const pending = [...feed]
    c.stdout.on('data', (d: Buffer) => {
      out.push(d)
      while (pending[0] && pending[0].when.test(Buffer.concat(out).toString())) c.stdin.write(pending.shift()!.send)
    })
    c.stdin.on('error', () => {})
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs)
    c.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: '' })
    })
  })
}

t.test('kubectl attach and run -it --rm', { skip: need('busybox', 'etcd', 'addon:setns', 'kubectl 1.27', 'kubectl 1.33', 'script') }, async (t) => {
  const r = await streamRig(t, '10.250.11.0/24', 'a', { scheduler: true, apiserver: { tokens: [{ token: 'viewer-token', user: 'viewer' }] } })
  const kc = r.api.kubeconfigPath
  const gone = async (name: string): Promise<boolean> => {
    try {
      await r.pods.get(name)
      return false
    } catch (err) {
      return (err as { code?: number }).code === 404
    }
  }
  const running = (name: string): Promise<void> => waitUntil(`${name} running`, async () => ((await r.pods.get(name)).status?.containerStatuses?.[0]?.state?.running ? true : undefined), 30_000)

  for (const v of ['1.27', '1.33']) {
    const k = kubectlPath(v)
    const tag = v.replace('.', '')
    await t.test(`kubectl ${v} attach -i: stdin reaches the container, stdinOnce closes it when the client detaches`, async (t) => {
      const name = `once-${tag}`
      await r.pods.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { nodeName: 'n1', restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', stdin: true, stdinOnce: true, command: ['sh', '-c', 'while read l; do echo "got:$l"; done; echo stdin-closed'] }] },
      } as Pod)
      await running(name)
      const x = await kubectl(v, kc, ['attach', '-i', name, '-c', 'c'], Buffer.from('one\ntwo\n'))
      t.equal(x.code, 0, x.stderr)
      t.equal(x.stdout.toString(), 'got:one\ngot:two\nstdin-closed\n', 'lines in, EOF after the client detached')
      await waitUntil(`${name} succeeded`, async () => ((await r.pods.get(name)).status?.phase === 'Succeeded' ? true : undefined), 20_000)
      t.pass('the container exited 0 once its stdin closed')
    })

    await t.test(`kubectl ${v} attach -it to a tty container: its terminal, its size; the output is in kubectl logs`, async (t) => {
      const name = `tty-${tag}`
      await r.pods.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name },
        spec: { nodeName: 'n1', restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', stdin: true, tty: true, command: ['sh'] }] },
      } as Pod)
      await running(name)
      const x = await underScript(`${k} --kubeconfig ${r.api.kubeconfigPath} attach -it ${name} -c c`, [
        { when: /If you don't see a command prompt/, send: '\r' },
        { when: /# /, send: 'stty size; tty; echo marker-$((6*7))\r' },
        { when: /marker-42/, send: 'exit\r' },
      ])
      const out = x.stdout.toString()
      t.match(out, /33 91\r?\n\/dev\/pts\/\d+\r?\nmarker-42/, 'the shell sees a terminal of the client\'s size')
      t.equal(x.code, 0, `attach ends when the shell exits: ${out.slice(-300)}`)
      const logs = await kubectl(v, kc, ['logs', name])
      t.match(logs.stdout.toString(), /marker-42/, 'what the terminal showed is in the container log')
    })

    for (const mode of ['-it', '-i']) {
      await t.test(`kubectl ${v} run ${mode} --rm -- sh -c 'echo hi': the output, then the pod is deleted`, async (t) => {
        const name = `hi-${tag}${mode === '-it' ? 't' : ''}`
        const cmd = `${k} --kubeconfig ${kc} run ${mode} --rm ${name} --image=busybox --restart=Never -- sh -c 'echo hi'`
        const x = mode === '-it' ? await underScript(cmd, []) : await kubectl(v, kc, ['run', mode, '--rm', name, '--image=busybox', '--restart=Never', '--', 'sh', '-c', 'echo hi'])
        const out = x.stdout.toString() + x.stderr
        t.match(out, /^hi\r?$/m, 'the command\'s output')
        t.match(out, new RegExp(`pod "${name}" deleted`), 'kubectl deletes the pod')
        t.equal(x.code, 0, out)
        await waitUntil(`${name} gone`, async () => ((await gone(name)) ? true : undefined), 20_000)
      })
    }

    await t.test(`kubectl ${v} run -it --rm -- sh: an interactive shell, then the pod is deleted`, async (t) => {
      const name = `sh-${tag}`
      const x = await underScript(`${k} --kubeconfig ${kc} run -it --rm ${name} --image=busybox --restart=Never -- sh`, [
        { when: /If you don't see a command prompt/, send: '\r' },
        { when: /# /, send: 'echo sum-$((40+2)); stty size\r' },
        // exit only once stty's answer is in: typed earlier, its echo lands between the two lines
        { when: /sum-42\r?\n\d+ \d+/, send: 'exit\r' },
      ])
      const out = x.stdout.toString()
      t.match(out, /sum-42\r?\n33 91/, 'the shell runs on a terminal of the client\'s size')
      t.match(out, new RegExp(`pod "${name}" deleted`), 'kubectl deletes the pod')
      t.equal(x.code, 0, out.slice(-300))
      await waitUntil(`${name} gone`, async () => ((await gone(name)) ? true : undefined), 20_000)
    })
  }

  await t.test('nodes/proxy: the kubelet\'s /healthz, /stats/summary and /metrics through the apiserver, under RBAC', async (t) => {
    const raw = async (path: string): Promise<string> => {
      const x = await kubectl('1.33', kc, ['get', '--raw', path])
      t.equal(x.code, 0, `${path}: ${x.stderr}`)
      return x.stdout.toString()
    }
    t.equal(await raw('/api/v1/nodes/n1/proxy/healthz'), 'ok', 'healthz')
    const summary = JSON.parse(await raw('/api/v1/nodes/n1/proxy/stats/summary')) as { node?: { nodeName?: string } }
    t.equal(summary.node?.nodeName, 'n1', 'the stats summary of n1')
    t.match(await raw('/api/v1/nodes/n1/proxy/metrics'), /^# (HELP|TYPE) /m, 'Prometheus text')
    const missing = await kubectl('1.33', kc, ['get', '--raw', '/api/v1/nodes/nope/proxy/healthz'])
    t.match(missing.stderr, /nodes "nope" not found/, 'an unknown node: NotFound')
    // A user who may read nodes but not nodes/proxy is refused by the apiserver, in upstream's words.
    const rbac = (kind: string, body: object): Promise<unknown> => r.client.resource(resourceFor(kind)).create(body as never)
    await rbac('clusterroles', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'node-reader' }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }] })
    await rbac('clusterrolebindings', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'viewer-nodes' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-reader' }, subjects: [{ kind: 'User', name: 'viewer' }] })
    const asViewer = (path: string): Promise<Out> => kubectl('1.33', kc, ['--token=viewer-token', 'get', '--raw', path])
    const denied = await asViewer('/api/v1/nodes/n1/proxy/healthz')
    t.match(denied.stderr, /nodes "n1" is forbidden: User "viewer" cannot get resource "nodes\/proxy" in API group "" at the cluster scope/, denied.stderr)
    await rbac('clusterroles', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'node-proxy' }, rules: [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }] })
    await rbac('clusterrolebindings', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'viewer-proxy' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-proxy' }, subjects: [{ kind: 'User', name: 'viewer' }] })
    await waitUntil('nodes/proxy granted', async () => ((await asViewer('/api/v1/nodes/n1/proxy/healthz')).stdout.toString() === 'ok' ? true : undefined), 10_000)
    t.pass('with get on nodes/proxy the same user reaches the kubelet')
  })

  await t.test('the kubectl dispatcher: run -i --rm', async (t) => {
    const x = await kubectl('dispatcher', kc, ['run', '-i', '--rm', 'disp', '--image=busybox', '--restart=Never', '--', 'sh', '-c', 'read l; echo "read:$l"'], Buffer.from('abc\n'))
    t.match(x.stdout.toString(), /^read:abc$/m, x.stderr)
    t.match(x.stdout.toString() + x.stderr, /pod "disp" deleted/)
    t.equal(x.code, 0)
  })
})
