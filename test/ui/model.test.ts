// The live map's state model from watch events: nodes with their published overlay lease and
// the routes it implies, pods, Services with endpoints, LoadBalancer announcers by speaker
// liveness, policies; and the feed that sends a view only when it changed.
import t from 'tap'
import type { EndpointSlice, Lease, NetworkPolicy, Node, Pod, Service } from '../../src/api/types.js'
import { ClusterModel } from '../../src/ui/model.js'
import { ViewFeed } from '../../src/ui/feed.js'
import { leaseAnnotations, leaseFromAnnotations } from '../../src/overlay/lease.js'
import { rendezvousWinner } from '../../src/loadbalancer/announce-core.js'
import type { ClusterView } from '../../src/ui/view.js'

const node = (name: string, ip: string, cidr: string, mac?: string, ready: 'True' | 'False' | 'Unknown' = 'True'): Node => ({
  apiVersion: 'v1', kind: 'Node',
  metadata: { name, annotations: mac ? leaseAnnotations({ backendType: 'vxlan', publicIP: ip, vni: 1, vtepMAC: mac }) : {} },
  spec: { podCIDR: cidr },
  status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: ready }] },
})
const pod = (name: string, nodeName: string | undefined, ip?: string, phase = 'Running', extra: Partial<Pod['metadata']> = {}): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name, labels: { app: 'web' }, ...extra },
  spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'agnhost', ports: [{ containerPort: 8080 }] }] },
  status: { phase, ...(ip ? { podIP: ip } : {}), conditions: [{ type: 'Ready', status: 'True' }] },
} as Pod)
const svc = (name: string, type: 'ClusterIP' | 'LoadBalancer' = 'ClusterIP', lbIP?: string): Service => ({
  apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name },
  spec: { type, clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }], selector: { app: 'web' } },
  ...(lbIP ? { status: { loadBalancer: { ingress: [{ ip: lbIP, ipMode: 'VIP' }] } } } : {}),
})
const slice = (svcName: string, eps: { ip: string; pod: string; node: string; ready?: boolean }[]): EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { namespace: 'default', name: `${svcName}-abc`, labels: { 'kubernetes.io/service-name': svcName } },
  endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node, targetRef: { kind: 'Pod', namespace: 'default', name: e.pod }, conditions: { ready: e.ready ?? true } })),
})
const speaker = (nodeName: string, renewTime: string): Lease => ({
  apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
  metadata: { namespace: 'kube-system', name: `netkube-lb-speaker-${nodeName}`, labels: { 'netkube.io/lb-speaker': 'true' } },
  spec: { holderIdentity: nodeName, renewTime },
})

t.test('the overlay lease round-trips through flannel\'s Node annotations', async (t) => {
  const a = leaseAnnotations({ backendType: 'vxlan', publicIP: '192.168.56.11', vni: 1, vtepMAC: '0A:58:c0:a8:38:0b' })
  t.same(a, {
    'flannel.alpha.coreos.com/backend-type': 'vxlan',
    'flannel.alpha.coreos.com/public-ip': '192.168.56.11',
    'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"0A:58:c0:a8:38:0b"}',
  }, 'flannel\'s names and JSON')
  t.same(leaseFromAnnotations(a), { backendType: 'vxlan', publicIP: '192.168.56.11', vni: 1, vtepMAC: '0a:58:c0:a8:38:0b' })
  t.same(leaseFromAnnotations(leaseAnnotations({ backendType: 'host-gw', publicIP: '10.0.0.1' })), { backendType: 'host-gw', publicIP: '10.0.0.1' })
  t.equal(leaseFromAnnotations({}), undefined, 'no annotations: no lease')
  t.same(leaseFromAnnotations({ ...a, 'flannel.alpha.coreos.com/backend-data': '{broken' }), { backendType: 'vxlan', publicIP: '192.168.56.11' }, 'garbage backend-data: the lease without a VTEP')
})

