// The chaos harness's other pure parts: the kill schedule, recovery per kill and its table,
// the comparisons of node state with the API, and how writer errors count.
import t from 'tap'
import { candidateTargets, killSchedule, seededRandom } from '../../src/chaos/targets.js'
import { recoveries, recoveryTable, summarize, percentile, type ProbeSample } from '../../src/chaos/recovery.js'
import { expectedServices, ipamDiff, loadBalancerKeys, netnsDiff, pidDiff, proxyDiff, proxyViewFromNftJson } from '../../src/chaos/converge.js'
import { classifyError } from '../../src/chaos/writers.js'
import { ApiStatusErrorImpl } from '../../src/client/errors.js'
import type { EndpointSlice, Pod, Service } from '../../src/api/types.js'

t.test('seeded: same seed, same numbers; another seed, others', async (t) => {
  const a = seededRandom(42)
  const b = seededRandom(42)
  const xs = Array.from({ length: 5 }, () => a())
  t.same(xs, Array.from({ length: 5 }, () => b()))
  t.notSame(xs, Array.from({ length: 5 }, seededRandom(43)))
  t.ok(xs.every((x) => x >= 0 && x < 1))
})

t.test('kill schedule: every target once per round, reproducible', async (t) => {
  const targets = candidateTargets(['node1', 'node2'])
  t.ok(targets.some((x) => x.name === 'etcd/node2') && targets.some((x) => x.name === 'relay/host'), 'etcd and relays are candidates by name')
  const take = (seed: number): string[] => {
    const next = killSchedule(seed, targets, { min: 100, max: 200 })
    return Array.from({ length: targets.length * 2 }, () => next().target.name)
  }
  const run = take(7)
  t.same(run, take(7), 'same seed, same order')
  t.same([...run.slice(0, targets.length)].sort(), targets.map((x) => x.name).sort(), 'the first round kills each once')
  t.same([...run.slice(targets.length)].sort(), targets.map((x) => x.name).sort(), 'so does the second')
  t.notSame(run, take(8))
  const gaps = Array.from({ length: 50 }, killSchedule(1, targets, { min: 100, max: 200 })).map((x) => x.gapMs)
  t.ok(gaps.every((g) => g >= 100 && g <= 200), 'gaps within bounds')
  t.throws(() => killSchedule(1, [], { min: 1, max: 2 }))
})

t.test('recovery per kill, from probe samples and acks', async (t) => {
  const s = (kind: ProbeSample['kind'], at: number, ok: boolean, ms = 5): ProbeSample => ({ kind, at, ok, ms })
  const samples = [s('svc', 90, true), s('svc', 100, false, 1000), s('svc', 1200, false, 1000), s('svc', 2300, true, 10), s('dns', 150, true, 3), s('svc', 5100, true), s('dns', 5050, false), s('dns', 5200, false)]
  const rows = recoveries([{ target: 'server/node1', at: 100, controlPlaneMs: 900, backMs: 1200 }, { target: 'agent/node2', at: 5000 }], samples, [50, 400, 2500, 5300, 6000], 7000)
  t.same(rows[0], { target: 'server/node1', at: 100, controlPlaneMs: 900, backMs: 1200, serviceMs: 2210, dnsMs: 53, serviceFailures: 2, dnsFailures: 0, writeBlipMs: 2100 })
  t.same(rows[1], { target: 'agent/node2', at: 5000, serviceMs: 105, serviceFailures: 0, dnsFailures: 2, writeBlipMs: 700 }, 'no DNS success before the end: missing')
  const table = recoveryTable(rows)
  t.match(table, /\| Service traffic \(ClusterIP HTTP\) \| 2 \| 105 ms \| 2210 ms \| 2210 ms \| 0 \|/)
  t.match(table, /\| DNS \(A via 10.96.0.10\) \| 2 \| 53 ms \| 53 ms \| 53 ms \| 1 \|/)
  t.match(table, /\| agent\/node2 \| 1 \| — \(1 missing\) \|/)
  const flaky = [s('dns', 1010, true, 5), s('dns', 1200, false, 1000), s('dns', 2300, true, 5), s('dns', 2500, false, 1000), s('dns', 3600, true, 20), s('dns', 3800, true, 5)]
  t.equal(recoveries([{ target: 'dns-pod/kill', at: 1000 }], flaky, [], 9000)[0]!.dnsMs, 2620, 'half-working: from the kill to the success after the last failure')
  t.same(summarize([3, undefined, 1, 2]), { n: 4, missing: 1, p50: 2, p99: 3, max: 3 })
  t.equal(percentile([], 50), undefined)
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10)
})

