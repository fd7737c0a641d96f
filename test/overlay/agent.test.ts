// startOverlayAgent in-process (as the node agent embeds it), programming a namespace given
// by name through src/net's setns path. Also: device reconcile (in place vs recreate).
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import { withEtcd } from '../helpers/etcd.js'
import { withNetns } from '../helpers/netns.js'
import { ipBatch } from '../../src/net/netns.js'
import { run } from '../../src/util/exec.js'
import { startOverlayAgent } from '../../src/overlay/agent.js'
import { vtepMac } from '../../src/overlay/device.js'
import { privateBuild, until } from './cluster.js'
import { need } from '../helpers/prereq.js'

const PREFIX = '/test/network'

/** etcd with the network config, a node namespace with an underlay, a state dir; all torn down. */
async function soloNode(t: Test, suffix: string): Promise<{ etcd: { endpoint: string }; client: Etcd3; ns: string; dir: string }> {
  const etcd = await withEtcd(t)
  const client = new Etcd3({ hosts: etcd.endpoint })
  t.teardown(() => client.close())
  await client.put(`${PREFIX}/config`).value(JSON.stringify({ Network: '10.7.0.0/16', SubnetLen: 24 }))
  const ns = await withNetns(t, suffix)
  // an underlay: a veth pair inside the namespace (no dummy links on this kernel)
  await ipBatch(ns, ['link add eth0 type veth peer name eth0p', 'link set eth0p up', 'link set eth0 up', 'addr add 192.168.57.10/24 dev eth0', 'route add default via 192.168.57.1'])
  const dir = mkdtempSync(join(tmpdir(), 'nk-agent-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return { etcd, client, ns, dir }
}

t.test('in-process agent on a named namespace', { skip: need('addon:setns') }, async (t) => {
  const { etcd, client, ns, dir } = await soloNode(t, 'solo')
  const subnetFile = join(dir, 'subnet.env')

  const agent = await startOverlayAgent({ etcdEndpoints: [etcd.endpoint], prefix: PREFIX, netns: ns, subnetFile, reconcileIntervalMs: 300, leaseTtlSec: 60 })
  let stopped = false
  t.teardown(() => (stopped ? undefined : agent.stop({ release: true })))
  t.equal(agent.lease.publicIP, '192.168.57.10', 'PublicIP from the default route interface')
  t.equal(agent.subnetEnv.mtu, 1450)
  t.equal(readFileSync(subnetFile, 'utf8'), `FLANNEL_NETWORK=10.7.0.0/16\nFLANNEL_SUBNET=${agent.subnetEnv.subnet}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`)
  const dev = async () => JSON.parse((await run('ip', ['-n', ns, '-d', '-j', 'link', 'show', 'flannel.1'], { allowFailure: true })).stdout || '[]')[0]
  const before = await dev()
  t.equal(before.address, vtepMac('192.168.57.10', 1))

  // a remote lease appears → ARP, FDB, route; it goes → all three go
  const key = `${PREFIX}/subnets/10.7.200.0-24`
  await client.put(key).value(JSON.stringify({ PublicIP: '192.168.57.20', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:20' } }))
  const route = async () => (await run('ip', ['-n', ns, 'route', 'show', '10.7.200.0/24'])).stdout.trim()
  t.equal(await until('route', route), '10.7.200.0/24 via 10.7.200.0 dev flannel.1 onlink')
  t.match((await run('ip', ['-n', ns, 'neigh', 'show', 'dev', 'flannel.1'])).stdout, /10\.7\.200\.0 lladdr 0e:00:00:00:00:20 PERMANENT/)
  t.match((await run('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'flannel.1'])).stdout, /0e:00:00:00:00:20 dst 192\.168\.57\.20 self permanent/)
  const metrics = await agent.metrics.registry.metrics()
  t.match(metrics, /netkube_overlay_leases_known 2/)
  t.equal(agent.health(), undefined, 'healthy')

  // device reconcile: an MTU change is fixed in place (same ifindex) ...
  await run('ip', ['-n', ns, 'link', 'set', 'flannel.1', 'mtu', '1400'])
  await until('mtu restored', async () => (await dev())?.mtu === 1450)
  t.equal((await dev()).ifindex, before.ifindex, 'MTU fixed in place, device not recreated')
  // ... a deleted device is recreated, with the same MAC, and its entries come back
  await run('ip', ['-n', ns, 'link', 'del', 'flannel.1'])
  await until('device and route back', async () => (await dev()) && (await route()) !== '')
  t.equal((await dev()).address, before.address, 'recreated with the same VTEP MAC (peers stay valid)')
  t.match((await run('ip', ['-n', ns, '-4', 'addr', 'show', 'dev', 'flannel.1'])).stdout, new RegExp(`${agent.subnetEnv.subnet.replace(/\.1\/24$/, '.0')}/32`))

  await client.delete().key(key)
  await until('route gone', async () => (await route()) === '')
  t.equal((await run('ip', ['-n', ns, 'neigh', 'show', 'dev', 'flannel.1'])).stdout.trim(), '', 'ARP entry gone')
  t.notMatch((await run('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'flannel.1'])).stdout, /0e:00:00:00:00:20/, 'FDB entry gone')

  await agent.stop({ release: true })
  stopped = true
  await until('lease released', async () => (await client.getAll().prefix(`${PREFIX}/subnets/`).keys()).length === 0)
  t.pass('stop({release}) frees the subnet')

  // DirectRouting, with the underlay named explicitly: a remote on our L2 gets a plain route,
  // one elsewhere goes through VXLAN
  await client.put(`${PREFIX}/config`).value(JSON.stringify({ Network: '10.7.0.0/16', Backend: { Type: 'vxlan', DirectRouting: true } }))
  await client.put(key).value(JSON.stringify({ PublicIP: '192.168.57.20', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:20' } }))
  await client.put(`${PREFIX}/subnets/10.7.201.0-24`).value(JSON.stringify({ PublicIP: '172.16.0.9', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:21' } }))
  const dr = await startOverlayAgent({ etcdEndpoints: [etcd.endpoint], prefix: PREFIX, netns: ns, subnetFile, iface: 'eth0', publicIP: '192.168.57.10', reconcileIntervalMs: 300 })
  let drStopped = false
  t.teardown(() => (drStopped ? undefined : dr.stop()))
  t.equal(await until('direct route', route), '10.7.200.0/24 via 192.168.57.20 dev eth0', 'DirectRouting: same L2 → plain route via PublicIP')
  t.equal(await until('vxlan route', async () => (await run('ip', ['-n', ns, 'route', 'show', '10.7.201.0/24'])).stdout.trim()), '10.7.201.0/24 via 10.7.201.0 dev flannel.1 onlink', 'other L2 → VXLAN')
  await t.rejects(
    startOverlayAgent({ etcdEndpoints: [etcd.endpoint], prefix: PREFIX, netns: ns, subnetFile: join(dir, 'x.env'), publicIP: '192.168.57.99' }),
    /--public-ip 192\.168\.57\.99 is not an address of any interface here/,
    'a wrong --public-ip is refused',
  )
  await dr.stop({ release: true })
  drStopped = true
})

t.test('watchLeases false: leases are learnt only by the periodic re-list', { skip: need('addon:setns') }, async (t) => {
  const { etcd, client, ns, dir } = await soloNode(t, 'poll')
  const agent = await startOverlayAgent({ etcdEndpoints: [etcd.endpoint], prefix: PREFIX, netns: ns, subnetFile: join(dir, 'subnet.env'), reconcileIntervalMs: 2000, watchLeases: false })
  t.teardown(() => agent.stop({ release: true }))
  const passes = async (): Promise<number> => (await agent.metrics.syncs.get()).values[0]?.value ?? 0
  const route = async () => (await run('ip', ['-n', ns, 'route', 'show', '10.7.200.0/24'])).stdout.trim()
  // right after a periodic pass, so the next one is ~2 s away
  const n0 = await passes()
  await until('a periodic pass', async () => (await passes()) > n0, 5000)
  await client.put(`${PREFIX}/subnets/10.7.200.0-24`).value(JSON.stringify({ PublicIP: '192.168.57.20', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:20' } }))
  await new Promise((r) => setTimeout(r, 700))
  t.equal(await route(), '', 'no watch: the new lease is not programmed before the next pass')
  t.equal(await until('route by re-list', route, 6000), '10.7.200.0/24 via 10.7.200.0 dev flannel.1 onlink', 'the next pass re-lists and programs it')
})

t.test('netkube overlay refuses the root network namespace', async (t) => {
  const cli = await privateBuild(t)
  const r = await run(process.execPath, [cli, 'overlay', '--etcd-endpoints', 'http://127.0.0.1:1'], { allowFailure: true })
  t.equal(r.code, 2)
  t.match(r.stderr, /refusing to program the root network namespace/)
  const bad = await run(process.execPath, [cli, 'overlay', '--backend', 'udp'], { allowFailure: true })
  t.match(bad.stderr, /--backend must be vxlan or host-gw/)
})
