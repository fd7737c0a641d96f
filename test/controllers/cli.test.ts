// `netkube controller-manager` and `netkube scheduler` as separate processes (from dist/, which
// `npm test` builds first) against a real apiserver: a ReplicaSet gets pods bound to a node,
// /metrics answers, SIGTERM stops both cleanly.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Pod, ReplicaSet } from '../../src/api/types.js'
import { createClient } from '../../src/client/rest.js'
import { R } from '../../src/controllers/informers.js'
import { freePort } from '../../src/util/ports.js'
import { withApiServer } from '../helpers/apiserver.js'
import { FakeKubelet, eventually } from './fakecluster.js'

const MAIN = join(process.cwd(), 'dist/src/cli/main.js')

function start(t: Test, args: string[]): ChildProcess & { exited: Promise<number | null> } {
  const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NETKUBE_LOG_LEVEL: 'warn' } })
  let err = ''
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)))
  t.teardown(async () => {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL')
      await exited
    }
    if (err.trim()) t.comment(`${args[0]} stderr: ${err.slice(-2000)}`)
  })
  return Object.assign(p, { exited })
}

t.test('controller-manager and scheduler subcommands', async (t) => {
  t.ok(existsSync(MAIN), `${MAIN} exists (run npm run build first)`)
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const kubelet = new FakeKubelet(client)
  await kubelet.start()
  t.teardown(() => kubelet.stop())
  await kubelet.addNode('n1')
  const [cmPort, schedPort] = [await freePort(), await freePort()]
  const cm = start(t, ['controller-manager', '--kubeconfig', api.kubeconfigPath, '--node-monitor-grace-period', '20s', '--metrics-port', String(cmPort)])
  const sched = start(t, ['scheduler', '--kubeconfig', api.kubeconfigPath, '--metrics-port', String(schedPort)])
  await client.resource<ReplicaSet>(R.replicasets, 'default').create({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'cli', namespace: 'default' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'cli' } }, template: { metadata: { labels: { app: 'cli' } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } } },
  })
  await eventually('2 pods bound and ready', async () => {
    const l = (await client.resource<Pod>(R.pods, 'default').list({ labelSelector: 'app=cli' })).items
    if (l.length === 2 && l.every((p) => p.spec.nodeName === 'n1' && p.status?.phase === 'Running')) return true
    throw new Error(JSON.stringify(l.map((p) => [p.metadata.name, p.spec.nodeName, p.status?.phase, p.status?.conditions])))
  }, 30_000)
  const rs = await eventually('RS status', async () => {
    const rs = await client.resource<ReplicaSet>(R.replicasets, 'default').get('cli')
    return rs.status?.readyReplicas === 2 && rs
  })
  t.equal(rs.status?.observedGeneration, rs.metadata.generation)
  const cmMetrics = await (await fetch(`http://127.0.0.1:${cmPort}/metrics`)).text()
  t.match(cmMetrics, /netkube_controller_reconciles_total\{controller="replicaset"\} [1-9]/)
  t.match(cmMetrics, /netkube_controller_reconcile_duration_seconds_bucket/)
  const sMetrics = await (await fetch(`http://127.0.0.1:${schedPort}/metrics`)).text()
  t.match(sMetrics, /netkube_scheduler_schedule_attempts_total\{result="scheduled"\} 2/)
  cm.kill('SIGTERM')
  sched.kill('SIGTERM')
  t.equal(await cm.exited, 0, 'controller-manager exits 0 on SIGTERM')
  t.equal(await sched.exited, 0, 'scheduler exits 0 on SIGTERM')
})
