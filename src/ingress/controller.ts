// The ingress controller's shell: informers feed the pure model (model.ts), the data plane
// (dataplane.ts) applies it, and the results go back to the API as Ingress status and Events.
//
// - Informer callbacks only ask for a sync; syncs are coalesced (a burst of endpoint changes is
//   one sync) and start within `debounceMs` (50 ms) of a change, so config changes reach HAProxy
//   well inside 1 s. Nothing is applied before every informer has listed.
// - Supervision: HAProxy exiting on its own is noticed (exit event), counted, and the next sync
//   (scheduled at once, then with backoff) renders everything and starts it again.
// - Status: every Ingress we serve gets `status.loadBalancer.ingress` = the address of the
//   controller's own Service (--publish-service: its LoadBalancer ingress, else its ClusterIP),
//   or --publish-status-address. Ingresses that are not ours are never written.
// - Events: each ModelEvent once per (Ingress, reason, message) while it holds; a config that
//   HAProxy refuses is a Warning `ConfigRejected` on our Ingresses (the old config serves on).
import { Counter, Gauge, Registry } from 'prom-client'
import type { Ingress, IngressClass } from '../api/ingress.js'
import { findResource } from '../api/resources.js'
import type { EndpointSlice, KubeObject, Secret, Service } from '../api/types.js'
import { createInformer, type Informer } from '../client/informer.js'
import type { Client } from '../client/interfaces.js'
import { createEventRecorder, type EventRecorder } from '../events/recorder.js'
import { logger } from '../util/log.js'
import { HaproxyDataPlane, type ApplyResult } from './dataplane.js'
import type { HaproxyOptions } from './haproxy.js'
import { buildModel, CONTROLLER_NAME, type ModelEvent, type RoutingModel } from './model.js'

const log = logger('ingress-controller')

export interface IngressControllerOptions {
  client: Client
  haproxy: HaproxyOptions & { netns?: string; bin?: string }
  controller?: string
  /** `namespace/name` of the Service in front of the controller pods. */
  publishService?: string
  /** Fixed addresses for Ingress status instead of the Service's. */
  publishStatusAddress?: string[]
  debounceMs?: number
  registry?: Registry
  /** Event source host (the pod name). */
  instance?: string
}

export interface IngressController {
  readonly synced: Promise<void>
  readonly dataplane: HaproxyDataPlane
  /** The last model applied (for tests and /debug). */
  model(): RoutingModel | undefined
  /** Resolves after the next sync has finished (tests). */
  sync(): Promise<void>
  ready(): boolean
  stop(): Promise<void>
}

export function ingressStatusAddresses(svc: Service | undefined): { ip?: string; hostname?: string }[] {
  if (!svc) return []
  const lb = (svc.status?.loadBalancer?.ingress ?? []).flatMap((i): { ip?: string; hostname?: string }[] => (i.ip ? [{ ip: i.ip }] : i.hostname ? [{ hostname: i.hostname }] : []))
  if (lb.length) return lb
  const ext = svc.spec?.externalIPs ?? []
  if (ext.length) return ext.map((ip) => ({ ip }))
  const cip = svc.spec?.clusterIP
  return cip && cip !== 'None' ? [{ ip: cip }] : []
}

