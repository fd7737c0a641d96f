// The live map in the browser: draws each ClusterView the server streams (/api/watch), and a
// trace (/api/trace) as a path across it. No framework: the whole SVG is rebuilt per view (a
// lab is tens of boxes), selection and the last trace survive the rebuild.
import { layout, tracePath, traceTarget, type Layout } from './layout.js'
import type { ClusterView, PodView, ServiceView } from '../view.js'
import type { TraceResult } from '../../trace/types.js'

const SVG = 'http://www.w3.org/2000/svg'
const $ = (id: string): HTMLElement => document.getElementById(id)!

type Attrs = Record<string, string | number | undefined>
function svg(tag: string, attrs: Attrs = {}, ...kids: (Node | string)[]): SVGElement {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, String(v))
  for (const k of kids) e.append(k)
  return e
}
function html(tag: string, attrs: Attrs = {}, ...kids: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, String(v))
  for (const k of kids) e.append(k)
  return e
}
const text = (x: number, y: number, s: string, cls?: string): SVGElement => svg('text', { x, y, class: cls }, s)
/** Long names are cut to their box; the full text is the tooltip. */
const clipped = (x: number, y: number, s: string, max: number, cls?: string): SVGElement =>
  s.length <= max ? text(x, y, s, cls) : svg('text', { x, y, class: cls }, `${s.slice(0, max - 1)}…`, svg('title', {}, s))

interface State {
  view: ClusterView | undefined
  layout: Layout | undefined
  /** The pod a trace starts from. */
  source: string | undefined
  target: string | undefined
  trace: TraceResult | undefined
}
const st: State = { view: undefined, layout: undefined, source: undefined, target: undefined, trace: undefined }

function render(): void {
  const v = st.view
  if (!v) return
  const l = layout(v)
  st.layout = l
  const root = $('svg') as unknown as SVGSVGElement
  root.replaceChildren()
  root.setAttribute('width', String(l.width))
  root.setAttribute('height', String(l.height))
  root.setAttribute('viewBox', `0 0 ${l.width} ${l.height}`)
  const podByKey = new Map(v.pods.map((p) => [p.key, p]))

  // endpoint lines first, under the boxes
  for (const ln of l.lines)
    root.append(svg('path', { class: `ep${ln.ready ? '' : ' notready'}`, 'data-from': ln.from, 'data-to': ln.to, d: `M${ln.x1},${ln.y1} C${ln.x1},${ln.y1 + 40} ${ln.x2},${ln.y2 - 40} ${ln.x2},${ln.y2}` }))

  for (const nb of l.nodes) {
    const n = v.nodes.find((x) => x.name === nb.name)!
    const g = svg('g', { class: `node${n.ready ? '' : ' notready'}`, 'data-node': n.name })
    g.append(svg('rect', { x: nb.x, y: nb.y, width: nb.w, height: nb.h, rx: 8 }))
    g.append(text(nb.x + 10, nb.y + 20, n.name, 'title'))
    g.append(text(nb.x + 10, nb.y + 38, `${n.ip ?? '?'}  ${n.ready ? 'Ready' : 'NotReady'}`, 'muted'))
    g.append(text(nb.x + 10, nb.y + 54, `pod CIDR ${n.podCIDR ?? '—'}`))
    const vtep = n.backend === 'vxlan' ? `VTEP ${n.vtepMAC ?? '?'} (VNI ${n.vni ?? 1})` : n.backend === 'host-gw' ? 'host-gw' : 'no overlay lease published'
    g.append(text(nb.x + 10, nb.y + 70, vtep, 'muted vtep'))
    g.append(text(nb.x + 10, nb.y + 86, `${n.routes.length} overlay route${n.routes.length === 1 ? '' : 's'}`, 'muted'))
    root.append(g)
  }
  if (l.unscheduled) {
    const u = l.unscheduled
    root.append(svg('g', { class: 'node unscheduled' }, svg('rect', { x: u.x, y: u.y, width: u.w, height: u.h, rx: 8 }), text(u.x + 10, u.y + 20, '(not scheduled)', 'title')))
  }
  for (const pb of l.pods) {
    const p = podByKey.get(pb.key)!
    const sel = pb.key === st.source || pb.key === st.target
    const g = svg('g', { class: `pod ${p.phase}${p.ready ? ' ready' : ''}${sel ? ' selected' : ''}`, 'data-pod': p.key, 'data-phase': p.phase })
    g.append(svg('rect', { x: pb.x, y: pb.y, width: pb.w, height: pb.h, rx: 5 }))
    g.append(clipped(pb.x + 8, pb.y + 16, p.namespace === 'default' ? p.name : `${p.namespace}/${p.name}`, 40))
    g.append(text(pb.x + 8, pb.y + 32, `${p.ip ?? 'no IP'}${p.hostNetwork ? ' (host)' : ''} · ${p.phase}`, 'muted'))
    g.addEventListener('click', () => clickPod(p))
    root.append(g)
  }
  v.services.forEach((s, i) => {
    const sb = l.services[i]!
    const sel = s.key === st.target
    const g = svg('g', { class: `svc${sel ? ' selected' : ''}`, 'data-service': s.key })
    g.append(svg('rect', { x: sb.x, y: sb.y, width: sb.w, height: sb.h, rx: 6 }))
    g.append(clipped(sb.x + 8, sb.y + 16, `${s.namespace === 'default' ? '' : s.namespace + '/'}${s.name} · ${s.type}`, 30))
    g.append(clipped(sb.x + 8, sb.y + 31, `${s.clusterIP ?? ''} ${s.ports.map((p) => `${p.port}/${p.protocol}`).join(',')}`, 30, 'muted'))
    const lb = s.loadBalancer.map((x) => `${x.ip}${x.announcer ? ' @' + x.announcer : ''}`).join(' ')
    g.append(text(sb.x + 8, sb.y + 46, lb ? `LB ${lb}` : `${s.endpoints.filter((e) => e.ready).length}/${s.endpoints.length} endpoints ready`, lb ? 'lb' : 'muted'))
    g.addEventListener('click', () => clickService(s))
    root.append(g)
  })
  if (st.trace) drawTrace(root, l, v, st.trace)
  renderPanels(v)
}

