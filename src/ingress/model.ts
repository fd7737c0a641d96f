// The ingress controller's pure core: Ingresses + IngressClasses + Services + EndpointSlices +
// TLS Secrets → one routing model, the data plane's only input.
//
// Design note (read first)
// - Which Ingresses are ours: `spec.ingressClassName` names a class whose `spec.controller` is
//   ours; with no class name, the legacy `kubernetes.io/ingress.class` annotation names one; with
//   neither, an Ingress is ours when one of our classes carries
//   `ingressclass.kubernetes.io/is-default-class: "true"` (an Ingress created before that class
//   existed; later ones get the name from the DefaultIngressClass admission,
//   src/apiserver/ingress-admission.ts). Everything else is ignored.
// - Matching follows the Ingress spec. A request's host picks ONE host group: an exact host,
//   else a `*.` wildcard that covers exactly one more label (`*.foo.com` matches `bar.foo.com`,
//   not `foo.com` nor `a.bar.foo.com`; the longest wildcard wins), else the rules without a
//   host. Inside the group the longest matching path wins, Exact before Prefix on a tie. Prefix
//   matches element-wise (`/foo` matches `/foo`, `/foo/`, `/foo/bar`, not `/foobar`; a trailing
//   `/` in the rule is ignored). ImplementationSpecific is matched as Prefix. No path in the
//   group → the defaultBackend (the oldest Ingress's), else 404.
// - Conflicts (the same host, path and type in two Ingresses; two default backends) go to the
//   oldest Ingress (creationTimestamp, then namespace/name), as ingress-nginx merges them; the
//   loser gets a Warning Event. A host with TLS in several Ingresses takes the oldest's cert.
// - Backends are `namespace/service:port` with the Service's READY endpoints from its
//   EndpointSlices (not the ClusterIP), the port resolved by number or by name to the slice
//   port of the same name. A missing Service or port keeps the route (503 until it appears) and
//   warns. Resource backends are refused: the path is left out, with a Warning.
// - TLS: a `kubernetes.io/tls` Secret whose key matches its certificate. A missing or bad
//   Secret → Warning, that Ingress's TLS hosts are not served over TLS (no cert, no redirect);
//   every other rule, and every other Ingress, is kept.
// - Output is sorted and keyed deterministically, so equal inputs render equal configs (the
//   data plane reloads only on a real difference).
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'
import type { EndpointSlice, Secret, Service } from '../api/types.js'
import { LABEL_SERVICE_NAME } from '../api/types.js'
import { ANNOTATION_DEFAULT_INGRESS_CLASS, ANNOTATION_INGRESS_CLASS, type Ingress, type IngressBackend, type IngressClass, type PathType } from '../api/ingress.js'

export const CONTROLLER_NAME = 'netkube.io/ingress-controller'

export interface ModelInput {
  ingresses: readonly Ingress[]
  classes: readonly IngressClass[]
  services: readonly Service[]
  slices: readonly EndpointSlice[]
  secrets: readonly Secret[]
  /** The `spec.controller` this controller answers for (default CONTROLLER_NAME). */
  controller?: string
}

export interface BackendEndpoint {
  ip: string
  port: number
}

export interface Backend {
  /** `namespace/service:port` (port as written in the Ingress: number or name). */
  key: string
  namespace: string
  service: string
  endpoints: BackendEndpoint[]
}

export interface Route {
  /** '' = any host; `*.x.y` wildcard; else exact. */
  host: string
  pathType: PathType
  /** Normalised: Prefix/ImplementationSpecific without a trailing '/' ('' = everything). */
  path: string
  backend: string
  /** `namespace/name` of the Ingress the route came from. */
  ingress: string
}

export interface TlsCert {
  /** `namespace/secret`. */
  secret: string
  hosts: string[]
  /** PEM: certificate chain then key, as HAProxy and nginx read one file. */
  pem: string
  /** sha256 of pem, short: names the file so a new cert is a new config. */
  hash: string
}

