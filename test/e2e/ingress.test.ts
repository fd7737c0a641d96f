// Issue 12 (Ingress part), end to end in a 3-node lab with real kubectl, curl and openssl: the
// self-hosted controller (add-on: IngressClass netkube, Deployment + LoadBalancer Service in
// kube-system) routes two hosts and two paths, serves two certificates on one address by SNI,
// answers 404 for an unknown host, ignores other classes, sets Ingress status, and a client
// looping through it sees zero failed requests while the backend scales 3→6→3 and rolls.
//
// Where the client stands: in the lab's outside namespace (a host on the underlay that is not a
// node), talking to the controller Service's LoadBalancer address on ports 80/443, as a user would.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Ingress } from '../../src/api/ingress.js'
import type { Pod, Service } from '../../src/api/types.js'
import { netnsHandle } from '../../src/net/door.js'
import { run } from '../../src/util/exec.js'
import { need } from '../helpers/prereq.js'
import { withLab, waitUntil, res, ready, kubectlAt } from '../helpers/lab.js'
import { outsideOf } from '../helpers/outside.js'

const APPS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: agnhost
        args: ["netexec", "--http-port=8080", "--delay-shutdown=2"]
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: agnhost
        args: ["netexec", "--http-port=9090"]
        ports: [{containerPort: 9090, name: http}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{name: http, port: 8000, targetPort: http}]
`

const INGRESSES = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec:
  tls:
  - {hosts: [a.example.com], secretName: a-tls}
  - {hosts: [b.example.com], secretName: b-tls}
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
  - host: b.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 8000}}}}
      - {path: /hostname, pathType: Exact, backend: {service: {name: web, port: {name: http}}}}
  - host: plain.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: elsewhere}
spec:
  ingressClassName: someone-else
  rules:
  - host: elsewhere.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
`

/**
 * A client loop with a Host header until the stop file appears: fresh connections, or one
 * kept-alive connection (then HAProxy keeps its backend connection too, the case where a pod
 * exits under a connection the proxy wants to reuse).
 */
function hostLoopScript(url: string, host: string, stopFile: string, keepAlive = false): string {
  return `
import http from 'node:http'
import { existsSync } from 'node:fs'
const agent = ${keepAlive ? 'new http.Agent({ keepAlive: true, maxSockets: 1 })' : 'false'}
const out = []
while (!existsSync(${JSON.stringify(stopFile)}) && out.length < 200000) {
  out.push(await new Promise((resolve) => {
    const at = Date.now()
    const req = http.get(${JSON.stringify(url)}, { agent, timeout: 3000, headers: { host: ${JSON.stringify(host)} } }, (res) => {
      let b = ''; res.on('data', (d) => b += d); res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body: b.trim().slice(0, 80), at }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve({ ok: false, err: e.code || e.message, at }))
  }))
}
process.stdout.write(JSON.stringify(out))
`
}

