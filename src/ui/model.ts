// The live map's state: API objects in, the slim ClusterView out. Pure — the server feeds it
// watch events (from informers) and asks for the view; tests feed it events directly.
// Announcers are computed the way every agent computes them (src/loadbalancer/announce-core):
// a speaker is live while its Lease's renewTime was seen changing within the lease, on our clock.
import type { EndpointSlice, Lease, NetworkPolicy, Node, Pod, Service, KubeObject } from '../api/types.js'
import { LABEL_SERVICE_NAME } from '../api/types.js'
import { formatLabelSelector, labelSelectorIsEmpty } from '../api/selectors.js'
import { announcements, liveSpeakers, SPEAKER_LEASE_PREFIX, type SpeakerSeen } from '../loadbalancer/announce-core.js'
import { leaseFromAnnotations } from '../overlay/lease.js'
import { networkOf, parseCidr } from '../net/ip.js'
import type { ClusterView, EndpointView, NodeView, PodView, PolicyView, RouteView, ServiceView, SpeakerView } from './view.js'

export const WATCHED = ['nodes', 'pods', 'services', 'endpointslices', 'networkpolicies', 'leases'] as const
export type WatchedKind = (typeof WATCHED)[number]
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface ModelOptions {
  /** A speaker is live while its renewTime changed within this (the agents' --lb-speaker-lease, 1 s). */
  speakerLeaseMs?: number
  /** The LoadBalancer class the agents announce (their --load-balancer-class). */
  lbClass?: string
  /** Where the speakers' Leases live. */
  speakerNamespace?: string
}

const keyOf = (o: KubeObject): string => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name!)
const byKey = <T extends { key: string }>(a: T, b: T): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

export class ClusterModel {
  private readonly objs = new Map<WatchedKind, Map<string, KubeObject>>(WATCHED.map((k) => [k, new Map()]))
  /** node → when its speaker Lease's renewTime last changed (local clock). */
  private readonly speakerSeen = new Map<string, SpeakerSeen & { renewTime?: string }>()
  private readonly leaseMs: number
  private readonly lbClass: string
  private readonly speakerNs: string

  constructor(o: ModelOptions = {}) {
    this.leaseMs = o.speakerLeaseMs ?? 1000
    this.lbClass = o.lbClass ?? 'netkube.io/lb'
    this.speakerNs = o.speakerNamespace ?? 'kube-system'
  }

  /** One watch event (or an informer callback). */
  apply(kind: WatchedKind, type: EventType, obj: KubeObject, now = Date.now()): void {
    const m = this.objs.get(kind)!
    const key = keyOf(obj)
    if (type === 'DELETED') m.delete(key)
    else m.set(key, obj)
    if (kind === 'leases') this.noteSpeaker(type, obj as Lease, now)
  }

  private noteSpeaker(type: EventType, l: Lease, now: number): void {
    const name = l.metadata.name ?? ''
    if (l.metadata.namespace !== this.speakerNs || !name.startsWith(SPEAKER_LEASE_PREFIX)) return
    const node = name.slice(SPEAKER_LEASE_PREFIX.length)
    if (type === 'DELETED') return void this.speakerSeen.delete(node)
    const prev = this.speakerSeen.get(node)
    const renewTime = l.spec?.renewTime
    if (!prev || prev.renewTime !== renewTime) this.speakerSeen.set(node, { node, seenAt: now, ...(renewTime ? { renewTime } : {}) })
  }

  private list<T extends KubeObject>(kind: WatchedKind): T[] {
    return [...this.objs.get(kind)!.values()] as T[]
  }

  view(now = Date.now(), revision = 0, synced = true): ClusterView {
    const nodes = this.list<Node>('nodes')
    const live = liveSpeakers(this.speakerSeen.values(), now, this.leaseMs, nodes)
    return {
      revision,
      synced,
      nodes: nodeViews(nodes),
      pods: this.list<Pod>('pods').map(podView).sort(byKey),
      services: this.serviceViews(live),
      policies: this.list<NetworkPolicy>('networkpolicies').map(policyView).sort(byKey),
      speakers: [...this.speakerSeen.values()]
        .map((s): SpeakerView => ({ node: s.node, live: live.has(s.node) }))
        .sort((a, b) => (a.node < b.node ? -1 : 1)),
    }
  }

  private serviceViews(live: ReadonlySet<string>): ServiceView[] {
    const slicesBySvc = new Map<string, EndpointSlice[]>()
    for (const s of this.list<EndpointSlice>('endpointslices')) {
      const svc = s.metadata.labels?.[LABEL_SERVICE_NAME]
      if (!svc) continue
      const k = `${s.metadata.namespace}/${svc}`
      slicesBySvc.set(k, [...(slicesBySvc.get(k) ?? []), s])
    }
    const services = this.list<Service>('services')
    const announcer = new Map<string, string>()
    for (const a of announcements({ services, slicesOf: (k) => slicesBySvc.get(k) ?? [], live, ourClass: this.lbClass })) announcer.set(a.ip, a.node)
    return services.map((svc) => serviceView(svc, slicesBySvc.get(keyOf(svc)) ?? [], announcer)).sort(byKey)
  }
}