t.test('nodes: pod CIDR, VTEP, and the routes every other node\'s lease implies', async (t) => {
  const m = new ClusterModel()
  m.apply('nodes', 'ADDED', node('node2', '192.168.56.12', '10.244.2.0/24', 'aa:00:00:00:00:02'))
  m.apply('nodes', 'ADDED', node('node1', '192.168.56.11', '10.244.1.0/24', 'aa:00:00:00:00:01'))
  m.apply('nodes', 'ADDED', node('node3', '192.168.56.13', '10.244.3.0/24', undefined, 'False'))
  const v = m.view()
  t.same(v.nodes.map((n) => n.name), ['node1', 'node2', 'node3'], 'sorted by name')
  const n1 = v.nodes[0]!
  t.match(n1, { ip: '192.168.56.11', podCIDR: '10.244.1.0/24', backend: 'vxlan', vtepMAC: 'aa:00:00:00:00:01', vni: 1, ready: true })
  t.same(n1.routes, [{ dst: '10.244.2.0/24', via: '10.244.2.0 dev flannel.1 onlink', node: 'node2', fdb: 'aa:00:00:00:00:02 dst 192.168.56.12' }], 'node3 publishes no lease: no route to it')
  t.same(v.nodes[2]!.routes, [], 'a node without a lease has no overlay routes')
  t.equal(v.nodes[2]!.ready, false)
  m.apply('nodes', 'DELETED', node('node2', '192.168.56.12', '10.244.2.0/24'))
  t.same(m.view().nodes[0]!.routes, [], 'deleted node: its route goes')
})

t.test('pods: phase (Terminating while deleted), IP, node, first port', async (t) => {
  const m = new ClusterModel()
  m.apply('pods', 'ADDED', pod('web-1', 'node1', '10.244.1.5'))
  m.apply('pods', 'ADDED', pod('pending', undefined, undefined, 'Pending'))
  t.match(m.view().pods, [{ key: 'default/pending', phase: 'Pending', node: undefined }, { key: 'default/web-1', ip: '10.244.1.5', node: 'node1', phase: 'Running', ready: true, port: 8080 }])
  m.apply('pods', 'MODIFIED', pod('web-1', 'node1', '10.244.1.5', 'Running', { deletionTimestamp: '2026-01-01T00:00:00Z' }))
  t.equal(m.view().pods[1]!.phase, 'Terminating', 'kubectl says Terminating')
  m.apply('pods', 'DELETED', pod('web-1', 'node1'))
  t.same(m.view().pods.map((p) => p.key), ['default/pending'])
})

t.test('services: endpoints from their slices, with pods and readiness', async (t) => {
  const m = new ClusterModel()
  m.apply('services', 'ADDED', svc('web'))
  m.apply('endpointslices', 'ADDED', slice('web', [{ ip: '10.244.2.3', pod: 'web-2', node: 'node2', ready: false }, { ip: '10.244.1.5', pod: 'web-1', node: 'node1' }]))
  m.apply('endpointslices', 'ADDED', slice('other', [{ ip: '10.244.9.9', pod: 'x', node: 'node1' }]))
  const s = m.view().services[0]!
  t.match(s, { key: 'default/web', type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ port: 80, protocol: 'TCP', targetPort: '8080' }] })
  t.same(s.endpoints, [
    { ip: '10.244.1.5', ready: true, pod: 'default/web-1', node: 'node1' },
    { ip: '10.244.2.3', ready: false, pod: 'default/web-2', node: 'node2' },
  ], 'sorted by IP; the other Service\'s slice is not mixed in')
  m.apply('endpointslices', 'DELETED', slice('web', []))
  t.same(m.view().services[0]!.endpoints, [], 'slice gone: no endpoints')
})

