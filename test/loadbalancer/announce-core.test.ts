// Which node announces which LoadBalancer IP, as tables: liveness from observed renewals,
// Local policy, NotReady/excluded nodes, and rendezvous hashing moving only a dead node's IPs.
import t from 'tap'
import type { EndpointSlice, Node, Service } from '../../src/api/types.js'
import { EXCLUDE_LABEL, announceDiff, announcements, liveSpeakers, parseAnnouncing, renewalClock, rendezvousWinner } from '../../src/loadbalancer/announce-core.js'

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

t.test('the renewal clock: silence counts only while the others’ renewals go on arriving', async (t) => {
  t.equal(renewalClock([{ node: 'a', seenAt: 9500 }, { node: 'me', seenAt: 9900 }, { node: 'b', seenAt: 9200 }]), 9900, 'the latest renewal seen')
  t.equal(renewalClock([]), -Infinity)
  const judge = (seen: { node: string; seenAt: number }[]) => [...liveSpeakers(seen, renewalClock(seen), 1000, [])].sort()
  // the quiet-phase flap of bench:lb at load 30 (speakers' logs): node2 silent 1,139 ms on the
  // wall clock while this node's own renewal was in flight for 933 ms — nobody's got through
  t.same(judge([{ node: 'node2', seenAt: 10_000 - 1139 }, { node: 'me', seenAt: 10_000 - 1100 }, { node: 'node3', seenAt: 10_000 - 1050 }]), ['me', 'node2', 'node3'], 'every renewal late: nobody dead')
  t.same([...liveSpeakers([{ node: 'node2', seenAt: 10_000 - 1139 }], 10_000, 1000, [])], [], '(on the wall clock node2 would be dead)')
  // a node that really died: the others renew on, and a lease after its last one it is gone
  t.same(judge([{ node: 'dead', seenAt: 9000 }, { node: 'me', seenAt: 9999 }, { node: 'b', seenAt: 9900 }]), ['b', 'dead', 'me'], '999 ms: still live')
  t.same(judge([{ node: 'dead', seenAt: 9000 }, { node: 'me', seenAt: 10_000 }, { node: 'b', seenAt: 9900 }]), ['b', 'me'], 'a lease after: gone')
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

t.test('sticky: a live eligible holder keeps its address; a node that returns takes nothing back', async (t) => {
  const ip = '192.168.56.200'
  const all = ['node1', 'node2', 'node3']
  const winner = rendezvousWinner(ip, all)!
  const other = all.find((n) => n !== winner)!
  const holds = (m: Record<string, string[]>) => (n: string) => new Set(m[n] ?? [])
  const who = (live: string[], m: Record<string, string[]>, svc = lb('web', ip)): string | undefined =>
    announcements({ services: [svc], slicesOf: () => [], live: new Set(live), ourClass: 'netkube.io/lb', holding: holds(m) })[0]?.node
  t.equal(who(all, {}), winner, 'nobody holds it: the hash winner')
  t.equal(who(all, { [other]: [ip] }), other, `${other} took it while ${winner} was away: it keeps it after ${winner} returns`)
  t.equal(who(all.filter((n) => n !== other), { [other]: [ip] }), winner, 'the holder dies (not live): its claim counts no more, the hash decides')
  t.equal(who(all, { node1: [ip], node2: [ip], node3: [ip] }), winner, 'several holders (a healed partition): the hash winner among them, the others withdraw')
  const two = all.filter((n) => n !== winner)
  t.equal(who(all, { [two[0]!]: [ip], [two[1]!]: [ip] }), rendezvousWinner(ip, two), '… among the holders only')
  // Local: a holder without a ready endpoint is not eligible, so it does not keep the address
  const slices = [sl('web', [[winner, true]])]
  t.equal(announcements({ services: [lb('web', ip, true)], slicesOf: () => slices, live: new Set(all), ourClass: 'netkube.io/lb', holding: holds({ [other]: [ip] }) })[0]?.node, winner, 'Local: the holder lost its endpoint, the node with one takes over')
  t.same([...parseAnnouncing(' 10.0.0.1, 10.0.0.2,,')], ['10.0.0.1', '10.0.0.2'])
  t.same([...parseAnnouncing(undefined)], [])
})

t.test('diff', async (t) => {
  t.same(announceDiff(['1.1.1.1', '1.1.1.2'], ['1.1.1.2', '1.1.1.3']), { add: ['1.1.1.1'], remove: ['1.1.1.3'] })
})
