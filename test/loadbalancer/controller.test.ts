// The LoadBalancer controller against a real apiserver and etcd: status within a moment,
// claims in etcd, release on delete / type change / class change, refusals as an Event plus
// a condition, ConfigMap pools, and two controllers at once never giving out one address.
import t from 'tap'
import { Etcd3 } from 'etcd3'
import type { CoreEvent, Service } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { startLoadBalancerController } from '../../src/loadbalancer/controller.js'
import { EtcdAllocationStore, LB_IP_PREFIX } from '../../src/loadbalancer/store.js'
import { parsePoolsFlag } from '../../src/loadbalancer/pools.js'
import { withApiServer } from '../helpers/apiserver.js'
import { waitUntil } from '../helpers/wait.js'

t.test('LoadBalancer controller', async (t) => {
  const srv = await withApiServer(t)
  const client = createClient({ server: srv.url, token: srv.token, caPem: srv.caPem })
  const etcd = new Etcd3({ hosts: srv.etcdEndpoint })
  t.teardown(() => etcd.close())
  const flagPools = parsePoolsFlag('default=192.168.77.200-192.168.77.203')
  const start = () => startLoadBalancerController({ client, store: new EtcdAllocationStore([srv.etcdEndpoint]), flagPools })
  const c1 = await start()
  t.teardown(() => c1.stop())
  const svcs = client.resource<Service>(resourceFor('services'), 'default')
  const mk = (name: string, spec: Partial<Service['spec']> = {}, annotations?: Record<string, string>): Promise<Service> =>
    svcs.create({ apiVersion: 'v1', kind: 'Service', metadata: { name, ...(annotations ? { annotations } : {}) }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80 }], ...spec } })
  const ipOf = async (name: string): Promise<string | undefined> => (await svcs.get(name)).status?.loadBalancer?.ingress?.[0]?.ip
  const claims = async (): Promise<Record<string, string>> => {
    const all = await etcd.getAll().prefix(LB_IP_PREFIX).strings()
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k.slice(LB_IP_PREFIX.length), (JSON.parse(v) as { name: string }).name]))
  }

  t.test('store: concurrent claims of one address, exactly one wins; release only by its holder', async (t) => {
    const stores = Array.from({ length: 8 }, () => new EtcdAllocationStore([srv.etcdEndpoint]))
    t.teardown(() => stores.forEach((s) => s.close()))
    const owner = (i: number) => ({ namespace: 'x', name: `o${i}`, uid: `u${i}` })
    const won = await Promise.all(stores.flatMap((s, i) => [s.claim('10.99.0.1', owner(i)), s.claim('10.99.0.1', owner(i + 8))]))
    t.equal(won.filter(Boolean).length, 1, `one winner of 16 (${won.map(Number).join('')})`)
    const w = won.indexOf(true)
    const winner = owner(w % 2 === 0 ? w / 2 : (w - 1) / 2 + 8)
    t.equal(await stores[0]!.claim('10.99.0.1', winner), true, 'claiming again what one holds succeeds')
    await stores[1]!.release('10.99.0.1', owner(99))
    t.same((await stores[2]!.list()).get('10.99.0.1'), winner, 'a non-holder cannot release it')
    await stores[1]!.release('10.99.0.1', winner)
    t.notOk((await stores[2]!.list()).has('10.99.0.1'))
  })

  t.test('assigns, with ipMode VIP, claimed in etcd, within 2 s', async (t) => {
    const t0 = Date.now()
    await mk('web')
    await waitUntil('web has an address', async () => (await ipOf('web')) !== undefined, 2000)
    t.comment(`status after ${Date.now() - t0} ms`)
    const s = await svcs.get('web')
    t.same(s.status?.loadBalancer?.ingress, [{ ip: '192.168.77.200', ipMode: 'VIP' }])
    t.match(s.status?.conditions, [{ type: 'LoadBalancerIPAllocated', status: 'True', reason: 'IPAllocated' }])
    t.same(await claims(), { '192.168.77.200': 'web' })
  })

  t.test('requested address outside the pools: Event + condition, no address', async (t) => {
    await mk('bad', { loadBalancerIP: '10.1.2.3' })
    await waitUntil('bad has a False condition', async () => (await svcs.get('bad')).status?.conditions?.some((c) => c.status === 'False') ?? false, 3000)
    const s = await svcs.get('bad')
    t.notOk(s.status?.loadBalancer?.ingress)
    t.match(s.status?.conditions, [{ type: 'LoadBalancerIPAllocated', status: 'False', reason: 'AllocationFailed', message: 'Failed to allocate IP for "default/bad": ["10.1.2.3"] is not allowed in config' }])
    await waitUntil('an AllocationFailed Event', async () => {
      const evs = (await client.resource<CoreEvent>(resourceFor('events'), 'default').list()).items
      return evs.some((e) => e.reason === 'AllocationFailed' && e.involvedObject?.name === 'bad' && e.type === 'Warning')
    }, 5000)
    t.pass('Warning AllocationFailed recorded')
    // fixed by the user: assigned
    const cur = await svcs.get('bad')
    await svcs.update({ ...cur, spec: { ...cur.spec, loadBalancerIP: '192.168.77.203' } })
    await waitUntil('bad gets .203', async () => (await ipOf('bad')) === '192.168.77.203', 3000)
    t.pass('after the fix it gets its requested address')
  })

  t.test('annotation; taken address refused; another class left alone', async (t) => {
    await mk('ann', {}, { 'metallb.universe.tf/loadBalancerIPs': '192.168.77.202' })
    await waitUntil('ann', async () => (await ipOf('ann')) === '192.168.77.202', 3000)
    await mk('dup', {}, { 'metallb.universe.tf/loadBalancerIPs': '192.168.77.202' })
    await waitUntil('dup refused', async () => (await svcs.get('dup')).status?.conditions?.some((c) => c.status === 'False') ?? false, 3000)
    t.match((await svcs.get('dup')).status?.conditions?.[0]?.message, /is already in use by "default\/ann"/)
    await mk('other', { loadBalancerClass: 'example.com/other' })
    await new Promise((r) => setTimeout(r, 500))
    t.same((await svcs.get('other')).status, { loadBalancer: {} }, 'untouched')
  })

  t.test('released on delete and on type change', async (t) => {
    await svcs.delete('dup')
    await svcs.delete('ann')
    await waitUntil('.202 released', async () => !('192.168.77.202' in (await claims())), 3000)
    const web = await svcs.get('web')
    await svcs.patch('web', { spec: { type: 'ClusterIP', externalTrafficPolicy: null, ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] } }, 'merge')
    await waitUntil('.200 released, status cleared', async () => !('192.168.77.200' in (await claims())) && !(await svcs.get('web')).status?.loadBalancer?.ingress, 3000)
    t.ok(web.status?.loadBalancer?.ingress, 'it had one before')
  })

  t.test('ConfigMap pools; two controllers at once never hand out one address', async (t) => {
    await client.resource(resourceFor('configmaps'), 'kube-system').create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'netkube-lb-pools' }, data: { wide: '10.77.0.0/27' } } as never)
    await waitUntil('the pool is in force', async () => c1.pools().some((p) => p.name === 'wide'), 3000)
    const c2 = await start()
    t.teardown(() => c2.stop())
    await waitUntil('c2 has the pool', async () => c2.pools().some((p) => p.name === 'wide'), 3000)
    const names = Array.from({ length: 24 }, (_, i) => `race${i}`)
    await Promise.all(names.map((n) => mk(n, {}, { 'metallb.universe.tf/address-pool': 'wide' })))
    await waitUntil('24 addresses', async () => (await Promise.all(names.map(ipOf))).every(Boolean), 10_000)
    await c1.idle()
    await c2.idle()
    const ips = await Promise.all(names.map(ipOf))
    t.equal(new Set(ips).size, 24, 'all distinct')
    const cl = await claims()
    for (const [i, n] of names.entries()) t.equal(cl[ips[i]!], n, `${ips[i]} claimed by ${n}`)
  })
})
