// healthCheckNodePort: upstream's JSON body and 200/503 by local endpoint count (pure), then
// real servers on loopback opened, updated and closed as the proxier's ports change.
import t from 'tap'
import http from 'node:http'
import type { Service } from '../../src/api/types.js'
import { HealthCheckServers, healthCheckReply, healthCheckTargets } from '../../src/proxy/healthcheck.js'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { freePort } from '../../src/util/ports.js'
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