export function startIngressController(o: IngressControllerOptions): IngressController {
  const registry = o.registry ?? new Registry()
  const m = {
    syncs: new Counter({ name: 'netkube_ingress_syncs_total', help: 'Syncs by what they did to the data plane (none, runtime, reload).', labelNames: ['kind'], registers: [registry] }),
    rejected: new Counter({ name: 'netkube_ingress_config_rejected_total', help: 'Rendered configs HAProxy refused (the last good one kept serving).', registers: [registry] }),
    restarts: new Counter({ name: 'netkube_ingress_haproxy_restarts_total', help: 'HAProxy exits the controller restarted it after.', registers: [registry] }),
    ingresses: new Gauge({ name: 'netkube_ingress_served', help: 'Ingresses this controller serves.', registers: [registry] }),
    backends: new Gauge({ name: 'netkube_ingress_backend_endpoints', help: 'Ready endpoints per backend.', labelNames: ['backend'], registers: [registry] }),
  }
  const res = <T extends KubeObject>(group: string, plural: string, name: string): Informer<T> => createInformer<T>(o.client.resource<T>(findResource(group, 'v1', plural)!), { name })
  const ingresses = res<Ingress>('networking.k8s.io', 'ingresses', 'ingress-ingresses')
  const classes = res<IngressClass>('networking.k8s.io', 'ingressclasses', 'ingress-classes')
  const services = res<Service>('', 'services', 'ingress-services')
  const slices = res<EndpointSlice>('discovery.k8s.io', 'endpointslices', 'ingress-endpointslices')
  const secrets = res<Secret>('', 'secrets', 'ingress-secrets')
  const informers = [ingresses, classes, services, slices, secrets] as Informer<KubeObject>[]
  const recorder: EventRecorder = createEventRecorder({ client: o.client, component: 'netkube-ingress-controller', ...(o.instance ? { host: o.instance } : {}) })
  const ingressApi = (ns: string) => o.client.resource<Ingress>(findResource('networking.k8s.io', 'v1', 'ingresses')!, ns)

  let stopped = false
  let synced = false
  let running: Promise<void> | undefined
  let again = false
  let timer: NodeJS.Timeout | undefined
  let waiters: (() => void)[] = []
  let lastModel: RoutingModel | undefined
  let lastGood = false
  let failures = 0
  const emitted = new Set<string>()

  const dataplane = new HaproxyDataPlane(o.haproxy, () => {
    if (stopped) return
    m.restarts.inc()
    dataplane.forget()
    schedule(Math.min(5000, 200 * 2 ** Math.min(failures, 5)))
  })

  const schedule = (delay = o.debounceMs ?? 50): void => {
    if (stopped || !synced) return
    if (running) {
      again = true
      return
    }
    if (timer) return
    timer = setTimeout(() => {
      timer = undefined
      running = syncOnce()
        .catch((e: unknown) => {
          failures++
          log.error({ err: e instanceof Error ? e.message : String(e) }, 'ingress sync failed; retrying')
          again = true
        })
        .finally(() => {
          running = undefined
          const w = waiters
          waiters = []
          for (const f of w) f()
          if (again) {
            again = false
            schedule(failures ? Math.min(5000, 200 * 2 ** Math.min(failures, 5)) : undefined)
          }
        })
    }, delay)
  }

  const ingressByKey = (key: string): Ingress | undefined => ingresses.store.get(key)

  function emit(events: ModelEvent[]): void {
    const now = new Set<string>()
    for (const e of events) {
      const id = `${e.ingress}\u0000${e.reason}\u0000${e.message}`
      now.add(id)
      if (emitted.has(id)) continue
      const ing = ingressByKey(e.ingress)
      if (ing) recorder.event(ing, e.type, e.reason, e.message)
    }
    // A problem that went away may be reported again when it comes back.
    for (const id of [...emitted]) if (!now.has(id)) emitted.delete(id)
    for (const id of now) emitted.add(id)
  }

  async function writeStatus(model: RoutingModel): Promise<void> {
    let want: { ip?: string; hostname?: string }[]
    if (o.publishStatusAddress?.length) want = o.publishStatusAddress.map((a) => (/^[\d.]+$|:/.test(a) ? { ip: a } : { hostname: a }))
    else want = o.publishService ? ingressStatusAddresses(services.store.get(o.publishService)) : []
    for (const key of model.ingresses) {
      const ing = ingressByKey(key)
      if (!ing) continue
      const have = ing.status?.loadBalancer?.ingress ?? []
      if (JSON.stringify(have) === JSON.stringify(want)) continue
      try {
        await ingressApi(ing.metadata.namespace ?? 'default').patchStatus(ing.metadata.name ?? '', { status: { loadBalancer: { ingress: want } } }, 'merge')
      } catch (e) {
        log.warn({ ingress: key, err: e instanceof Error ? e.message : String(e) }, 'ingress status update failed')
      }
    }
  }

  async function syncOnce(): Promise<void> {
    const { model, events } = buildModel({
      ingresses: ingresses.store.list(),
      classes: classes.store.list(),
      services: services.store.list(),
      slices: slices.store.list(),
      secrets: secrets.store.list(),
      controller: o.controller ?? CONTROLLER_NAME,
    })
    const result: ApplyResult = await dataplane.apply(model)
    m.syncs.inc({ kind: result.kind })
    if (result.error) {
      m.rejected.inc()
      failures++
      lastGood = dataplane.proc.running()
      for (const key of model.ingresses) events.push({ ingress: key, type: 'Warning', reason: 'ConfigRejected', message: `the data plane refused the new configuration; the last good one keeps serving: ${result.error.slice(0, 300)}` })
      emit(events)
      if (!dataplane.proc.running()) throw new Error(result.error)
      return
    }
    failures = 0
    lastGood = true
    lastModel = model
    m.ingresses.set(model.ingresses.length)
    m.backends.reset()
    for (const b of Object.values(model.backends)) m.backends.set({ backend: b.key }, b.endpoints.length)
    emit(events)
    await writeStatus(model)
  }

  for (const inf of informers) inf.addEventHandler({ onAdd: () => schedule(), onUpdate: () => schedule(), onDelete: () => schedule() })
  const syncedP = Promise.all(informers.map((i) => i.start())).then(() => {
    if (stopped) return
    synced = true
    log.info({ ingresses: ingresses.store.keys().length }, 'ingress informers synced')
    schedule(0)
  })
  syncedP.catch((e: unknown) => log.error({ err: String(e) }, 'ingress informers failed to start'))

  return {
    synced: syncedP,
    dataplane,
    model: () => lastModel,
    ready: () => synced && lastGood && dataplane.proc.running(),
    async sync() {
      if (running) await running
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        schedule(0)
      })
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      for (const i of informers) i.stop()
      await running
      await recorder.stop()
      await dataplane.stop()
    },
  }
}
