// The DNS server fed by informers from a real apiserver (real etcd): objects created
// through the client show up in `dig` answers, changes and deletions follow; and the
// `netkube dns` subcommand as a child process, killed with SIGKILL and restarted.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import type { EndpointSlice, Service } from '../../src/api/types.js'
import { findResource } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { startDnsModelFromClient } from '../../src/dns/feed.js'
import { startDnsServer } from '../../src/dns/server.js'
import { DnsModel } from '../../src/dns/model.js'
import { freePort } from '../../src/util/ports.js'
import { withApiServer } from '../helpers/apiserver.js'
import { need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'
import { dig, type DigResult } from './dig.js'
import { ep, slice, svc } from './fixtures.js'

// The subcommand runs from the build (like test/controllers/cli.test.ts): `npm run build` first.
const MAIN = join(process.cwd(), 'dist/src/cli/main.js')

/** Dig until `ok` holds (informer propagation is asynchronous), or fail with the last answer. */
async function digUntil(port: number, args: string[], ok: (r: DigResult) => boolean, timeoutMs = 10_000): Promise<DigResult> {
  const deadline = Date.now() + timeoutMs
  let last: DigResult
  do {
    last = await dig(port, args)
    if (ok(last)) return last
    await new Promise((r) => setTimeout(r, 100))
  } while (Date.now() < deadline)
  return last
}

/** The model, remembering every EndpointSlice version the feed handed it (visible in DNS or not). */
class ObservedModel extends DnsModel {
  readonly sliceVersions = new Set<string>()
  override upsertEndpointSlice(slice: EndpointSlice): void {
    super.upsertEndpointSlice(slice)
    this.sliceVersions.add(`${slice.metadata.name}@${slice.metadata.resourceVersion}`)
  }
}

t.test('services and endpointslices from the apiserver', async (t) => {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const model = new ObservedModel()
  const feed = startDnsModelFromClient(client, model)
  t.teardown(() => feed.stop())
  const dns = await startDnsServer({ model: feed.model, host: '127.0.0.1', port: 0, upstreams: [] })
  t.teardown(() => dns.stop())
  await feed.synced
  t.ok(feed.model.synced)

  const services = client.resource<Service>(findResource('', 'v1', 'services')!, 'default')
  const slices = client.resource<EndpointSlice>(findResource('discovery.k8s.io', 'v1', 'endpointslices')!, 'default')
  const web = await services.create(svc('default', 'web', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }))
  const ip = web.spec.clusterIP!
  t.match(ip, /^\d+\.\d+\.\d+\.\d+$/, 'apiserver allocated a ClusterIP')
  const a = await digUntil(dns.port, ['web.default.svc.cluster.local'], (r) => r.answer.length > 0)
  t.same(a.answer, [`web.default.svc.cluster.local. 5 IN A ${ip}`])
  const srv = await dig(dns.port, ['_http._tcp.web.default.svc.cluster.local', 'SRV'])
  t.same(srv.answer, ['_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local.'])
  const ptr = await dig(dns.port, ['-x', ip])
  t.same(ptr.answer, [`${ip.split('.').reverse().join('.')}.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local.`])
  // The apiserver's own `kubernetes` service, if it creates one, resolves too.

  // Headless with an EndpointSlice: NXDOMAIN until an endpoint is ready.
  // An unknown name is NXDOMAIN too: wait until the model holds the service, then ask.
  await services.create(svc('default', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }))
  await waitUntil('the feed to deliver service db', async () => model.service('default', 'db') !== undefined, 10_000, 20)
  t.equal((await dig(dns.port, ['db.default.svc.cluster.local'])).status, 'NXDOMAIN', 'headless without endpoints')
  const sl = await slices.create(slice('default', 'db', 'db-x1', [ep('10.244.1.10', { hostname: 'db-0', conditions: { ready: false } })], [{ name: 'pg', port: 5432 }]))
  await waitUntil('the feed to deliver slice db-x1', async () => model.sliceVersions.has(`db-x1@${sl.metadata.resourceVersion}`), 10_000, 20)
  t.equal((await dig(dns.port, ['db.default.svc.cluster.local'])).status, 'NXDOMAIN', 'not-ready endpoint is not published')
  await slices.update({ ...sl, endpoints: [ep('10.244.1.10', { hostname: 'db-0' }), ep('10.244.2.11')] })
  const hs = await digUntil(dns.port, ['db.default.svc.cluster.local'], (r) => r.answer.length === 2)
  t.same(hs.answer.sort(), ['db.default.svc.cluster.local. 5 IN A 10.244.1.10', 'db.default.svc.cluster.local. 5 IN A 10.244.2.11'])
  t.same((await dig(dns.port, ['db-0.db.default.svc.cluster.local'])).answer, ['db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.10'])
  t.equal((await dig(dns.port, ['_pg._tcp.db.default.svc.cluster.local', 'SRV'])).answer.length, 2)

  // ExternalName.
  await services.create(svc('default', 'ext', { type: 'ExternalName', externalName: 'example.com' }))
  const ext = await digUntil(dns.port, ['ext.default.svc.cluster.local', 'CNAME'], (r) => r.answer.length > 0)
  t.same(ext.answer, ['ext.default.svc.cluster.local. 5 IN CNAME example.com.'])

  // Deletion.
  await services.delete('web')
  const gone = await digUntil(dns.port, ['web.default.svc.cluster.local'], (r) => r.status === 'NXDOMAIN')
  t.equal(gone.status, 'NXDOMAIN')
  t.match(gone.authority[0], /IN SOA ns\.dns\.cluster\.local\./)
})

