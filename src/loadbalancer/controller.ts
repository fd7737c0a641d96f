// The LoadBalancer IP controller (in `netkube server`, under the controller manager's
// leader election), MetalLB's controller in netkube's shape:
//   informers (Services; the kube-system/netkube-lb-pools ConfigMap) → one queue of
//   Service keys → sync(key): decide() (pure, allocate-core.ts) → claim the address in etcd
//   (store.ts, create-if-absent) → write status.loadBalancer with the Service's
//   resourceVersion (conflict = retry) → release every other address the Service held.
// Race-free by the etcd record, not by the single worker: a second controller (a leader
// handover) can only re-find the same claims. A Service that is deleted, changes type or
// is given another loadBalancerClass gives its address back; its status is cleared unless
// another class now owns it. A refusal (outside every pool, taken, pool full) is a Warning
// Event `AllocationFailed` plus the condition `LoadBalancerIPAllocated=False`; never a crash.
// Orphans (a claim whose Service is gone, e.g. deleted while this controller was down) are
// found at start: every holder's key is queued too.
import type { ConfigMap, Condition, Service } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import type { Client } from '../client/interfaces.js'
import { createInformer, type Informer } from '../client/informer.js'
import { createWorkQueue, runWorkers } from '../client/workqueue.js'
import { isApiStatusError } from '../client/errors.js'
import { createEventRecorder, rfc3339, type EventRecorder } from '../events/recorder.js'
import { logger } from '../util/log.js'
import { CONDITION_TYPE, DEFAULT_LB_CLASS, currentIPs, decide, ingressFor, ownerKey, ownerOf, type Decision, type Owner } from './allocate-core.js'
import { POOLS_CONFIGMAP, POOLS_NAMESPACE, describePool, mergePools, type Pool } from './pools.js'
import type { AllocationStore } from './store.js'

const log = logger('loadbalancer')
/** Claims tried within one sync before it is left to the rate-limited queue. */
const CLAIM_ATTEMPTS = 8
const WORKERS = 4

export interface LoadBalancerControllerOptions {
  client: Client
  store: AllocationStore
  /** Pools from `--load-balancer-pools`. */
  flagPools: Pool[]
  /** `spec.loadBalancerClass` served besides none (default netkube.io/lb). */
  lbClass?: string
  recorder?: EventRecorder
}

export interface LoadBalancerController {
  /** The pools in force (flags + ConfigMap). */
  pools(): Pool[]
  /** Resolves when the queue is empty and no sync runs (tests). */
  idle(): Promise<void>
  stop(): Promise<void>
}

