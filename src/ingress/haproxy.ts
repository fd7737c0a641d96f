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
// - Routing lives in map files the config references, so a new or removed host or path is an
//   atomic map replacement at run time (`prepare map` / `add map @V` / `commit map @V`), no
//   reload. A request's host picks its host group first (hosts.map: the exact host, else the
//   `*.` wildcard one label up, else `-`, the host-less rules), so a matched host never falls
//   through to a less specific group. Then the group + path: paths-exact.map (`map_str`, exact
//   lookup) before paths-prefix.map (`map_beg`, first match in file order; entries are written
//   longest first, keyed `group/path/` and looked up as `group + path + /`, which makes
//   `/foo` match `/foo` and `/foo/x` but not `/foobar`). No entry → the group's fallback
//   (default backend or 404). TLS hosts for the HTTPS redirect are a map too (tls-hosts.map).
//   Before all that, the fast path: an exact host whose one rule is Prefix `/` is one lookup
//   (simple-hosts-tls.map over TLS; simple-hosts.map, without the TLS hosts, on plain HTTP) and
//   the rest of the routing rules are skipped (`unless routed`).
// - Certificates are files named by content and SNI hosts, listed in the crt-list; a new or
//   changed one is `new ssl cert` / `set ssl cert` / `commit ssl cert` + `add ssl crt-list`,
//   the old entry then `del ssl crt-list` + `del ssl cert`: no reload either.
// - More endpoints than slots: HAProxy 2.6 dynamic servers. The slots past the config's are
//   `add server B/sK` (created in maintenance, with the slot options spelled out: dynamic servers
//   take no default-server line) + `enable health`, then filled like any slot; fewer endpoints put
//   the extra slots in maintenance. The shape keeps the running config's slot counts, so neither
//   is a reload; the next reload (for another reason) writes all slots into the config.
// - A new Service (a new backend) needs no reload either: the config carries spare backends
//   (`nk_spare_K`, `spareBackends`, default 8), all slots in maintenance. A backend key the
//   running config lacks is bound to a free spare (`Names`: key → backend name) and filled like
//   any backend; the maps then route to it. A backend no rule uses any more keeps its name and
//   empty slots until the next reload (a spare freed in one sync is not reused in the same one:
//   the old maps may still send it requests until they are replaced). The default backend is a
//   map entry too (`group/` in the prefix map, after every route of the group).
// - What needs a reload (the shape): all spares taken, global options. A reload names every
//   backend after its key again (`backendName`) and refills the spares.
import { createHash } from 'node:crypto'
import type { Backend, BackendEndpoint, RoutingModel } from './model.js'

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
  /** Server slots per backend at least (default DEFAULT_MIN_SLOTS). */
  minSlots?: number
  /** Empty backends a reload leaves for new Services (default DEFAULT_SPARE_BACKENDS). */
  spareBackends?: number
}

/** Backend name per backend key (`ns/svc:port`): its own after a reload, or the spare it took. */
export type Names = Record<string, string>

/** Endpoint per slot; null = empty (maintenance). */
export type Slots = (BackendEndpoint | null)[]
export type Assignment = Record<string, Slots>

export interface RenderedHaproxy {
  config: string
  /** Files (relative to dir) the config refers to: cert PEMs, the crt-list, the maps. */
  files: Record<string, string>
  /** The maps' entries (`key value`), by file (relative to dir), in file order. */
  maps: Record<string, string[]>
  /** Certificates by file (relative to dir): their crt-list line and PEM. */
  certs: Record<string, { line: string; pem: string }>
}

export const MAP_HOSTS = 'hosts.map'
export const MAP_EXACT = 'paths-exact.map'
export const MAP_PREFIX = 'paths-prefix.map'
export const MAP_TLS = 'tls-hosts.map'
/** The fast path: exact hosts whose only rule is Prefix `/` → their backend (TLS and plain). */
export const MAP_SIMPLE_TLS = 'simple-hosts-tls.map'
/** The same without the TLS hosts (their plain HTTP requests are redirected). */
export const MAP_SIMPLE = 'simple-hosts.map'
export const MAPS = [MAP_HOSTS, MAP_EXACT, MAP_PREFIX, MAP_TLS, MAP_SIMPLE_TLS, MAP_SIMPLE] as const
/** The host group of requests whose host matches no rule host: the rules without a host. */
const ANY_HOST = '-'

