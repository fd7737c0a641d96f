// startProxy wired to a real apiserver (etcd + netkube apiserver) through informers; the
// kernel side is the fake nft, so this covers the informer → tracker → runner → sync path.
import t from 'tap'
import type { EndpointSlice, Node, Service } from '../../src/api/types.js'
import { findResource } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { FakeNft } from '../../src/net/nft.js'
import { startProxy } from '../../src/proxy/index.js'
import { NFT_TABLE } from '../../src/proxy/nftables.js'
import { withApiServer } from '../helpers/apiserver.js'
import { NODE_PROXY, slice, svc } from './fixtures.js'

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.test('informers drive syncs: create, scale down, delete; /healthz and /metrics', async (t) => {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const services = client.resource<Service>(findResource('', 'v1', 'services')!, 'default')
  const slices = client.resource<EndpointSlice>(findResource('discovery.k8s.io', 'v1', 'endpointslices')!, 'default')
  await services.create(svc('web', { clusterIP: '10.96.0.20' }))
  await slices.create(slice('web', [{ ip: '10.244.1.11' }, { ip: '10.244.1.12' }]))
  const nodes = client.resource<Node>(findResource('', 'v1', 'nodes')!)
  await nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_PROXY.nodeName }, spec: {} })

  const nft = new FakeNft()
  const proxy = await startProxy({ ...NODE_PROXY, client, netns: 'not-used-with-fake-nft', nft, healthPort: 0 })
  t.teardown(() => proxy.stop())
  const dump = (): string => nft.dump('ip', NFT_TABLE) ?? ''
  // the default layout (maps): the Service is elements, two endpoints → endpoints-2 and slots 0, 1
  t.match(dump(), /set endpoints-2\n(?:  .*\n)*?  10\.96\.0\.20 \. tcp \. \d+\n/, 'first sync programmed the Service with two endpoints')
  t.match(dump(), /map slot-1\n(?:  .*\n)*?  10\.96\.0\.20 \. tcp \. \d+ : 10\.244\.1\.1[12] \. \d+/, 'its second endpoint in slot 1')
  t.ok(nft.transactions[0]!.render().includes('delete table ip netkube-proxy'), 'first sync is full')

  const cur = await slices.get('web-abc')
  await slices.update({ ...cur, endpoints: cur.endpoints.slice(0, 1) })
  await until('scale-down programmed', () => !dump().includes('10.244.1.12'))
  t.notMatch(nft.lastTransaction!.render(), /delete table/, 'incremental')
  t.notMatch(nft.lastTransaction!.render(), /add rule|add chain/, 'an endpoint change writes elements only')
  t.match(dump(), /set endpoints-1\n(?:  .*\n)*?  10\.96\.0\.20 \. tcp/, 'one endpoint left')

  await services.delete('web')
  await until('service removed', () => !dump().includes('10.96.0.20'))

  const res = await fetch(`http://127.0.0.1:${proxy.healthPort}/healthz`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-content-type-options'), 'nosniff')
  t.match(await res.json(), { healthy: true, nodeEligible: true, lastUpdated: /^\d{4}-/, currentTime: /^\d{4}-/ }, "upstream's /healthz body")
  // the cluster autoscaler marks the node for scale-down: healthz drains it, livez stays up
  const n = await nodes.get(NODE_PROXY.nodeName)
  await nodes.update({ ...n, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1', effect: 'NoSchedule' }] } })
  let h: Response | undefined
  for (let i = 0; i < 100 && (h = await fetch(`http://127.0.0.1:${proxy.healthPort}/healthz`)).status !== 503; i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(h?.status, 503, 'healthz 503 once the node is marked for deletion')
  t.match(await h!.json(), { healthy: true, nodeEligible: false })
  const live = await fetch(`http://127.0.0.1:${proxy.healthPort}/livez`)
  t.equal(live.status, 200, 'livez ignores it')
  t.notOk('nodeEligible' in ((await live.json()) as object))
  const metrics = await (await fetch(`http://127.0.0.1:${proxy.healthPort}/metrics`)).text()
  t.match(metrics, /netkube_proxy_sync_proxy_rules_duration_seconds_count\{mode="nftables",kind="partial"\} [1-9]/)
  t.match(metrics, /netkube_proxy_network_programming_duration_seconds_count [1-9]/)
  t.match(metrics, /netkube_proxy_sync_proxy_rules_chains_total \d+/)
  t.match(metrics, /netkube_proxy_healthz_total\{code="503"\} [1-9]/)
  t.match(metrics, /netkube_proxy_livez_total\{code="200"\} 1/)
})
