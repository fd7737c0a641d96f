// Rendering the routing model for HAProxy 2.6 (Debian 12's), and the runtime-API commands that
// move endpoints between reloads. Pure: text in, text out.
//
// How the config is split so endpoint changes never reload:
// - Every backend has a fixed number of server slots (`s1`…`sN`, N = a power of two ≥ 4 that
//   fits the endpoints). A slot holds an endpoint or is `disabled` (maintenance). The *shape* of
//   the config (frontends, ACLs, backends, slot counts, cert files) is the config rendered with
//   every slot empty; only a change of shape rewrites haproxy.cfg and reloads.
// - Endpoint changes (scale, rolling update) are runtime commands on the admin socket:
//   `set server B/sK addr IP port P` + `state ready`, or `state maint` for a slot that empties.
//   A server put in maintenance keeps its in-flight requests; new ones go elsewhere.
// - Slots keep their endpoint across syncs (assignSlots), so a scale event touches only the
//   slots that changed, and a reload writes the addresses the running worker already has.
// - Routing is one `use_backend` per rule in the model's match order: per host group, its
//   paths longest first, then the group's fallback (default backend or the 404 backend), so a
//   matched host never falls through to a less specific host group.
import type { Backend, BackendEndpoint, HostGroup, Route, RoutingModel } from './model.js'

export interface HaproxyOptions {
  /** Listen addresses ("*:80", "127.0.0.1:18080"). */
  http: string
  https: string
  /** Directory holding the rendered files (cert paths in the config point into it). */
  dir: string
  /** Admin socket path (runtime API, expose-fd listeners for seamless reloads). */
  adminSocket: string
  /** The certificate served when no SNI host matches (a self-signed one). */
  defaultCertFile: string
  /** Worker threads (default 2). */
  threads?: number
  /** Prometheus exporter listen address (haproxy's own metrics), or none. */
  metrics?: string
}

/** Endpoint per slot; null = empty (maintenance). */
export type Slots = (BackendEndpoint | null)[]
export type Assignment = Record<string, Slots>

export interface RenderedHaproxy {
  config: string
  /** Files (relative to dir) the config refers to: cert PEMs and the crt-list. */
  files: Record<string, string>
}

const NOT_FOUND_BACKEND = 'nk_404'
const MIN_SLOTS = 4

/** HAProxy object names: [A-Za-z0-9_.:-]. Namespace/service are DNS labels (no '_'), so '_' joins them unambiguously. */
export function backendName(key: string): string {
  return `be_${key.replace('/', '_').replace(':', '_')}`
}

export function slotCount(endpoints: number): number {
  let n = MIN_SLOTS
  while (n < endpoints) n *= 2
  return n
}

/**
 * Endpoints into slots: an endpoint keeps the slot it had, new ones take free slots in order.
 * The slot count grows (to a power of two) only when they no longer fit.
 */
export function assignSlots(prev: Slots | undefined, endpoints: readonly BackendEndpoint[]): Slots {
  const n = slotCount(endpoints.length)
  const id = (e: BackendEndpoint): string => `${e.ip}:${e.port}`
  const want = new Set(endpoints.map(id))
  const slots: Slots = Array.from({ length: n }, (_, i) => {
    const had = prev?.[i]
    return had && want.has(id(had)) ? had : null
  })
  const placed = new Set(slots.filter((s): s is BackendEndpoint => s !== null).map(id))
  for (const e of endpoints) {
    if (placed.has(id(e))) continue
    const free = slots.indexOf(null)
    slots[free] = e
    placed.add(id(e))
  }
  return slots
}

export function assignAll(model: RoutingModel, prev: Assignment = {}): Assignment {
  const out: Assignment = {}
  for (const b of Object.values(model.backends)) out[backendName(b.key)] = assignSlots(prev[backendName(b.key)], b.endpoints)
  return out
}

/** Single-quoted HAProxy argument (no escapes or variables inside single quotes). */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

const reEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function hostCond(host: string): string {
  if (host === '') return ''
  if (host.startsWith('*.')) return `{ var(txn.host) -m reg ${q(`^[^.]+${reEscape(host.slice(1))}$`)} }`
  return `{ var(txn.host) -m str ${host} }`
}

/** The condition (OR of ANDs) of one route; '' = always. */
function routeCond(host: string, r: Route): string {
  const h = hostCond(host)
  const and = (...xs: string[]): string => xs.filter(Boolean).join(' ')
  if (r.pathType === 'Exact') return and(h, `{ path -m str ${q(r.path)} }`)
  if (r.path === '') return h
  return `${and(h, `{ path -m str ${q(r.path)} }`)} || ${and(h, `{ path -m beg ${q(`${r.path}/`)} }`)}`
}

function routingRules(hosts: HostGroup[], fallback: string): string[] {
  const lines: string[] = []
  for (const g of hosts) {
    lines.push(`  # host ${g.host || '(any)'}`)
    for (const r of g.routes) {
      const cond = routeCond(g.host, r)
      lines.push(cond ? `  use_backend ${backendName(r.backend)} if ${cond}` : `  use_backend ${backendName(r.backend)}`)
    }
    // A matched host with no matching path goes to the default backend, not to other groups.
    if (g.host !== '') lines.push(`  use_backend ${fallback} if ${hostCond(g.host)}`)
  }
  return lines
}

