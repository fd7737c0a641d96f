// The controller against a real apiserver + etcd, HAProxy on loopback, backends in this process
// (EndpointSlices written by hand, as the EndpointSlice controller would); backends (agnhost) and
// HAProxy run in a namespace of this test with addresses on its loopback: our class served and
// others ignored, status set to the published Service's address, a new host live within 1 s,
// a bad TLS Secret → Warning Event while the rest serves, HAProxy killed → restarted.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Ingress, IngressClass } from '../../src/api/ingress.js'
import { resourceFor } from '../../src/api/resources.js'
import type { CoreEvent, EndpointSlice, KubeObject, Secret, Service } from '../../src/api/types.js'
import { createClient } from '../../src/client/index.js'
import { startIngressController } from '../../src/ingress/controller.js'
import { ensureDefaultCert } from '../../src/ingress/haproxy-process.js'
import { netnsHandle } from '../../src/net/door.js'
import type { ChildProcess } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
import { withNetns } from '../helpers/netns.js'
import { MAIN, need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'

const VIP = '10.250.0.1'

t.test('ingress controller', { skip: need('haproxy', 'etcd', 'openssl', 'curl', 'build') }, async (t) => {
  const srv = await withApiServer(t)
  const client = createClient({ server: srv.url, token: srv.token, caPem: srv.caPem })
  const dir = mkdtempSync(join(tmpdir(), 'nk-ingctl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const nsName = await withNetns(t, 'ingctl')
  const ns = netnsHandle(nsName)
  await ns.ipBatch(['link set lo up', `addr add ${VIP}/32 dev lo`])
  const procs: ChildProcess[] = []
  t.teardown(() => procs.forEach((p) => p.kill('SIGKILL')))
  let nextPort = 8081
  const backend = async (name: string): Promise<number> => {
    const port = nextPort++
    procs.push(ns.spawn([process.execPath, MAIN, 'agnhost', '--http-port', String(port)], { env: { ...process.env, HOSTNAME: name } }))
    await waitUntil(`${name} up`, async () => (await ns.run('curl', ['-s', `http://${VIP}:${port}/`], { allowFailure: true })).stdout.includes(name), 10_000, 50)
    return port
  }
  const get = async (host: string, path = '/'): Promise<{ status: number; body: string }> => {
    const res = await ns.run('curl', ['-s', '-m', '2', '-H', `Host: ${host}`, '-w', '\n%{http_code}', `http://${VIP}${path}`], { allowFailure: true })
    const i = res.stdout.lastIndexOf('\n')
    return { status: Number(res.stdout.slice(i + 1)) || 0, body: res.stdout.slice(0, i).trim() }
  }
  const webPort = await backend('web')
  const apiPort = await backend('api')

  const r = (plural: string, ns?: string) => client.resource<KubeObject>(resourceFor(plural), ns)
  /** One ready endpoint on the VIP, as the EndpointSlice controller would write it. */
  const slice = (svc: string, name: string, port: number) =>
    r('endpointslices', 'default').create({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port }],
      endpoints: [{ addresses: [VIP], conditions: { ready: true } }],
    } as EndpointSlice)
  await r('ingressclasses').create({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'netkube', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'netkube.io/ingress-controller' } } as IngressClass)
  await r('ingressclasses').create({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'other' }, spec: { controller: 'example.com/other' } } as IngressClass)
  for (const [name, port] of [['web', webPort], ['api', apiPort]] as const) {
    await r('services', 'default').create({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } } as Service)
    await slice(name, `${name}-1`, port)
  }
  // The controller's own Service, whose address goes into Ingress status.
  const ctlSvc = (await r('services', 'default').create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ingress', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } } as Service)) as Service
  const rule = (host: string, svc: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix' as const, backend: { service: { name: svc, port: { number: 80 } } } }] } })
  const ing = (name: string, spec: Ingress['spec']): Ingress => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default' }, spec })
  await r('ingresses', 'default').create(ing('mine', { rules: [rule('web.example.com', 'web')] }))
  await r('ingresses', 'default').create(ing('theirs', { ingressClassName: 'other', rules: [rule('theirs.example.com', 'api')] }))

  const ctl = startIngressController({
    client,
    publishService: 'default/ingress',
    haproxy: { http: `${VIP}:80`, https: `${VIP}:443`, netns: nsName, dir, adminSocket: join(dir, 'admin.sock'), defaultCertFile: await ensureDefaultCert(dir) },
  })
  t.teardown(() => ctl.stop())
  await ctl.synced
  await waitUntil('haproxy serving', async () => (await get('web.example.com', '/')).body === 'web', 20_000, 50)

  t.test('ours served and given our address, other classes ignored', async (t) => {
    t.equal((await get('theirs.example.com', '/')).status, 404)
    await waitUntil('status written', async () => ((await r('ingresses', 'default').get('mine')) as Ingress).status?.loadBalancer?.ingress?.[0]?.ip === ctlSvc.spec.clusterIP, 10_000, 50)
    t.pass(`status.loadBalancer.ingress[0].ip = ${ctlSvc.spec.clusterIP}`)
    t.same(((await r('ingresses', 'default').get('theirs')) as Ingress).status?.loadBalancer ?? {}, {}, 'not ours: status untouched')
  })

  t.test('a new host for a new Service and an endpoint change: no reload', async (t) => {
    const reloads = ctl.dataplane.proc.reloads
    const t0 = Date.now()
    await r('ingresses', 'default').create(ing('later', { rules: [rule('api.example.com', 'api')] }))
    await waitUntil('new host routed', async () => (await get('api.example.com', '/')).body === 'api', 5000, 10)
    // Printed, not asserted (speed is bench:ingress's job): the issue asks for under 1 s.
    t.comment(`new host live after ${Date.now() - t0} ms`)
    t.equal(ctl.dataplane.proc.reloads, reloads, 'a new Service takes a spare backend: no reload')
    const port2 = await backend('web-2')
    await slice('web', 'web-2', port2)
    await waitUntil('second endpoint serving', async () => (await get('web.example.com', '/')).body === 'web-2', 5000, 10)
    t.equal(ctl.dataplane.proc.reloads, reloads, 'no reload for an endpoint')
  })

  t.test('a new Service under a kept-alive client: no reload, the host answers within 1 s, nothing fails', async (t) => {
    // The client runs in the namespace (the VIP lives there): one kept-alive connection, requests
    // back to back, alternating the old host and the new one; a line per answer.
    const client = ns.spawn([process.execPath, '-e', KEEPALIVE_CLIENT, VIP, 'web.example.com', 'fresh.example.com'], { stdio: 'pipe' })
    procs.push(client)
    const lines: string[] = []
    let partial = ''
    client.stdout!.setEncoding('utf8')
    client.stdout!.on('data', (d: string) => {
      const parts = (partial + d).split('\n')
      partial = parts.pop()!
      lines.push(...parts)
    })
    const answers = () => lines.map((l) => JSON.parse(l) as { at: number; host: string; status: number; body: string; port: number; error?: string })
    await waitUntil('client looping', async () => lines.length >= 20, 10_000, 20)
    const [master, worker, reloads] = [ctl.dataplane.proc.pid, await ctl.dataplane.proc.workerPid(), ctl.dataplane.proc.reloads]
    const freshPort = await backend('fresh')
    await r('services', 'default').create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'fresh', namespace: 'default' }, spec: { ports: [{ name: 'http', port: 80 }] } } as Service)
    await slice('fresh', 'fresh-1', freshPort)
    const t0 = Date.now()
    await r('ingresses', 'default').create(ing('fresh', { rules: [rule('fresh.example.com', 'fresh')] }))
    await waitUntil('fresh host served', async () => answers().some((a) => a.host === 'fresh.example.com' && a.body === 'fresh'), 10_000, 20)
    const n = lines.length
    await waitUntil('more requests after', async () => lines.length >= n + 20, 10_000, 20)
    client.stdin!.end()
    const all = answers()
    const first = all.find((a) => a.host === 'fresh.example.com' && a.body === 'fresh')!
    t.comment(`${all.length} requests; fresh.example.com answered ${first.at - t0} ms after the Ingress was created`)
    t.ok(first.at - t0 <= 1000, `the new host answers within 1 s (${first.at - t0} ms)`)
    t.same(all.filter((a) => a.error !== undefined || (a.host === 'web.example.com' && a.status !== 200) || (a.host === 'fresh.example.com' && a.status !== 404 && a.status !== 200)), [], 'no request failed (the new host: 404 until routed, then 200)')
    t.same(all.filter((a) => a.host === 'fresh.example.com' && a.at > first.at && a.body !== 'fresh'), [], 'once routed, always routed')
    t.equal(new Set(all.map((a) => a.port)).size, 1, 'all over the one kept-alive connection')
    t.equal(ctl.dataplane.proc.reloads, reloads, 'no reload')
    t.same([ctl.dataplane.proc.pid, await ctl.dataplane.proc.workerPid()], [master, worker], 'the same master and worker')
    t.match(ctl.dataplane.state?.names['default/fresh:80'], /^nk_spare_\d+$/, 'served by a spare backend')
  })

  t.test('a bad TLS Secret: Warning Event, everything else keeps serving', async (t) => {
    await r('secrets', 'default').create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'junk', namespace: 'default' }, type: 'Opaque', data: { 'tls.crt': Buffer.from('nope').toString('base64'), 'tls.key': Buffer.from('nope').toString('base64') } } as Secret)
    await r('ingresses', 'default').create(ing('tls', { tls: [{ hosts: ['secure.example.com'], secretName: 'junk' }], rules: [rule('secure.example.com', 'web')] }))
    let ev: CoreEvent | undefined
    await waitUntil(
      'TLSSecretInvalid event',
      async () => {
        const list = await r('events', 'default').list()
        ev = (list.items as CoreEvent[]).find((e) => e.involvedObject?.name === 'tls' && e.reason === 'TLSSecretInvalid')
        return ev !== undefined
      },
      10_000,
      100,
    )
    t.equal(ev!.type, 'Warning')
    t.match(ev!.message, 'secret "default/junk" is not a valid key pair')
    t.equal((await get('secure.example.com', '/')).status, 200, 'served over plain HTTP, no redirect without a cert')
    t.equal((await get('web.example.com', '/')).status, 200)
  })

  t.test('HAProxy killed: the controller starts it again', async (t) => {
    const pid = ctl.dataplane.proc.pid!
    process.kill(pid, 'SIGKILL')
    // The worker dies with its master (it watches the master's pipe).
    await waitUntil('serving again', async () => ctl.dataplane.proc.pid !== undefined && ctl.dataplane.proc.pid !== pid && (await get('web.example.com', '/')).status === 200, 15_000, 50)
    t.equal(ctl.dataplane.proc.restarts, 1)
  })
})

/**
 * argv: VIP, host A, host B. GETs over one kept-alive connection until stdin closes, A and B in
 * turn; one JSON line per answer: { at, host, status, body, port (the local port), error? }.
 */
const KEEPALIVE_CLIENT = `
const http = require('node:http')
const [vip, ...hosts] = process.argv.slice(1)
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
let stop = false
process.stdin.on('data', () => {}).on('end', () => (stop = true))
const get = (host) => new Promise((resolve) => {
  const req = http.request({ host: vip, port: 80, path: '/', headers: { host }, agent }, (res) => {
    let body = ''
    res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode, body: body.trim(), port: req.socket.localPort }))
  })
  req.on('error', (e) => resolve({ status: 0, body: '', port: 0, error: String(e) }))
  req.end()
})
;(async () => {
  for (let i = 0; !stop; i++) {
    const host = hosts[i % hosts.length]
    const r = await get(host)
    process.stdout.write(JSON.stringify({ at: Date.now(), host, ...r }) + '\\n')
  }
  agent.destroy()
})()
`