const NOT_FOUND_BACKEND = 'nk_404'
/** Converter: a host's wildcard one label up. */
const WILDCARD = 'regsub(^[^.]+,*)'
/**
 * Growing past the slots is a reload, and a reload closes the old worker's idle kept-alive client
 * connections: a client that sends its next request at that moment sees a reset (the lab e2e saw
 * one ECONNRESET in ~10,000 kept-alive requests at the 4→8 step). Many slots make that rare: the
 * HAProxy-based controllers start big too (HAProxy Ingress 32, haproxytech's 42). A slot in
 * maintenance costs a server struct, no check, no connection.
 */
export const DEFAULT_MIN_SLOTS = 32

/**
 * Spare backends per reload. Each costs its slots' server structs (no checks, no connections);
 * when they run out, the next new Service reloads and a reload leaves this many free again.
 */
export const DEFAULT_SPARE_BACKENDS = 8
export const SPARE_PREFIX = 'nk_spare_'

/** HAProxy object names: [A-Za-z0-9_.:-]. Namespace/service are DNS labels (no '_'), so '_' joins them unambiguously. */
export function backendName(key: string): string {
  return `be_${key.replace('/', '_').replace(':', '_')}`
}

/**
 * Every slot's server options: the defaults' `default-server` line and `add server` (dynamic
 * servers ignore default-server in 2.6). Passive health: see the defaults section.
 */
export const SERVER_OPTIONS = 'check inter 2s fastinter 500ms downinter 1s rise 2 fall 2 observe layer4 error-limit 1 on-error mark-down'

export function slotCount(endpoints: number, prev?: number, min = DEFAULT_MIN_SLOTS): number {
  let n = min
  while (n < endpoints) n *= 2
  // Shrinking is a reload too, and a scale-down is when pods exit: keep the slots the running
  // worker has until the endpoints fit a quarter of them (3→6→3 reloads once, not twice).
  if (prev !== undefined && prev > n && endpoints > prev / 4) return prev
  return n
}

/**
 * Endpoints into slots: an endpoint keeps the slot it had, new ones take free slots in order.
 * The slot count grows (to a power of two) only when they no longer fit.
 */
export function assignSlots(prev: Slots | undefined, endpoints: readonly BackendEndpoint[], min = DEFAULT_MIN_SLOTS): Slots {
  const n = slotCount(endpoints.length, prev?.length, min)
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

export function assignAll(model: RoutingModel, prev: Assignment = {}, min = DEFAULT_MIN_SLOTS): Assignment {
  const out: Assignment = {}
  for (const b of Object.values(model.backends)) out[backendName(b.key)] = assignSlots(prev[backendName(b.key)], b.endpoints, min)
  return out
}

/** Every backend under its own name (what a reload renders). */
export function canonicalNames(model: RoutingModel): Names {
  return Object.fromEntries(Object.keys(model.backends).map((k) => [k, backendName(k)]))
}

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12)

/** Map keys are one word: a rule path with white space cannot match a request path anyway. */
const oneWord = (k: string): boolean => !/\s/.test(k)

