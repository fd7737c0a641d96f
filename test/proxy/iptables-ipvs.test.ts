// iptables and IPVS renderings (IPVS is not in this kernel: rendering is what we can test).
import t from 'tap'
import { IPT, renderIptables, sepChain, svcChain } from '../../src/proxy/iptables.js'
import { renderIpvs } from '../../src/proxy/ipvs.js'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { NODE, slice, svc } from './fixtures.js'

const three = [{ ip: '10.244.1.11' }, { ip: '10.244.2.12' }, { ip: '10.244.3.13' }]
const web = (extra = {}) =>
  buildServicePorts(
    svc('web', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }], ...extra }),
    [slice('web', three)],
    NODE.name,
  )
const empty = buildServicePorts(svc('empty', { clusterIP: '10.96.0.30' }), [], NODE.name)
const cfg = { clusterCIDR: NODE.clusterCIDR }

t.test('iptables: upstream chain layout, statistic cascade, masquerade, NodePorts last', async (t) => {
  const r = renderIptables(new Map([['default/web', web()], ['default/empty', empty]]), cfg, { existing: ['KUBE-SVC-STALESTALESTALE1', 'KUBE-MARK-DROP'] })
  const lines = r.text.split('\n')
  const [sp] = web()
  const svcC = svcChain(sp!)
  t.match(svcC, /^KUBE-SVC-[A-Z2-7]{16}$/)
  const seps = sp!.endpoints.map((e) => sepChain(sp!, e))
  const want = [
    '*filter',
    `-A KUBE-SERVICES -m comment --comment "default/empty:http has no endpoints" -d 10.96.0.30/32 -p tcp -m tcp --dport 80 -j REJECT`,
    'COMMIT',
    '*nat',
    `:${svcC} - [0:0]`,
    `-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN`,
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    `-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j ${svcC}`,
    `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
    `-A KUBE-NODEPORTS -m comment --comment "default/web:http" -p tcp -m tcp --dport 30080 -j KUBE-EXT-`,
    `-A ${svcC} -m comment --comment "default/web:http cluster IP" ! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ`,
    `-A ${svcC} -m comment --comment "default/web:http -> 10.244.1.11:8080" -m statistic --mode random --probability 0.3333333333 -j ${seps[0]}`,
    `-A ${svcC} -m comment --comment "default/web:http -> 10.244.2.12:8080" -m statistic --mode random --probability 0.5000000000 -j ${seps[1]}`,
    `-A ${svcC} -m comment --comment "default/web:http -> 10.244.3.13:8080" -j ${seps[2]}`,
    `-A ${seps[0]} -m comment --comment "default/web:http" -s 10.244.1.11/32 -j KUBE-MARK-MASQ`,
    `-A ${seps[0]} -m comment --comment "default/web:http" -p tcp -m tcp -j DNAT --to-destination 10.244.1.11:8080`,
    '-X KUBE-SVC-STALESTALESTALE1',
    'COMMIT',
  ]
  // every wanted line appears, in this order
  let at = -1
  for (const w of want) {
    const i = lines.findIndex((l, k) => k > at && l.startsWith(w))
    t.ok(i > at, `in order: ${w}`)
    if (i > at) at = i
  }
  t.notMatch(r.text, /KUBE-MARK-DROP/, 'chains that are not ours are left alone')
  t.equal(lines.filter((l) => l.startsWith(`-A ${IPT.services}`)).at(-1), `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`)
})

t.test('iptables: ClientIP affinity through -m recent', async (t) => {
  const r = renderIptables(new Map([['default/web', web({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } })]]), cfg)
  t.equal((r.text.match(/--rcheck --seconds 600 --reap/g) ?? []).length, 3)
  t.equal((r.text.match(/--rsource --set -j DNAT/g) ?? []).length, 3)
})

t.test('iptables: internalTrafficPolicy Local balances over local endpoints only', async (t) => {
  const ports = buildServicePorts(svc('web', { clusterIP: '10.96.0.20', internalTrafficPolicy: 'Local' }), [slice('web', [{ ip: '10.244.1.11' }, { ip: '10.244.2.12', node: 'node-b' }])], NODE.name)
  const r = renderIptables(new Map([['default/web', ports]]), cfg)
  t.match(r.text, /DNAT --to-destination 10\.244\.1\.11:8080/)
  t.notMatch(r.text, /10\.244\.2\.12/)
  t.notMatch(r.text, /statistic/)
})

t.test('ipvs: virtual servers per ClusterIP and node IP, persistence, ipsets, bound addresses', async (t) => {
  const r = renderIpvs([web({ sessionAffinity: 'ClientIP' }), empty], { ...cfg, nodeIPs: ['192.168.50.10', '192.168.60.10'] })
  t.equal(
    r.ipvsadm,
    [
      '-C',
      '-A -t 10.96.0.20:80 -s rr -p 10800',
      '-a -t 10.96.0.20:80 -r 10.244.1.11:8080 -m -w 1',
      '-a -t 10.96.0.20:80 -r 10.244.2.12:8080 -m -w 1',
      '-a -t 10.96.0.20:80 -r 10.244.3.13:8080 -m -w 1',
      '-A -t 192.168.50.10:30080 -s rr -p 10800',
      '-a -t 192.168.50.10:30080 -r 10.244.1.11:8080 -m -w 1',
      '-a -t 192.168.50.10:30080 -r 10.244.2.12:8080 -m -w 1',
      '-a -t 192.168.50.10:30080 -r 10.244.3.13:8080 -m -w 1',
      '-A -t 192.168.60.10:30080 -s rr -p 10800',
      '-a -t 192.168.60.10:30080 -r 10.244.1.11:8080 -m -w 1',
      '-a -t 192.168.60.10:30080 -r 10.244.2.12:8080 -m -w 1',
      '-a -t 192.168.60.10:30080 -r 10.244.3.13:8080 -m -w 1',
      '-A -t 10.96.0.30:80 -s rr',
      '',
    ].join('\n'),
  )
  t.equal(r.virtualServers, 4)
  t.equal(r.realServers, 9)
  t.same(r.addresses, ['10.96.0.20', '10.96.0.30'])
  t.match(r.ipset, /add KUBE-CLUSTER-IP 10\.96\.0\.20,tcp:80\nadd KUBE-CLUSTER-IP 10\.96\.0\.30,tcp:80/)
  t.match(r.ipset, /add KUBE-LOOP-BACK 10\.244\.1\.11,tcp:8080,10\.244\.1\.11/)
  t.match(r.ipset, /add KUBE-NODE-PORT-TCP 30080/)
  t.match(r.iptables, /-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10\.244\.0\.0\/16 -j KUBE-MARK-MASQ/)
  t.match(r.iptables, /-A KUBE-POSTROUTING -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE/)
})

t.test('ipvs: UDP and no-endpoint services', async (t) => {
  const dns = buildServicePorts(svc('dns', { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }), [slice('dns', [{ ip: '10.244.1.5' }], { portName: 'dns', port: 53, protocol: 'UDP' })], NODE.name)
  const r = renderIpvs([dns], { ...cfg, nodeIPs: [] })
  t.equal(r.ipvsadm, '-C\n-A -u 10.96.0.10:53 -s rr\n-a -u 10.96.0.10:53 -r 10.244.1.5:53 -m -w 1\n')
})

// LoadBalancer: an ingress IP on a Service with two endpoints, one of them on this node.
const lbSvc = (extra = {}) =>
  buildServicePorts(
    {
      ...svc('web', { clusterIP: '10.96.0.20', type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30080 }], ...extra }),
      status: { loadBalancer: { ingress: [{ ip: '192.168.56.200', ipMode: 'VIP' }] } },
    },
    [slice('web', [{ ip: '10.244.1.11' }, { ip: '10.244.2.12', node: 'node-b' }])],
    NODE.name,
  )

t.test('iptables LoadBalancer: Cluster masquerades; Local keeps the source over KUBE-SVL; source ranges via KUBE-FW', async (t) => {
  const [cl] = lbSvc()
  const ext = cl ? `KUBE-EXT-${svcChain(cl).slice('KUBE-SVC-'.length)}` : ''
  const c = renderIptables(new Map([['default/web', lbSvc()]]), cfg).text
  t.match(c, `-A KUBE-SERVICES -m comment --comment "default/web:http loadbalancer IP" -d 192.168.56.200/32 -p tcp -m tcp --dport 80 -j ${ext}`)
  t.match(c, `-A ${ext} -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ`)

  const local = renderIptables(new Map([['default/web', lbSvc({ externalTrafficPolicy: 'Local' })]]), cfg).text
  const svl = `KUBE-SVL-${svcChain(cl!).slice('KUBE-SVC-'.length)}`
  t.match(local, `-A ${ext} -m comment --comment "pod traffic for default/web:http external destinations" -s 10.244.0.0/16 -j ${svcChain(cl!)}`)
  t.match(local, `-A ${ext} -j ${svl}`)
  t.notMatch(local, new RegExp(`-A ${ext} -m comment --comment "masquerade traffic`), 'no unconditional masquerade')
  const svlRules = local.split('\n').filter((l) => l.startsWith(`-A ${svl} `))
  t.equal(svlRules.length, 1, 'KUBE-SVL balances over the one local endpoint')
  t.match(svlRules[0], /-> 10\.244\.1\.11:8080/)

  const fw = renderIptables(new Map([['default/web', lbSvc({ loadBalancerSourceRanges: ['192.168.56.2/32', '10.1.0.0/16'] })]]), cfg).text
  const fwc = `KUBE-FW-${svcChain(cl!).slice('KUBE-SVC-'.length)}`
  t.match(fw, `-d 192.168.56.200/32 -p tcp -m tcp --dport 80 -j ${fwc}`)
  t.match(fw, `-A ${fwc} -m comment --comment "default/web:http loadbalancer IP" -s 10.1.0.0/16 -j ${ext}`)
  t.match(fw, `-A ${fwc} -m comment --comment "default/web:http loadbalancer IP" -s 192.168.56.2/32 -j ${ext}`)
  t.match(fw, `-A ${fwc} -m comment --comment "default/web:http loadbalancer IP" -j KUBE-MARK-FW-DROP`)
  t.match(fw, '-A KUBE-PROXY-FIREWALL -m comment --comment "loadbalancer source ranges: marked in nat" -m mark --mark 0x8000/0x8000 -j DROP')

  const none = buildServicePorts({ ...svc('web', { clusterIP: '10.96.0.20', type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }), status: { loadBalancer: { ingress: [{ ip: '192.168.56.200' }] } } }, [], NODE.name)
  t.match(renderIptables(new Map([['default/web', none]]), cfg).text, '"default/web:http has no endpoints" -d 192.168.56.200/32 -p tcp -m tcp --dport 80 -j REJECT')
})

t.test('ipvs LoadBalancer: a virtual server per ingress IP, bound to kube-ipvs0, upstream ipsets', async (t) => {
  const r = renderIpvs([lbSvc({ externalTrafficPolicy: 'Local', loadBalancerSourceRanges: ['192.168.56.2/32'] })], { ...cfg, nodeIPs: [] })
  t.match(r.ipvsadm, '-A -t 192.168.56.200:80 -s rr\n-a -t 192.168.56.200:80 -r 10.244.1.11:8080 -m -w 1\n')
  t.notMatch(r.ipvsadm, /192\.168\.56\.200:80 -r 10\.244\.2\.12/, 'Local: only this node’s endpoint')
  t.same(r.addresses, ['10.96.0.20', '192.168.56.200'])
  t.match(r.ipset, 'add KUBE-LOAD-BALANCER 192.168.56.200,tcp:80')
  t.match(r.ipset, 'add KUBE-LOAD-BALANCER-LOCAL 192.168.56.200,tcp:80')
  t.match(r.ipset, 'add KUBE-LOAD-BALANCER-FW 192.168.56.200,tcp:80')
  t.match(r.ipset, 'add KUBE-LOAD-BALANCER-SOURCE-CIDR 192.168.56.200,tcp:80,192.168.56.2/32')
  t.match(r.iptables, '-A KUBE-LOAD-BALANCER -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN')
  t.match(r.iptables, '-A KUBE-FIREWALL -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN')
  const cl = renderIpvs([lbSvc()], { ...cfg, nodeIPs: [] })
  t.match(cl.ipvsadm, '-a -t 192.168.56.200:80 -r 10.244.2.12:8080', 'Cluster: every endpoint')
  t.notMatch(cl.ipset, /add KUBE-LOAD-BALANCER-LOCAL /)
})
