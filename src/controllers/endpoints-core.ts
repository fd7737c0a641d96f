// Endpoints and EndpointSlice computation from a Service and the pods of its namespace,
// after pkg/controller/endpoint and pkg/controller/endpointslice. Pure: the shells
// (endpoints.ts, endpointslice.ts) diff the result against what is stored.
import type {
  Endpoint, EndpointAddress, EndpointPort, EndpointSlice, EndpointSubset, Endpoints, OwnerReference, Pod, Service, ServicePort,
} from '../api/types.js'
import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME } from '../api/types.js'
import { isPodTerminal, mapSelectorMatches, podIsReady } from './apiutil.js'
import { canonicalJSON } from './util.js'
import { reconcileHints, type HintsResult } from './topology-hints-core.js'

export const MANAGED_BY = 'endpointslice-controller.k8s.io'
export const LABEL_HEADLESS = 'service.kubernetes.io/headless'
export const MAX_ENDPOINTS_PER_SLICE = 100

/** The container port a service port targets on this pod; undefined when a named port is missing. */
export function findPort(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort ?? sp.port
  if (typeof tp === 'number') return tp
  if (/^[0-9]+$/.test(tp)) return Number(tp)
  const proto = sp.protocol ?? 'TCP'
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? 'TCP') === proto) return p.containerPort
  }
  return undefined
}

function selectedPods(svc: Service, pods: Pod[]): Pod[] {
  return pods
    .filter((p) => p.metadata.namespace === svc.metadata.namespace && mapSelectorMatches(svc.spec.selector, p.metadata.labels))
    .filter((p) => !!p.status?.podIP && !isPodTerminal(p))
}

function hostnameFor(svc: Service, pod: Pod): string | undefined {
  return pod.spec.hostname && pod.spec.subdomain === svc.metadata.name ? pod.spec.hostname : undefined
}

function podRef(pod: Pod) {
  return { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! }
}

function endpointPort(sp: ServicePort, port: number): EndpointPort {
  const p: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' }
  if (sp.name) p.name = sp.name
  if (sp.appProtocol) p.appProtocol = sp.appProtocol
  return p
}

function labelsFor(svc: Service, extra: Record<string, string>): Record<string, string> {
  const l: Record<string, string> = { ...(svc.metadata.labels ?? {}), ...extra }
  if (svc.spec.clusterIP === 'None') l[LABEL_HEADLESS] = ''
  return l
}

// ---------- Endpoints ----------

/** The Endpoints object a Service with a selector should have (undefined: leave alone). */
export function desiredEndpoints(svc: Service, pods: Pod[]): Endpoints | undefined {
  if (!svc.spec.selector || Object.keys(svc.spec.selector).length === 0) return undefined
  const publishNotReady = svc.spec.publishNotReadyAddresses === true
  // Group addresses by the exact port set they expose (named ports can differ per pod).
  const groups = new Map<string, EndpointSubset>()
  for (const pod of selectedPods(svc, pods)) {
    // Terminating pods leave Endpoints unless the Service publishes not-ready addresses.
    if (pod.metadata.deletionTimestamp && !publishNotReady) continue
    const ports: EndpointPort[] = []
    for (const sp of svc.spec.ports ?? []) {
      const n = findPort(pod, sp)
      if (n !== undefined) ports.push(endpointPort(sp, n))
    }
    if ((svc.spec.ports ?? []).length > 0 && ports.length === 0) continue
    const addr: EndpointAddress = { ip: pod.status!.podIP!, targetRef: podRef(pod) }
    const hn = hostnameFor(svc, pod)
    if (hn) addr.hostname = hn
    if (pod.spec.nodeName) addr.nodeName = pod.spec.nodeName
    ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port)
    const key = canonicalJSON(ports)
    let g = groups.get(key)
    if (!g) groups.set(key, (g = { ports }))
    if (publishNotReady || podIsReady(pod)) (g.addresses ??= []).push(addr)
    else (g.notReadyAddresses ??= []).push(addr)
  }
  const byIP = (a: EndpointAddress, b: EndpointAddress) => a.ip.localeCompare(b.ip, 'en', { numeric: true }) || (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '')
  const subsets = [...groups.values()].map((g) => {
    const s: EndpointSubset = {}
    if (g.addresses) s.addresses = g.addresses.sort(byIP)
    if (g.notReadyAddresses) s.notReadyAddresses = g.notReadyAddresses.sort(byIP)
    if (g.ports && g.ports.length) s.ports = g.ports
    return s
  })
  subsets.sort((a, b) => canonicalJSON(a.ports ?? []).localeCompare(canonicalJSON(b.ports ?? [])))
  const ep: Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: svc.metadata.name!, namespace: svc.metadata.namespace!, labels: labelsFor(svc, {}) },
  }
  if (subsets.length) ep.subsets = subsets
  return ep
}

