// `kubectl top nodes` and `kubectl top pods` with real kubectl 1.27 and 1.33 against a real
// apiserver + etcd and a real kubelet measuring real processes: a pod spinning a CPU shows
// non-zero CPU and memory, and more CPU than an idle one; discovery lists metrics.k8s.io.
import t from 'tap'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { run } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
import { withKubeletNode } from '../helpers/kubelet-node.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

/** kubectl top's table as rows of columns (header dropped). */
const rows = (out: string): string[][] => out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/))
const milli = (cpu: string): number => Number(cpu.replace(/m$/, ''))
const mebi = (mem: string): number => Number(mem.replace(/Mi$/, ''))

t.test('kubectl top', { skip: need('busybox', 'etcd', 'addon:setns') }, async (t) => {
  const api = await withApiServer(t)
  const { client } = await withKubeletNode(t, api, '10.250.11.0/24', { statsPeriodMs: 1000 })
  const pods = client.resource<Pod>(resourceFor('pods'), 'default')
  // The spinner is a Node process (a busy loop and tens of MiB resident); the idle one sleeps.
  await pods.create({ metadata: { name: 'spin', labels: { app: 'spin' } }, spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, containers: [{ name: 'spin', image: 'netkube', command: [process.execPath, '-e', 'for (;;) {}'] }] } })
  await pods.create({ metadata: { name: 'idle', labels: { app: 'idle' } }, spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, containers: [{ name: 'idle', image: 'busybox', command: ['sleep', '3600'] }] } })
  await waitUntil('both running', async () => (await pods.list()).items.every((p) => p.status?.phase === 'Running'), 30_000)

  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const k = (...args: string[]) => run(c.path, ['--kubeconfig', api.kubeconfigPath, ...args], { allowFailure: true, timeoutMs: 30_000 })
      t.match((await k('api-versions')).stdout, /^metrics\.k8s\.io\/v1beta1$/m, 'discovery lists metrics.k8s.io/v1beta1')
      t.match((await k('api-resources', '--api-group=metrics.k8s.io')).stdout, /nodes\s+metrics\.k8s\.io\/v1beta1\s+false\s+NodeMetrics[\s\S]*pods\s+metrics\.k8s\.io\/v1beta1\s+true\s+PodMetrics/)

      let top = ''
      await waitUntil('kubectl top pods shows both', async () => {
        const r = await k('top', 'pods', '-n', 'default')
        top = r.stdout
        return r.code === 0 && /^spin\s/m.test(top) && /^idle\s/m.test(top)
      }, 30_000)
      const byName = new Map(rows(top).map((r) => [r[0]!, r]))
      const spin = byName.get('spin')!
      const idle = byName.get('idle')!
      t.match(spin[1], /^\d+m$/, `CPU column (${top.trim().replace(/\n/g, ' | ')})`)
      t.ok(milli(spin[1]!) >= 50, `the spinning pod uses CPU: ${spin[1]} (the machine is shared: a floor, not a full core)`)
      t.ok(milli(spin[1]!) <= 1100, `one busy loop uses at most one core: ${spin[1]}`)
      t.ok(milli(spin[1]!) > milli(idle[1]!), `more than the idle one (${spin[1]} > ${idle[1]})`)
      t.ok(mebi(spin[2]!) >= 10, `the spinning pod's memory is real: ${spin[2]}`)

      const sel = await k('top', 'pods', '-n', 'default', '-l', 'app=idle')
      t.same(rows(sel.stdout).map((r) => r[0]), ['idle'], '-l selects by the pods\' labels')
      const containers = await k('top', 'pods', '-n', 'default', 'spin', '--containers')
      t.match(containers.stdout, /^spin\s+spin\s+\d+m\s+\d+Mi\s*$/m, '--containers: one row per container')

      const nodes = await k('top', 'nodes')
      t.equal(nodes.code, 0, nodes.stderr)
      const [n1] = rows(nodes.stdout)
      t.equal(n1?.[0], 'n1')
      t.ok(milli(n1![1]!) > 0 && mebi(n1![3]!) > 0, `the node shows CPU and memory in use: ${n1!.join(' ')}`)
      t.match(n1![2], /^\d+%$/, 'CPU% against the allocatable CPU')
      t.ok(Number(n1![2]!.replace('%', '')) <= 105 && Number(n1![4]!.replace('%', '')) <= 100, `percentages of the node's capacity: ${n1![2]} ${n1![4]}`)
      const missing = await k('top', 'pods', '-n', 'default', 'nope')
      t.not(missing.code, 0, 'a pod that does not exist has no metrics')
    })
  }
})
