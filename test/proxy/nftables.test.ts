// The nftables proxier's pure core: Service + EndpointSlices → rules, compared as text
// (hashes in names shown as H), then whole transactions through the fake nft.
import t from 'tap'
import type { EndpointSlice, Service } from '../../src/api/types.js'
import { FakeNft, NftTransaction } from '../../src/net/nft.js'
import { NftBackend } from '../../src/proxy/nft-backend.js'
import { NFT_TABLE, buildFragment, serviceChainName, endpointChainName } from '../../src/proxy/nftables.js'
import { Proxier } from '../../src/proxy/proxier.js'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { NODE, slice, svc, type EpSpec } from './fixtures.js'
import { fragmentText, renderService, unhash } from './render.js'

const three: EpSpec[] = [{ ip: '10.244.1.11' }, { ip: '10.244.2.12', node: 'node-b' }, { ip: '10.244.3.13', node: 'node-c' }]
const ep = (ip: string, extra = ''): string[] => [
  `chain endpoint-H-default/web/tcp/http__${ip}/8080`,
  `  ip saddr ${ip} jump mark-for-masquerade`,
  ...(extra ? [`  ${extra.replace('IP', ip)}`] : []),
  `  meta l4proto tcp dnat to ${ip}:8080`,
]
const E = (ip: string): string => `endpoint-H-default/web/tcp/http__${ip}/8080`
const MASQ = '  ip daddr 10.96.0.20 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade'
const NP = { type: 'NodePort' as const, ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] }
const LB = { ...NP, type: 'LoadBalancer' as const }
/** The Service with status.loadBalancer.ingress (plain IPs get ipMode VIP). */
const lb = (s: Service, ingress: (string | { ip: string; ipMode: 'VIP' | 'Proxy' })[]): Service => ({
  ...s,
  status: { loadBalancer: { ingress: ingress.map((i) => (typeof i === 'string' ? { ip: i, ipMode: 'VIP' as const } : i)) } },
})