export function endpointsEqual(a: Endpoints, b: Endpoints): boolean {
  return canonicalJSON(a.subsets ?? []) === canonicalJSON(b.subsets ?? []) && canonicalJSON(a.metadata.labels ?? {}) === canonicalJSON(b.metadata.labels ?? {})
}

// ---------- EndpointSlices ----------

export type SliceAction =
  | { kind: 'create'; slice: EndpointSlice }
  | { kind: 'update'; slice: EndpointSlice }
  | { kind: 'delete'; name: string }

/** What the controller knows of the nodes: zones of endpoints, CPU shares for Auto hints. */
export interface SliceTopology {
  zoneOf(nodeName: string): string | undefined
  /** cpuRatiosByZone of the ready nodes (undefined: not enough node information). */
  ratios: Map<string, number> | undefined
}

/**
 * Endpoints grouped by port set, each group chunked to ≤ MAX_ENDPOINTS_PER_SLICE; with
 * `topo`, endpoints carry their node's zone and the Service's topology hints.
 */
export function desiredSliceContents(svc: Service, pods: Pod[], topo?: SliceTopology): { ports: EndpointPort[]; endpoints: Endpoint[] }[] {
  return sliceContentsWithHints(svc, pods, topo).contents
}

function sliceContentsWithHints(svc: Service, pods: Pod[], topo?: SliceTopology): { contents: { ports: EndpointPort[]; endpoints: Endpoint[] }[]; auto?: HintsResult['auto'] } {
  const publishNotReady = svc.spec.publishNotReadyAddresses === true
  const groups = new Map<string, { ports: EndpointPort[]; endpoints: Endpoint[] }>()
  for (const pod of selectedPods(svc, pods)) {
    const ports: EndpointPort[] = []
    for (const sp of svc.spec.ports ?? []) {
      const n = findPort(pod, sp)
      if (n !== undefined) ports.push(endpointPort(sp, n))
    }
    if ((svc.spec.ports ?? []).length > 0 && ports.length === 0) continue
    ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port)
    const terminating = !!pod.metadata.deletionTimestamp
    const ready = podIsReady(pod)
    const ep: Endpoint = {
      addresses: [pod.status!.podIP!],
      conditions: { ready: publishNotReady || (ready && !terminating), serving: publishNotReady || ready, terminating },
      targetRef: podRef(pod),
    }
    const hn = hostnameFor(svc, pod)
    if (hn) ep.hostname = hn
    if (pod.spec.nodeName) {
      ep.nodeName = pod.spec.nodeName
      const zone = topo?.zoneOf(pod.spec.nodeName)
      if (zone) ep.zone = zone
    }
    const key = canonicalJSON(ports)
    let g = groups.get(key)
    if (!g) groups.set(key, (g = { ports, endpoints: [] }))
    g.endpoints.push(ep)
  }
  const out: { ports: EndpointPort[]; endpoints: Endpoint[] }[] = []
  const keys = [...groups.keys()].sort()
  for (const k of keys) groups.get(k)!.endpoints.sort((a, b) => a.addresses[0]!.localeCompare(b.addresses[0]!, 'en', { numeric: true }))
  // Hints are decided over every endpoint of the Service (all its slices), as upstream's
  // topology cache counts them, then the groups are chunked.
  let auto: HintsResult['auto']
  if (topo) {
    const flat = keys.flatMap((k) => groups.get(k)!.endpoints)
    const r = reconcileHints(svc, flat, topo.ratios)
    auto = r.auto
    let i = 0
    for (const k of keys) {
      const g = groups.get(k)!
      g.endpoints = r.endpoints.slice(i, i + g.endpoints.length)
      i += g.endpoints.length
    }
  }
  for (const k of keys) {
    const g = groups.get(k)!
    for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) {
      out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) })
    }
  }
  // A selector service with no endpoints still gets one (empty) slice, as upstream does.
  if (out.length === 0) {
    out.push({ ports: (svc.spec.ports ?? []).filter((sp) => typeof (sp.targetPort ?? sp.port) === 'number').map((sp) => endpointPort(sp, Number(sp.targetPort ?? sp.port))), endpoints: [] })
  }
  return { contents: out, ...(auto ? { auto } : {}) }
}

