// The pure core of `netkube trace` on text captured from a real 3-node lab (test/trace/fixtures):
// kube-proxy's table as the kernel listed it, dig and ss output, a probe's trace events.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '../helpers/root.js'
import { parseNftList } from '../../src/net/nft-list.js'
import { parseDig, parseFdb, parseLinkDetails, parseResolvConf, parseRouteGet, parseSockets, parseTraceLine, listenerFor, searchCandidates, shortLink } from '../../src/trace/parse.js'
import { dispatchTargets, endpointHop, proxyView } from '../../src/trace/proxy-view.js'
import { netpolHop, netpolQuestion } from '../../src/trace/netpol-view.js'
import { eventsFrom, matchEvents, probeTable } from '../../src/trace/probe.js'
import { renderText } from '../../src/trace/render.js'
import type { Pod, NetworkPolicy } from '../../src/api/types.js'
import type { TraceResult } from '../../src/trace/types.js'

const fx = (f: string): string => readFileSync(join(ROOT, 'test/trace/fixtures', f), 'utf8')
const proxy = parseNftList(fx('node1-proxy.nft'))
const CIDR = '10.244.0.0/16'
// the default 'maps' layout, from the same lab (client 10.244.88.5 on node1, web-a 10.244.77.2, web-b 10.244.55.2)
const maps = parseNftList(fx('node1-proxy-maps.nft'))

t.test('resolv.conf search path and ndots, as glibc asks', async (t) => {
  const rc = parseResolvConf('search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n')
  t.same(rc, { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 })
  t.same(searchCandidates('web', rc), ['web.default.svc.cluster.local.', 'web.svc.cluster.local.', 'web.cluster.local.', 'web.'])
  // 4 dots < ndots 5: still the search list first
  t.equal(searchCandidates('web.default.svc.cluster.local', rc)[0], 'web.default.svc.cluster.local.default.svc.cluster.local.')
  t.same(searchCandidates('a.b.c.d.e.f', rc)[0], 'a.b.c.d.e.f.', 'ndots reached: as is first')
  t.same(searchCandidates('web.', rc), ['web.'], 'absolute')
})

t.test('dig: status and the answering record', async (t) => {
  const ok = parseDig(fx('dig-web.txt'))
  t.equal(ok.status, 'NOERROR')
  t.same(ok.answers, ['web.default.svc.cluster.local. 5 IN A 10.107.137.7'])
  t.same(ok.addresses, ['10.107.137.7'])
  const nx = parseDig(fx('dig-nx.txt'))
  t.equal(nx.status, 'NXDOMAIN')
  t.same(nx.addresses, [])
})

t.test('ip route get, neighbour, fdb, links, sockets', async (t) => {
  t.same(parseRouteGet('10.244.14.2 from 10.244.32.5 via 10.244.14.0 dev flannel.1 cache iif cni0'), { line: '10.244.14.2 from 10.244.32.5 via 10.244.14.0 dev flannel.1 cache iif cni0', dst: '10.244.14.2', via: '10.244.14.0', dev: 'flannel.1', iif: 'cni0' })
  t.equal(parseRouteGet('local 192.168.56.10 dev lo src 192.168.56.10 uid 0 \\    cache <local>')!.type, 'local')
  const fdb = parseFdb(fx('node1-fdb-flannel.txt'))
  t.ok(fdb.every((e) => e.dst?.startsWith('192.168.56.') && e.self), 'VTEP entries carry the remote node')
  const links = parseLinkDetails(fx('node1-links.txt'))
  const vx = links.find((l) => l.name === 'flannel.1')!
  t.same(vx.vxlan, { vni: 1, local: '192.168.56.10', port: 8472, dev: 'eth0' })
  t.equal(links.find((l) => l.name === 'cni0')!.kind, 'bridge')
  const veth = links.find((l) => l.kind === 'veth' && l.name.startsWith('veth'))!
  t.equal(veth.master, 'cni0')
  t.match(shortLink(vx.line), /vxlan id 1 local 192\.168\.56\.10 dev eth0 dstport 8472 nolearning$/)
  t.same(parseLinkDetails('2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP mode DEFAULT link/ether 5a:bb:d4:83:4d:be brd ff:ff:ff:ff:ff:ff link-netnsid 0 veth')[0]!.peerIndex, 5)
  const socks = parseSockets('tcp LISTEN 0      511    0.0.0.0:8080 0.0.0.0:*\nudp UNCONN 0 0 [::]:53 [::]:*\ntcp LISTEN 0 5 10.244.38.2:81 0.0.0.0:*\n')
  t.ok(listenerFor(socks, 'tcp', '10.244.38.2', 8080))
  t.ok(listenerFor(socks, 'udp', '10.244.38.2', 53), 'v6 wildcard takes v4 too')
  t.ok(listenerFor(socks, 'tcp', '10.244.38.2', 81))
  t.notOk(listenerFor(socks, 'tcp', '10.244.38.2', 9999), 'nothing on 9999')
  t.notOk(listenerFor(socks, 'udp', '10.244.38.2', 8080), 'tcp listener is no udp socket')
})

