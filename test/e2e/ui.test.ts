// Issue 18, the live map against a 3-node lab, in a real browser: `netkube ui` (the real
// CLI, on 127.0.0.1) is loaded by headless Chromium, which sees the 3 nodes with their pod
// CIDRs and VTEPs and every pod the API has; a pod created with kubectl appears within 2 s
// (measured, printed); a click on a pod and then a Service draws the path `netkube trace`
// finds, hop by hop, with each hop's kernel object listed. Screenshots are written at each step (path printed).
import t from 'tap'
import type { ChildProcess } from 'node:child_process'
import type { Node, Pod } from '../../src/api/types.js'
import { start } from '../../src/util/exec.js'
import { leaseFromAnnotations } from '../../src/overlay/lease.js'
import { MAIN, need } from '../helpers/prereq.js'
import { withLab, waitUntil, res, ready } from '../helpers/lab.js'

const APPS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/hostname: NODE2}
      containers:
      - name: web
        image: agnhost
        args: ["netexec", "--http-port=8080"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeSelector: {kubernetes.io/hostname: NODE1}
  containers:
  - name: client
    image: agnhost
    args: ["netexec", "--http-port=8080"]
`

/** Starts `netkube ui` and resolves with its URL (its first stdout line says where it serves). */
async function startUiProcess(kubeconfig: string): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const proc = start(process.execPath, [MAIN, 'ui', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0'], { stdio: 'pipe' })
  let out = ''
  let err = ''
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`netkube ui did not say where it serves within 15 s: ${err}`)), 15_000)
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /Serving the live map on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    proc.on('exit', (code) => reject(new Error(`netkube ui exited ${code}: ${err}`)))
  })
  return {
    url,
    proc,
    async stop() {
      if (proc.exitCode !== null) return
      const gone = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGTERM')
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))])
      if (proc.exitCode === null) proc.kill('SIGKILL')
    },
  }
}

t.test('the live map in a browser against a lab', { skip: need('build', 'chromium', 'etcd', 'dnsmasq', 'kubectl', 'busybox') }, async (t) => {
  const { withBrowser } = await import('../helpers/browser.js')
  const lab = await withLab(t)
  const nodes = (await lab.client.resource<Node>(res('nodes')).list()).items
  t.equal(nodes.length, 3)
  const names = nodes.map((n) => n.metadata.name!).sort()
  for (const n of nodes) t.ok(leaseFromAnnotations(n.metadata.annotations)?.vtepMAC, `${n.metadata.name} publishes its VTEP (flannel annotations)`)
  await lab.k(['apply', '-f', '-'], APPS.replace('NODE1', names[0]!).replace('NODE2', names[1]!))
  const pods = lab.client.resource<Pod>(res('pods'))
  await waitUntil('web and client ready', async () => {
    const ps = (await pods.list()).items.filter((p) => p.metadata.namespace === 'default')
    return ps.length === 3 && ps.every(ready)
  }, 60_000)

  const ui = await startUiProcess(lab.kubeconfig)
  t.teardown(() => ui.stop())
  t.comment(`netkube ui at ${ui.url}`)
  const b = await withBrowser(t, `lab-${process.pid}`)
  const errors: string[] = []
  b.page.on('pageerror', (e) => errors.push(e.message))
  await b.page.goto(ui.url)
  await b.page.waitForSelector('#status[data-state="live"]', { timeout: 10_000 })

  await t.test('the 3 nodes with pod CIDR and VTEP, and every pod the API has', async (t) => {
    t.same(await b.page.$$eval('[data-node]', (els) => els.map((e) => e.getAttribute('data-node'))), names)
    for (const n of nodes) {
      const lease = leaseFromAnnotations(n.metadata.annotations)!
      const text = (await b.page.textContent(`[data-node="${n.metadata.name}"]`)) ?? ''
      t.match(text, n.spec!.podCIDR!, `${n.metadata.name}: pod CIDR`)
      t.match(text, `VTEP ${lease.vtepMAC}`, `${n.metadata.name}: VTEP MAC`)
    }
    const apiPods = (await pods.list()).items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort()
    await waitUntil('page shows the API\'s pods', async () => JSON.stringify((await b.page.$$eval('[data-pod]', (els) => els.map((e) => e.getAttribute('data-pod')!))).sort()) === JSON.stringify(apiPods), 5000)
    t.pass(`${apiPods.length} pods shown, as in the API`)
    const client = (await pods.get('default/client'))
    t.match(await b.page.textContent('[data-pod="default/client"]'), client.status!.podIP!, 'the pod with its IP')
    t.equal(await b.page.locator('path.ep[data-from="default/web"]').count(), 2, 'a line from the Service to each endpoint')
    await b.shot('1-lab')
  })

  await t.test('a pod created with kubectl appears within 2 s', async (t) => {
    await lab.k(['run', 'late', '--image=agnhost', '--', 'netexec', '--http-port=8080'])
    const t0 = Date.now()
    await b.page.waitForSelector('[data-pod="default/late"]', { timeout: 2000 })
    t.comment(`kubectl run → on the page in ${Date.now() - t0} ms`)
    t.pass('appeared')
    await b.shot('2-new-pod')
    await lab.k(['delete', 'pod', 'late', '--grace-period=1', '--wait=false'])
    await b.page.waitForSelector('[data-pod="default/late"]', { state: 'detached', timeout: 20_000 })
    t.pass('and goes when deleted')
  })

  await t.test('click a pod, then a Service: the path is drawn hop by hop', async (t) => {
    await b.page.click('[data-pod="default/client"]')
    await b.page.click('[data-service="default/web"]')
    await b.page.waitForSelector('.trace [data-hop], [data-trace-error]', { timeout: 30_000 })
    t.equal(await b.page.locator('[data-trace-error]').count(), 0, `no trace error: ${await b.page.textContent('#trace-body')}`)
    const kinds = await b.page.$$eval('.trace [data-hop]', (els) => els.map((e) => e.getAttribute('data-kind')))
    t.ok(kinds.length >= 3, `hops drawn: ${kinds.join(', ')}`)
    t.equal(await b.page.locator('.trace polyline.trace-path').count(), 1, 'one path')
    const rows = await b.page.$$eval('[data-hop-row] .where', (els) => els.map((e) => e.textContent ?? ''))
    t.ok(rows.some((r) => r.includes(names[0]!)) && rows.some((r) => r.includes(names[1]!)), 'hops on the source node and on the destination node')
    t.match(await b.page.textContent('.outcome'), /delivered/)
    await b.shot('3-trace')
  })
  t.same(errors, [], 'no script errors on the page')
})
