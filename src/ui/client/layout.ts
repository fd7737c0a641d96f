// Where everything goes on the map, from a ClusterView: pure, shared by the page and the tests.
// Nodes are columns side by side (header: name, IP, pod CIDR, VTEP); their pods are stacked in
// them; Services are a row of boxes above the columns, with a line to each endpoint's pod.
// A trace becomes a polyline through its hops: source pod → source node → the wire between
// the columns → destination node → destination pod/service.
import type { ClusterView, PodView, ServiceView } from '../view.js'
import type { Hop, TraceResult } from '../../trace/types.js'

export interface Box {
  x: number
  y: number
  w: number
  h: number
}
export interface PodBox extends Box {
  key: string
}
export interface NodeBox extends Box {
  name: string
}
export interface ServiceBox extends Box {
  key: string
}
export interface Line {
  from: string
  to: string
  x1: number
  y1: number
  x2: number
  y2: number
  ready: boolean
}
export interface Layout {
  width: number
  height: number
  nodes: NodeBox[]
  pods: PodBox[]
  services: ServiceBox[]
  lines: Line[]
  /** Pods on no (known) node yet: pending, in their own column at the right. */
  unscheduled: Box | undefined
}

export const SIZES = {
  margin: 16,
  colW: 260,
  colGap: 60,
  svcW: 180,
  svcH: 58,
  svcGap: 14,
  svcRowGap: 70,
  nodeHeader: 96,
  podH: 40,
  podGap: 8,
}

export function layout(v: ClusterView): Layout {
  const S = SIZES
  const nodes: NodeBox[] = []
  const pods: PodBox[] = []
  const services: ServiceBox[] = []
  const lines: Line[] = []
  const columns = v.nodes.map((n) => n.name)
  const unsched = v.pods.filter((p) => !p.node || !columns.includes(p.node))
  const cols = columns.length + (unsched.length > 0 ? 1 : 0)
  const colsWidth = Math.max(1, cols) * S.colW + Math.max(0, cols - 1) * S.colGap
  // Services wrap into rows as wide as the columns (at least one box per row)
  const perRow = Math.max(1, Math.floor((colsWidth + S.svcGap) / (S.svcW + S.svcGap)))
  const svcRows = Math.ceil(v.services.length / perRow)
  v.services.forEach((s, i) => {
    const r = Math.floor(i / perRow)
    const c = i % perRow
    services.push({ key: s.key, x: S.margin + c * (S.svcW + S.svcGap), y: S.margin + r * (S.svcH + S.svcGap), w: S.svcW, h: S.svcH })
  })
  const top = S.margin + (svcRows > 0 ? svcRows * (S.svcH + S.svcGap) - S.svcGap + S.svcRowGap : 0)
  const podsIn = (list: PodView[], x: number): number => {
    list.forEach((p, i) => pods.push({ key: p.key, x: x + 8, y: top + S.nodeHeader + i * (S.podH + S.podGap), w: S.colW - 16, h: S.podH }))
    return S.nodeHeader + list.length * (S.podH + S.podGap) + 8
  }
  let tallest = S.nodeHeader
  columns.forEach((name, i) => {
    const x = S.margin + i * (S.colW + S.colGap)
    const h = podsIn(
      v.pods.filter((p) => p.node === name),
      x,
    )
    tallest = Math.max(tallest, h)
    nodes.push({ name, x, y: top, w: S.colW, h })
  })
  let unscheduled: Box | undefined
  if (unsched.length > 0) {
    const x = S.margin + columns.length * (S.colW + S.colGap)
    const h = podsIn(unsched, x)
    tallest = Math.max(tallest, h)
    unscheduled = { x, y: top, w: S.colW, h }
  }
  // columns share one height so the wire between them is one straight band
  for (const n of nodes) n.h = tallest
  if (unscheduled) unscheduled.h = tallest
  const podByKey = new Map(pods.map((p) => [p.key, p]))
  const podByIp = new Map(v.pods.filter((p) => p.ip && !p.hostNetwork).map((p) => [p.ip!, p.key]))
  v.services.forEach((s, i) => {
    const sb = services[i]!
    for (const ep of s.endpoints) {
      const pk = ep.pod ?? podByIp.get(ep.ip)
      const pb = pk ? podByKey.get(pk) : undefined
      if (!pb) continue
      lines.push({ from: s.key, to: pb.key, x1: sb.x + sb.w / 2, y1: sb.y + sb.h, x2: pb.x + pb.w / 2, y2: pb.y, ready: ep.ready })
    }
  })
  return {
    width: S.margin * 2 + Math.max(colsWidth, services.length > 0 ? Math.min(perRow, services.length) * (S.svcW + S.svcGap) - S.svcGap : 0),
    height: top + tallest + S.margin,
    nodes,
    pods,
    services,
    lines,
    unscheduled,
  }
}

