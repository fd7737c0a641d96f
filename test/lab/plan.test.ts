// The lab's address plan (pure): the Vagrant lab's addresses, computed from its CIDRs.
import t from 'tap'
import { labPlan } from '../../src/lab/plan.js'
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
