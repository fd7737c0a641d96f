// Topology hints the EndpointSlice controller writes: trafficDistribution (KEP-4444) hints
// each ready endpoint for its own zone; topology-mode Auto (KEP-2433) allocates by zone CPU
// with upstream's overload threshold, or removes every hint and says why (Events).
import t from 'tap'
import type { Endpoint, Node, Pod, Service } from '../../src/api/types.js'
import { planSlices, reconcileSlices, type SliceTopology } from '../../src/controllers/endpoints-core.js'
import { allocations, autoHints, cpuRatiosByZone, hintEvent, MSG, preferCloseHints, reconcileHints } from '../../src/controllers/topology-hints-core.js'

const node = (name: string, zone: string | undefined, cpu = '2', o: { ready?: boolean; controlPlane?: boolean } = {}): Node => ({
  metadata: { name, labels: { ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}), ...(o.controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {}) } },
  status: { allocatable: { cpu }, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
})
const ep = (ip: string, zone: string | undefined, o: { ready?: boolean; node?: string } = {}): Endpoint => ({
  addresses: [ip],
  conditions: { ready: o.ready ?? true, serving: o.ready ?? true, terminating: false },
  nodeName: o.node ?? `n-${ip}`,
  ...(zone ? { zone } : {}),
})
const hints = (eps: Endpoint[]): (string | undefined)[] => eps.map((e) => e.hints?.forZones?.map((z) => z.name).join('+'))
const svc = (o: { annotations?: Record<string, string>; trafficDistribution?: string } = {}): Service => ({
  metadata: { name: 'web', namespace: 'd', uid: 'svc-uid', ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...(o.trafficDistribution ? { trafficDistribution: o.trafficDistribution } : {}) },
})
const AUTO = { annotations: { 'service.kubernetes.io/topology-mode': 'Auto' } }

t.test('cpuRatiosByZone: ready, non-control-plane nodes; any of them without zone or CPU: none', async (t) => {
  const lab = [node('node1', 'zone-a'), node('node2', 'zone-b'), node('node3', 'zone-a')]
  t.same([...cpuRatiosByZone(lab)!].map(([z, r]) => [z, r.toFixed(3)]), [['zone-a', '0.667'], ['zone-b', '0.333']])
  t.same([...cpuRatiosByZone([...lab, node('cp', undefined, '8', { controlPlane: true }), node('down', undefined, '8', { ready: false })])!].map(([z]) => z), ['zone-a', 'zone-b'], 'control plane and not-ready nodes are ignored')
  t.equal(cpuRatiosByZone([...lab, node('bare', undefined)]), undefined, 'a ready node without a zone')
  t.equal(cpuRatiosByZone([...lab, node('nocpu', 'zone-c', '0')]), undefined, 'a ready node without CPU')
  t.equal(cpuRatiosByZone([node('node1', 'zone-a'), node('node3', 'zone-a', '500m')]), undefined, 'one zone only')
})

t.test('allocations: upstream minimums and the reasons for none', async (t) => {
  const ratios = new Map([['zone-a', 2 / 3], ['zone-b', 1 / 3]])
  const a = allocations(ratios, 3)
  t.same(typeof a === 'string' ? a : [...a].map(([z, v]) => [z, v.minimum, v.maximum]), [['zone-a', 2, 2], ['zone-b', 1, 1]])
  t.equal(allocations(ratios, 1), 'Insufficient number of endpoints (1 endpoints, 2 zones)')
  t.equal(allocations(new Map([['zone-a', 0.9], ['zone-b', 0.1]]), 2), 'Unable to allocate minimum required endpoints to each zone without exceeding overload threshold (2 endpoints, 2 zones)')
  t.equal(allocations(undefined, 5), MSG.insufficientNodeInfo)
})

