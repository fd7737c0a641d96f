// An EndpointSlice relabelled from one Service to another (kubernetes.io/service-name
// changes), seen by the proxy and by DNS at once: a real etcd + apiserver, the proxy writing
// real nft rules into a throwaway namespace, and the DNS server fed by informers, queried
// with dig on loopback. Both must drop the endpoints from the old Service, not only add
// them to the new one.
import t from 'tap'
import type { EndpointSlice, Service } from '../../src/api/types.js'
import { findResource } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { startDnsModelFromClient } from '../../src/dns/feed.js'
import { startDnsServer } from '../../src/dns/server.js'
import { proxyViewFromNftJson } from '../../src/chaos/converge.js'
import { netnsHandle } from '../../src/net/door.js'
import { startProxy } from '../../src/proxy/index.js'
import { NFT_TABLE } from '../../src/proxy/nftables.js'
import { withApiServer } from '../helpers/apiserver.js'
import { cleanupRunNamespaces, withNetns } from '../helpers/netns.js'
import { dig } from '../dns/dig.js'
import { NODE_PROXY, slice, svc } from './fixtures.js'

const A_IP = '10.96.0.21'
const B_IP = '10.96.0.22'
const WEB_EPS = ['10.244.1.11:8080', '10.244.1.12:8080']

/**
 * Where the kernel's table sends new connections to `ip`:80/tcp, read from `nft -j list
 * table` by the chaos checker's reader (both layouts: the maps layout's endpoints-N set and
 * slot-I maps, per-Service chains behind service-ips): the endpoints, or 'reject' when it is
 * in the no-endpoints map; [] when the address is not programmed at all.
 */
function dnatTargets(doc: unknown, ip: string): string[] {
  const view = proxyViewFromNftJson(doc)
  const key = `${ip} tcp 80`
  if (view.noEndpoints.has(key)) return ['reject']
  return view.services.get(key) ?? []
}

async function until(what: string, fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

t.teardown(() => cleanupRunNamespaces())

t.test('a slice moved between Services leaves the old one in the proxy rules and in DNS', async (t) => {
  const node = await withNetns(t, 'move')
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const services = client.resource<Service>(findResource('', 'v1', 'services')!, 'default')
  const slices = client.resource<EndpointSlice>(findResource('discovery.k8s.io', 'v1', 'endpointslices')!, 'default')
  // ClusterIP pair for the proxy; headless pair for DNS (only headless names carry endpoints).
  await services.create(svc('web-a', { clusterIP: A_IP }))
  await services.create(svc('web-b', { clusterIP: B_IP }))
  await services.create(svc('db-a', { clusterIP: 'None' }))
  await services.create(svc('db-b', { clusterIP: 'None' }))
  await slices.create(slice('web-a', [{ ip: '10.244.1.11' }, { ip: '10.244.1.12' }], { name: 'web-1' }))
  const db = slice('db-a', [{ ip: '10.244.2.21' }], { name: 'db-1' })
  db.endpoints[0]!.hostname = 'db-0'
  await slices.create(db)

  const proxy = await startProxy({ ...NODE_PROXY, client, netns: node })
  t.teardown(() => proxy.stop())
  const feed = startDnsModelFromClient(client)
  t.teardown(() => feed.stop())
  await feed.synced
  const dns = await startDnsServer({ model: feed.model, host: '127.0.0.1', port: 0, upstreams: [] })
  t.teardown(() => dns.stop())

  const rules = async (): Promise<unknown> => JSON.parse((await netnsHandle(node).run('nft', ['-j', 'list', 'table', 'ip', NFT_TABLE])).stdout)
  const answers = async (name: string): Promise<string> => {
    const r = await dig(dns.port, [`${name}.default.svc.cluster.local`, 'A'])
    return r.status === 'NOERROR' ? r.answer.map((l) => l.split(' ').pop()).join(',') : r.status
  }

  t.same(dnatTargets(await rules(), A_IP), WEB_EPS, 'before: web-a sends to the slice endpoints')
  t.same(dnatTargets(await rules(), B_IP), ['reject'], 'before: web-b has no endpoints')
  t.equal(await answers('db-a'), '10.244.2.21', 'before: db-a answers the endpoint')
  t.equal(await answers('db-0.db-a'), '10.244.2.21', 'and its hostname')
  t.equal(await answers('db-b'), 'NXDOMAIN', 'before: db-b has no endpoint')

  for (const [name, to] of [['web-1', 'web-b'], ['db-1', 'db-b']] as const) {
    const cur = await slices.get(name)
    await slices.update({ ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, 'kubernetes.io/service-name': to } } })
  }
  await until('web-b programmed', async () => dnatTargets(await rules(), B_IP).length === 2)
  await until('db-b in DNS', async () => (await answers('db-b')) === '10.244.2.21')

  const after = await rules()
  t.same(dnatTargets(after, B_IP), WEB_EPS, 'after: web-b sends to the moved endpoints')
  t.same(dnatTargets(after, A_IP), ['reject'], 'after: web-a no longer sends to them')
  t.notMatch(JSON.stringify(after), /web-a\/tcp\/http__/, 'no endpoint chain of web-a is left')
  t.equal(await answers('db-0.db-b'), '10.244.2.21', 'the endpoint name moved with the slice')
  t.equal(await answers('db-a'), 'NXDOMAIN', 'db-a has no endpoints left')
  t.equal(await answers('db-0.db-a'), 'NXDOMAIN', 'nor its endpoint name')
})