t.test('kube-proxy table: ClusterIP → service chain → endpoints with probabilities', async (t) => {
  const v = proxyView(proxy, { node: 'node1', dst: '10.107.137.7', proto: 'tcp', port: 80, src: '10.244.32.5', clusterCIDR: CIDR, dstLocal: false })
  t.ok(v.handled)
  t.notOk(v.rejected)
  t.notOk(v.masquerade, 'a pod source is not masqueraded')
  t.same(v.endpoints.map((e) => [e.ip, e.port, e.probability]), [['10.244.14.2', 8080, 0.5], ['10.244.38.2', 8080, 0.5]])
  t.same(v.hops.map((h) => h.kind), ['service-map', 'masquerade', 'service-chain'])
  t.equal(v.hops[0]!.object, '10.107.137.7 . tcp . 80 : goto service-H5EIPCAX-default/web/tcp/80')
  t.equal(v.hops[2]!.detail!.chain, 'service-H5EIPCAX-default/web/tcp/80')
  t.match(v.endpoints[0]!.rule, /dnat to 10\.244\.14\.2:8080/)
})

t.test('NodePort from outside: nodeport map, external chain, masquerade', async (t) => {
  const v = proxyView(proxy, { node: 'node1', dst: '192.168.56.10', proto: 'tcp', port: 30967, src: '192.168.56.2', clusterCIDR: CIDR, dstLocal: true })
  t.ok(v.masquerade)
  t.same(v.chains, ['services', 'external-H5EIPCAX-default/web/tcp/80', 'service-H5EIPCAX-default/web/tcp/80'])
  t.equal(v.endpoints.length, 2)
  const miss = proxyView(proxy, { node: 'node1', dst: '192.168.56.10', proto: 'tcp', port: 30967, src: '192.168.56.2', clusterCIDR: CIDR, dstLocal: false })
  t.notOk(miss.handled, 'a NodePort answers only on local addresses')
})

t.test('no endpoints: the no-endpoint element and the reject chain are named', async (t) => {
  const v = proxyView(proxy, { node: 'node1', dst: '10.99.173.184', proto: 'tcp', port: 80, src: '10.244.32.5', clusterCIDR: CIDR, dstLocal: false })
  t.ok(v.rejected)
  t.equal(v.hops.length, 1)
  t.equal(v.hops[0]!.kind, 'reject')
  t.equal(v.hops[0]!.verdict, 'reject')
  t.equal(v.hops[0]!.detail!.chain, 'reject-chain')
  t.match(v.hops[0]!.summary, /no-endpoint-services element → goto reject-chain \(reject with tcp reset; reject\)/)
  const none = proxyView(proxy, { node: 'node1', dst: '10.1.2.3', proto: 'tcp', port: 80, src: '10.244.32.5', clusterCIDR: CIDR, dstLocal: false })
  t.notOk(none.handled, 'an address the proxy does not know')
})

