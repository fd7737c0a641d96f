// The DNS read model: the slim view of Services and EndpointSlices that the answer
// function needs, and nothing else (CoreDNS plugin/kubernetes keeps the same seam:
// the handler reads only through a narrow index).
//
// Two properties matter to clients:
// - `synced` stays false until the first full list of every watched resource is in:
//   until then a missing name may just be not-yet-seen, so the answer is SERVFAIL,
//   never a false NXDOMAIN.
// - `serial` (the zone's SOA serial) and `generation` move only when something visible
//   in DNS changed: an EndpointSlice update that only bumps resourceVersion, or moves a
//   pod's nodeName, leaves them alone. The server's answer cache is keyed on generation.
import ipaddr from 'ipaddr.js'
import { serviceKey, serviceKeyOf, sliceServiceKey } from '../api/meta.js'
import type { EndpointSlice, Service } from '../api/types.js'

export type DnsProto = 'tcp' | 'udp' | 'sctp'

export interface DnsPort {
  /** Lower case; '' for an unnamed port (no SRV record). */
  name: string
  protocol: DnsProto
  port: number
}

export interface DnsEndpoint {
  /** The spec's _hostname_: the endpoint's hostname field, else derived from its first IP. */
  hostname: string
  addresses: string[]
  ports: DnsPort[]
}

export type DnsServiceKind = 'ClusterIP' | 'Headless' | 'ExternalName'

export interface DnsService {
  namespace: string
  name: string
  kind: DnsServiceKind
  clusterIPs: string[]
  /** Lower case, no trailing dot. */
  externalName?: string
  ports: DnsPort[]
  /** Ready endpoints only (or all, for publishNotReadyAddresses), sorted by hostname. */
  endpoints: DnsEndpoint[]
}

/** What answer.ts reads. Names passed in are already lower case. */
export interface DnsReadModel {
  readonly synced: boolean
  readonly serial: number
  readonly generation: number
  service(namespace: string, name: string): DnsService | undefined
  /** True when at least one Service lives in the namespace. */
  namespaceExists(namespace: string): boolean
  /** PTR targets (relative to the zone, e.g. `web.default.svc`) for an IP in canonical form. */
  reverse(ip: string): readonly string[]
}

const TOLERATE_UNREADY = 'service.alpha.kubernetes.io/tolerate-unready-endpoints'

/** The spec's system-assigned hostname for an endpoint without one (CoreDNS's form). */
export function derivedHostname(ip: string): string {
  return ip.includes(':') ? ip.replace(/:/g, '-') : ip.replace(/\./g, '-')
}

function isHeadless(svc: Service): boolean {
  const ip = svc.spec.clusterIP
  return ip === 'None' || ip === undefined || ip === ''
}

function slimPorts(ports: readonly { name?: string; protocol?: string; port: number }[] | undefined): DnsPort[] {
  return (ports ?? []).map((p) => ({
    name: (p.name ?? '').toLowerCase(),
    protocol: (p.protocol ?? 'TCP').toLowerCase() as DnsProto,
    port: p.port,
  }))
}

export class DnsModel implements DnsReadModel {
  synced = false
  serial: number
  generation = 0
  private readonly services = new Map<string, Service>()
  /** service key → slice name → slice */
  private readonly slices = new Map<string, Map<string, EndpointSlice>>()
  private readonly views = new Map<string, { view: DnsService; fingerprint: string }>()
  private readonly nsCount = new Map<string, number>()
  /** ip → service key → relative PTR targets */
  private readonly reverseIndex = new Map<string, Map<string, string[]>>()
  private readonly listeners: (() => void)[] = []

  constructor(private readonly now: () => number = Date.now) {
    this.serial = Math.floor(now() / 1000)
  }

  /** Called after every visible change (the server drops its answer cache). */
  onChange(fn: () => void): void {
    this.listeners.push(fn)
  }

  setSynced(synced: boolean): void {
    if (this.synced === synced) return
    this.synced = synced
    this.bump()
  }

  service(namespace: string, name: string): DnsService | undefined {
    return this.views.get(serviceKey(namespace, name))?.view
  }

  namespaceExists(namespace: string): boolean {
    return (this.nsCount.get(namespace) ?? 0) > 0
  }

  reverse(ip: string): readonly string[] {
    const m = this.reverseIndex.get(ip)
    if (!m) return []
    const out: string[] = []
    for (const names of m.values()) out.push(...names)
    return out
  }

  upsertService(svc: Service): void {
    const key = serviceKeyOf(svc)
    this.services.set(key, svc)
    this.refresh(key)
  }

  deleteService(namespace: string, name: string): void {
    const key = serviceKey(namespace, name)
    this.services.delete(key)
    this.refresh(key)
  }

  upsertEndpointSlice(slice: EndpointSlice): void {
    const key = sliceServiceKey(slice)
    if (!key) return
    let m = this.slices.get(key)
    if (!m) this.slices.set(key, (m = new Map()))
    m.set(slice.metadata.name ?? '', slice)
    this.refresh(key)
  }