t.test('`netkube dns` subcommand: kubeconfig flag, listen flag, survives kill -9', { skip: need('build') }, async (t) => {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const services = client.resource<Service>(findResource('', 'v1', 'services')!, 'default')
  const created = await services.create(svc('default', 'web', { ports: [{ port: 80, protocol: 'TCP' }] }))
  const port = await freePort()
  const metricsPort = await freePort()
  const children = new Set<ChildProcess>()
  const launch = (): ChildProcess => {
    const c = spawn(
      process.execPath,
      [MAIN, 'dns', '--kubeconfig', api.kubeconfigPath, '--listen', `127.0.0.1:${port}`, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--upstream', '127.0.0.1:9'],
      { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, NETKUBE_LOG_LEVEL: 'warn' } },
    )
    children.add(c)
    c.on('exit', () => children.delete(c))
    return c
  }
  t.teardown(() => {
    for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL')
  })
  const want = [`web.default.svc.cluster.local. 5 IN A ${created.spec.clusterIP}`]
  const first = launch()
  t.same((await digUntil(port, ['web.default.svc.cluster.local'], (r) => r.answer.length > 0, 30_000)).answer, want)
  process.kill(first.pid!, 'SIGKILL')
  await new Promise((r) => first.once('exit', r))
  t.equal((await dig(port, ['+time=1', 'web.default.svc.cluster.local'])).status, 'NONE', 'down after kill -9')
  launch()
  t.same((await digUntil(port, ['web.default.svc.cluster.local'], (r) => r.answer.length > 0, 30_000)).answer, want, 'back after restart')
})

t.test('`netkube dns --workers 2`: workers share the sockets; SIGTERM stops them all', { skip: need('build') }, async (t) => {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const services = client.resource<Service>(findResource('', 'v1', 'services')!, 'default')
  const created = await services.create(svc('default', 'web', { ports: [{ port: 80, protocol: 'TCP' }] }))
  const port = await freePort()
  const c = spawn(process.execPath, [MAIN, 'dns', '--kubeconfig', api.kubeconfigPath, '--listen', `127.0.0.1:${port}`, '--upstream', '127.0.0.1:9', '--workers', '2'], {
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...process.env, NETKUBE_LOG_LEVEL: 'warn' },
  })
  t.teardown(() => {
    if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL')
  })
  const want = [`web.default.svc.cluster.local. 5 IN A ${created.spec.clusterIP}`]
  t.same((await digUntil(port, ['web.default.svc.cluster.local'], (r) => r.answer.length > 0, 30_000)).answer, want)
  // A worker answers SERVFAIL until its own informers synced; after that every answer,
  // whichever worker takes it, over either transport, must be right.
  let streak = 0
  const deadline = Date.now() + 30_000
  const seen: string[] = []
  while (streak < 12 && Date.now() < deadline) {
    const r = await dig(port, [streak % 2 ? '+tcp' : '+notcp', 'web.default.svc.cluster.local'])
    seen.push(r.status)
    if (r.status === 'NOERROR') t.same(r.answer, want)
    else t.equal(r.status, 'SERVFAIL', 'a worker still syncing says SERVFAIL, never NXDOMAIN')
    streak = r.status === 'NOERROR' ? streak + 1 : 0
  }
  t.equal(streak, 12, `12 right answers in a row (${seen.join(' ')})`)
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)))
  process.kill(c.pid!, 'SIGTERM')
  t.equal(await exited, 0, 'primary exits cleanly after its workers')
  t.equal((await dig(port, ['+time=1', 'web.default.svc.cluster.local'])).status, 'NONE', 'nothing left listening')
})