t.test('maps layout: endpoints-N element → pick-N → dnat-slot-I with the slot-I element', async (t) => {
  const v = proxyView(maps, { node: 'node1', dst: '10.100.37.17', proto: 'tcp', port: 80, src: '10.244.88.5', clusterCIDR: CIDR, dstLocal: false })
  t.ok(v.handled)
  t.notOk(v.rejected)
  t.notOk(v.masquerade, 'a pod source is not masqueraded')
  t.same(v.hops.map((h) => h.kind), ['service-map', 'masquerade', 'service-chain'])
  t.equal(v.hops[0]!.summary, 'endpoints-2 element 10.100.37.17 . tcp . 80 → goto pick-2 (services)')
  t.equal(v.hops[0]!.object, 'ip daddr . meta l4proto . th dport @endpoints-2 goto pick-2', 'the services rule, verbatim')
  t.same(v.hops[0]!.detail, { table: 'ip netkube-proxy', map: 'endpoints-2', chain: 'services', element: '10.100.37.17 . tcp . 80' })
  t.match(v.hops[1]!.summary, /^not masqueraded: source 10\.244\.88\.5 is inside 10\.244\.0\.0\/16/)
  t.equal(v.hops[1]!.object, 'ip saddr != 10.244.0.0/16 ip daddr . meta l4proto . th dport @cluster-ips jump mark-for-masquerade')
  t.equal(v.hops[2]!.object, 'numgen random mod 2 vmap { 0 : goto dnat-slot-0, 1 : goto dnat-slot-1 }')
  t.same(v.chains, ['services', 'pick-2'])
  t.same(
    v.endpoints.map((e) => [e.ip, e.port, e.probability, e.chain, e.slot]),
    [
      ['10.244.55.2', 8080, 0.5, 'dnat-slot-0', { map: 'slot-0', element: '10.100.37.17 . tcp . 80 : 10.244.55.2 . 8080' }],
      ['10.244.77.2', 8080, 0.5, 'dnat-slot-1', { map: 'slot-1', element: '10.100.37.17 . tcp . 80 : 10.244.77.2 . 8080' }],
    ],
  )
  t.same(v.hops[2]!.candidates!.map((c) => c.chain), ['dnat-slot-0', 'dnat-slot-1'], 'the probe maps a slot chain back to its endpoint')
  t.equal(v.endpoints[0]!.rule, 'dnat ip to ip daddr . meta l4proto . tcp dport map @slot-0', 'the tcp rule of the slot chain')
  const udp = proxyView(maps, { node: 'node1', dst: '10.96.0.10', proto: 'udp', port: 53, src: '10.244.88.5', clusterCIDR: CIDR, dstLocal: false })
  t.equal(udp.endpoints[1]!.rule, 'dnat ip to ip daddr . meta l4proto . udp dport map @slot-1')
  t.same(udp.endpoints.map((e) => `${e.ip}:${e.port}`), ['10.244.88.3:53', '10.244.88.4:53'])
  const [dnat] = endpointHop(maps, 'node1', v.endpoints[1]!, '10.244.88.5', 'random')
  t.equal(dnat!.summary, 'dnat-slot-1: slot-1 element 10.100.37.17 . tcp . 80 : 10.244.77.2 . 8080 → DNAT to 10.244.77.2:8080 (random)')
  t.same(dnat!.detail, { table: 'ip netkube-proxy', chain: 'dnat-slot-1', map: 'slot-1', element: '10.100.37.17 . tcp . 80 : 10.244.77.2 . 8080' })
})