export async function startLoadBalancerController(o: LoadBalancerControllerOptions): Promise<LoadBalancerController> {
  const ourClass = o.lbClass ?? DEFAULT_LB_CLASS
  const recorder = o.recorder ?? createEventRecorder({ client: o.client, component: 'netkube-lb-controller' })
  const services: Informer<Service> = createInformer(o.client.resource<Service>(resourceFor('services')), { name: 'lb-services' })
  const configs: Informer<ConfigMap> = createInformer(o.client.resource<ConfigMap>(resourceFor('configmaps'), POOLS_NAMESPACE), {
    name: 'lb-pools',
    fieldSelector: `metadata.name=${POOLS_CONFIGMAP}`,
  })
  const queue = createWorkQueue<string>({ name: 'loadbalancer' })
  const keyOf = (s: Service): string => ownerKey(ownerOf(s))
  let pools: Pool[] = o.flagPools
  let poolErrors = ''
  const recomputePools = (): void => {
    const cm = configs.store.get(`${POOLS_NAMESPACE}/${POOLS_CONFIGMAP}`)
    const m = mergePools(o.flagPools, cm?.data)
    pools = m.pools
    const errs = m.errors.join('; ')
    if (errs && errs !== poolErrors && cm) recorder.event(cm, 'Warning', 'InvalidPool', `ignored: ${errs}`)
    poolErrors = errs
    log.info({ pools: pools.map(describePool), errors: m.errors }, 'address pools')
    for (const s of services.store.list()) if (s.spec?.type === 'LoadBalancer') queue.add(keyOf(s))
  }
  services.addEventHandler({
    onAdd: (s) => queue.add(keyOf(s)),
    onUpdate: (_a, s) => queue.add(keyOf(s)),
    onDelete: (s) => queue.add(keyOf(s)),
  })
  configs.addEventHandler({ onAdd: recomputePools, onUpdate: recomputePools, onDelete: recomputePools })
  await Promise.all([services.start(), configs.start()])
  recomputePools()

  const writeStatus = async (svc: Service, ingress: ReturnType<typeof ingressFor>, cond: Condition | undefined): Promise<void> => {
    const next: Service = structuredClone(svc)
    next.status ??= {}
    next.status.loadBalancer = ingress.length ? { ingress } : {}
    const others = (next.status.conditions ?? []).filter((c) => c.type !== CONDITION_TYPE)
    const prev = (svc.status?.conditions ?? []).find((c) => c.type === CONDITION_TYPE)
    if (cond) {
      // lastTransitionTime moves only when the status does (metav1.Condition's rule)
      cond.lastTransitionTime = prev && prev.status === cond.status ? prev.lastTransitionTime : rfc3339(Date.now())
      next.status.conditions = [...others, cond]
    } else if (prev) next.status.conditions = others
    if (!next.status.conditions?.length) delete next.status.conditions
    if (JSON.stringify(next.status) === JSON.stringify(svc.status ?? {})) return
    await o.client.resource<Service>(resourceFor('services'), svc.metadata.namespace).updateStatus(next)
  }

  const sync = async (key: string): Promise<void> => {
    const svc = services.store.get(key)
    const holders = await o.store.list()
    const held = (owner: (h: Owner) => boolean): [string, Owner][] => [...holders].filter(([, h]) => owner(h))
    const sameKey = (h: Owner): boolean => ownerKey(h) === key
    if (!svc) {
      for (const [ip, h] of held(sameKey)) await o.store.release(ip, h)
      return
    }
    const me = ownerOf(svc)
    // Claims of an earlier Service of the same name (deleted and re-created) are orphans.
    for (const [ip, h] of held((h) => sameKey(h) && h.uid !== me.uid)) {
      await o.store.release(ip, h)
      holders.delete(ip)
    }
    let d: Decision = decide({ svc, pools, holders, ourClass })
    let mine = held((h) => h.uid === me.uid).map(([ip]) => ip)
    if (d.kind === 'release') {
      for (const ip of mine) await o.store.release(ip, me)
      // Another class's controller owns the status now; a type change clears ours.
      if (d.clearStatus && (currentIPs(svc).length > 0 || svc.status?.conditions?.some((c) => c.type === CONDITION_TYPE))) await writeStatus(svc, [], undefined)
      return
    }
    if (d.kind === 'fail') {
      for (const ip of mine) await o.store.release(ip, me)
      const was = svc.status?.conditions?.find((c) => c.type === CONDITION_TYPE)
      if (was?.status !== 'False' || was.message !== d.message) recorder.event(svc, 'Warning', d.reason, d.message)
      await writeStatus(svc, [], { type: CONDITION_TYPE, status: 'False', reason: d.reason, message: d.message })
      return
    }
    // A lost claim (another Service, or another controller, took the address between our list
    // and our claim) is decided again at once on a fresh list, as the apiserver's allocators
    // retry a failed CAS: thrown, it went through the rate-limited queue, and with two
    // controllers walking the same keys in step the same key lost again and again — its
    // back-off doubling past the test's 10 s under load.
    for (let attempt = 1; !(await o.store.claim(d.ip, me)); attempt++) {
      if (attempt >= CLAIM_ATTEMPTS) throw new Error(`address ${d.ip} was claimed by another Service meanwhile`) // retried: decide() then sees it taken
      log.debug({ key, ip: d.ip, attempt }, 'address claimed meanwhile; deciding again')
      const fresh = await o.store.list()
      holders.clear()
      for (const [ip, h] of fresh) holders.set(ip, h)
      d = decide({ svc, pools, holders, ourClass })
      mine = held((h) => h.uid === me.uid).map(([ip]) => ip)
      if (d.kind !== 'assign') return void queue.add(key) // e.g. the pool filled up meanwhile: a fresh sync records it
    }
    const isNew = !currentIPs(svc).includes(d.ip)
    await writeStatus(svc, ingressFor(d.ip), { type: CONDITION_TYPE, status: 'True', reason: 'IPAllocated', message: `Assigned IP ["${d.ip}"] from pool "${d.pool}"` })
    if (isNew) recorder.event(svc, 'Normal', 'IPAllocated', `Assigned IP ["${d.ip}"]`)
    for (const ip of mine) if (ip !== d.ip) await o.store.release(ip, me)
  }

  // Orphaned claims: queue their keys; sync() of an absent Service releases them.
  for (const h of (await o.store.list()).values()) queue.add(ownerKey(h))

  let busy = 0
  // Several workers: a sync is ~4 round trips (list, claim, status, Event) and under load each
  // took 100-200 ms, so one worker needed > 10 s for 24 new Services. Safe in parallel: the
  // queue never hands one key to two workers, claims are create-if-absent, status is a CAS.
  const running = runWorkers(
    queue,
    WORKERS,
    async (key) => {
      busy++
      try {
        await sync(key)
      } finally {
        busy--
      }
    },
    {
      onError: (key, err, retries) => {
        const conflict = isApiStatusError(err) && err.code === 409
        log[conflict ? 'debug' : 'warn']({ key, err: (err as Error).message, retries }, 'sync failed, requeued')
      },
    },
  )
  return {
    pools: () => pools,
    async idle() {
      while (queue.len() > 0 || busy > 0) await new Promise((r) => setTimeout(r, 20))
    },
    async stop() {
      services.stop()
      configs.stop()
      await queue.shutDownWithDrain()
      await running
      if (!o.recorder) await recorder.stop()
      o.store.close()
    },
  }
}
