// The proxy's service-route step against the real kernel, on both NetOps implementations:
// an existing route that covers the service CIDR is kept, an unreachable one does not count,
// otherwise the route goes out of the pod network's interface, or the one given.
import t, { type Test } from 'tap'
import { withNetns } from '../helpers/netns.js'
import { IpOps, netnsHandle, openRtnl, type NetOps } from '../net/imports.js'
import { ensureServiceRoute, ensureServiceRouteWith } from '../../src/proxy/node.js'

const SVC = '10.96.0.0/12'
const PODS = '10.244.0.0/16'

/** A namespace with a "pod network" interface (veth0, 10.244.1.1/24) and an "uplink" (veth1). */
async function node(t: Test, suffix: string): Promise<string> {
  const ns = await withNetns(t, suffix)
  await netnsHandle(ns).ipBatch([
    'link add veth0 type veth peer name veth1',
    'link set veth0 up',
    'link set veth1 up',
    'addr add 10.244.1.1/24 dev veth0',
    'addr add 192.168.9.1/24 dev veth1',
  ])
  return ns
}

const svcRoute = async (ops: NetOps): Promise<string | undefined> => (await ops.listRoutes({ family: 4 })).find((r) => r.dst === SVC)?.dev

for (const [label, open] of [
  ['netlink', (ns: string) => openRtnl(ns)],
  ['ip fallback', (ns: string) => new IpOps(ns)],
] as const) {
  t.test(`${label}: the service route`, async (t) => {
    const ns = await node(t, label[0]!)
    const ops = open(ns)
    t.teardown(() => ops.close())

    t.equal(await ensureServiceRouteWith(ops, SVC, PODS), `${SVC} dev veth0`, 'no route: out of the pod network interface')
    t.equal(await svcRoute(ops), 'veth0')
    t.equal(await ensureServiceRouteWith(ops, SVC, PODS), `existing route via veth0`, 'second run: ours is the existing route')
    await ops.delRoute({ dst: SVC, dev: 'veth0' })

    await netnsHandle(ns).ipBatch(['route add unreachable 10.0.0.0/8', 'route add default via 192.168.9.254 dev veth1'])
    t.equal(await ensureServiceRouteWith(ops, SVC, PODS), `${SVC} dev veth0`, 'an unreachable route does not count')
    await ops.delRoute({ dst: SVC, dev: 'veth0' })
    await netnsHandle(ns).ipBatch(['route del unreachable 10.0.0.0/8'])

    t.equal(await ensureServiceRouteWith(ops, SVC, PODS), 'existing route via veth1', 'a default route covers it: kept')
    t.equal(await svcRoute(ops), undefined, 'and nothing added')

    t.equal(await ensureServiceRouteWith(ops, SVC, PODS, 'veth1'), `${SVC} dev veth1`, 'the given interface')
    t.equal(await ensureServiceRouteWith(ops, SVC, PODS, 'veth0'), `${SVC} dev veth0`, 'replaced, not added twice')
    t.equal((await ops.listRoutes({ family: 4 })).filter((r) => r.dst === SVC).length, 1)

    await ops.delRoute({ dst: SVC, dev: 'veth0' })
    await netnsHandle(ns).ipBatch(['route del default'])
    await t.rejects(ensureServiceRouteWith(ops, SVC, '10.250.0.0/16'), /no route to the service CIDR/, 'nothing to route through: an error')
  })
}

t.test('ensureServiceRoute opens and closes its own operations in the namespace', async (t) => {
  const ns = await node(t, 'o')
  t.equal(await ensureServiceRoute(ns, SVC, PODS), `${SVC} dev veth0`)
  t.equal(await netnsHandle(ns).withOps(svcRoute), 'veth0')
})