function serverLine(i: number, e: BackendEndpoint | null): string {
  return e ? `  server s${i + 1} ${e.ip.includes(':') ? `[${e.ip}]` : e.ip}:${e.port}` : `  server s${i + 1} 127.0.0.1:1 disabled`
}

function backendBlock(b: Backend, slots: Slots): string[] {
  return [`backend ${backendName(b.key)}`, `  # ${b.key} (service ${b.namespace}/${b.service})`, '  balance roundrobin', ...slots.map((e, i) => serverLine(i, e)), '']
}

export const CERT_DIR = 'certs'
export const CRT_LIST = 'crt-list.txt'

/** The whole config for a model and a slot assignment (assignAll). */
export function renderHaproxy(model: RoutingModel, assignment: Assignment, o: HaproxyOptions): RenderedHaproxy {
  const files: Record<string, string> = {}
  const crtLines: string[] = []
  for (const c of model.certs) {
    const file = `${CERT_DIR}/${c.secret.replace('/', '_')}-${c.hash}.pem`
    files[file] = c.pem
    crtLines.push(`${o.dir}/${file} [alpn h2,http/1.1] ${c.hosts.join(' ')}`)
  }
  files[CRT_LIST] = crtLines.length ? `${crtLines.join('\n')}\n` : ''
  const fallback = model.defaultBackend ? backendName(model.defaultBackend) : NOT_FOUND_BACKEND
  const tlsExact = model.tlsHosts.filter((h) => !h.startsWith('*.'))
  const tlsWild = model.tlsHosts.filter((h) => h.startsWith('*.'))
  const lines = [
    '# Rendered by netkube ingress-controller; do not edit (rewritten on every change).',
    'global',
    `  stats socket ${o.adminSocket} mode 600 level admin expose-fd listeners`,
    `  nbthread ${o.threads ?? 2}`,
    '  maxconn 8000',
    '  hard-stop-after 60s',
    '  tune.ssl.default-dh-param 2048',
    '  ssl-default-bind-options ssl-min-ver TLSv1.2',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 60s',
    // WebSocket and other Upgrade tunnels
    '  timeout tunnel 1h',
    '  option forwardfor',
    // Passive health: a refused or reset connection is retried once elsewhere.
    '  retries 2',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    '  http-reuse safe',
    '  http-error status 502 content-type text/plain string "502 Bad Gateway: the backend failed to answer properly\\n"',
    '  http-error status 503 content-type text/plain string "503 Service Unavailable: no ready endpoint for this backend\\n"',
    '  http-error status 504 content-type text/plain string "504 Gateway Timeout: the backend did not answer in time\\n"',
    '',
    'frontend ingress',
    `  bind ${o.http}`,
    `  bind ${o.https} ssl crt ${o.defaultCertFile} crt-list ${o.dir}/${CRT_LIST} alpn h2,http/1.1`,
    '  unique-id-format %{+X}o%ci%cp%fi%fp%Ts%rt%pid',
    '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower',
    ...(tlsExact.length ? [`  acl tls_host var(txn.host) -m str ${tlsExact.join(' ')}`] : []),
    ...tlsWild.map((h) => `  acl tls_host var(txn.host) -m reg ${q(`^[^.]+${reEscape(h.slice(1))}$`)}`),
    ...(model.tlsHosts.length ? ['  http-request redirect scheme https code 308 if !{ ssl_fc } tls_host'] : []),
    '  http-request set-header X-Request-ID %[unique-id] unless { req.hdr(x-request-id) -m found }',
    '  http-request set-header X-Forwarded-Proto https if { ssl_fc }',
    '  http-request set-header X-Forwarded-Proto http unless { ssl_fc }',
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)]',
    ...routingRules(model.hosts, fallback),
    `  default_backend ${fallback}`,
    '',
    ...Object.values(model.backends).flatMap((b) => backendBlock(b, assignment[backendName(b.key)] ?? assignSlots(undefined, b.endpoints))),
    `backend ${NOT_FOUND_BACKEND}`,
    '  http-request return status 404 content-type text/plain string "404 Not Found: no Ingress rule matches this host and path\\n"',
    '',
  ]
  if (o.metrics) lines.push('frontend nk_metrics', `  bind ${o.metrics}`, '  http-request use-service prometheus-exporter if { path /metrics }', '  http-request return status 200 content-type text/plain string "ok\\n" if { path /healthz }', '')
  return { config: lines.join('\n'), files }
}

/** The config with every slot empty: two models with the same shape need no reload between them. */
export function renderShape(model: RoutingModel, assignment: Assignment, o: HaproxyOptions): string {
  const empty: Assignment = Object.fromEntries(Object.entries(assignment).map(([k, v]) => [k, v.map(() => null)]))
  const r = renderHaproxy(model, empty, o)
  // Cert files are named by content hash, so the crt-list covers a changed certificate.
  return `${r.config}\n${r.files[CRT_LIST]}`
}

/** Runtime API commands that turn `prev` into `next` (same shape): only the slots that changed. */
export function runtimeCommands(prev: Assignment, next: Assignment): string[] {
  const cmds: string[] = []
  for (const [be, slots] of Object.entries(next)) {
    slots.forEach((e, i) => {
      const had = prev[be]?.[i] ?? null
      if (had?.ip === e?.ip && had?.port === e?.port) return
      const srv = `${be}/s${i + 1}`
      if (e) cmds.push(`set server ${srv} addr ${e.ip} port ${e.port}`, `set server ${srv} state ready`)
      else cmds.push(`set server ${srv} state maint`)
    })
  }
  return cmds
}