function nodeViews(nodes: Node[]): NodeView[] {
  const base = nodes.map((n) => {
    const lease = leaseFromAnnotations(n.metadata.annotations)
    const v: NodeView = {
      name: n.metadata.name!,
      ready: n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
      routes: [],
    }
    const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address
    if (ip) v.ip = ip
    const cidr = n.spec?.podCIDR
    if (cidr) v.podCIDR = cidr
    if (lease) {
      v.backend = lease.backendType
      v.publicIP = lease.publicIP
      if (lease.vni !== undefined) v.vni = lease.vni
      if (lease.vtepMAC) v.vtepMAC = lease.vtepMAC
    }
    return v
  })
  for (const v of base) v.routes = routesOf(v, base)
  return base.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/**
 * The routes `self`'s overlay programs, from the other nodes' published leases — the recipe of
 * src/overlay/desired.ts: vxlan `<subnet> via <subnet network> dev flannel.<VNI> onlink` plus an
 * FDB entry to the remote PublicIP; host-gw `<subnet> via <PublicIP>`.
 */
export function routesOf(self: NodeView, all: readonly NodeView[]): RouteView[] {
  const out: RouteView[] = []
  if (!self.backend) return out
  for (const r of all) {
    if (r.name === self.name || !r.podCIDR || !r.publicIP || !r.backend) continue
    let net: string
    try {
      net = networkOf(parseCidr(r.podCIDR))
    } catch {
      continue
    }
    if (self.backend === 'vxlan' && r.backend === 'vxlan' && r.vtepMAC) {
      out.push({ dst: r.podCIDR, via: `${net} dev flannel.${self.vni ?? 1} onlink`, node: r.name, fdb: `${r.vtepMAC} dst ${r.publicIP}` })
    } else if (self.backend === 'host-gw') {
      out.push({ dst: r.podCIDR, via: r.publicIP, node: r.name })
    }
  }
  return out.sort((a, b) => (a.node < b.node ? -1 : 1))
}

export function podView(p: Pod): PodView {
  const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
  const v: PodView = {
    key: keyOf(p),
    namespace: p.metadata.namespace ?? 'default',
    name: p.metadata.name!,
    // kubectl's STATUS column says Terminating for a pod being deleted, whatever its phase
    phase: p.metadata.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Pending'),
    ready,
    hostNetwork: p.spec?.hostNetwork === true,
    labels: { ...(p.metadata.labels ?? {}) },
  }
  if (p.spec?.nodeName) v.node = p.spec.nodeName
  if (p.status?.podIP) v.ip = p.status.podIP
  const port = p.spec?.containers?.flatMap((c) => c.ports ?? [])[0]?.containerPort
  if (port !== undefined) v.port = port
  return v
}

export function serviceView(svc: Service, slices: EndpointSlice[], announcer: ReadonlyMap<string, string>): ServiceView {
  const endpoints: EndpointView[] = []
  const seen = new Set<string>()
  for (const s of slices)
    for (const ep of s.endpoints ?? [])
      for (const ip of ep.addresses ?? []) {
        if (seen.has(ip)) continue
        seen.add(ip)
        const e: EndpointView = { ip, ready: ep.conditions?.ready !== false }
        const ref = ep.targetRef
        if (ref?.kind === 'Pod' && ref.name) e.pod = `${ref.namespace ?? s.metadata.namespace}/${ref.name}`
        if (ep.nodeName) e.node = ep.nodeName
        endpoints.push(e)
      }
  endpoints.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))
  const v: ServiceView = {
    key: keyOf(svc),
    namespace: svc.metadata.namespace ?? 'default',
    name: svc.metadata.name!,
    type: svc.spec?.type ?? 'ClusterIP',
    ports: (svc.spec?.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      protocol: p.protocol ?? 'TCP',
      ...(p.nodePort ? { nodePort: p.nodePort } : {}),
      ...(p.targetPort !== undefined ? { targetPort: String(p.targetPort) } : {}),
    })),
    endpoints,
    loadBalancer: (svc.status?.loadBalancer?.ingress ?? [])
      .filter((i) => i.ip)
      .map((i) => {
        const node = announcer.get(i.ip!)
        return { ip: i.ip!, ...(node ? { announcer: node } : {}) }
      }),
  }
  if (svc.spec?.clusterIP) v.clusterIP = svc.spec.clusterIP
  return v
}

export function policyView(np: NetworkPolicy): PolicyView {
  const sel = np.spec?.podSelector
  const types = np.spec?.policyTypes ?? (np.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress'])
  return {
    key: keyOf(np),
    namespace: np.metadata.namespace ?? 'default',
    name: np.metadata.name!,
    podSelector: !sel || labelSelectorIsEmpty(sel) ? '(all pods)' : formatLabelSelector(sel),
    policyTypes: [...types],
    ingressRules: np.spec?.ingress?.length ?? 0,
    egressRules: np.spec?.egress?.length ?? 0,
  }
}