const cases: { name: string; svc: Service; slices: EndpointSlice[]; want: string[] }[] = [
  {
    name: 'ClusterIP: numgen over three endpoint chains that DNAT, masquerade from outside the pod network',
    svc: svc('web', { clusterIP: '10.96.0.20' }),
    slices: [slice('web', three)],
    want: [
      ...ep('10.244.1.11'),
      ...ep('10.244.2.12'),
      ...ep('10.244.3.13'),
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  numgen random mod 3 vmap { 0 : goto ${E('10.244.1.11')}, 1 : goto ${E('10.244.2.12')}, 2 : goto ${E('10.244.3.13')} }`,
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
    ],
  },
  {
    name: 'NodePort + externalIP: external chain marks for masquerade and enters the service chain',
    svc: svc('web', { clusterIP: '10.96.0.20', ...NP, externalIPs: ['192.168.50.200'] }),
    slices: [slice('web', three.slice(0, 2))],
    want: [
      ...ep('10.244.1.11'),
      ...ep('10.244.2.12'),
      'chain external-H-default/web/tcp/http',
      '  jump mark-for-masquerade',
      '  goto service-H-default/web/tcp/http',
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  numgen random mod 2 vmap { 0 : goto ${E('10.244.1.11')}, 1 : goto ${E('10.244.2.12')} }`,
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
      'service-ips: 192.168.50.200 . tcp . 80 : goto external-H-default/web/tcp/http',
      'service-nodeports: tcp . 30080 : goto external-H-default/web/tcp/http',
    ],
  },
  {
    name: 'ClientIP affinity: per-endpoint dynamic sets, checked before numgen, updated in the endpoint chain',
    svc: svc('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }),
    slices: [slice('web', three.slice(0, 2))],
    want: [
      ...ep('10.244.1.11', 'update @affinity-H-default/web/tcp/http__IP/8080 { ip saddr }'),
      ...ep('10.244.2.12', 'update @affinity-H-default/web/tcp/http__IP/8080 { ip saddr }'),
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  ip saddr @affinity-H-default/web/tcp/http__10.244.1.11/8080 goto ${E('10.244.1.11')}`,
      `  ip saddr @affinity-H-default/web/tcp/http__10.244.2.12/8080 goto ${E('10.244.2.12')}`,
      `  numgen random mod 2 vmap { 0 : goto ${E('10.244.1.11')}, 1 : goto ${E('10.244.2.12')} }`,
      'set affinity-H-default/web/tcp/http__10.244.1.11/8080 ipv4_addr dynamic,timeout 60s',
      'set affinity-H-default/web/tcp/http__10.244.2.12/8080 ipv4_addr dynamic,timeout 60s',
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
    ],
  },
  {
    name: 'no endpoints: ClusterIP and NodePort go to the reject chain (UDP too), no chains',
    svc: svc('web', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }] }),
    slices: [],
    want: ['no-endpoint-nodeports: udp . 30053 : goto reject-chain', 'no-endpoint-services: 10.96.0.20 . udp . 53 : goto reject-chain'],
  },
  {
    name: 'Local policies: internal traffic and NodePort use only this node’s endpoint; pods and the node short-circuit',
    svc: svc('web', { clusterIP: '10.96.0.20', ...NP, externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local' }),
    slices: [slice('web', three)],
    want: [
      ...ep('10.244.1.11'),
      ...ep('10.244.2.12'),
      ...ep('10.244.3.13'),
      'chain external-H-default/web/tcp/http',
      '  ip saddr 10.244.0.0/16 goto service-H-default/web/tcp/http',
      '  fib saddr type local jump mark-for-masquerade',
      '  fib saddr type local goto service-H-default/web/tcp/http',
      '  goto local-H-default/web/tcp/http',
      'chain local-H-default/web/tcp/http',
      MASQ,
      `  goto ${E('10.244.1.11')}`,
      'chain service-H-default/web/tcp/http',
      `  numgen random mod 3 vmap { 0 : goto ${E('10.244.1.11')}, 1 : goto ${E('10.244.2.12')}, 2 : goto ${E('10.244.3.13')} }`,
      'service-ips: 10.96.0.20 . tcp . 80 : goto local-H-default/web/tcp/http',
      'service-nodeports: tcp . 30080 : goto external-H-default/web/tcp/http',
    ],
  },
  {
    name: 'externalTrafficPolicy Local without a local endpoint: NodePort dropped (not rejected), ClusterIP still served',
    svc: svc('web', { clusterIP: '10.96.0.20', ...NP, externalTrafficPolicy: 'Local' }),
    slices: [slice('web', three.slice(1))],
    want: [
      ...ep('10.244.2.12'),
      ...ep('10.244.3.13'),
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  numgen random mod 2 vmap { 0 : goto ${E('10.244.2.12')}, 1 : goto ${E('10.244.3.13')} }`,
      'no-endpoint-nodeports: tcp . 30080 : drop',
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
    ],
  },
  {
    name: 'only ready endpoints get new connections: not-ready and terminating are left out',
    svc: svc('web', { clusterIP: '10.96.0.20' }),
    slices: [slice('web', [{ ip: '10.244.1.11' }, { ip: '10.244.1.12', ready: false, serving: true, terminating: true }, { ip: '10.244.1.13', ready: false }])],
    want: [...ep('10.244.1.11'), 'chain service-H-default/web/tcp/http', MASQ, `  goto ${E('10.244.1.11')}`, 'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http'],
  },
  {
    name: 'no ready endpoint: serving+terminating ones take new connections (graceful fallback)',
    svc: svc('web', { clusterIP: '10.96.0.20' }),
    slices: [slice('web', [{ ip: '10.244.1.11', ready: false, serving: true, terminating: true }, { ip: '10.244.1.12', ready: false, serving: false }])],
    want: [...ep('10.244.1.11'), 'chain service-H-default/web/tcp/http', MASQ, `  goto ${E('10.244.1.11')}`, 'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http'],
  },
  {
    name: 'headless and ExternalName services program nothing',
    svc: svc('web', { clusterIP: 'None' }),
    slices: [slice('web', three)],
    want: [''],
  },
  {
    name: 'LoadBalancer (Cluster): the ingress IP enters the external chain like an externalIP; an ipMode Proxy one is not programmed',
    svc: lb(svc('web', { clusterIP: '10.96.0.20', ...LB }), ['192.168.56.200', { ip: '192.168.56.201', ipMode: 'Proxy' }]),
    slices: [slice('web', three.slice(0, 1))],
    want: [
      ...ep('10.244.1.11'),
      'chain external-H-default/web/tcp/http',
      '  jump mark-for-masquerade',
      '  goto service-H-default/web/tcp/http',
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  goto ${E('10.244.1.11')}`,
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
      'service-ips: 192.168.56.200 . tcp . 80 : goto external-H-default/web/tcp/http',
      'service-nodeports: tcp . 30080 : goto external-H-default/web/tcp/http',
    ],
  },
  {
    name: 'LoadBalancer with loadBalancerSourceRanges: a firewall chain lets the ranges through to the external chain, drops the rest',
    svc: lb(svc('web', { clusterIP: '10.96.0.20', ...LB, allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 80, targetPort: 8080 }], loadBalancerSourceRanges: ['192.168.56.2/32', '10.1.0.0/16'] }), ['192.168.56.200']),
    slices: [slice('web', three.slice(0, 1))],
    want: [
      ...ep('10.244.1.11'),
      'chain external-H-default/web/tcp/http',
      '  jump mark-for-masquerade',
      '  goto service-H-default/web/tcp/http',
      'chain firewall-H-default/web/tcp/http',
      '  ip saddr 10.1.0.0/16 goto external-H-default/web/tcp/http',
      '  ip saddr 192.168.56.2/32 goto external-H-default/web/tcp/http',
      '  drop',
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  goto ${E('10.244.1.11')}`,
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
      'service-ips: 192.168.56.200 . tcp . 80 : goto firewall-H-default/web/tcp/http',
    ],
  },
  {
    name: 'LoadBalancer Local: client source kept (no masquerade mark) towards this node’s endpoint',
    svc: lb(svc('web', { clusterIP: '10.96.0.20', ...LB, externalTrafficPolicy: 'Local', healthCheckNodePort: 31999 }), ['192.168.56.200']),
    slices: [slice('web', three.slice(0, 2))],
    want: [
      ...ep('10.244.1.11'),
      ...ep('10.244.2.12'),
      'chain external-H-default/web/tcp/http',
      '  ip saddr 10.244.0.0/16 goto service-H-default/web/tcp/http',
      '  fib saddr type local jump mark-for-masquerade',
      '  fib saddr type local goto service-H-default/web/tcp/http',
      '  goto local-H-default/web/tcp/http',
      'chain local-H-default/web/tcp/http',
      `  goto ${E('10.244.1.11')}`,
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  numgen random mod 2 vmap { 0 : goto ${E('10.244.1.11')}, 1 : goto ${E('10.244.2.12')} }`,
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
      'service-ips: 192.168.56.200 . tcp . 80 : goto external-H-default/web/tcp/http',
      'service-nodeports: tcp . 30080 : goto external-H-default/web/tcp/http',
    ],
  },
  {
    name: 'LoadBalancer Local with endpoints only elsewhere: the LB IP is dropped here; without any endpoint it is rejected',
    svc: lb(svc('web', { clusterIP: '10.96.0.20', ...LB, externalTrafficPolicy: 'Local' }), ['192.168.56.200']),
    slices: [slice('web', three.slice(1, 2))],
    want: [
      ...ep('10.244.2.12'),
      'chain service-H-default/web/tcp/http',
      MASQ,
      `  goto ${E('10.244.2.12')}`,
      'no-endpoint-nodeports: tcp . 30080 : drop',
      'no-endpoint-services: 192.168.56.200 . tcp . 80 : drop',
      'service-ips: 10.96.0.20 . tcp . 80 : goto service-H-default/web/tcp/http',
    ],
  },
  {
    name: 'LoadBalancer without endpoints: its IP goes to the reject chain',
    svc: lb(svc('web', { clusterIP: '10.96.0.20', ...LB }), ['192.168.56.200']),
    slices: [],
    want: ['no-endpoint-nodeports: tcp . 30080 : goto reject-chain', 'no-endpoint-services: 10.96.0.20 . tcp . 80 : goto reject-chain', 'no-endpoint-services: 192.168.56.200 . tcp . 80 : goto reject-chain'],
  },
]

t.test('rendered rules per service (table)', async (t) => {
  for (const c of cases) t.equal(renderService(c.svc, c.slices), c.want.join('\n') + '\n', c.name)
})

t.test('cascade dispatch: the same uniform choice without anonymous sets', async (t) => {
  const ports = buildServicePorts(svc('web', { clusterIP: '10.96.0.20' }), [slice('web', three)], NODE.name)
  const f = buildFragment(ports, { clusterCIDR: NODE.clusterCIDR, dispatch: 'cascade' })
  t.equal(
    fragmentText(f).split('\n').filter((l) => l.includes('goto endpoint')).join('\n'),
    [
      `  numgen random mod 3 == 0 goto ${E('10.244.1.11')}`,
      `  numgen random mod 2 == 0 goto ${E('10.244.2.12')}`,
      `  goto ${E('10.244.3.13')}`,
    ].join('\n'),
  )
})

t.test('chain names are readable, deterministic and distinct per port and endpoint', async (t) => {
  const ports = buildServicePorts(svc('web', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] }), [], 'n')
  const a = serviceChainName(ports[0]!, 'service')
  t.match(a, /^service-[A-Z2-7]{8}-default\/web\/tcp\/http$/)
  t.equal(a, serviceChainName(buildServicePorts(svc('web', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] }), [], 'n')[0]!, 'service'))
  t.not(a, serviceChainName(ports[1]!, 'service'))
  t.match(endpointChainName(ports[0]!, { ip: '10.1.2.3', port: 8080, ready: true, serving: true, terminating: false, local: false }), /^endpoint-[A-Z2-7]{8}-default\/web\/tcp\/http__10\.1\.2\.3\/8080$/)
})

t.test('transaction rendering obeys the nft 1.0.6 traps', async (t) => {
  const tx = new NftTransaction('ip', 'x')
  tx.add({ kind: 'table' })
  tx.add({ kind: 'chain', name: 'out', type: 'nat', hook: 'output', priority: -100 })
  tx.add({ kind: 'map', name: 'm', type: 'inet_proto . inet_service : verdict' })
  tx.add({ kind: 'element', set: 'm', key: 'tcp . 1', value: 'drop' })
  tx.add({ kind: 'element', set: 'm', key: 'tcp . 2', value: 'accept' })
  tx.delete({ kind: 'element', set: 'm', key: 'tcp . 1' })
  t.equal(
    tx.render(),
    [
      'add table ip x',
      'add chain ip x out { type nat hook output priority -100 ; }',
      'add map ip x m { type inet_proto . inet_service : verdict ; }',
      'add element ip x m { tcp . 1 : drop, tcp . 2 : accept }',
      'delete element ip x m { tcp . 1 }',
      '',
    ].join('\n'),
  )
  t.throws(() => tx.add({ kind: 'rule', chain: 'bad name', rule: 'accept' }).render(), /invalid object name/)
})

// ---- whole syncs through the fake ----

function harness() {
  const nft = new FakeNft()
  const backend = new NftBackend(nft, { clusterCIDR: NODE.clusterCIDR })
  const p = new Proxier({ backend, node: { ...NODE }, manual: true, minSyncMs: 0 })
  const dump = (): string => nft.dump('ip', NFT_TABLE)!
  return { nft, backend, p, dump }
}

/** Same objects, synced from scratch in one full sync: the reference the incremental path must equal. */
async function fullReference(svcs: Service[], slices: EndpointSlice[]): Promise<string> {
  const h = harness()
  for (const s of svcs) h.p.onService(undefined, s)
  for (const s of slices) h.p.onEndpointSlice(undefined, s)
  h.p.setSynced()
  await h.p.syncNow()
  return h.dump()
}

t.test('no writes before the informers have synced; first sync is full and replaces the table', async (t) => {
  const h = harness()
  h.p.onService(undefined, svc('web', { clusterIP: '10.96.0.20' }))
  await t.rejects(h.p.syncNow(), /not synced/)
  t.equal(h.nft.transactions.length, 0)
  h.p.setSynced()
  const r = await h.p.syncNow()
  t.ok(r.full)
  const text = h.nft.lastTransaction!.render()
  t.match(text, /^add table ip netkube-proxy .*\ndelete table ip netkube-proxy\nadd table ip netkube-proxy/)
  t.match(text, /add element ip netkube-proxy no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 : goto reject-chain \}/)
})

t.test('incremental sync touches only the changed service, and ends equal to a full sync', async (t) => {
  const h = harness()
  const web = svc('web', { clusterIP: '10.96.0.20' })
  const api = svc('api', { clusterIP: '10.96.0.21' })
  const webSlice = slice('web', three)
  const apiSlice = slice('api', three.slice(0, 2))
  h.p.onService(undefined, web)
  h.p.onService(undefined, api)
  h.p.onEndpointSlice(undefined, webSlice)
  h.p.onEndpointSlice(undefined, apiSlice)
  h.p.setSynced()
  await h.p.syncNow()
  t.equal(h.dump(), await fullReference([web, api], [webSlice, apiSlice]))

  // remove one endpoint of web
  const webSlice2 = slice('web', three.slice(0, 2))
  h.p.onEndpointSlice(webSlice, webSlice2)
  const r = await h.p.syncNow()
  t.notOk(r.full)
  const text = unhash(h.nft.lastTransaction!.render())
  t.equal(
    text,
    [
      'flush chain ip netkube-proxy service-H-default/web/tcp/http',
      'flush chain ip netkube-proxy endpoint-H-default/web/tcp/http__10.244.3.13/8080',
      'delete chain ip netkube-proxy endpoint-H-default/web/tcp/http__10.244.3.13/8080',
      `add rule ip netkube-proxy service-H-default/web/tcp/http${MASQ.slice(1)}`,
      `add rule ip netkube-proxy service-H-default/web/tcp/http numgen random mod 2 vmap { 0 : goto ${E('10.244.1.11')}, 1 : goto ${E('10.244.2.12')} }`,
      '',
    ].join('\n'),
    'one service chain rewritten, one endpoint chain removed, nothing of api',
  )
  t.notMatch(text, /api/)
  t.equal(h.dump(), await fullReference([web, api], [webSlice2, apiSlice]))

  // all endpoints gone → reject; then back
  const webEmpty = slice('web', [])
  h.p.onEndpointSlice(webSlice2, webEmpty)
  await h.p.syncNow()
  t.match(h.nft.lastTransaction!.render(), /delete element ip netkube-proxy service-ips \{ 10\.96\.0\.20 \. tcp \. 80 \}/)
  t.match(h.nft.lastTransaction!.render(), /add element ip netkube-proxy no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 : goto reject-chain \}/)
  t.equal(h.dump(), await fullReference([web, api], [webEmpty, apiSlice]))

  // affinity switched on, service deleted: still equal to a full sync
  const webAff = svc('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP' })
  h.p.onEndpointSlice(webEmpty, webSlice)
  h.p.onService(web, webAff)
  await h.p.syncNow()
  t.equal(h.dump(), await fullReference([webAff, api], [webSlice, apiSlice]))
  const webAff2 = svc('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } })
  h.p.onService(webAff, webAff2)
  await h.p.syncNow()
  t.equal(h.dump(), await fullReference([webAff2, api], [webSlice, apiSlice]), 'affinity timeout change recreates sets')
  h.p.onService(api, undefined)
  await h.p.syncNow()
  t.equal(h.dump(), await fullReference([webAff2], [webSlice, apiSlice]))
  t.notMatch(h.dump(), /api/)
})

t.test('coalescing: changes undone before the sync cost nothing', async (t) => {
  const h = harness()
  h.p.setSynced()
  await h.p.syncNow()
  const web = svc('web', { clusterIP: '10.96.0.20' })
  h.p.onService(undefined, web)
  h.p.onService(web, undefined)
  t.equal(h.p.services.pending, 0)
  await h.p.syncNow()
  t.equal(h.nft.lastTransaction!.size, 0, 'empty transaction')
})

t.test('a failed sync schedules a full resync that repairs everything', async (t) => {
  const h = harness()
  const web = svc('web', { clusterIP: '10.96.0.20' })
  h.p.onService(undefined, web)
  h.p.setSynced()
  await h.p.syncNow()
  const s1 = slice('web', three)
  h.p.onEndpointSlice(undefined, s1)
  h.nft.failNext = 'other'
  await t.rejects(h.p.syncNow())
  const r = await h.p.syncNow()
  t.ok(r.full, 'next sync is full')
  t.equal(h.dump(), await fullReference([web], [s1]))
})

t.test('full resync adopts a table left by a previous process, never duplicates', async (t) => {
  const h = harness()
  const web = svc('web', { clusterIP: '10.96.0.20' })
  const s1 = slice('web', three)
  h.p.onService(undefined, web)
  h.p.onEndpointSlice(undefined, s1)
  h.p.setSynced()
  await h.p.syncNow()
  const first = h.dump()
  // a "restarted" proxier on the same kernel state, with one endpoint fewer
  const p2 = new Proxier({ backend: new NftBackend(h.nft, { clusterCIDR: NODE.clusterCIDR }), node: { ...NODE }, manual: true })
  p2.onService(undefined, web)
  p2.onEndpointSlice(undefined, slice('web', three.slice(0, 2)))
  p2.setSynced()
  await p2.syncNow()
  t.not(h.dump(), first)
  t.equal(h.dump(), await fullReference([web], [slice('web', three.slice(0, 2))]))
})

t.test('maps layout: a Service is elements only; an endpoint change writes no rule and no verdict', async (t) => {
  const cfg = { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' } as const
  const web = buildServicePorts(svc('web', { clusterIP: '10.96.0.20', ...NP }), [slice('web', three)], NODE.name)
  const f = buildFragment(web, cfg)
  t.same([...f.chains.keys()], [], 'no per-Service chains')
  t.same(
    [...f.elements.values()].map((e) => `${e.map} ${e.key}${e.value ? ` : ${e.value}` : ''}`).sort(),
    [
      'cluster-ips 10.96.0.20 . tcp . 80',
      'endpoints-3 10.96.0.20 . tcp . 80',
      'hairpin 10.244.1.11 . 10.244.1.11 . 10.96.0.20 . tcp . 80',
      'hairpin 10.244.2.12 . 10.244.2.12 . 10.96.0.20 . tcp . 80',
      'hairpin 10.244.3.13 . 10.244.3.13 . 10.96.0.20 . tcp . 80',
      'nodeport-endpoints-3 tcp . 30080',
      'nodeport-slot-0 tcp . 30080 : 10.244.1.11 . 8080',
      'nodeport-slot-1 tcp . 30080 : 10.244.2.12 . 8080',
      'nodeport-slot-2 tcp . 30080 : 10.244.3.13 . 8080',
      'slot-0 10.96.0.20 . tcp . 80 : 10.244.1.11 . 8080',
      'slot-1 10.96.0.20 . tcp . 80 : 10.244.2.12 . 8080',
      'slot-2 10.96.0.20 . tcp . 80 : 10.244.3.13 . 8080',
    ],
  )
  // what cannot be elements keeps its chains
  const aff = buildServicePorts(svc('web', { clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP' }), [slice('web', three)], NODE.name)
  t.ok(buildFragment(aff, cfg).chains.size > 0, 'ClientIP affinity: per-Service chains')

  const nft = new FakeNft()
  const p = new Proxier({ backend: new NftBackend(nft, cfg), node: { ...NODE }, manual: true })
  p.onService(undefined, svc('web', { clusterIP: '10.96.0.20' }))
  const s3 = slice('web', three)
  p.onEndpointSlice(undefined, s3)
  p.setSynced()
  await p.syncNow()
  p.onEndpointSlice(s3, slice('web', three.slice(0, 2)))
  await p.syncNow()
  const ops = nft.lastTransaction!.ops
  t.ok(ops.length > 0 && ops.every((o) => o.obj.kind === 'element' && (o.obj.value === undefined || /^\d/.test(o.obj.value))), 'only data elements')
  t.same(
    nft.lastTransaction!.render().trim().split('\n'),
    [
      'delete element ip netkube-proxy endpoints-3 { 10.96.0.20 . tcp . 80 }',
      'delete element ip netkube-proxy slot-2 { 10.96.0.20 . tcp . 80 }',
      'delete element ip netkube-proxy hairpin { 10.244.3.13 . 10.244.3.13 . 10.96.0.20 . tcp . 80 }',
      'add element ip netkube-proxy endpoints-2 { 10.96.0.20 . tcp . 80 }',
    ],
  )
})