t.test('maps layout: masquerade from outside the pod network, external IPs, hairpin', async (t) => {
  const out = proxyView(maps, { node: 'node1', dst: '10.100.37.17', proto: 'tcp', port: 80, src: '192.168.56.10', clusterCIDR: CIDR, dstLocal: false })
  t.ok(out.masquerade, 'cluster-ips: a node source is masqueraded')
  t.match(out.hops[1]!.summary, /^marked for masquerade \(cluster-ips element 10\.100\.37\.17 \. tcp \. 80; source 192\.168\.56\.10 is outside the pod network\)/)
  const ext = proxyView(maps, { node: 'node1', dst: '192.168.56.200', proto: 'tcp', port: 80, src: '10.244.88.5', clusterCIDR: CIDR, dstLocal: false })
  t.ok(ext.masquerade, 'external-ips: always')
  t.equal(ext.hops[0]!.detail!.map, 'endpoints-1')
  t.equal(ext.hops[1]!.object, 'ip daddr . meta l4proto . th dport @external-ips jump mark-for-masquerade')
  t.same(ext.endpoints.map((e) => [e.ip, e.port, e.probability, e.chain]), [['10.244.88.2', 80, 1, 'dnat-slot-0']], 'one endpoint: pick-1 is a plain goto')
  const self = proxyView(maps, { node: 'node1', dst: '10.100.37.17', proto: 'tcp', port: 80, src: '10.244.77.2', clusterCIDR: CIDR, dstLocal: false })
  const ep = self.endpoints.find((e) => e.ip === '10.244.77.2')!
  t.equal(ep.hairpin, '10.244.77.2 . 10.244.77.2 . 10.100.37.17 . tcp . 80')
  const hops = endpointHop(maps, 'node1', ep, '10.244.77.2', 'random')
  t.same(hops.map((h) => [h.kind, h.detail!.chain]), [['masquerade', 'nat-postrouting'], ['dnat', 'dnat-slot-1']])
  t.same(endpointHop(maps, 'node1', self.endpoints.find((e) => e.ip !== '10.244.77.2')!, '10.244.77.2', 'random').map((h) => h.kind), ['dnat'], 'another endpoint: no hairpin')
})

t.test('maps layout: NodePort through nodeports, always masqueraded', async (t) => {
  const v = proxyView(maps, { node: 'node1', dst: '192.168.56.10', proto: 'tcp', port: 31477, src: '192.168.56.2', clusterCIDR: CIDR, dstLocal: true })
  t.ok(v.masquerade)
  t.equal(v.hops[0]!.summary, 'nodeport-endpoints-2 element tcp . 31477 → goto nodeport-pick-2 (nodeports)')
  t.same(v.chains, ['services', 'nodeports', 'nodeport-pick-2'])
  t.same(v.hops[1]!.detail, { table: 'ip netkube-proxy', chain: 'nodeport-pick-2' })
  t.equal(v.hops[1]!.object, 'jump mark-for-masquerade')
  t.same(v.endpoints.map((e) => [e.ip, e.port, e.chain, e.slot!.map, e.rule]), [
    ['10.244.55.2', 8080, 'nodeport-dnat-slot-0', 'nodeport-slot-0', 'dnat ip to meta l4proto . tcp dport map @nodeport-slot-0'],
    ['10.244.77.2', 8080, 'nodeport-dnat-slot-1', 'nodeport-slot-1', 'dnat ip to meta l4proto . tcp dport map @nodeport-slot-1'],
  ])
  t.notOk(proxyView(maps, { node: 'node1', dst: '192.168.56.10', proto: 'tcp', port: 31477, src: '192.168.56.2', clusterCIDR: CIDR, dstLocal: false }).handled, 'a NodePort answers only on local addresses')
})

t.test('maps layout: no endpoints still names the reject; unknown addresses are not handled', async (t) => {
  const v = proxyView(maps, { node: 'node1', dst: '10.99.75.134', proto: 'tcp', port: 80, src: '10.244.88.5', clusterCIDR: CIDR, dstLocal: false })
  t.ok(v.rejected)
  t.same(v.hops.map((h) => [h.kind, h.detail!.map, h.detail!.chain]), [['reject', 'no-endpoint-services', 'reject-chain']])
  t.notOk(proxyView(maps, { node: 'node1', dst: '10.100.37.17', proto: 'tcp', port: 81, src: '10.244.88.5', clusterCIDR: CIDR, dstLocal: false }).handled, 'another port of the ClusterIP')
  t.notOk(proxyView(maps, { node: 'node1', dst: '10.100.37.17', proto: 'udp', port: 80, src: '10.244.88.5', clusterCIDR: CIDR, dstLocal: false }).handled, 'another protocol')
})

t.test('dispatch forms: vmap, cascade, single', async (t) => {
  t.same(dispatchTargets(['numgen random mod 3 0 goto endpoint-a', 'numgen random mod 2 0 goto endpoint-b', 'goto endpoint-c']).map((x) => Math.round(x.probability * 1000) / 1000), [0.333, 0.333, 0.333])
  t.same(dispatchTargets(['goto endpoint-x']).map((x) => x.probability), [1])
})