export interface PathPoint {
  x: number
  y: number
  /** Index into the trace's hops, or -1 for the endpoints (source pod, destination). */
  hop: number
  label: string
}

/**
 * The drawn path of a trace: the source first, then one point per hop — a node's hops stacked
 * down its column's header band, `wire` hops half-way between the two nodes' columns, DNS
 * beside the source — then the destination: its pod; for a Service, its endpoint pod on the
 * node the last hop was on (else the Service's box).
 */
export function tracePath(l: Layout, v: ClusterView, t: TraceResult): PathPoint[] {
  const pts: PathPoint[] = []
  const nodeBox = new Map(l.nodes.map((n) => [n.name, n]))
  const podBox = new Map(l.pods.map((p) => [p.key, p]))
  const svcBox = new Map(l.services.map((s) => [s.key, s]))
  const center = (b: Box): { x: number; y: number } => ({ x: b.x + b.w / 2, y: b.y + b.h / 2 })
  const endpointBox = (e: TraceResult['from']): Box | undefined => {
    if (e.kind === 'pod') return podBox.get(`${e.namespace}/${e.name}`)
    if (e.kind === 'service') return svcBox.get(`${e.namespace}/${e.name}`)
    if (e.kind === 'node') return nodeBox.get(e.name)
    if (e.kind === 'ip') {
      const p = v.pods.find((x) => x.ip === e.ip && !x.hostNetwork)
      const s = v.services.find((x) => x.clusterIP === e.ip)
      return p ? podBox.get(p.key) : s ? svcBox.get(s.key) : undefined
    }
    return undefined
  }
  const src = endpointBox(t.from)
  if (src) pts.push({ ...center(src), hop: -1, label: 'from' })
  // per node, how many hops were already placed there: they go down its header band
  const placed = new Map<string, number>()
  let lastNode: string | undefined = t.from.kind === 'pod' ? t.from.node : t.from.kind === 'node' ? t.from.name : undefined
  t.hops.forEach((h: Hop, i) => {
    const nb = h.node ? nodeBox.get(h.node) : undefined
    if (h.stage === 'wire') {
      const a = lastNode ? nodeBox.get(lastNode) : undefined
      const b = nextNode(t.hops, i) ?? (t.to.kind === 'pod' ? t.to.node : undefined)
      const bb = b ? nodeBox.get(b) : undefined
      if (a && bb) {
        const y = a.y + SIZES.nodeHeader / 2
        // half-way across the gap between the two columns, whichever side the other one is on
        const x = bb.x >= a.x ? (a.x + a.w + bb.x) / 2 : (bb.x + bb.w + a.x) / 2
        pts.push({ x, y, hop: i, label: h.kind })
        return
      }
    }
    if (nb) {
      const n = placed.get(nb.name) ?? 0
      placed.set(nb.name, n + 1)
      // down the right edge of the header, clear of the node's name and addresses
      pts.push({ x: nb.x + nb.w - 16 - (n % 2) * 20, y: nb.y + 14 + Math.min(n, 8) * 9, hop: i, label: h.kind })
      lastNode = nb.name
      return
    }
    // no node (DNS, outside): beside the source
    const ref = pts[pts.length - 1] ?? { x: SIZES.margin, y: SIZES.margin }
    pts.push({ x: ref.x + 10, y: ref.y - 10, hop: i, label: h.kind })
  })
  // A Service's packets end in one of its pods: the endpoint on the node the last hop was on
  let dst = endpointBox(t.to)
  if (t.to.kind === 'service' && lastNode) {
    const key = `${t.to.namespace}/${t.to.name}`
    const ep = v.services.find((s) => s.key === key)?.endpoints.find((e) => e.pod && (e.node ?? v.pods.find((p) => p.key === e.pod)?.node) === lastNode)
    const pb = ep?.pod ? podBox.get(ep.pod) : undefined
    if (pb) dst = pb
  }
  if (dst) pts.push({ ...center(dst), hop: -1, label: 'to' })
  return pts
}

function nextNode(hops: readonly Hop[], i: number): string | undefined {
  for (let k = i + 1; k < hops.length; k++) if (hops[k]!.node) return hops[k]!.node
  return undefined
}

/** What a click on a Service asks trace() for: its DNS name (the trace then starts with DNS) and first port. */
export function traceTarget(s: ServiceView | PodView, domain = 'cluster.local'): { to: string; port?: number } {
  if ('type' in s) {
    const port = s.ports[0]?.port
    return { to: `${s.name}.${s.namespace}.svc.${domain}`, ...(port !== undefined ? { port } : {}) }
  }
  return { to: `${s.namespace}/${s.name}`, ...(s.port !== undefined ? { port: s.port } : {}) }
}