function serviceOwnerRef(svc: Service): OwnerReference {
  return { apiVersion: 'v1', kind: 'Service', name: svc.metadata.name!, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }
}

/**
 * Map desired contents onto existing slices: slices whose content is unchanged stay, others are
 * rewritten in place, extras created (generateName `<svc>-`) or deleted. Existing slices are those
 * labelled with the service name and managed by this controller.
 */
export function reconcileSlices(svc: Service, pods: Pod[], existing: EndpointSlice[], topo?: SliceTopology): SliceAction[] {
  return planSlices(svc, pods, existing, topo).actions
}

/** reconcileSlices, and Auto hints' state for the controller's Events. */
export function planSlices(svc: Service, pods: Pod[], existing: EndpointSlice[], topo?: SliceTopology): { actions: SliceAction[]; auto?: HintsResult['auto'] } {
  const mine = existing
    .filter((s) => s.metadata.labels?.[LABEL_SERVICE_NAME] === svc.metadata.name && s.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY)
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
  const actions: SliceAction[] = []
  if (!svc.spec.selector || Object.keys(svc.spec.selector).length === 0) {
    return { actions: mine.map((s) => ({ kind: 'delete', name: s.metadata.name! })) }
  }
  const { contents: want, auto } = sliceContentsWithHints(svc, pods, topo)
  const labels = labelsFor(svc, { [LABEL_SERVICE_NAME]: svc.metadata.name!, [LABEL_MANAGED_BY]: MANAGED_BY })
  const content = (s: { ports?: EndpointPort[]; endpoints: Endpoint[] }) => canonicalJSON({ p: s.ports ?? [], e: s.endpoints })
  const remaining = [...mine]
  const unmatched: typeof want = []
  // First keep slices whose content already matches exactly.
  for (const w of want) {
    const i = remaining.findIndex((s) => content(s) === content(w))
    if (i >= 0) {
      const s = remaining.splice(i, 1)[0]!
      if (canonicalJSON(s.metadata.labels ?? {}) !== canonicalJSON(labels) || !s.metadata.ownerReferences?.some((r) => r.uid === svc.metadata.uid)) {
        actions.push({ kind: 'update', slice: { ...s, metadata: { ...s.metadata, labels, ownerReferences: [serviceOwnerRef(svc)] } } })
      }
    } else unmatched.push(w)
  }
  for (const w of unmatched) {
    const s = remaining.shift()
    if (s) {
      actions.push({ kind: 'update', slice: { ...s, metadata: { ...s.metadata, labels, ownerReferences: [serviceOwnerRef(svc)] }, addressType: 'IPv4', endpoints: w.endpoints, ports: w.ports } })
    } else {
      actions.push({
        kind: 'create',
        slice: {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { generateName: `${svc.metadata.name}-`, namespace: svc.metadata.namespace!, labels, ownerReferences: [serviceOwnerRef(svc)] },
          addressType: 'IPv4',
          endpoints: w.endpoints,
          ports: w.ports,
        },
      })
    }
  }
  for (const s of remaining) actions.push({ kind: 'delete', name: s.metadata.name! })
  return { actions, ...(auto ? { auto } : {}) }
}