function drawTrace(root: SVGSVGElement, l: Layout, v: ClusterView, t: TraceResult): void {
  const pts = tracePath(l, v, t)
  if (pts.length === 0) return
  const g = svg('g', { class: 'trace', 'data-outcome': t.outcome })
  g.append(svg('polyline', { class: 'trace-path', points: pts.map((p) => `${p.x},${p.y}`).join(' ') }))
  for (const p of pts) {
    if (p.hop < 0) continue
    const h = t.hops[p.hop]!
    g.append(svg('g', { class: `hop ${h.verdict ?? ''}`, 'data-hop': p.hop, 'data-kind': h.kind }, svg('circle', { cx: p.x, cy: p.y, r: 8 }), svg('text', { x: p.x, y: p.y + 3, 'text-anchor': 'middle' }, String(p.hop + 1)), svg('title', {}, `${h.kind}: ${h.summary}`)))
  }
  root.append(g)
}

function renderPanels(v: ClusterView): void {
  const lbRows = v.services.flatMap((s) => s.loadBalancer.map((x) => html('tr', {}, html('td', {}, x.ip), html('td', {}, s.key), html('td', { class: 'announcer' }, x.announcer ?? '(no live speaker)'))))
  const speakers = v.speakers.map((s) => `${s.node}${s.live ? '' : ' (silent)'}`).join(', ')
  $('lb-body').replaceChildren(lbRows.length ? html('table', {}, ...lbRows) : html('div', { class: 'muted' }, 'no LoadBalancer IPs'), html('div', { class: 'muted' }, `speakers: ${speakers || 'none'}`))
  $('policies-body').replaceChildren(
    ...(v.policies.length
      ? v.policies.map((p) => html('div', { 'data-policy': p.key }, html('b', {}, p.key), ` · pods ${p.podSelector} · ${p.policyTypes.join('+')} · ${p.ingressRules} ingress / ${p.egressRules} egress rules`))
      : [html('div', {}, 'none')]),
  )
  $('routes-body').replaceChildren(
    ...v.nodes.map((n) =>
      html('div', {}, html('b', {}, n.name), ...n.routes.map((r) => html('div', {}, html('code', {}, `${r.dst} via ${r.via}`), r.fdb ? html('div', { class: 'muted' }, html('code', {}, `fdb ${r.fdb}`)) : ''))),
    ),
  )
  const status = $('status')
  status.dataset.revision = String(v.revision)
  status.dataset.state = v.synced ? 'live' : 'connecting'
  status.textContent = `${v.synced ? 'live' : 'syncing'} · ${v.nodes.length} nodes · ${v.pods.length} pods · ${v.services.length} services`
}

function clickPod(p: PodView): void {
  if (!st.source || st.source === p.key || st.target) {
    st.source = p.key
    st.target = undefined
    st.trace = undefined
    $('trace-body').textContent = `from ${p.key}: now click a destination pod or Service`
    render()
    return
  }
  st.target = p.key
  void runTrace(traceTarget(p))
}

function clickService(s: ServiceView): void {
  if (!st.source) {
    $('trace-body').textContent = 'click a pod first (the source), then this Service'
    return
  }
  st.target = s.key
  void runTrace(traceTarget(s))
}

async function runTrace(target: { to: string; port?: number }): Promise<void> {
  const q = new URLSearchParams({ from: st.source!, to: target.to })
  if (target.port !== undefined) q.set('port', String(target.port))
  const body = $('trace-body')
  body.textContent = `tracing ${st.source} → ${target.to}${target.port ? ':' + target.port : ''}…`
  render()
  const res = await fetch(`/api/trace?${q}`)
  const data = (await res.json()) as TraceResult | { kind: 'Status'; message?: string }
  if (!res.ok || 'kind' in data) {
    st.trace = undefined
    body.replaceChildren(html('div', { class: 'error', 'data-trace-error': res.status }, `trace failed: ${'message' in data ? data.message : res.statusText}`))
    render()
    return
  }
  st.trace = data
  body.replaceChildren(
    html('div', { class: 'outcome', 'data-outcome': data.outcome }, `${st.source} → ${target.to}: ${data.outcome}`),
    ...data.hops.map((h, i) =>
      html(
        'div',
        { class: `hop-row ${h.verdict ?? ''}`, 'data-hop-row': i },
        html('div', { class: 'where' }, `${i + 1}. ${h.stage}${h.node ? ' · ' + h.node : ''} · ${h.kind}${h.verdict ? ' · ' + h.verdict : ''}`),
        html('div', {}, h.summary),
        h.object ? html('pre', {}, h.object) : '',
      ),
    ),
  )
  render()
}

function connect(): void {
  const es = new EventSource('/api/watch')
  es.addEventListener('state', (e) => {
    st.view = JSON.parse((e as MessageEvent<string>).data) as ClusterView
    render()
  })
  es.onerror = () => {
    const s = $('status')
    s.dataset.state = 'connecting'
    s.textContent = 'reconnecting…'
  }
}

connect()
