// Per-node endpoint selection (upstream's CategorizeEndpoints): topology hints narrow the
// cluster endpoints only when every ready endpoint carries them and this node's zone (or
// node) is served; internalTrafficPolicy Local keeps this node's endpoints and drops traffic
// when it has none, in every proxy mode, leaving external traffic to its own policy.
import t from 'tap'
import type { ServiceSpec } from '../../src/api/types.js'
import { renderIptables } from '../../src/proxy/iptables.js'
import { renderIpvs } from '../../src/proxy/ipvs.js'
import { buildFragment } from '../../src/proxy/nftables.js'
import { buildServicePorts, categorize, type ServicePortInfo } from '../../src/proxy/serviceport.js'
import { NODE, slice, svc, type EpSpec } from './fixtures.js'
import { fragmentText } from './render.js'

// NODE (node-a) is in zone-a; node-c in zone-a too, node-b in zone-b.
const A1: EpSpec = { ip: '10.244.1.11', node: 'node-a', zone: 'zone-a', forZones: ['zone-a'] }
const B1: EpSpec = { ip: '10.244.2.12', node: 'node-b', zone: 'zone-b', forZones: ['zone-b'] }
const C1: EpSpec = { ip: '10.244.3.13', node: 'node-c', zone: 'zone-a', forZones: ['zone-a'] }
const noHint = (e: EpSpec): EpSpec => ({ ...e, forZones: undefined })

/** This node's port of `web`; zone null = a node without the zone label. */
function port(eps: EpSpec[], spec: Partial<ServiceSpec> = {}, zone: string | null = 'zone-a'): ServicePortInfo {
  return buildServicePorts(svc('web', { clusterIP: '10.96.0.20', ...spec }), [slice('web', eps)], NODE.name, zone ?? undefined)[0]!
}
const ips = (eps: { ip: string }[]): string[] => eps.map((e) => e.ip)

const cases: { name: string; eps: EpSpec[]; spec?: Partial<ServiceSpec>; zone?: string | null; cluster: string[]; internal: string[]; topology: string }[] = [
  { name: 'no hints: every ready endpoint', eps: [noHint(A1), noHint(B1), noHint(C1)], cluster: ['10.244.1.11', '10.244.2.12', '10.244.3.13'], internal: ['10.244.1.11', '10.244.2.12', '10.244.3.13'], topology: '' },
  { name: 'every endpoint hinted: only this zone', eps: [A1, B1, C1], cluster: ['10.244.1.11', '10.244.3.13'], internal: ['10.244.1.11', '10.244.3.13'], topology: 'PreferSameZone' },
  { name: 'one ready endpoint without a hint: fallback to all', eps: [A1, noHint(B1), C1], cluster: ['10.244.1.11', '10.244.2.12', '10.244.3.13'], internal: ['10.244.1.11', '10.244.2.12', '10.244.3.13'], topology: '' },
  { name: 'a not-ready endpoint without a hint does not matter', eps: [A1, B1, { ...noHint(C1), ready: false }], cluster: ['10.244.1.11'], internal: ['10.244.1.11'], topology: 'PreferSameZone' },
  { name: 'no endpoint hinted for this zone: fallback to all', eps: [{ ...A1, forZones: ['zone-b'] }, B1], cluster: ['10.244.1.11', '10.244.2.12'], internal: ['10.244.1.11', '10.244.2.12'], topology: '' },
  { name: 'node without a zone label: fallback to all', eps: [A1, B1, C1], zone: null, cluster: ['10.244.1.11', '10.244.2.12', '10.244.3.13'], internal: ['10.244.1.11', '10.244.2.12', '10.244.3.13'], topology: '' },
  { name: 'hints follow forZones, not the endpoint zone (Auto redistribution)', eps: [A1, { ...B1, forZones: ['zone-a'] }, { ...C1, forZones: ['zone-b'] }], cluster: ['10.244.1.11', '10.244.2.12'], internal: ['10.244.1.11', '10.244.2.12'], topology: 'PreferSameZone' },
  { name: 'hinted endpoints of the zone not ready: ready ones elsewhere are no fallback — all ready ones', eps: [{ ...A1, ready: false, serving: true, terminating: true }, B1], cluster: ['10.244.2.12'], internal: ['10.244.2.12'], topology: '' },
  { name: 'no ready endpoint anywhere: serving+terminating ones, hints ignored', eps: [{ ...B1, ready: false, serving: true, terminating: true }], cluster: ['10.244.2.12'], internal: ['10.244.2.12'], topology: '' },
  { name: 'node hints (PreferSameNode) when every ready endpoint has one', eps: [{ ...A1, forNodes: ['node-a'] }, { ...C1, forNodes: ['node-c'] }], cluster: ['10.244.1.11'], internal: ['10.244.1.11'], topology: 'PreferSameNode' },
  { name: 'node hints for other nodes only: zone hints decide', eps: [{ ...B1, forNodes: ['node-b'] }, { ...C1, forNodes: ['node-c'] }], cluster: ['10.244.3.13'], internal: ['10.244.3.13'], topology: 'PreferSameZone' },
  { name: 'internalTrafficPolicy Local: this node only, hints do not apply', eps: [A1, B1, C1], spec: { internalTrafficPolicy: 'Local' }, cluster: ['10.244.1.11', '10.244.3.13'], internal: ['10.244.1.11'], topology: 'PreferSameZone' },
  { name: 'internalTrafficPolicy Local without a local endpoint: none', eps: [B1, C1], spec: { internalTrafficPolicy: 'Local' }, cluster: ['10.244.3.13'], internal: [], topology: 'PreferSameZone' },
]

