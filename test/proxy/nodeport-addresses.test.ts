// --nodeport-addresses, pure: parsing with upstream's validation wording, which addresses it
// selects, and how each mode renders "addressed to a NodePort address".
import t from 'tap'
import { FakeNft } from '../../src/net/nft.js'
import { IPT, renderIptables } from '../../src/proxy/iptables.js'
import { renderIpvs } from '../../src/proxy/ipvs.js'
import { NftBackend } from '../../src/proxy/nft-backend.js'
import { NFT_TABLE, baseObjects, nodePortMatch } from '../../src/proxy/nftables.js'
import { nodePortIPs, parseNodePortAddresses } from '../../src/proxy/nodeport-addresses.js'
import { Proxier } from '../../src/proxy/proxier.js'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { NODE, slice, svc } from './fixtures.js'

const web = buildServicePorts(svc('web', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }), [slice('web', [{ ip: '10.244.1.11' }])], NODE.name)
const LOCAL = ['127.0.0.1', '192.168.50.10', '192.168.50.11', '10.244.1.1']

t.test('parsing and selection', async (t) => {
  t.same(parseNodePortAddresses([]), { value: { kind: 'all' }, errors: [] }, 'unset: every local address')
  t.same(parseNodePortAddresses(['0.0.0.0/0']).value, { kind: 'all' }, "a zero-prefix CIDR is upstream's MatchAll")
  t.same(parseNodePortAddresses(['primary']).value, { kind: 'primary' })
  t.same(parseNodePortAddresses(['primary', '10.0.0.0/8']).errors, [`nodePortAddresses[0]: Invalid value: "primary": can't use both 'primary' and CIDRs`])
  t.same(parseNodePortAddresses(['10.0.0.0/8', 'primary']).errors, [`nodePortAddresses[1]: Invalid value: "primary": can't use both 'primary' and CIDRs`])
  t.same(parseNodePortAddresses(['10.0.0.1', '10.0.0.0/33']).errors, ['nodePortAddresses[0]: Invalid value: "10.0.0.1": must be a valid CIDR', 'nodePortAddresses[1]: Invalid value: "10.0.0.0/33": must be a valid CIDR'])
  const cidrs = parseNodePortAddresses(['192.168.50.10/32', '127.0.0.0/8', 'fd00::/64']).value
  t.same(nodePortIPs(cidrs, [], LOCAL), ['192.168.50.10'], 'interface addresses inside the CIDRs, never loopback, IPv4 only')
  t.same(nodePortIPs(parseNodePortAddresses(['192.168.0.0/16']).value, [], LOCAL), ['192.168.50.10', '192.168.50.11'])
  t.same(nodePortIPs({ kind: 'primary' }, ['192.168.50.11'], LOCAL), ['192.168.50.11'], 'primary: the node IPs')
  t.equal(nodePortIPs({ kind: 'all' }, ['192.168.50.11'], LOCAL), undefined)
  t.same(nodePortIPs(parseNodePortAddresses(['172.16.0.0/12']).value, [], LOCAL), [], 'nothing matches: no NodePort address')
})

t.test('nftables: the NodePort match in the base rules of every layout', async (t) => {
  t.equal(nodePortMatch(undefined), 'fib daddr type local ip daddr != 127.0.0.0/8')
  t.equal(nodePortMatch(['192.168.50.10']), 'ip daddr 192.168.50.10')
  t.equal(nodePortMatch(['192.168.50.10', '192.168.50.11']), 'ip daddr { 192.168.50.10, 192.168.50.11 }')
  const np = (rules: [string, string][]) => rules.filter(([c, r]) => (c === 'services' || c === 'nodeport-endpoints-check') && /service-nodeports|no-endpoint-nodeports|goto nodeports/.test(r)).map(([c, r]) => `${c}: ${r}`)
  t.same(np(baseObjects('single', undefined, ['192.168.50.10']).rules), [
    'services: ip daddr 192.168.50.10 meta l4proto . th dport vmap @service-nodeports',
    'nodeport-endpoints-check: ip daddr 192.168.50.10 meta l4proto . th dport vmap @no-endpoint-nodeports',
  ])
  t.same(np(baseObjects('single', { clusterCIDR: NODE.clusterCIDR }, ['192.168.50.10']).rules), [
    'services: ip daddr 192.168.50.10 goto nodeports',
    'nodeport-endpoints-check: ip daddr 192.168.50.10 meta l4proto . th dport vmap @no-endpoint-nodeports',
  ], 'maps layout')
  t.same(np(baseObjects('single', { clusterCIDR: NODE.clusterCIDR }, []).rules), [], 'no address: no NodePort rule at all')
  t.match(np(baseObjects('single').rules)[0], /^services: fib daddr type local/, 'unset: every local address')
})

t.test('nftables: a changed address list replaces the base rules on the next sync', async (t) => {
  const nft = new FakeNft()
  let ips: string[] = ['192.168.50.10']
  const p = new Proxier({
    backend: new NftBackend(nft, { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' }, { adopt: true }),
    node: { ...NODE, ips: ['192.168.50.10'] },
    manual: true,
    nodePortAddresses: { kind: 'primary' },
  })
  p.onService(undefined, svc('web', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }))
  p.setSynced()
  await p.syncNow()
  t.match(nft.dump('ip', NFT_TABLE), /ip daddr 192\.168\.50\.10 goto nodeports/)
  ips = ['192.168.50.11']
  p.onNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE.name }, status: { addresses: ips.map((address) => ({ type: 'InternalIP', address })) } })
  await p.syncNow()
  t.match(nft.dump('ip', NFT_TABLE), /ip daddr 192\.168\.50\.11 goto nodeports/, 'primary follows the Node')
  t.notMatch(nft.dump('ip', NFT_TABLE), /192\.168\.50\.10/)
})

t.test('iptables and ipvs', async (t) => {
  const rules = (ips?: string[]) => renderIptables(new Map([['default/web', web]]), { clusterCIDR: NODE.clusterCIDR, nodePortIPs: ips }).text.split('\n').filter((l) => l.includes(`-j ${IPT.nodePorts}`) && l.startsWith(`-A ${IPT.services}`))
  const c = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"'
  t.same(rules(), [`-A KUBE-SERVICES ${c} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`])
  t.same(rules(['192.168.50.10', '192.168.50.11']), [`-A KUBE-SERVICES ${c} -d 192.168.50.10/32 -j KUBE-NODEPORTS`, `-A KUBE-SERVICES ${c} -d 192.168.50.11/32 -j KUBE-NODEPORTS`])
  t.same(rules([]), [], 'no address: no jump')
  const ipvs = renderIpvs([web], { clusterCIDR: NODE.clusterCIDR, nodeIPs: ['192.168.50.10', '192.168.60.10'], nodePortIPs: ['192.168.60.10'] })
  t.match(ipvs.ipvsadm, /-A -t 192\.168\.60\.10:30080/)
  t.notMatch(ipvs.ipvsadm, /192\.168\.50\.10:30080/, 'virtual servers only on the NodePort addresses')
  t.match(ipvs.iptables, /-A KUBE-SERVICES -d 192\.168\.60\.10\/32 -j KUBE-NODE-PORT/)
  t.notMatch(ipvs.iptables, /addrtype --dst-type LOCAL -j KUBE-NODE-PORT/)
})
