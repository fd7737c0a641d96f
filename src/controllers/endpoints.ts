// Endpoints and EndpointSlice controller shells: Services and pods → desired objects → API.
import type { EndpointSlice, Endpoints, Node, Pod, Service } from '../api/types.js'
import { LABEL_SERVICE_NAME, LABEL_TOPOLOGY_ZONE } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import type { Informer } from '../client/informer.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { mapSelectorMatches, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import type { EventRecorder } from '../events/recorder.js'
import { desiredEndpoints, endpointsEqual, planSlices, type SliceTopology } from './endpoints-core.js'
import { cpuRatiosByZone, hintEvent, type HintsResult } from './topology-hints-core.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'

/** Wire Service and pod events to a queue of service keys (shared by both controllers). */
function watchServicesAndPods(c: QueueController, f: InformerFactory): { services: Informer<Service>; pods: Informer<Pod> } {
  const services = f.get<Service>(R.services)
  const pods = f.get<Pod>(R.pods)
  services.addEventHandler({
    onAdd: (s) => c.enqueue(objectKey(s)),
    onUpdate: (_o, s) => c.enqueue(objectKey(s)),
    onDelete: (s) => c.enqueue(objectKey(s)),
  })
  const forPod = (p: Pod) => {
    for (const s of services.store.byIndex(BY_NAMESPACE, p.metadata.namespace ?? '')) {
      if (mapSelectorMatches(s.spec.selector, p.metadata.labels)) c.enqueue(objectKey(s))
    }
  }
  pods.addEventHandler({ onAdd: forPod, onUpdate: (o, n) => (forPod(o), forPod(n)), onDelete: forPod })
  return { services, pods }
}

export class EndpointsController extends QueueController {
  private readonly services
  private readonly pods
  private readonly eps

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics) {
    super('endpoints', metrics)
    ;({ services: this.services, pods: this.pods } = watchServicesAndPods(this, f))
    this.eps = f.get<Endpoints>(R.endpoints)
    // Someone changed or deleted an Endpoints object: put it back as it should be.
    this.eps.addEventHandler({ onUpdate: (_o, e) => this.enqueue(objectKey(e)), onDelete: (e) => this.enqueue(objectKey(e)) })
  }

  protected async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key)
    const api = this.client.resource<Endpoints>(R.endpoints, namespace)
    const svc = this.services.store.get(key)
    const cur = this.eps.store.get(key)
    if (!svc) {
      if (cur) await api.delete(name).catch((e) => { if (!isNotFound(e)) throw e })
      return
    }
    const want = desiredEndpoints(svc, this.pods.store.byIndex(BY_NAMESPACE, namespace))
    if (!want) return // no selector: Endpoints are the user's
    if (!cur) {
      try {
        await api.create(want)
      } catch (err) {
        if (!isAlreadyExists(err)) throw err
        this.queue.addAfter(key, 100)
      }
      return
    }
    if (endpointsEqual(cur, want)) return
    const next: Endpoints = { ...cur, metadata: { ...cur.metadata, labels: want.metadata.labels! } }
    if (want.subsets) next.subsets = want.subsets
    else delete next.subsets
    try {
      await api.update(next)
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) throw err
      this.queue.addAfter(key, 50)
    }
  }
}

/** What of a Node topology hints depend on: its zone, readiness, CPU, control-plane role. */
function nodeTopologyKey(n: Node): string {
  const l = n.metadata.labels ?? {}
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status
  return JSON.stringify([l[LABEL_TOPOLOGY_ZONE], ready, n.status?.allocatable?.cpu, 'node-role.kubernetes.io/control-plane' in l || 'node-role.kubernetes.io/master' in l])
}

