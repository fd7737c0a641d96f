// Layout of the map (pure): columns per node with their pods, Services above with a line per
// endpoint to its pod, unscheduled pods in a column of their own; a trace's hops placed on
// their nodes and the wire between them; what a click on a Service or a pod asks trace() for.
import t from 'tap'
import { layout, tracePath, traceTarget, SIZES } from '../../src/ui/client/layout.js'
import type { ClusterView, PodView, ServiceView } from '../../src/ui/view.js'
import type { TraceResult } from '../../src/trace/types.js'

const pod = (name: string, node: string | undefined, ip: string): PodView => ({ key: `default/${name}`, namespace: 'default', name, ip, phase: 'Running', ready: true, hostNetwork: false, labels: {}, ...(node ? { node } : {}) })
const web: ServiceView = {
  key: 'default/web', namespace: 'default', name: 'web', type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ port: 80, protocol: 'TCP' }],
  endpoints: [{ ip: '10.244.2.2', ready: true, pod: 'default/web-b' }, { ip: '10.244.1.3', ready: false }], loadBalancer: [],
}
const view: ClusterView = {
  revision: 1, synced: true, policies: [], speakers: [],
  nodes: ['node1', 'node2', 'node3'].map((name) => ({ name, ready: true, routes: [] })),
  pods: [pod('client', 'node1', '10.244.1.2'), pod('web-a', 'node1', '10.244.1.3'), pod('web-b', 'node2', '10.244.2.2'), pod('new', undefined, '')],
  services: [web],
}

t.test('columns, pods inside them, services above, endpoint lines', async (t) => {
  const l = layout(view)
  t.same(l.nodes.map((n) => n.name), ['node1', 'node2', 'node3'])
  const [n1, n2, n3] = l.nodes
  t.ok(n1!.x < n2!.x && n2!.x < n3!.x, 'left to right in name order')
  t.ok(l.nodes.every((n) => n.h === n1!.h), 'one height for all columns')
  for (const p of l.pods) {
    const pv = view.pods.find((x) => x.key === p.key)!
    const col = pv.node ? l.nodes.find((n) => n.name === pv.node)! : l.unscheduled!
    t.ok(p.x >= col.x && p.x + p.w <= col.x + col.w && p.y >= col.y + SIZES.nodeHeader && p.y + p.h <= col.y + col.h, `${p.key} inside its column`)
  }
  t.ok(l.unscheduled && l.unscheduled.x > n3!.x, 'the unscheduled pod gets a column right of the nodes')
  const s = l.services[0]!
  t.ok(s.y + s.h < n1!.y, 'services above the nodes')
  t.same(l.lines.map((x) => [x.to, x.ready]), [['default/web-b', true], ['default/web-a', false]], 'one line per endpoint: by targetRef, else by pod IP')
  const a = l.pods.find((p) => p.key === 'default/web-a')!
  t.match(l.lines[1], { x1: s.x + s.w / 2, y1: s.y + s.h, x2: a.x + a.w / 2, y2: a.y })
  t.ok(l.width >= n3!.x + n3!.w && l.height >= n1!.y + n1!.h, 'the canvas holds everything')
})

t.test('many services wrap into rows no wider than the columns', async (t) => {
  const many = { ...view, services: Array.from({ length: 9 }, (_, i) => ({ ...web, key: `default/s${i}`, name: `s${i}`, endpoints: [] })) }
  const l = layout(many)
  const right = Math.max(...l.nodes.map((n) => n.x + n.w), l.unscheduled!.x + l.unscheduled!.w)
  t.ok(l.services.every((s) => s.x + s.w <= right + 1), 'no box beyond the last column')
  t.ok(new Set(l.services.map((s) => s.y)).size > 1, 'more than one row')
  t.ok(Math.max(...l.services.map((s) => s.y + s.h)) < l.nodes[0]!.y, 'all rows above the nodes')
})

t.test('a cross-node trace: source pod, hops on node1, the wire, hops on node2, destination', async (t) => {
  const l = layout(view)
  const tr: TraceResult = {
    request: { from: 'default/client', to: 'web' },
    from: { kind: 'pod', namespace: 'default', name: 'client', node: 'node1' },
    to: { kind: 'service', namespace: 'default', name: 'web' },
    outcome: 'delivered',
    hops: [
      { stage: 'dns', kind: 'resolv', summary: 'web → web.default.svc.cluster.local' },
      { stage: 'source', node: 'node1', kind: 'service-map', summary: '10.96.0.10:80 → svc chain' },
      { stage: 'source', node: 'node1', kind: 'endpoint', summary: '→ 10.244.2.2:8080' },
      { stage: 'wire', kind: 'vxlan', summary: 'VNI 1 192.168.56.11 → 192.168.56.12' },
      { stage: 'destination', node: 'node2', kind: 'veth', summary: 'veth of web-b' },
    ],
  }
  const pts = tracePath(l, view, tr)
  t.same(pts.map((p) => p.hop), [-1, 0, 1, 2, 3, 4, -1], 'from, every hop in order, to')
  const [n1, n2] = l.nodes
  const inCol = (p: { x: number; y: number }, n: typeof n1): boolean => p.x >= n!.x && p.x <= n!.x + n!.w && p.y >= n!.y && p.y <= n!.y + SIZES.nodeHeader
  t.ok(inCol(pts[2]!, n1) && inCol(pts[3]!, n1), 'source hops in node1\'s header')
  t.not(pts[2]!.y, pts[3]!.y, 'two hops on one node are not drawn on top of each other')
  t.ok(pts[4]!.x > n1!.x + n1!.w && pts[4]!.x < n2!.x, 'the wire hop between node1 and node2')
  t.ok(inCol(pts[5]!, n2), 'destination hop in node2\'s header')
  const wb = l.pods.find((p) => p.key === 'default/web-b')!
  t.same([pts[6]!.x, pts[6]!.y], [wb.x + wb.w / 2, wb.y + wb.h / 2], 'a Service trace ends at its endpoint pod on the last hop\'s node')
  const svc = l.services[0]!
  const onNode3 = tracePath(l, view, { ...tr, hops: [{ stage: 'destination', node: 'node3', kind: 'reject', summary: '' }] })
  t.same(onNode3.at(-1), { x: svc.x + svc.w / 2, y: svc.y + svc.h / 2, hop: -1, label: 'to' }, 'no endpoint there: the Service box')
  const back = tracePath(l, view, { ...tr, from: { kind: 'pod', namespace: 'default', name: 'web-b', node: 'node2' }, hops: [{ stage: 'source', node: 'node2', kind: 'route', summary: '' }, { stage: 'wire', kind: 'vxlan', summary: '' }, { stage: 'destination', node: 'node1', kind: 'veth', summary: '' }] })
  t.ok(back[2]!.x > n1!.x + n1!.w && back[2]!.x < n2!.x, 'right to left: the wire is still between the two columns')
})

t.test('what a click traces', async (t) => {
  t.same(traceTarget(web), { to: 'web.default.svc.cluster.local', port: 80 }, 'a Service by its DNS name and first port')
  t.same(traceTarget({ ...pod('web-b', 'node2', '10.244.2.2'), port: 8080 }), { to: 'default/web-b', port: 8080 })
  t.same(traceTarget(pod('x', 'node2', '10.244.2.9')), { to: 'default/x' }, 'a pod without ports: no port')
})