  deleteEndpointSlice(slice: EndpointSlice): void {
    const key = sliceServiceKey(slice)
    if (!key) return
    const m = this.slices.get(key)
    if (!m) return
    m.delete(slice.metadata.name ?? '')
    if (m.size === 0) this.slices.delete(key)
    this.refresh(key)
  }

  /** Recompute one service's view; bump serial/generation only if it visibly changed. */
  private refresh(key: string): void {
    const svc = this.services.get(key)
    const view = svc ? buildView(svc, [...(this.slices.get(key)?.values() ?? [])]) : undefined
    const fingerprint = view ? JSON.stringify(view) : ''
    const old = this.views.get(key)
    if ((old?.fingerprint ?? '') === fingerprint) return
    if (old) {
      this.unindex(key, old.view)
      this.nsCount.set(old.view.namespace, (this.nsCount.get(old.view.namespace) ?? 1) - 1)
    }
    if (view) {
      this.views.set(key, { view, fingerprint })
      this.index(key, view)
      this.nsCount.set(view.namespace, (this.nsCount.get(view.namespace) ?? 0) + 1)
    } else {
      this.views.delete(key)
    }
    this.bump()
  }

  private bump(): void {
    this.generation++
    // Serial as CoreDNS does it: time-based, but strictly increasing.
    this.serial = Math.max(this.serial + 1, Math.floor(this.now() / 1000))
    for (const fn of this.listeners) fn()
  }

  private ptrTargets(view: DnsService): [string, string][] {
    const base = `${view.name}.${view.namespace}.svc`
    const out: [string, string][] = []
    if (view.kind === 'ClusterIP') for (const ip of view.clusterIPs) out.push([ip, base])
    if (view.kind === 'Headless')
      for (const ep of view.endpoints) for (const ip of ep.addresses) out.push([ip, `${ep.hostname}.${base}`])
    return out
  }

  private index(key: string, view: DnsService): void {
    for (const [ip, target] of this.ptrTargets(view)) {
      let m = this.reverseIndex.get(ip)
      if (!m) this.reverseIndex.set(ip, (m = new Map()))
      const list = m.get(key)
      if (list) list.push(target)
      else m.set(key, [target])
    }
  }

  private unindex(key: string, view: DnsService): void {
    for (const [ip] of this.ptrTargets(view)) {
      const m = this.reverseIndex.get(ip)
      if (!m) continue
      m.delete(key)
      if (m.size === 0) this.reverseIndex.delete(ip)
    }
  }
}

/** Canonical text of an IP as the reverse index stores it (IPv6 compressed, lower case). */
export function canonicalIP(ip: string): string {
  try {
    return ipaddr.parse(ip).toString()
  } catch {
    return ip.toLowerCase()
  }
}

export function buildView(svc: Service, slices: readonly EndpointSlice[]): DnsService {
  const spec = svc.spec
  const kind: DnsServiceKind =
    spec.type === 'ExternalName' ? 'ExternalName' : isHeadless(svc) ? 'Headless' : 'ClusterIP'
  const view: DnsService = {
    namespace: (svc.metadata.namespace ?? 'default').toLowerCase(),
    name: (svc.metadata.name ?? '').toLowerCase(),
    kind,
    clusterIPs: [],
    ports: slimPorts(spec.ports),
    endpoints: [],
  }
  if (kind === 'ExternalName') {
    view.externalName = (spec.externalName ?? '').toLowerCase().replace(/\.$/, '')
    return view
  }
  if (kind === 'ClusterIP') {
    const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []
    view.clusterIPs = ips.map(canonicalIP)
  }
  const publishAll =
    spec.publishNotReadyAddresses === true || svc.metadata.annotations?.[TOLERATE_UNREADY] === 'true'
  // Endpoints keyed by hostname: the same pod may show up in two slices during a
  // controller transition, and the spec wants one record per (hostname, IP).
  const byHost = new Map<string, DnsEndpoint>()
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue
    const ports = slimPorts(slice.ports)
    for (const ep of slice.endpoints ?? []) {
      // A nil `ready` means ready (discovery.k8s.io/v1 API contract).
      if (!publishAll && ep.conditions?.ready === false) continue
      if (!ep.addresses?.length) continue
      const addresses = ep.addresses.map(canonicalIP)
      const hostname = (ep.hostname ?? derivedHostname(addresses[0]!)).toLowerCase()
      const prev = byHost.get(hostname)
      if (prev) {
        for (const a of addresses) if (!prev.addresses.includes(a)) prev.addresses.push(a)
        for (const p of ports)
          if (!prev.ports.some((q) => q.name === p.name && q.protocol === p.protocol && q.port === p.port)) prev.ports.push(p)
      } else {
        byHost.set(hostname, { hostname, addresses: [...addresses], ports: [...ports] })
      }
    }
  }
  view.endpoints = [...byHost.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0))
  for (const ep of view.endpoints) ep.addresses.sort()
  return view
}