/** The routing maps of a model (see the note at the top). */
export function renderMaps(model: RoutingModel, names: Names = canonicalNames(model)): Record<string, string[]> {
  const be = (key: string): string => names[key] ?? backendName(key)
  const hosts: string[] = []
  const simple: string[] = []
  const simpleTls: string[] = []
  const tls = new Set(model.tlsHosts)
  const isTls = (h: string): boolean => tls.has(h) || tls.has(h.replace(/^[^.]+/, '*'))
  const exact: string[] = []
  const prefix: { key: string; be: string }[] = []
  for (const g of model.hosts) {
    const group = g.host === '' ? ANY_HOST : g.host
    if (g.host !== '') hosts.push(`${g.host} ${group}`)
    // One lookup decides these (the common Ingress: a host, `/`, a Service): the exact host wins
    // over any wildcard and its one rule matches every path, whatever the default backend.
    const only = g.routes.length === 1 ? g.routes[0]! : undefined
    if (g.host !== '' && !g.host.startsWith('*.') && only && only.pathType !== 'Exact' && (only.path === '' || only.path === '/')) {
      simpleTls.push(`${g.host} ${be(only.backend)}`)
      if (!isTls(g.host)) simple.push(`${g.host} ${be(only.backend)}`)
    }
    for (const r of g.routes) {
      if (r.pathType === 'Exact') {
        if (oneWord(r.path)) exact.push(`${group}${r.path} ${be(r.backend)}`)
      } else if (oneWord(r.path)) prefix.push({ key: `${group}${r.path}/`, be: be(r.backend) })
    }
  }
  // The default backend: `group/` is a prefix of every lookup in the group (`group + path + /`,
  // a path starts with '/') and shorter than its routes' keys, so it comes after them; host
  // names have no '/', so no other group's entry can match. Without one: nk_404 (default_backend).
  if (model.defaultBackend) {
    const groups = new Set([...model.hosts.map((g) => (g.host === '' ? ANY_HOST : g.host)), ANY_HOST])
    const keys = new Set(prefix.map((p) => p.key))
    // A group with a `/` prefix route (key `group/`) never falls through.
    for (const g of groups) if (!keys.has(`${g}/`)) prefix.push({ key: `${g}/`, be: be(model.defaultBackend) })
  }
  // map_beg takes the first entry in file order: longest first (the model's order within a group;
  // across groups the keys cannot both match).
  prefix.sort((a, b) => b.key.length - a.key.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return {
    [MAP_HOSTS]: hosts,
    [MAP_EXACT]: exact,
    [MAP_PREFIX]: prefix.map((p) => `${p.key} ${p.be}`),
    [MAP_TLS]: model.tlsHosts.map((h) => `${h} 1`),
    [MAP_SIMPLE_TLS]: simpleTls,
    [MAP_SIMPLE]: simple,
  }
}

function serverLine(i: number, e: BackendEndpoint | null): string {
  return e ? `  server s${i + 1} ${e.ip.includes(':') ? `[${e.ip}]` : e.ip}:${e.port}` : `  server s${i + 1} 127.0.0.1:1 disabled`
}

/**
 * Before a reload: `state maint` on the running worker for the slots whose endpoint is gone, so
 * it stops sending new requests to pods that are exiting while the new worker starts (a reload
 * takes a while on a loaded node; a pod's shutdown delay may be shorter).
 */
export function drainCommands(prev: Assignment, next: Assignment): string[] {
  const cmds: string[] = []
  for (const [be, slots] of Object.entries(prev)) {
    const keep = next[be]
    if (!keep) continue // a backend that goes away: no rule routes to it after the reload anyway
    const want = new Set(keep.filter((e): e is BackendEndpoint => e !== null).map((e) => `${e.ip}:${e.port}`))
    slots.forEach((e, i) => {
      if (e && !want.has(`${e.ip}:${e.port}`)) cmds.push(`set server ${be}/s${i + 1} state maint`)
    })
  }
  return cmds
}

function backendBlock(name: string, b: Backend | undefined, slots: Slots): string[] {
  const what = b ? `  # ${b.key} (service ${b.namespace}/${b.service})` : name.startsWith(SPARE_PREFIX) ? '  # spare: taken by a new Service at run time' : '  # no longer used (until the next reload)'
  return [`backend ${name}`, what, '  balance roundrobin', ...slots.map((e, i) => serverLine(i, e)), '']
}

export const CERT_DIR = 'certs'
export const CRT_LIST = 'crt-list.txt'

/**
 * The whole config for a model and a slot assignment (assignAll; keyed by backend name, spares
 * included), with the backends under `names` (default: their own).
 */
export function renderHaproxy(model: RoutingModel, assignment: Assignment, o: HaproxyOptions, names: Names = canonicalNames(model)): RenderedHaproxy {
  const files: Record<string, string> = {}
  const certs: RenderedHaproxy['certs'] = {}
  for (const c of model.certs) {
    // Named by content and SNI hosts: any change is a new crt-list entry, added before the old goes.
    const file = `${CERT_DIR}/${c.secret.replace('/', '_')}-${shortHash(`${c.pem}\n${c.hosts.join(' ')}`)}.pem`
    files[file] = c.pem
    certs[file] = { line: `${o.dir}/${file} [alpn h2,http/1.1] ${c.hosts.join(' ')}`, pem: c.pem }
  }
  const crtLines = Object.values(certs).map((c) => c.line)
  files[CRT_LIST] = crtLines.length ? `${crtLines.join('\n')}\n` : ''
  const maps = renderMaps(model, names)
  for (const [f, entries] of Object.entries(maps)) files[f] = entries.length ? `${entries.join('\n')}\n` : ''
  const map = (f: string): string => `${o.dir}/${f}`
  const byName = new Map(Object.entries(names).map(([k, n]) => [n, model.backends[k]]))
  const blocks = [...new Set([...Object.keys(assignment), ...Object.values(names)])].sort()
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
    // In-cluster connects take well under a millisecond; a pod IP that went away does not answer
    // at all (no RST once its namespace is gone), and the client must not wait 5 s for the retry.
    '  timeout connect 1s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 60s',
    // WebSocket and other Upgrade tunnels
    '  timeout tunnel 1h',
    '  option forwardfor',
    // Passive health: a refused or reset connection is retried on another endpoint (redispatch),
    // and the endpoint that refused is marked down at once (observe layer4, error-limit 1), so
    // later requests skip it; the active check (a TCP connect, fast while it is failing) brings it
    // back after two successes. Observing needs checks enabled, hence `check` on every server.
    '  retries 2',
    '  option redispatch 1',
    // conn-failure: nothing was sent, any method may go elsewhere. empty-response (the backend
    // closed or reset the connection without answering, e.g. a pod exiting under a reused
    // connection): only idempotent methods, as nginx's proxy_next_upstream (disable-l7-retry below).
    '  retry-on conn-failure empty-response',
    `  default-server ${SERVER_OPTIONS}`,
    '  http-reuse safe',
    '  http-error status 502 content-type text/plain string "502 Bad Gateway: the backend failed to answer properly\\n"',
    '  http-error status 503 content-type text/plain string "503 Service Unavailable: no ready endpoint for this backend\\n"',
    '  http-error status 504 content-type text/plain string "504 Gateway Timeout: the backend did not answer in time\\n"',
    '',
    'frontend ingress',
    `  bind ${o.http}`,
    `  bind ${o.https} ssl crt ${o.defaultCertFile} crt-list ${o.dir}/${CRT_LIST} alpn h2,http/1.1`,
    // Unique per process lifetime (pid, request counter, time); the client's address and port
    // cost a log-format field each and add nothing to uniqueness.
    '  unique-id-format %{+X}o%pid%rt%Ts',
    '  acl routed var(txn.be) -m found',
    // The fast path: one map lookup routes a simple host (MAP_SIMPLE_TLS); a TLS host's plain
    // HTTP requests are not in MAP_SIMPLE, so they reach the redirect below.
    `  http-request set-var(txn.be) req.hdr(host),field(1,:),lower,map_str(${map(MAP_SIMPLE_TLS)}) if { ssl_fc }`,
    `  http-request set-var(txn.be) req.hdr(host),field(1,:),lower,map_str(${map(MAP_SIMPLE)}) unless { ssl_fc }`,
    '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower unless routed',
    `  http-request set-var(txn.hg) var(txn.host),map_str(${map(MAP_HOSTS)}) unless routed`,
    // The wildcard one label up (a.b.example.com → *.b.example.com), inline where it is needed, so
    // the regex and a variable are spent only when the exact lookup misses / on plain HTTP
    // (an ACL's conditions stop at the first false one).
    `  http-request set-var(txn.hg) var(txn.host),${WILDCARD},map_str(${map(MAP_HOSTS)},${ANY_HOST}) unless routed || { var(txn.hg) -m found }`,
    `  http-request redirect scheme https code 308 if !{ ssl_fc } !routed { var(txn.host),map_str(${map(MAP_TLS)}) -m found }`,
    `  http-request redirect scheme https code 308 if !{ ssl_fc } !routed { var(txn.host),${WILDCARD},map_str(${map(MAP_TLS)}) -m found }`,
    '  http-request disable-l7-retry if METH_POST or { method PATCH LOCK }',
    '  http-request set-header X-Request-ID %[unique-id] unless { req.hdr(x-request-id) -m found }',
    // One rule for both schemes (iif): a rule costs its condition and a header rewrite.
    '  http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]',
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)]',
    '  http-request set-var(txn.path) path unless routed',
    `  http-request set-var(txn.be) var(txn.hg),concat(,txn.path,),map_str(${map(MAP_EXACT)}) unless routed`,
    `  http-request set-var(txn.be) var(txn.hg),concat(,txn.path,/),map_beg(${map(MAP_PREFIX)}) unless routed`,
    '  use_backend %[var(txn.be)] if routed',
    `  default_backend ${NOT_FOUND_BACKEND}`,
    '',
    ...blocks.flatMap((n) => backendBlock(n, byName.get(n), assignment[n] ?? assignSlots(undefined, byName.get(n)?.endpoints ?? [], o.minSlots))),
    `backend ${NOT_FOUND_BACKEND}`,
    '  http-request return status 404 content-type text/plain string "404 Not Found: no Ingress rule matches this host and path\\n"',
    '',
  ]
  if (o.metrics) lines.push('frontend nk_metrics', `  bind ${o.metrics}`, '  http-request use-service prometheus-exporter if { path /metrics }', '  http-request return status 200 content-type text/plain string "ok\\n" if { path /healthz }', '')
  return { config: lines.join('\n'), files, maps, certs }
}