const pod = (ns: string, name: string, labels: Record<string, string>): Pod => ({ metadata: { namespace: ns, name, labels }, spec: { containers: [] } }) as Pod
const policy = (name: string, sel: Record<string, string>): NetworkPolicy => ({ metadata: { namespace: 'default', name }, spec: { podSelector: { matchLabels: sel }, policyTypes: ['Ingress'] } }) as NetworkPolicy

t.test('NetworkPolicy: the sets netpol uses, the policy named when blocked', async (t) => {
  const q = netpolQuestion('ingress', '10.244.38.2', '10.244.32.5', 'tcp', 8080)
  t.same(q, {
    dir: 'ingress',
    isolated: { set: 'ingress-isolated', key: '10.244.38.2' },
    all: { set: 'ingress-all-2', key: '10.244.38.2 . 10.244.32.5' },
    ports: { set: 'ingress-ports-2', key: '10.244.38.2 . 10.244.32.5 . tcp . 8080' },
  })
  const web = pod('default', 'web-a', { app: 'web' })
  const pols = [policy('web-deny', { app: 'web' }), policy('other', { app: 'db' })]
  const blocked = netpolHop('node2', 'destination', q, { isolated: true }, web, pols)
  t.equal(blocked.verdict, 'reject')
  t.match(blocked.summary, /BLOCKED by NetworkPolicy default\/web-deny: /)
  t.notMatch(blocked.summary, /other/)
  t.equal(blocked.detail!.chain, 'deny-new')
  const allowed = netpolHop('node2', 'destination', q, { isolated: true, ports: 'ingress-ports-2: 10.244.38.2 . 10.244.32.0/24 . tcp . 8080' }, web, pols)
  t.equal(allowed.verdict, 'pass')
  t.match(allowed.summary, /isolated by default\/web-deny; allowed by element/)
  t.equal(netpolHop('node2', 'destination', q, { isolated: false }, web, pols).verdict, 'pass')
})

t.test('probe: trace events parsed and matched against the prediction', async (t) => {
  const r = JSON.parse(fx('probe-blocked.json')) as TraceResult
  t.equal(r.outcome, 'blocked')
  const ev = parseTraceLine('trace id 5e1b2c3d ip netkube-proxy services rule ip daddr . meta l4proto . th dport vmap @service-ips (verdict goto service-H5EIPCAX-default/web/tcp/80)')!
  t.same([ev.table, ev.chain, ev.what, ev.verdict], ['netkube-proxy', 'services', 'rule', 'goto service-H5EIPCAX-default/web/tcp/80'])
  t.equal(parseTraceLine('trace id 5e1b ip netkube-netpol netpol-forward policy accept')!.verdict, 'accept')
  // the recorded events, re-read from their lines, match the recorded prediction
  const events = r.probe!.events.filter((e) => e.chain !== 'counter').flatMap((e) => eventsFrom(e.node, e.line))
  t.ok(events.length > 10)
  t.same(matchEvents(r.hops, events), { matched: true, mismatches: [] })
  // a packet that never reached node2's deny chain is a mismatch
  const m = matchEvents(r.hops, events.filter((e) => e.chain !== 'deny-new'))
  t.notOk(m.matched)
  t.match(m.mismatches[0], /predicted node2 netkube-netpol deny-new/)
  t.same(matchEvents(r.hops, []).matched, false)
  t.match(renderText(r), /BLOCKED by NetworkPolicy default\/web-deny/)
})

t.test('probe table: only the probe 5-tuple is traced', async (t) => {
  const text = probeTable('nktrace-abc', { src: '10.244.32.5', sport: 41000, proto: 'tcp', others: ['192.168.56.11'], clusterCIDR: CIDR }).render()
  t.match(text, /add chain ip nktrace-abc pre \{ type filter hook prerouting priority -400 ; \}/)
  t.match(text, /ip saddr 10\.244\.32\.5 meta l4proto tcp th sport 41000 tcp flags & \(syn \| ack\) == syn meta nftrace set 1/)
  t.match(text, /ip saddr \{ 192\.168\.56\.11 \} ip daddr 10\.244\.0\.0\/16/)
})
