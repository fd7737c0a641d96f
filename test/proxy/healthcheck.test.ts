// healthCheckNodePort: upstream's JSON body and 200/503 by local endpoint count (pure), then
// real servers on loopback opened, updated and closed as the proxier's ports change.
import t from 'tap'
import http from 'node:http'
import type { Service } from '../../src/api/types.js'
import { HealthCheckServers, healthCheckReply, healthCheckTargets } from '../../src/proxy/healthcheck.js'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { freePort } from '../../src/util/ports.js'
import { netnsHandle } from '../../src/net/door.js'
import { need } from '../helpers/prereq.js'
import { withNetns } from '../helpers/netns.js'
import { NODE, slice, svc } from './fixtures.js'

t.test('reply: body, headers, 200 only with a local endpoint and a healthy proxy', async (t) => {
  const r = healthCheckReply({ namespace: 'default', name: 'web', localEndpoints: 2 }, true)
  t.equal(r.status, 200)
  t.equal(r.body, '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}')
  t.same(JSON.parse(r.body), { service: { namespace: 'default', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true })
  t.same(r.headers, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': '2' })
  t.equal(healthCheckReply({ namespace: 'default', name: 'web', localEndpoints: 0 }, true).status, 503, 'no local endpoint')
  t.equal(healthCheckReply({ namespace: 'default', name: 'web', localEndpoints: 1 }, false).status, 503, 'proxy unhealthy')
})

const lb = (hc: number, local: boolean, eps: { ip: string; node?: string; ready?: boolean }[]) =>
  buildServicePorts(
    { ...svc('web', { clusterIP: '10.96.0.20', type: 'LoadBalancer', externalTrafficPolicy: local ? 'Local' : 'Cluster', healthCheckNodePort: hc }), status: { loadBalancer: { ingress: [{ ip: '192.168.56.200' }] } } } as Service,
    [slice('web', eps)],
    NODE.name,
  )

t.test('targets: only Local LoadBalancers, counting this node’s ready endpoints', async (t) => {
  const m = healthCheckTargets([lb(31000, true, [{ ip: '10.244.1.2' }, { ip: '10.244.1.3', ready: false }, { ip: '10.244.2.2', node: 'node-b' }]), lb(31001, false, [{ ip: '10.244.1.2' }])])
  t.same([...m], [[31000, { namespace: 'default', name: 'web', localEndpoints: 1 }]])
})

t.test('servers: open per port, follow the count, close when the Service goes', async (t) => {
  const port = await freePort()
  let healthy = true
  const s = new HealthCheckServers(() => healthy, '127.0.0.1')
  t.teardown(() => s.close())
  // a fresh connection each time (agent: false), as a load balancer's probe makes
  const get = (): Promise<{ status: number; body: unknown; weight: string | undefined } | string> =>
    new Promise((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/anything', agent: false }, (res) => {
          let b = ''
          res.on('data', (d) => (b += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(b), weight: res.headers['x-load-balancing-endpoint-weight'] as string | undefined }))
        })
        .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    })
  await s.sync(healthCheckTargets([lb(port, true, [{ ip: '10.244.1.2' }])]))
  t.same(await get(), { status: 200, body: { service: { namespace: 'default', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: true }, weight: '1' })
  await s.sync(healthCheckTargets([lb(port, true, [{ ip: '10.244.2.2', node: 'node-b' }])]))
  t.match(await get(), { status: 503, body: { localEndpoints: 0 } }, 'endpoint moved away: 503')
  healthy = false
  await s.sync(healthCheckTargets([lb(port, true, [{ ip: '10.244.1.2' }])]))
  t.match(await get(), { status: 503, body: { localEndpoints: 1, serviceProxyHealthy: false } })
  t.same(s.ports, [port])
  await s.sync(new Map())
  t.equal(await get(), 'ECONNREFUSED', 'closed with the Service')
})

// The proxy may program a node's namespace from outside it (`netkube proxy --netns`): the
// servers must then listen inside that namespace, where the node's neighbours reach them.
t.test('kernel: servers listen inside the node namespace, not the process’s own', { skip: need('addon:setns', 'curl') }, async (t) => {
  const ns = await withNetns(t, 'hc')
  await netnsHandle(ns).withOps((ops) => ops.setLink('lo', { up: true }))
  const port = await freePort()
  const s = new HealthCheckServers(() => true, '0.0.0.0', ns)
  t.teardown(() => s.close())
  await s.sync(healthCheckTargets([lb(port, true, [{ ip: '10.244.1.2' }])]))
  const inside = await netnsHandle(ns).run('curl', ['-sS', '-i', '--max-time', '5', `http://127.0.0.1:${port}/healthz`], { allowFailure: true })
  t.match(inside.stdout, /^HTTP\/1\.1 200 OK\r\n/, 'answers inside the namespace')
  t.same(JSON.parse(inside.stdout.slice(inside.stdout.indexOf('\r\n\r\n') + 4)), { service: { namespace: 'default', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: true })
  const here = await new Promise<string>((resolve) =>
    http.get({ host: '127.0.0.1', port, agent: false }, () => resolve('answered')).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message)),
  )
  t.equal(here, 'ECONNREFUSED', 'nothing listens in the test’s own namespace')
  await s.sync(new Map())
  const after = await netnsHandle(ns).run('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}/healthz`], { allowFailure: true })
  t.not(after.code, 0, 'closed with the Service')
})