/**
 * The config with every slot empty and no comments (which Service a backend serves is runtime
 * state): two models with the same shape need no reload between them.
 */
export function renderShape(model: RoutingModel, assignment: Assignment, o: HaproxyOptions, names?: Names): string {
  const empty: Assignment = Object.fromEntries(Object.entries(assignment).map(([k, v]) => [k, v.map(() => null)]))
  // Maps and certificates change at run time: they are not part of the shape.
  return renderHaproxy(model, empty, o, names)
    .config.split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
}

/**
 * Runtime API commands that turn `prev` into `next` (same shape): only the slots that changed.
 * `present`: the servers each backend has in the running worker (config + added); slots past it
 * are added as dynamic servers first, and slots past `next`'s count that held an endpoint go to
 * maintenance (the servers stay: removing one needs it drained, and it may be filled again).
 */
export function runtimeCommands(prev: Assignment, next: Assignment, present: Record<string, number> = {}): string[] {
  const cmds: string[] = []
  for (const [be, slots] of Object.entries(next)) {
    const have = present[be] ?? prev[be]?.length ?? slots.length
    slots.forEach((e, i) => {
      const srv = `${be}/s${i + 1}`
      if (i >= have) cmds.push(`add server ${srv} 127.0.0.1:1 ${SERVER_OPTIONS}`, `enable health ${srv}`)
      const had = prev[be]?.[i] ?? null
      if (had?.ip === e?.ip && had?.port === e?.port) return
      if (e) cmds.push(`set server ${srv} addr ${e.ip} port ${e.port}`, `set server ${srv} state ready`)
      else cmds.push(`set server ${srv} state maint`)
    })
    prev[be]?.forEach((e, i) => {
      if (i >= slots.length && e) cmds.push(`set server ${be}/s${i + 1} state maint`)
    })
  }
  return cmds
}

