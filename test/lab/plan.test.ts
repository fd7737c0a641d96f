// The lab's address plan (pure): the Vagrant lab's addresses, computed from its CIDRs.
import t from 'tap'
import { apiServerAddrs, etcdArgs, etcdClientUrls, labPlan } from '../../src/lab/plan.js'
import { cidrContains, nthAddress, parseCidr } from '../../src/net/ip.js'

t.test('address plan: gateway .1, nodes from .10, DNS the tenth service address', async (t) => {
  const p = labPlan('x', 3)
  t.same({ gateway: p.gateway, underlay: p.underlayCidr, nodes: p.nodes.map((n) => n.ip), dns: p.clusterDNS }, {
    gateway: '192.168.56.1',
    underlay: '192.168.56.0/24',
    nodes: ['192.168.56.10', '192.168.56.11', '192.168.56.12'],
    dns: '10.96.0.10',
  })
  const big = labPlan('y', 20)
  const ul = parseCidr(big.underlayCidr)
  t.equal(new Set(big.nodes.map((n) => n.ip)).size, 20, 'twenty distinct node addresses')
  t.ok(big.nodes.every((n) => cidrContains(ul, n.ip) && n.ip !== big.gateway), 'all on the underlay, none the gateway')
  t.equal(big.clusterDNS, nthAddress(parseCidr(big.serviceCIDR), 10))
  t.ok(cidrContains(parseCidr(big.serviceCIDR), big.clusterDNS))
})

t.test('outside client .2 and the LoadBalancer pool .200-.250: on the underlay, clear of every node', async (t) => {
  const p = labPlan('x', 20)
  t.same(p.outside, { netns: 'nkx-outside', underlayPort: 'ul-outside', ip: '192.168.56.2' })
  t.equal(p.lbPool, '192.168.56.200-192.168.56.250')
  const nodeIPs = new Set(p.nodes.map((n) => n.ip))
  t.notOk(nodeIPs.has(p.outside!.ip))
  const last = Number(p.nodes.at(-1)!.ip.split('.')[3])
  t.ok(last < 200, `nodes end at .${last}, below the pool`)
})

t.test('HA plan: etcd on node1..3 with one initial cluster, servers on node1 and node2', async (t) => {
  t.throws(() => labPlan('x', 2, { ha: true }), /--ha needs at least 3 nodes/)
  const p = labPlan('x', 4, { ha: true })
  t.same(p.nodes.map((n) => [n.name, n.etcd, n.server]), [['node1', true, true], ['node2', true, true], ['node3', true, false], ['node4', false, false]])
  t.same(etcdClientUrls(p), ['http://192.168.56.10:2379', 'http://192.168.56.11:2379', 'http://192.168.56.12:2379'])
  t.same(apiServerAddrs(p), ['192.168.56.10:6443', '192.168.56.11:6443'])
  const a = etcdArgs(p, p.nodes[1]!, '/d')
  const flag = (f: string): string | undefined => a[a.indexOf(f) + 1]
  t.equal(flag('--name'), 'node2')
  t.equal(flag('--initial-cluster'), 'node1=http://192.168.56.10:2380,node2=http://192.168.56.11:2380,node3=http://192.168.56.12:2380')
  t.equal(flag('--listen-peer-urls'), 'http://192.168.56.11:2380', 'peers on the node IP')
  t.equal(flag('--initial-cluster-token'), 'netkube-x', 'a token per lab')
  t.same([flag('--heartbeat-interval'), flag('--election-timeout')], ['50', '500'], 'members on one machine elect a new leader within 0.5–1 s')
  const single = labPlan('x', 3)
  t.same([single.ha, single.nodes.filter((n) => n.etcd).length, single.nodes.filter((n) => n.server).length], [false, 1, 1])
  t.equal(etcdArgs(single, single.nodes[0]!, '/d')[etcdArgs(single, single.nodes[0]!, '/d').indexOf('--initial-cluster') + 1], 'lab=http://127.0.0.1:2380', 'one member: peers on loopback')
})

t.test('zones: nodes take them in turn (default zone-a, zone-b), none when empty, label values checked', async (t) => {
  t.same(labPlan('x', 3).nodes.map((n) => n.zone), ['zone-a', 'zone-b', 'zone-a'])
  t.same(labPlan('x', 4, { zones: ['east', 'west', 'north'] }).nodes.map((n) => n.zone), ['east', 'west', 'north', 'east'])
  t.same(labPlan('x', 2, { zones: [] }).nodes.map((n) => n.zone), [undefined, undefined])
  t.throws(() => labPlan('x', 2, { zones: ['Zone A'] }), /zone "Zone A" is not a valid label value/)
})