t.test('LoadBalancer IPs: the announcer is the rendezvous winner among live speakers', async (t) => {
  const m = new ClusterModel({ speakerLeaseMs: 1000 })
  for (const [n, i] of [['node1', 1], ['node2', 2], ['node3', 3]] as const) m.apply('nodes', 'ADDED', node(n, `192.168.56.1${i}`, `10.244.${i}.0/24`))
  m.apply('services', 'ADDED', svc('edge', 'LoadBalancer', '192.168.56.200'))
  t.same(m.view(0).services[0]!.loadBalancer, [{ ip: '192.168.56.200' }], 'no speaker seen: no announcer')
  for (const n of ['node1', 'node2', 'node3']) m.apply('leases', 'ADDED', speaker(n, 't0'), 0)
  const all = rendezvousWinner('192.168.56.200', ['node1', 'node2', 'node3'])!
  t.same(m.view(500).services[0]!.loadBalancer, [{ ip: '192.168.56.200', announcer: all }])
  t.same(m.view(500).speakers.map((s) => s.live), [true, true, true])
  // the winner stops renewing; the others go on
  for (const n of ['node1', 'node2', 'node3'].filter((x) => x !== all)) m.apply('leases', 'MODIFIED', speaker(n, 't1'), 900)
  m.apply('leases', 'MODIFIED', speaker(all, 't0'), 900)
  const rest = rendezvousWinner('192.168.56.200', ['node1', 'node2', 'node3'].filter((x) => x !== all))!
  const v = m.view(1500)
  t.same(v.services[0]!.loadBalancer, [{ ip: '192.168.56.200', announcer: rest }], 'a silent speaker (renewTime unchanged for a lease) hands over')
  t.equal(v.speakers.find((s) => s.node === all)!.live, false)
  m.apply('leases', 'ADDED', { ...speaker('nodeX', 't'), metadata: { namespace: 'default', name: 'netkube-lb-speaker-nodeX' } }, 1500)
  t.equal(m.view(1500).speakers.length, 3, 'a Lease outside kube-system is no speaker')
})

t.test('policies: selector and rule counts, types defaulted as upstream does', async (t) => {
  const m = new ClusterModel()
  const np = (name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'default', name }, spec })
  m.apply('networkpolicies', 'ADDED', np('deny-all', { podSelector: {} }))
  m.apply('networkpolicies', 'ADDED', np('web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{}], egress: [{}, {}] }))
  t.same(m.view().policies, [
    { key: 'default/deny-all', namespace: 'default', name: 'deny-all', podSelector: '(all pods)', policyTypes: ['Ingress'], ingressRules: 0, egressRules: 0 },
    { key: 'default/web', namespace: 'default', name: 'web', podSelector: 'app=web', policyTypes: ['Ingress', 'Egress'], ingressRules: 1, egressRules: 2 },
  ])
})

t.test('feed: one message per burst, none when nothing visible changed, revision counts', async (t) => {
  let now = 0
  const feed = new ViewFeed(new ClusterModel(), { debounceMs: 5, tickMs: 0, now: () => now })
  t.teardown(() => feed.stop())
  const got: ClusterView[] = []
  feed.subscribe((v) => got.push(v))
  feed.apply('pods', 'ADDED', pod('a', 'node1', '10.244.1.2'))
  feed.apply('pods', 'ADDED', pod('b', 'node1', '10.244.1.3'))
  await new Promise((r) => setTimeout(r, 30))
  t.equal(got.length, 1, 'two events within the debounce: one view')
  t.same(got[0]!.pods.map((p) => p.name), ['a', 'b'])
  t.equal(got[0]!.revision, 1)
  feed.apply('pods', 'MODIFIED', pod('a', 'node1', '10.244.1.2'))
  await new Promise((r) => setTimeout(r, 30))
  t.equal(got.length, 1, 'an update that changes nothing shown is not sent')
  now = 10
  feed.apply('leases', 'MODIFIED', speaker('node1', 'x'))
  await new Promise((r) => setTimeout(r, 30))
  t.equal(got.length, 2, 'a new speaker is visible')
  feed.apply('leases', 'MODIFIED', speaker('node1', 'y'))
  await new Promise((r) => setTimeout(r, 30))
  t.equal(got.length, 2, 'its renewals are not')
  t.equal(feed.current().revision, 2)
  t.equal(feed.current().synced, false, 'not synced until told')
  feed.markSynced()
  t.equal(feed.current().synced, true)
})