t.test('categorize: which endpoints this node uses (table)', async (t) => {
  for (const c of cases) {
    const cat = categorize(port(c.eps, c.spec, c.zone === undefined ? 'zone-a' : c.zone))
    t.same({ cluster: ips(cat.cluster), internal: ips(cat.internal), topology: cat.topology }, { cluster: c.cluster, internal: c.internal, topology: c.topology }, c.name)
  }
})

t.test('topology hints in every mode: a zone-a node programs only zone-a endpoints', async (t) => {
  const sp = port([A1, B1, C1])
  const nft = fragmentText(buildFragment([sp], { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' }))
  t.match(nft, /slot-0: 10\.96\.0\.20 \. tcp \. 80 : 10\.244\.1\.11 \. 8080/)
  t.match(nft, /slot-1: 10\.96\.0\.20 \. tcp \. 80 : 10\.244\.3\.13 \. 8080/)
  t.match(nft, /endpoints-2: 10\.96\.0\.20 \. tcp \. 80/)
  t.notMatch(nft, /10\.244\.2\.12/, 'nftables maps: the zone-b endpoint is absent')
  const cascade = fragmentText(buildFragment([sp], { clusterCIDR: NODE.clusterCIDR, dispatch: 'cascade' }))
  t.notMatch(cascade, /10\.244\.2\.12/, 'nftables cascade: absent')
  t.match(cascade, /dnat to 10\.244\.3\.13:8080/)
  const ipt = renderIptables(new Map([['default/web', [sp]]]), { clusterCIDR: NODE.clusterCIDR }).text
  t.notMatch(ipt, /10\.244\.2\.12/, 'iptables: absent')
  t.match(ipt, /--probability 0\.5000000000/)
  const ipvs = renderIpvs([[sp]], { clusterCIDR: NODE.clusterCIDR, nodeIPs: NODE.ips }).ipvsadm
  t.notMatch(ipvs, /10\.244\.2\.12/, 'ipvs: absent')
  t.match(ipvs, /-a -t 10\.96\.0\.20:80 -r 10\.244\.3\.13:8080/)
  // a zone-b node sees the other side
  const b = port([A1, B1, C1], {}, 'zone-b')
  t.same(ips(categorize(b).cluster), ['10.244.2.12'])
})

t.test('internalTrafficPolicy Local, no local endpoint: ClusterIP dropped with upstream comment, NodePort still served', async (t) => {
  const spec: Partial<ServiceSpec> = { internalTrafficPolicy: 'Local', type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] }
  const sp = port([noHint(B1), noHint(C1)], spec)
  const nft = fragmentText(buildFragment([sp], { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' }))
  t.match(nft, /no-endpoint-services: 10\.96\.0\.20 \. tcp \. 80 : drop/, 'nftables: ClusterIP → drop (not reject)')
  t.match(nft, /service-nodeports: tcp \. 30080 : goto external-/, 'nftables: the NodePort keeps the cluster endpoints')
  t.match(nft, /numgen random mod 2 == 0 goto endpoint-H-default\/web\/tcp\/http__10\.244\.2\.12/)
  const ipt = renderIptables(new Map([['default/web', [sp]]]), { clusterCIDR: NODE.clusterCIDR }).text
  t.match(ipt, /-A KUBE-SERVICES -m comment --comment "default\/web:http has no local endpoints" -d 10\.96\.0\.20\/32 -p tcp -m tcp --dport 80 -j DROP/, 'iptables: upstream DROP rule and comment')
  t.notMatch(ipt, /cluster IP" -d 10\.96\.0\.20/, 'iptables: no ClusterIP jump in nat KUBE-SERVICES')
  t.match(ipt, /KUBE-NODEPORTS .* --dport 30080 -j KUBE-EXT-/, 'iptables: NodePort served')
  t.match(ipt, /DNAT --to-destination 10\.244\.2\.12:8080/)
  const ipvs = renderIpvs([[sp]], { clusterCIDR: NODE.clusterCIDR, nodeIPs: NODE.ips }).ipvsadm.split('\n')
  t.same(ipvs.filter((l) => l.includes('10.96.0.20:80 -r')), [], 'ipvs: the ClusterIP virtual server has no real servers')
  t.equal(ipvs.filter((l) => l.includes('192.168.50.10:30080 -r')).length, 2, 'ipvs: the NodePort has both')
  // no endpoints anywhere: a reject, as before
  const none = port([], { internalTrafficPolicy: 'Local' })
  t.match(renderIptables(new Map([['default/web', [none]]]), { clusterCIDR: NODE.clusterCIDR }).text, /has no endpoints" .* -j REJECT/)
  t.match(fragmentText(buildFragment([none], { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' })), /no-endpoint-services: 10\.96\.0\.20 \. tcp \. 80 : goto reject-chain/)
})

t.test('internalTrafficPolicy Local with a local endpoint: ClusterIP → this node only, masqueraded from off the pod network', async (t) => {
  const sp = port([noHint(A1), noHint(B1)], { internalTrafficPolicy: 'Local' })
  const nft = fragmentText(buildFragment([sp], { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' }))
  t.match(nft, /service-ips: 10\.96\.0\.20 \. tcp \. 80 : goto local-H-/)
  t.match(nft, /chain local-H-default\/web\/tcp\/http\n {2}ip daddr 10\.96\.0\.20 tcp dport 80 ip saddr != 10\.244\.0\.0\/16 jump mark-for-masquerade\n {2}goto endpoint-H-default\/web\/tcp\/http__10\.244\.1\.11\/8080/)
  t.notMatch(nft, /10\.244\.2\.12/, 'no chain for the remote endpoint: nothing uses the cluster chain')
  const ipt = renderIptables(new Map([['default/web', [sp]]]), { clusterCIDR: NODE.clusterCIDR }).text
  t.match(ipt, /cluster IP" -d 10\.96\.0\.20\/32 -p tcp -m tcp --dport 80 -j KUBE-SVL-/)
  t.match(ipt, /-A KUBE-SVL-\S+ -m comment --comment "default\/web:http cluster IP" ! -s 10\.244\.0\.0\/16/)
  t.notMatch(ipt, /10\.244\.2\.12/)
})

t.test('internalTrafficPolicy Local + NodePort (Cluster): external traffic reaches every endpoint in every mode', async (t) => {
  const spec: Partial<ServiceSpec> = { internalTrafficPolicy: 'Local', type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] }
  const sp = port([noHint(A1), noHint(B1)], spec)
  const ipt = renderIptables(new Map([['default/web', [sp]]]), { clusterCIDR: NODE.clusterCIDR }).text
  const svcChain = /-A (KUBE-SVC-\S+) /.exec(ipt)?.[1]
  t.ok(svcChain, 'a cluster chain exists')
  t.match(ipt, new RegExp(`-A KUBE-EXT-\\S+ -j ${svcChain}`))
  t.equal(ipt.split('\n').filter((l) => l.startsWith(`-A ${svcChain} `) && l.includes('-j KUBE-SEP-')).length, 2, 'the cluster chain balances over both endpoints')
  const nft = fragmentText(buildFragment([sp], { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' }))
  t.match(nft, /chain service-H-default\/web\/tcp\/http\n {2}numgen random mod 2 == 0/, 'nftables: the cluster chain (no ClusterIP masquerade rule: ClusterIP goes local)')
})