const nftDoc = {
  nftables: [
    { map: { name: 'service-ips', elem: [[{ concat: ['10.96.5.5', 'tcp', 80] }, { goto: { target: 'service-A-ns/web/tcp/http' } }], [{ concat: ['10.96.0.1', 'tcp', 443] }, { goto: { target: 'service-B-default/kubernetes/tcp/https' } }]] } },
    { map: { name: 'no-endpoint-services', elem: [[{ concat: ['10.96.0.10', 'udp', 53] }, { goto: { target: 'reject-chain' } }]] } },
    { rule: { chain: 'service-A-ns/web/tcp/http', expr: [{ jump: { target: 'mark-for-masquerade' } }] } },
    { rule: { chain: 'service-A-ns/web/tcp/http', expr: [{ vmap: { key: { numgen: { mode: 'random', mod: 2 } }, data: { set: [[0, { goto: { target: 'endpoint-X-ns/web/tcp/http__10.244.1.2/8080' } }], [1, { goto: { target: 'endpoint-Y-ns/web/tcp/http__10.244.2.2/8080' } }]] } } }] } },
    { rule: { chain: 'endpoint-X-ns/web/tcp/http__10.244.1.2/8080', expr: [{ match: {} }, { dnat: { addr: '10.244.1.2', port: 8080 } }] } },
    { rule: { chain: 'endpoint-Y-ns/web/tcp/http__10.244.2.2/8080', expr: [{ dnat: { addr: '10.244.2.2', port: 8080 } }] } },
    { rule: { chain: 'service-B-default/kubernetes/tcp/https', expr: [{ goto: { target: 'endpoint-Z' } }] } },
    { rule: { chain: 'endpoint-Z', expr: [{ dnat: { addr: '192.168.56.10', port: 6443 } }] } },
  ],
}
const svc = (ns: string, name: string, ip: string, ports: Service['spec']['ports']): Service => ({ metadata: { namespace: ns, name }, spec: { clusterIP: ip, ports } })
const slice = (ns: string, svcName: string, ports: EndpointSlice['ports'], eps: [string, boolean][]): EndpointSlice => ({
  metadata: { namespace: ns, name: `${svcName}-x`, labels: { 'kubernetes.io/service-name': svcName } },
  addressType: 'IPv4',
  ports,
  endpoints: eps.map(([a, ready]) => ({ addresses: [a], conditions: { ready } })),
})
const services = [
  svc('ns', 'web', '10.96.5.5', [{ name: 'http', port: 80, protocol: 'TCP' }]),
  svc('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]),
  svc('kube-system', 'kube-dns', '10.96.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }]),
  svc('ns', 'headless', 'None', [{ port: 1 }]),
]

t.test('proxy rules vs the API', async (t) => {
  const view = proxyViewFromNftJson(nftDoc)
  t.same([...view.services], [['10.96.5.5 tcp 80', ['10.244.1.2:8080', '10.244.2.2:8080']], ['10.96.0.1 tcp 443', ['192.168.56.10:6443']]])
  t.same([...view.noEndpoints], ['10.96.0.10 udp 53'])
  const slices = [slice('ns', 'web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [['10.244.1.2', true], ['10.244.2.2', true], ['10.244.3.3', false]]), slice('default', 'kubernetes', [{ name: 'https', port: 6443 }], [['192.168.56.10', true]])]
  t.same(proxyDiff('n1', view, expectedServices(services, slices)), [], 'converged: the not-ready endpoint is not expected')
  const more = [slice('ns', 'web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [['10.244.1.2', true], ['10.244.3.3', true]]), slices[1]!, slice('kube-system', 'kube-dns', [{ name: 'dns', port: 53, protocol: 'UDP' }], [['10.244.9.9', true]])]
  t.same(proxyDiff('n1', view, expectedServices(services, more)), [
    'n1: 10.96.5.5 tcp 80 routes to 10.244.1.2:8080,10.244.2.2:8080, the API says 10.244.1.2:8080,10.244.3.3:8080',
    'n1: 10.96.0.10 udp 53 → 10.244.9.9:53 in the API, not in service-ips',
    'n1: 10.96.0.10 udp 53 in no-endpoint-services, the API says 10.244.9.9:53',
  ])
  t.same(proxyDiff('n1', view, expectedServices(services.slice(1), slices)), ['n1: 10.96.5.5 tcp 80 in service-ips, no such Service port in the API'], 'a deleted Service left in the rules')
  const terminating: EndpointSlice = { ...slices[0]!, endpoints: [{ addresses: ['10.244.1.2'], conditions: { ready: false, serving: true, terminating: true } }] }
  t.same(expectedServices(services.slice(0, 1), [terminating]).get('10.96.5.5 tcp 80'), ['10.244.1.2:8080'], 'no ready endpoint: serving+terminating ones')
  const lb = { ...services[0]!, spec: { ...services[0]!.spec, type: 'LoadBalancer' as const }, status: { loadBalancer: { ingress: [{ ip: '192.168.56.200' }] } } }
  const lbKeys = loadBalancerKeys([lb])
  t.same([...lbKeys], ['192.168.56.200 tcp 80'], 'a LoadBalancer address per port')
  const withLb = { ...view, services: new Map([...view.services, ['192.168.56.200 tcp 80', ['10.244.1.2:8080']]]) }
  t.same(proxyDiff('n1', withLb, expectedServices(services, slices)), ['n1: 192.168.56.200 tcp 80 in service-ips, no such Service port in the API'], 'an address nobody announced is still flagged')
  t.same(proxyDiff('n1', withLb, expectedServices(services, slices), lbKeys), [], 'a LoadBalancer address of the Service is allowed')
})

// The maps layout (the default), shaped as `nft -j list table` prints it: a key in
// endpoints-N routes to slot-0 … slot-(N-1); per-Service chains (affinity) still via service-ips.
const mapsDoc = {
  nftables: [
    { set: { name: 'endpoints-2', elem: [{ concat: ['10.96.5.5', 'tcp', 80] }] } },
    { set: { name: 'endpoints-1', elem: [{ concat: ['10.96.0.1', 'tcp', 443] }] } },
    { set: { name: 'cluster-ips', elem: [{ concat: ['10.96.5.5', 'tcp', 80] }, { concat: ['10.96.0.1', 'tcp', 443] }] } },
    { map: { name: 'slot-0', elem: [[{ concat: ['10.96.5.5', 'tcp', 80] }, { concat: ['10.244.2.2', 8080] }], [{ concat: ['10.96.0.1', 'tcp', 443] }, { concat: ['192.168.56.10', 6443] }]] } },
    { map: { name: 'slot-1', elem: [[{ concat: ['10.96.5.5', 'tcp', 80] }, { concat: ['10.244.1.2', 8080] }], [{ concat: ['10.96.9.9', 'tcp', 80] }, { concat: ['10.244.7.7', 8080] }]] } },
    { map: { name: 'service-ips', elem: [] } },
    { map: { name: 'no-endpoint-services', elem: [[{ concat: ['10.96.0.10', 'udp', 53] }, { goto: { target: 'reject-chain' } }]] } },
  ],
}

t.test('proxy rules vs the API: the maps layout', async (t) => {
  const view = proxyViewFromNftJson(mapsDoc)
  // a slot beyond a key's N (10.96.9.9 in slot-1 only, in no endpoints-N) routes nothing
  t.same([...view.services], [['10.96.5.5 tcp 80', ['10.244.1.2:8080', '10.244.2.2:8080']], ['10.96.0.1 tcp 443', ['192.168.56.10:6443']]])
  t.same([...view.noEndpoints], ['10.96.0.10 udp 53'])
  const slices = [slice('ns', 'web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [['10.244.1.2', true], ['10.244.2.2', true]]), slice('default', 'kubernetes', [{ name: 'https', port: 6443 }], [['192.168.56.10', true]])]
  t.same(proxyDiff('n1', view, expectedServices(services, slices)), [], 'converged')
  const fewer = [slice('ns', 'web', [{ name: 'http', port: 8080, protocol: 'TCP' }], [['10.244.1.2', true]]), slices[1]!]
  t.same(proxyDiff('n1', view, expectedServices(services, fewer)), ['n1: 10.96.5.5 tcp 80 routes to 10.244.1.2:8080,10.244.2.2:8080, the API says 10.244.1.2:8080'], 'a removed endpoint still in a slot is flagged')
})

const pod = (name: string, node: string, ip: string | undefined, uid: string, phase = 'Running'): Pod =>
  ({ metadata: { name, uid }, spec: { nodeName: node, containers: [] }, status: { phase, ...(ip ? { podIP: ip } : {}) } }) as Pod

t.test('IPAM files and pod namespaces vs pods', async (t) => {
  const pods = [pod('a', 'n1', '10.244.1.2', 'u1'), pod('b', 'n1', '10.244.1.3', 'u2'), pod('c', 'n2', '10.244.2.2', 'u3'), pod('done', 'n1', '10.244.1.9', 'u4', 'Succeeded')]
  t.same(ipamDiff('n1', ['10.244.1.2', '10.244.1.3'], pods), [])
  t.same(ipamDiff('n1', ['10.244.1.2', '10.244.1.7'], pods), ['n1: IPAM holds 10.244.1.7, no pod on the node has it (leaked)', 'n1: pod IP 10.244.1.3 is not reserved in IPAM (double allocation possible)'])
  const nsOf = (p: Pod): string => `x-${p.metadata.uid}`
  t.same(netnsDiff('n1', ['x-u1', 'x-u2'], pods, nsOf), [])
  t.same(netnsDiff('n1', ['x-u1', 'x-old'], pods, nsOf), ['n1: namespace x-old belongs to no pod (leaked)', 'n1: pod b has no namespace x-u2'])
})

t.test('PIDs stable, restarted, or dead', async (t) => {
  const m = (e: [string, number | undefined][]): Map<string, number | undefined> => new Map(e)
  t.same(pidDiff(m([['server/node1', 10]]), m([['server/node1', 10]]), () => true), [])
  t.same(pidDiff(m([['server/node1', 10]]), m([['server/node1', 11]]), () => true), ['server/node1: restarted while it should be settled (pid 10 → 11)'])
  t.same(pidDiff(m([['agent/node1', 10]]), m([['agent/node1', 10]]), () => false), ['agent/node1: pid 10 is not running'])
  t.same(pidDiff(m([['agent/node1', undefined]]), m([['agent/node1', 3]]), () => true), ['agent/node1: no PID (- → 3)'])
})

t.test('writer errors: which mean "may have happened"', async (t) => {
  const e = (code: number, reason: string): unknown => ApiStatusErrorImpl.fromResponse(code, JSON.stringify({ kind: 'Status', code, reason, message: reason }), 'x')
  t.equal(classifyError(new Error('socket hang up')), 'unknown')
  t.equal(classifyError(e(504, 'Timeout')), 'unknown')
  t.equal(classifyError(e(503, 'ServiceUnavailable')), 'unknown')
  t.equal(classifyError(e(409, 'Conflict')), 'unknown', 'a retried PUT that landed would get 409')
  t.equal(classifyError(e(404, 'NotFound')), 'unknown', 'a retried DELETE that landed would get 404')
  t.equal(classifyError(e(422, 'Invalid')), 'fail')
  t.equal(classifyError(e(429, 'TooManyRequests')), 'fail')
})