/** The servers per backend after runtimeCommands(prev, next, present). */
export function presentAfter(present: Record<string, number>, next: Assignment): Record<string, number> {
  return Object.fromEntries(Object.entries(next).map(([be, slots]) => [be, Math.max(present[be] ?? 0, slots.length)]))
}

/** One step on the runtime API (carried out by HaproxyProcess.runtimeOps). */
export type RuntimeOp =
  | { kind: 'server'; cmd: string }
  /** Atomic replacement of a map's entries (prepare / add @V / commit @V). */
  | { kind: 'map'; map: string; entries: string[] }
  /** A new certificate store, filled, committed and listed in the crt-list. */
  | { kind: 'cert-add'; crtList: string; file: string; pem: string; line: string }
  /** A crt-list entry and its store removed. */
  | { kind: 'cert-del'; crtList: string; file: string }

/**
 * Everything between two renders of the same shape, in a safe order: endpoints, then new
 * certificates (so a host is never redirected to HTTPS before its certificate serves), then the
 * maps, then the certificates no longer listed.
 */
export function runtimeOps(prev: { assignment: Assignment; present?: Record<string, number>; maps: RenderedHaproxy['maps']; certs: RenderedHaproxy['certs'] }, next: RenderedHaproxy & { assignment: Assignment }, dir: string): RuntimeOp[] {
  const ops: RuntimeOp[] = runtimeCommands(prev.assignment, next.assignment, prev.present).map((cmd) => ({ kind: 'server', cmd }))
  const crtList = `${dir}/${CRT_LIST}`
  for (const [f, c] of Object.entries(next.certs)) if (!prev.certs[f]) ops.push({ kind: 'cert-add', crtList, file: `${dir}/${f}`, pem: c.pem, line: c.line })
  for (const [f, entries] of Object.entries(next.maps)) {
    const had = prev.maps[f] ?? []
    if (had.length !== entries.length || had.some((e, i) => e !== entries[i])) ops.push({ kind: 'map', map: `${dir}/${f}`, entries })
  }
  for (const f of Object.keys(prev.certs)) if (!next.certs[f]) ops.push({ kind: 'cert-del', crtList, file: `${dir}/${f}` })
  return ops
}