export class EndpointSliceController extends QueueController {
  private readonly services
  private readonly pods
  private readonly slices
  private readonly nodes
  /** Slices created/deleted but not yet seen by the informer: wait before acting again. */
  private readonly pending = new Map<string, { created: Set<string>; deleted: Set<string>; at: number }>()
  /** Nodes' zones and CPU shares, recomputed when a node's topology changes. */
  private topo: SliceTopology | undefined
  /** Auto hints' last state per Service: Events are recorded when it changes. */
  private readonly autoState = new Map<string, HintsResult['auto']>()

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics, private readonly events?: EventRecorder) {
    super('endpointslice', metrics)
    f.addIndexers<EndpointSlice>(R.endpointslices, {
      service: (s) => (s.metadata.labels?.[LABEL_SERVICE_NAME] ? [`${s.metadata.namespace}/${s.metadata.labels[LABEL_SERVICE_NAME]}`] : []),
    })
    ;({ services: this.services, pods: this.pods } = watchServicesAndPods(this, f))
    this.slices = f.get<EndpointSlice>(R.endpointslices)
    const forSlice = (s: EndpointSlice) => {
      const svc = s.metadata.labels?.[LABEL_SERVICE_NAME]
      if (svc) this.enqueue(`${s.metadata.namespace}/${svc}`)
    }
    this.slices.addEventHandler({ onAdd: forSlice, onUpdate: (_o, s) => forSlice(s), onDelete: forSlice })
    // A node's zone or capacity changes endpoints' zones and Auto's shares: every Service again.
    this.nodes = f.get<Node>(R.nodes)
    const nodesChanged = () => {
      this.topo = undefined
      for (const s of this.services.store.list()) this.enqueue(objectKey(s))
    }
    this.nodes.addEventHandler({
      onAdd: nodesChanged,
      onUpdate: (o, n) => {
        if (nodeTopologyKey(o) !== nodeTopologyKey(n)) nodesChanged()
      },
      onDelete: nodesChanged,
    })
  }

  private topology(): SliceTopology {
    if (!this.topo) {
      const nodes = this.nodes.store.list()
      const zones = new Map(nodes.map((n) => [n.metadata.name!, n.metadata.labels?.[LABEL_TOPOLOGY_ZONE]]))
      this.topo = { zoneOf: (name) => zones.get(name) || undefined, ratios: cpuRatiosByZone(nodes) }
    }
    return this.topo
  }

  protected async sync(key: string): Promise<void> {
    const { namespace } = splitKey(key)
    const existing = this.slices.store.byIndex('service', key)
    const p = this.pending.get(key)
    if (p) {
      const names = new Set(existing.map((s) => s.metadata.name!))
      const settled = [...p.created].every((n) => names.has(n)) && [...p.deleted].every((n) => !names.has(n))
      if (!settled && Date.now() - p.at < 30_000) {
        this.queue.addAfter(key, 100)
        return
      }
      this.pending.delete(key)
    }
    const svc = this.services.store.get(key)
    const api = this.client.resource<EndpointSlice>(R.endpointslices, namespace)
    const plan = svc ? planSlices(svc, this.pods.store.byIndex(BY_NAMESPACE, namespace), existing, this.topology()) : undefined
    const actions = plan ? plan.actions : existing.map((s) => ({ kind: 'delete' as const, name: s.metadata.name! }))
    const ev = svc && hintEvent(this.autoState.get(key), plan?.auto, 'IPv4')
    if (plan?.auto) this.autoState.set(key, plan.auto)
    else this.autoState.delete(key)
    if (svc && ev) this.events?.event(svc, ev.type, ev.reason, ev.message)
    const pend = { created: new Set<string>(), deleted: new Set<string>(), at: Date.now() }
    for (const a of actions) {
      try {
        if (a.kind === 'create') pend.created.add((await api.create(a.slice)).metadata.name!)
        else if (a.kind === 'update') await api.update(a.slice)
        else {
          await api.delete(a.name)
          pend.deleted.add(a.name)
        }
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) {
          this.queue.addAfter(key, 50)
          continue
        }
        throw err
      }
    }
    if (pend.created.size || pend.deleted.size) this.pending.set(key, pend)
  }
}