export interface RoutingModel {
  /** Host groups in match order: exact hosts, then wildcards longest first, then '' (any host). */
  hosts: HostGroup[]
  defaultBackend?: string
  backends: Record<string, Backend>
  certs: TlsCert[]
  /** Hosts served over TLS: plain HTTP requests to them are redirected to HTTPS. */
  tlsHosts: string[]
  /** `namespace/name` of every Ingress this controller serves (their status gets our address). */
  ingresses: string[]
}

export interface HostGroup {
  host: string
  /** In match order: longest path first, Exact before Prefix on a tie. */
  routes: Route[]
}

export interface ModelEvent {
  /** `namespace/name` of the Ingress the event is about. */
  ingress: string
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

const keyOf = (o: { metadata: { namespace?: string; name?: string } }): string => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`

function olderFirst(a: Ingress, b: Ingress): number {
  const ta = a.metadata.creationTimestamp ?? ''
  const tb = b.metadata.creationTimestamp ?? ''
  if (ta !== tb) return ta < tb ? -1 : 1
  return keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0
}

/** Whether an Ingress belongs to this controller (see the design note). */
export function ingressIsOurs(ing: Ingress, classes: readonly IngressClass[], controller = CONTROLLER_NAME): boolean {
  const ours = classes.filter((c) => c.spec?.controller === controller)
  const named = ing.spec?.ingressClassName ?? ing.metadata.annotations?.[ANNOTATION_INGRESS_CLASS]
  if (named) return ours.some((c) => c.metadata.name === named)
  return ours.some((c) => c.metadata.annotations?.[ANNOTATION_DEFAULT_INGRESS_CLASS] === 'true')
}

/** A rule path as matched: Prefix-like paths lose their trailing '/'. */
export function normalisePath(pathType: PathType, path: string | undefined): string {
  const p = path ?? ''
  if (pathType === 'Exact') return p
  return p.replace(/\/+$/, '')
}

export function pathMatches(r: Pick<Route, 'pathType' | 'path'>, reqPath: string): boolean {
  if (r.pathType === 'Exact') return reqPath === r.path
  if (r.path === '') return true
  return reqPath === r.path || reqPath.startsWith(`${r.path}/`)
}

/** `*.foo.com` covers exactly one label in front of `foo.com`. */
export function hostMatches(ruleHost: string, reqHost: string): boolean {
  if (ruleHost === '') return true
  if (!ruleHost.startsWith('*.')) return ruleHost === reqHost
  const suffix = ruleHost.slice(1)
  if (!reqHost.endsWith(suffix)) return false
  const label = reqHost.slice(0, -suffix.length)
  return label.length > 0 && !label.includes('.')
}

function hostOrder(a: string, b: string): number {
  const rank = (h: string): number => (h === '' ? 2 : h.startsWith('*.') ? 1 : 0)
  if (rank(a) !== rank(b)) return rank(a) - rank(b)
  if (rank(a) === 1 && a.length !== b.length) return b.length - a.length
  return a < b ? -1 : a > b ? 1 : 0
}

function routeOrder(a: Route, b: Route): number {
  if (a.path.length !== b.path.length) return b.path.length - a.path.length
  const exact = (r: Route): number => (r.pathType === 'Exact' ? 0 : 1)
  if (exact(a) !== exact(b)) return exact(a) - exact(b)
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0
}

/** Which backend a request goes to: the reference semantics the rendered configs must agree with. */
export function matchRequest(m: RoutingModel, host: string, path: string): { backend?: string; route?: Route } {
  const h = host.toLowerCase().replace(/:\d+$/, '')
  const group = m.hosts.find((g) => hostMatches(g.host, h))
  const route = group?.routes.find((r) => pathMatches(r, path))
  if (route) return { backend: route.backend, route }
  return m.defaultBackend ? { backend: m.defaultBackend } : {}
}

function backendKey(ns: string, b: IngressBackend): string | undefined {
  const s = b.service
  if (!s) return undefined
  return `${ns}/${s.name}:${s.port?.number ?? s.port?.name ?? ''}`
}

/** A TLS Secret's PEM when it is a usable key pair, else why not. */
export function tlsSecretPem(secret: Secret | undefined): { pem: string } | { problem: string; reason: string } {
  if (!secret) return { reason: 'TLSSecretNotFound', problem: 'not found' }
  const crt = secret.data?.['tls.crt']
  const key = secret.data?.['tls.key']
  if (!crt || !key) return { reason: 'TLSSecretInvalid', problem: 'has no tls.crt and tls.key' }
  const crtPem = Buffer.from(crt, 'base64').toString('utf8')
  const keyPem = Buffer.from(key, 'base64').toString('utf8')
  try {
    const cert = new X509Certificate(crtPem)
    const pk = createPrivateKey(keyPem)
    if (!cert.checkPrivateKey(pk)) return { reason: 'TLSSecretInvalid', problem: 'tls.key does not match the certificate in tls.crt' }
  } catch (e) {
    return { reason: 'TLSSecretInvalid', problem: `is not a valid key pair: ${e instanceof Error ? e.message : String(e)}` }
  }
  const nl = (s: string): string => (s.endsWith('\n') ? s : `${s}\n`)
  return { pem: nl(crtPem) + nl(keyPem) }
}

function resolveBackend(key: string, ns: string, b: IngressBackend, input: ModelInput, where: string, ingKey: string, events: ModelEvent[]): Backend {
  const svcName = b.service!.name
  const want = b.service!.port ?? {}
  const backend: Backend = { key, namespace: ns, service: svcName, endpoints: [] }
  const svc = input.services.find((s) => s.metadata.namespace === ns && s.metadata.name === svcName)
  if (!svc) {
    events.push({ ingress: ingKey, type: 'Warning', reason: 'ServiceNotFound', message: `${where}: service "${ns}/${svcName}" not found (503 until it exists)` })
    return backend
  }
  const sp = (svc.spec?.ports ?? []).find((p) => (want.name ? p.name === want.name : p.port === want.number))
  if (!sp) {
    const what = want.name ? `named "${want.name}"` : String(want.number)
    events.push({ ingress: ingKey, type: 'Warning', reason: 'ServicePortNotFound', message: `${where}: service "${ns}/${svcName}" has no port ${what}` })
    return backend
  }
  const seen = new Set<string>()
  for (const sl of input.slices) {
    if (sl.metadata.namespace !== ns || sl.metadata.labels?.[LABEL_SERVICE_NAME] !== svcName) continue
    if (sl.addressType !== 'IPv4' && sl.addressType !== 'IPv6') continue
    const port = (sl.ports ?? []).find((p) => (p.name ?? '') === (sp.name ?? ''))?.port
    if (!port) continue
    for (const ep of sl.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue
      const ip = ep.addresses?.[0]
      if (!ip || seen.has(`${ip}:${port}`)) continue
      seen.add(`${ip}:${port}`)
      backend.endpoints.push({ ip, port })
    }
  }
  backend.endpoints.sort((a, c) => (a.ip === c.ip ? a.port - c.port : a.ip < c.ip ? -1 : 1))
  return backend
}

export function buildModel(input: ModelInput): { model: RoutingModel; events: ModelEvent[] } {
  const controller = input.controller ?? CONTROLLER_NAME
  const events: ModelEvent[] = []
  const ours = input.ingresses.filter((i) => ingressIsOurs(i, input.classes, controller)).sort(olderFirst)
  const backends: Record<string, Backend> = {}
  const groups = new Map<string, Map<string, Route>>()
  const certByHost = new Map<string, TlsCert>()
  const certs = new Map<string, TlsCert>()
  let defaultBackend: string | undefined
  let defaultFrom: string | undefined

  const useBackend = (ns: string, b: IngressBackend, where: string, ingKey: string): string | undefined => {
    if (b.resource) {
      const r = b.resource
      events.push({ ingress: ingKey, type: 'Warning', reason: 'UnsupportedBackend', message: `${where}: resource backends (${r.kind}${r.apiGroup ? `.${r.apiGroup}` : ''} "${r.name}") are not supported by ${controller}; the path is not served` })
      return undefined
    }
    const key = backendKey(ns, b)
    if (!key) return undefined
    backends[key] ??= resolveBackend(key, ns, b, input, where, ingKey, events)
    return key
  }

  for (const ing of ours) {
    const ns = ing.metadata.namespace ?? 'default'
    const ingKey = keyOf(ing)
    const spec = ing.spec ?? {}
    if (spec.defaultBackend) {
      const key = useBackend(ns, spec.defaultBackend, 'spec.defaultBackend', ingKey)
      if (key && defaultBackend === undefined) {
        defaultBackend = key
        defaultFrom = ingKey
      } else if (key) events.push({ ingress: ingKey, type: 'Warning', reason: 'DefaultBackendConflict', message: `spec.defaultBackend ignored: Ingress "${defaultFrom}" (older) sets the default backend` })
    }
    ;(spec.rules ?? []).forEach((rule, i) => {
      const host = (rule.host ?? '').toLowerCase()
      ;(rule.http?.paths ?? []).forEach((p, j) => {
        const where = `spec.rules[${i}].http.paths[${j}]`
        const key = useBackend(ns, p.backend ?? {}, where, ingKey)
        if (!key) return
        const route: Route = { host, pathType: p.pathType, path: normalisePath(p.pathType, p.path), backend: key, ingress: ingKey }
        const g = groups.get(host) ?? new Map<string, Route>()
        groups.set(host, g)
        const id = `${route.pathType === 'Exact' ? 'E' : 'P'} ${route.path}`
        const had = g.get(id)
        if (had) {
          if (had.ingress !== ingKey) events.push({ ingress: ingKey, type: 'Warning', reason: 'PathConflict', message: `${where}: host "${host || '*'}" path "${p.path ?? ''}" is already served by Ingress "${had.ingress}" (older)` })
          return
        }
        g.set(id, route)
      })
    })
    ;(spec.tls ?? []).forEach((tls, i) => {
      const hosts = (tls.hosts && tls.hosts.length > 0 ? tls.hosts : (spec.rules ?? []).map((r) => r.host ?? '').filter(Boolean)).map((h) => h.toLowerCase())
      const secretName = tls.secretName
      if (!secretName || hosts.length === 0) return
      const secret = input.secrets.find((s) => s.metadata.namespace === ns && s.metadata.name === secretName)
      const got = tlsSecretPem(secret)
      if (!('pem' in got)) {
        events.push({ ingress: ingKey, type: 'Warning', reason: got.reason, message: `spec.tls[${i}]: secret "${ns}/${secretName}" ${got.problem}; hosts ${hosts.join(', ')} are not served over TLS` })
        return
      }
      const skey = `${ns}/${secretName}`
      const cert = certs.get(skey) ?? { secret: skey, hosts: [], pem: got.pem, hash: createHash('sha256').update(got.pem).digest('hex').slice(0, 12) }
      certs.set(skey, cert)
      for (const h of hosts) {
        const had = certByHost.get(h)
        if (had) {
          if (had.secret !== skey) events.push({ ingress: ingKey, type: 'Warning', reason: 'TLSHostConflict', message: `spec.tls[${i}]: host ${h} already uses secret "${had.secret}" (older Ingress)` })
          continue
        }
        certByHost.set(h, cert)
        cert.hosts.push(h)
      }
    })
  }

  const hosts: HostGroup[] = [...groups.entries()].map(([host, g]) => ({ host, routes: [...g.values()].sort(routeOrder) })).sort((a, b) => hostOrder(a.host, b.host))
  const certList = [...certs.values()].filter((c) => c.hosts.length > 0).sort((a, b) => (a.secret < b.secret ? -1 : 1))
  for (const c of certList) c.hosts.sort()
  const model: RoutingModel = {
    hosts,
    backends: Object.fromEntries(Object.entries(backends).sort(([a], [b]) => (a < b ? -1 : 1))),
    certs: certList,
    tlsHosts: [...certByHost.keys()].sort(),
    ingresses: ours.map(keyOf).sort(),
  }
  if (defaultBackend) model.defaultBackend = defaultBackend
  return { model, events }
}
