// Which node announces which LoadBalancer IP, as tables: liveness from observed renewals,
// Local policy, NotReady/excluded nodes, and rendezvous hashing moving only a dead node's IPs.
import t from 'tap'
import type { EndpointSlice, Node, Service } from '../../src/api/types.js'
import { EXCLUDE_LABEL, announceDiff, announcements, leaseWatchLag, liveSpeakers, nextExpiry, rendezvousWinner } from '../../src/loadbalancer/announce-core.js'

const node = (name: string, ready: 'True' | 'False' | 'Unknown' = 'True', labels?: Record<string, string>): Node =>
  ({ metadata: { name, ...(labels ? { labels } : {}) }, status: { conditions: [{ type: 'Ready', status: ready }] } }) as Node
const lb = (name: string, ip: string, local = false, extra: Partial<Service['spec']> = {}, ipMode: 'VIP' | 'Proxy' = 'VIP'): Service => ({
  apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name },
  spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...(local ? { externalTrafficPolicy: 'Local' } : {}), ...extra },
  status: { loadBalancer: { ingress: [{ ip, ipMode }] } },
})
const sl = (svc: string, eps: [string, boolean][]): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { namespace: 'default', name: `${svc}-x`, labels: { 'kubernetes.io/service-name': svc } },
  endpoints: eps.map(([n, ready], i) => ({ addresses: [`10.244.0.${i + 2}`], nodeName: n, conditions: { ready } })),
})

t.test('liveness: renewed within the lease duration, on a node neither NotReady nor excluded', async (t) => {
  const seen = [{ node: 'a', seenAt: 9500 }, { node: 'b', seenAt: 8900 }, { node: 'c', seenAt: 9900 }, { node: 'd', seenAt: 9900 }, { node: 'e', seenAt: 9900 }]
  const live = liveSpeakers(seen, 10_000, 1000, [node('a'), node('b'), node('c', 'Unknown'), node('d', 'True', { [EXCLUDE_LABEL]: '' })])
  t.same([...live].sort(), ['a', 'e'], 'b silent 1.1 s, c Unknown, d excluded; e has no Node yet and counts')
})

t.test('the expiry timer: the first live peer to fall silent, never this node itself', async (t) => {
  const seen = [{ node: 'a', seenAt: 9500 }, { node: 'b', seenAt: 9200 }, { node: 'me', seenAt: 9000 }, { node: 'dead', seenAt: 1000 }]
  t.equal(nextExpiry(seen, new Set(['a', 'b', 'me']), 'me', 1000), 10_200, 'b, renewed longest ago')
  t.equal(nextExpiry(seen, new Set(['me']), 'me', 1000), Infinity, 'no peer alive: no timer')
  // at exactly seenAt + lease the peer is dead (liveness is now - seenAt < lease)
  t.same([...liveSpeakers([{ node: 'b', seenAt: 9200 }], 10_200, 1000, [])], [])
  t.same([...liveSpeakers([{ node: 'b', seenAt: 9200 }], 10_199, 1000, [])], ['b'])
})

t.test('lease watch lag: our renewals went through, their echo did not come back', async (t) => {
  t.equal(leaseWatchLag(undefined, 10_000, 1000), 0, 'no echo seen yet (start): judge normally')
  t.equal(leaseWatchLag(9_800, 10_000, 1000), 0, 'echo 200 ms behind the last renewal: normal')
  t.equal(leaseWatchLag(9_500, 10_000, 1000), 0, 'half the lease: still normal')
  t.equal(leaseWatchLag(9_300, 10_000, 1000), 700, '700 ms behind: the watch is slow, hold decisions')
  t.equal(leaseWatchLag(9_300, 9_200, 1000), 0, 'our own renewals failing: not a watch lag (we are the silent one)')
})

t.test('announcements', async (t) => {
  const all = new Set(['node1', 'node2', 'node3'])
  const slices = new Map([['default/loc', [sl('loc', [['node2', true], ['node3', false]])]]])
  const svcs = [lb('web', '192.168.56.200'), lb('loc', '192.168.56.201', true), lb('other', '192.168.56.202', false, { loadBalancerClass: 'x/y' }), lb('px', '192.168.56.203', false, {}, 'Proxy'), { ...lb('cip', '192.168.56.204'), spec: { type: 'ClusterIP' as const } }]
  const a = announcements({ services: svcs, slicesOf: (k) => slices.get(k) ?? [], live: all, ourClass: 'netkube.io/lb' })
  t.same(a.map((x) => x.ip), ['192.168.56.200', '192.168.56.201'], 'another class, ipMode Proxy and non-LB Services are not announced')
  t.equal(a[0]!.node, rendezvousWinner('192.168.56.200', all))
  t.equal(a[1]!.node, 'node2', 'Local: the one node with a ready endpoint (node3’s is not ready)')
  const none = announcements({ services: [lb('loc', '192.168.56.201', true)], slicesOf: () => [], live: all, ourClass: 'netkube.io/lb' })
  t.same(none, [], 'Local without ready endpoints: nobody announces')

  // one node dies: only its IPs move, each to exactly one other node
  const ips = Array.from({ length: 60 }, (_, i) => `192.168.56.${190 + i}`)
  const before = new Map(ips.map((ip) => [ip, rendezvousWinner(ip, all)!]))
  const after = new Map(ips.map((ip) => [ip, rendezvousWinner(ip, ['node1', 'node3'])!]))
  for (const ip of ips) if (before.get(ip) !== 'node2') t.equal(after.get(ip), before.get(ip), `${ip} stays on ${before.get(ip)}`)
  const counts = [...before.values()].reduce<Record<string, number>>((m, n) => ({ ...m, [n]: (m[n] ?? 0) + 1 }), {})
  t.ok(Object.values(counts).every((c) => c >= 10), `spread over the nodes: ${JSON.stringify(counts)}`)
  t.equal(rendezvousWinner('192.168.56.200', ['node3', 'node1', 'node2']), rendezvousWinner('192.168.56.200', ['node1', 'node2', 'node3']), 'order-independent')
})

t.test('diff', async (t) => {
  t.same(announceDiff(['1.1.1.1', '1.1.1.2'], ['1.1.1.2', '1.1.1.3']), { add: ['1.1.1.1'], remove: ['1.1.1.3'] })
})