t.test('Auto hints (table)', async (t) => {
  const ab = new Map([['zone-a', 0.5], ['zone-b', 0.5]])
  const cases: { name: string; eps: Endpoint[]; ratios?: Map<string, number>; want: (string | undefined)[]; error?: string }[] = [
    { name: 'balanced: each endpoint serves its own zone', eps: [ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-b')], ratios: ab, want: ['zone-a', 'zone-b'] },
    { name: 'over-served zone gives an endpoint away', eps: [ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-a'), ep('10.0.0.3', 'zone-a'), ep('10.0.0.4', 'zone-b')], ratios: ab, want: ['zone-b', 'zone-a', 'zone-a', 'zone-b'] },
    { name: 'not-ready endpoints get no hint and do not count', eps: [ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', 'zone-b'), ep('10.0.0.3', 'zone-b', { ready: false })], ratios: ab, want: ['zone-a', 'zone-b', undefined] },
    { name: 'an endpoint without a zone: no hints at all', eps: [ep('10.0.0.1', 'zone-a'), ep('10.0.0.2', undefined)], ratios: ab, want: [undefined, undefined], error: MSG.noZone },
    { name: 'fewer endpoints than zones: none', eps: [ep('10.0.0.1', 'zone-a')], ratios: ab, want: [undefined], error: 'Insufficient number of endpoints (1 endpoints, 2 zones)' },
    { name: 'no node information: none, stale hints removed', eps: [{ ...ep('10.0.0.1', 'zone-a'), hints: { forZones: [{ name: 'zone-a' }] } }, ep('10.0.0.2', 'zone-b')], want: [undefined, undefined], error: MSG.insufficientNodeInfo },
  ]
  for (const c of cases) {
    const r = autoHints(c.eps, c.ratios)
    t.same({ hints: hints(r.endpoints), error: r.error }, { hints: c.want, error: c.error }, c.name)
  }
})

t.test('PreferClose / PreferSameNode hints; no policy removes hints', async (t) => {
  const eps = [ep('10.0.0.1', 'zone-a', { node: 'node1' }), ep('10.0.0.2', undefined, { node: 'node2' }), ep('10.0.0.3', 'zone-b', { ready: false })]
  const close = preferCloseHints(eps, false)
  t.same(hints(close), ['zone-a', undefined, undefined], 'own zone; none without a zone; not-ready untouched')
  t.same(preferCloseHints(eps, true)[0]!.hints, { forZones: [{ name: 'zone-a' }], forNodes: [{ name: 'node1' }] })
  t.same(preferCloseHints(eps, true)[1]!.hints, { forNodes: [{ name: 'node2' }] })
  t.same(hints(reconcileHints(svc({ trafficDistribution: 'PreferClose' }), eps, undefined).endpoints), ['zone-a', undefined, undefined])
  t.same(hints(reconcileHints(svc(), close, undefined).endpoints), [undefined, undefined, undefined], 'neither Auto nor trafficDistribution: hints removed')
  // the annotation wins over the field (upstream: trafficDistribution only when hints are not enabled)
  const both = reconcileHints(svc({ ...AUTO, trafficDistribution: 'PreferClose' }), eps, undefined)
  t.same(hints(both.endpoints), [undefined, undefined, undefined])
  t.same(both.auto, { enabled: false, reason: MSG.insufficientNodeInfo })
  t.same(reconcileHints(svc({ annotations: { 'service.kubernetes.io/topology-aware-hints': 'auto' } }), eps, undefined).auto?.enabled, false, 'the deprecated annotation still counts')
})

t.test('hint Events: Enabled once, Disabled on each new reason', async (t) => {
  t.same(hintEvent(undefined, { enabled: true }, 'IPv4'), { type: 'Normal', reason: 'TopologyAwareHintsEnabled', message: 'Topology Aware Hints has been enabled, addressType: IPv4' })
  t.equal(hintEvent({ enabled: true }, { enabled: true }, 'IPv4'), undefined)
  t.same(hintEvent({ enabled: true }, { enabled: false, reason: MSG.noZone }, 'IPv4'), { type: 'Warning', reason: 'TopologyAwareHintsDisabled', message: 'One or more endpoints do not have a zone specified, addressType: IPv4' })
  t.equal(hintEvent({ enabled: false, reason: MSG.noZone }, { enabled: false, reason: MSG.noZone }, 'IPv4'), undefined)
  t.equal(hintEvent(undefined, undefined, 'IPv4'), undefined)
})

t.test('planSlices: endpoints carry their node zone and hints; a converged Service needs no writes', async (t) => {
  const pods: Pod[] = ['node1', 'node2', 'node3'].map((n, i) => ({
    metadata: { name: `web-${i}`, namespace: 'd', uid: `u${i}`, labels: { app: 'web' } },
    spec: { nodeName: n, containers: [{ name: 'c' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], podIP: `10.244.${i + 1}.5` },
  }))
  const nodes = [node('node1', 'zone-a'), node('node2', 'zone-b'), node('node3', 'zone-a')]
  const zones = new Map(nodes.map((n) => [n.metadata.name!, n.metadata.labels!['topology.kubernetes.io/zone']]))
  const topo: SliceTopology = { zoneOf: (n) => zones.get(n), ratios: cpuRatiosByZone(nodes) }
  const close = planSlices(svc({ trafficDistribution: 'PreferClose' }), pods, [], topo)
  const created = close.actions.map((a) => (a.kind === 'create' ? a.slice : undefined))[0]!
  t.same(created.endpoints.map((e) => [e.nodeName, e.zone, e.hints?.forZones?.[0]?.name]), [['node1', 'zone-a', 'zone-a'], ['node2', 'zone-b', 'zone-b'], ['node3', 'zone-a', 'zone-a']])
  t.equal(close.auto, undefined)
  const stored = [{ ...created, metadata: { ...created.metadata, name: 'web-x' } }]
  t.same(reconcileSlices(svc({ trafficDistribution: 'PreferClose' }), pods, stored, topo), [], 'converged: nothing to write')
  const off = reconcileSlices(svc(), pods, stored, topo)
  t.equal(off.length, 1, 'the field removed: one update')
  t.same(off[0]!.kind === 'update' && off[0]!.slice.endpoints.map((e) => e.hints), [undefined, undefined, undefined], 'every hint removed, zones kept')
  const auto = planSlices(svc(AUTO), pods, [], topo)
  t.same(auto.auto, { enabled: true }, '2:1 endpoints over 2:1 CPU: Auto can hint')
  t.same(auto.actions[0]!.kind === 'create' && hints(auto.actions[0]!.slice.endpoints), ['zone-a', 'zone-b', 'zone-a'])
  t.same(planSlices(svc(AUTO), pods.slice(0, 1), [], topo).auto, { enabled: false, reason: 'Insufficient number of endpoints (1 endpoints, 2 zones)' })
})