t.test('ingress in a 3-node lab', { skip: need('curl', 'openssl', 'haproxy', 'build') }, async (t) => {
  const lab = await withLab(t, { serverFlags: ['--dns-replicas', '1'] })
  const dir = mkdtempSync(join(tmpdir(), 'nk-e2e-ing-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const cn of ['a.example.com', 'b.example.com']) {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, '-keyout', join(dir, `${cn}.key`), '-out', join(dir, `${cn}.crt`)])
    await lab.k(['create', 'secret', 'tls', `${cn.split('.')[0]}-tls`, `--cert=${join(dir, `${cn}.crt`)}`, `--key=${join(dir, `${cn}.key`)}`])
  }
  await lab.k(['apply', '-f', '-'], APPS)
  await lab.k(['apply', '-f', '-'], INGRESSES)
  const sys = lab.client.resource<Pod>(res('pods'), 'kube-system')
  const pods = lab.client.resource<Pod>(res('pods'), 'default')
  await waitUntil(
    'controller, web and api ready',
    async () => {
      const ctl = (await sys.list({ labelSelector: 'app.kubernetes.io/name=netkube-ingress' })).items
      const app = (await pods.list()).items
      return ctl.some(ready) && app.filter((p) => p.metadata.labels?.app === 'web' && ready(p)).length === 3 && app.some((p) => p.metadata.labels?.app === 'api' && ready(p))
    },
    180_000,
    500,
  )
  t.match(await lab.k(['get', 'ingressclass']), /\nnetkube\s+netkube\.io\/ingress-controller\s+<none>\s+/, 'the add-on installed the class')
  const svc = await lab.client.resource<Service>(res('services'), 'kube-system').get('netkube-ingress')
  t.equal(svc.spec.type, 'LoadBalancer')
  const services = lab.client.resource<Service>(res('services'), 'kube-system')
  let lbIP: string | undefined
  await waitUntil('the ingress Service has a LoadBalancer address', async () => (lbIP = (await services.get('netkube-ingress')).status?.loadBalancer?.ingress?.[0]?.ip) !== undefined, 30_000, 250)
  const outside = outsideOf(lab.state)
  const client = netnsHandle(outside.netns)
  const TARGET = lbIP!
  const HTTP = svc.spec.ports!.find((p) => p.name === 'http')!.port
  const HTTPS = svc.spec.ports!.find((p) => p.name === 'https')!.port
  t.comment(`client in ${outside.netns} (${outside.ip}), target ${TARGET}:${HTTP} / :${HTTPS} (the LoadBalancer address of kube-system/netkube-ingress)`)

  const curl = async (host: string, path: string, tls = false): Promise<{ code: number; body: string }> => {
    const url = tls ? `https://${host}:${HTTPS}${path}` : `http://${TARGET}:${HTTP}${path}`
    const args = ['-s', '-m', '5', '-w', '\n%{http_code}', ...(tls ? ['-k', '--resolve', `${host}:${HTTPS}:${TARGET}`] : ['-H', `Host: ${host}`]), url]
    const r = await client.run('curl', args, { allowFailure: true, timeoutMs: 10_000 })
    const i = r.stdout.lastIndexOf('\n')
    return { code: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i).trim() }
  }
  await waitUntil('the controller routes plain.example.com', async () => (await curl('plain.example.com', '/hostname')).code === 200, 60_000, 500)

  t.test('two hosts, two paths each: every request to the right Service', async (t) => {
    const webNames = (await pods.list({ labelSelector: 'app=web' })).items.map((p) => p.metadata.name!)
    const apiNames = (await pods.list({ labelSelector: 'app=api' })).items.map((p) => p.metadata.name!)
    const cases: [string, string, string[]][] = [
      ['a.example.com', '/hostname', webNames],
      ['a.example.com', '/api/hostname', apiNames],
      // Exact /hostname (→ web) beats Prefix / (→ api) on b.example.com
      ['b.example.com', '/hostname', webNames],
    ]
    for (const [host, path, want] of cases) {
      const r = await curl(host, path, true)
      t.equal(r.code, 200, `https://${host}${path} → ${r.code}`)
      t.ok(want.includes(r.body), `https://${host}${path} answered by ${r.body}`)
    }
    const plainRedirect = await client.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'Host: a.example.com', `http://${TARGET}:${HTTP}/x`], { allowFailure: true })
    t.equal(plainRedirect.stdout, `308 https://a.example.com/x`, 'TLS hosts redirect plain HTTP')
  })

  t.test('two certificates on one address, chosen by SNI (openssl s_client)', async (t) => {
    for (const cn of ['a.example.com', 'b.example.com']) {
      const r = await client.run('openssl', ['s_client', '-connect', `${TARGET}:${HTTPS}`, '-servername', cn], { allowFailure: true, input: '', timeoutMs: 10_000 })
      t.match(r.stdout, new RegExp(`subject=CN\\s*=\\s*${cn.replace(/\./g, '\\.')}`), `SNI ${cn} → its certificate`)
    }
  })

  t.test('unknown host → 404; another class is ignored; status has our address', async (t) => {
    const r = await curl('unknown.example.com', '/')
    t.same([r.code, r.body], [404, '404 Not Found: no Ingress rule matches this host and path'])
    t.equal((await curl('elsewhere.example.com', '/hostname')).code, 404, 'the someone-else class is not served')
    const ings = lab.client.resource<Ingress>(res('ingresses'), 'default')
    const svcNow = await lab.client.resource<Service>(res('services'), 'kube-system').get('netkube-ingress')
    const want = svcNow.status?.loadBalancer?.ingress?.[0]?.ip
    t.equal(want, TARGET, 'the Ingress status is the controller\'s LoadBalancer address')
    await waitUntil('shop status', async () => (await ings.get('shop')).status?.loadBalancer?.ingress?.[0]?.ip === want, 20_000, 250)
    // Created without a class: the DefaultIngressClass admission wrote the default, netkube.
    const row = new RegExp(`\\nshop\\s+netkube\\s+a\\.example\\.com,b\\.example\\.com,plain\\.example\\.com\\s+${want!.replace(/\./g, '\\.')}\\s+80, 443\\s+`)
    t.match(await lab.k(['get', 'ingress', 'shop']), row)
    for (const v of ['1.27', '1.33']) t.match(await kubectlAt(lab)(v, ['get', 'ingress', 'shop']), row, `kubectl ${v}: class, hosts, address`)
    t.same((await ings.get('elsewhere')).status?.loadBalancer ?? {}, {}, 'not ours: no status')
  })

  t.test('scale 3→6→3 and a rolling update under a client loop: zero failed requests', async (t) => {
    const stopFile = join(dir, 'stop')
    const url = `http://${TARGET}:${HTTP}/hostname`
    const loops = { fresh: lab.nodeIn(outside.netns, hostLoopScript(url, 'plain.example.com', stopFile), 600_000), 'kept-alive': lab.nodeIn(outside.netns, hostLoopScript(url, 'plain.example.com', stopFile, true), 600_000) }
    const readyWeb = async (): Promise<Pod[]> => (await pods.list({ labelSelector: 'app=web' })).items.filter(ready)
    const allWeb = async (): Promise<number> => (await pods.list({ labelSelector: 'app=web' })).items.length
    await new Promise((r) => setTimeout(r, 2000))
    await lab.k(['scale', 'deployment/web', '--replicas=6'])
    await waitUntil('6 ready', async () => (await readyWeb()).length === 6, 120_000, 500)
    await new Promise((r) => setTimeout(r, 2000))
    await lab.k(['scale', 'deployment/web', '--replicas=3'])
    await waitUntil('3 left', async () => (await allWeb()) === 3 && (await readyWeb()).length === 3, 120_000, 500)
    await lab.k(['set', 'env', 'deployment/web', 'ROLL=1'])
    await lab.k(['rollout', 'status', 'deployment/web', '--timeout=240s'])
    await waitUntil('old pods gone', async () => (await allWeb()) === 3, 120_000, 500)
    await new Promise((r) => setTimeout(r, 2000))
    writeFileSync(stopFile, '')
    for (const [kind, loop] of Object.entries(loops)) {
      const results = JSON.parse(await loop) as { ok: boolean; status?: number; err?: string; body?: string; at: number }[]
      const failed = results.filter((r) => !r.ok)
      const served = new Set(results.filter((r) => r.ok).map((r) => r.body))
      t.comment(`client loop (${kind} connections): ${results.length} requests, ${failed.length} failed, answered by ${served.size} different pods over ${((results.at(-1)!.at - results[0]!.at) / 1000).toFixed(1)} s`)
      t.ok(results.length > 50, `${kind}: the loop ran throughout`)
      t.same(failed.slice(0, 5), [], `${kind}: zero failed requests`)
      t.ok(served.size >= 6, `${kind}: old, scaled-up and rolled pods all served`)
    }
  })
})
