// The scheduler shell: unscheduled pods (spec.nodeName empty, our schedulerName) go through a
// queue one at a time; a feasible node is bound through pods/binding, an infeasible pod gets
// PodScheduled=False/Unschedulable and waits in the unschedulable set until nodes change (or
// the periodic flush). Pods just bound are "assumed" on their node until the informer shows
// the binding, so back-to-back decisions see each other's resource use and spreading.
import { Counter, Histogram, Registry } from 'prom-client'
import type { Binding, Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../api/types.js'
import { ANNOTATION_SELECTED_NODE } from '../api/types.js'
import { claimsToSelect, type VolumeView } from './volumebinding.js'
import type { Client } from '../client/interfaces.js'
import { isConflict, isNotFound } from '../client/errors.js'
import { createInformer } from '../client/informer.js'
import { createWorkQueue, runWorkers } from '../client/workqueue.js'
import { logger } from '../util/log.js'
import { getCondition, isPodTerminal, objectKey, setCondition } from '../controllers/apiutil.js'
import { R } from '../controllers/informers.js'
import { DEFAULT_SCHEDULER, assumePod, buildNodeInfos, schedulePod } from './core.js'
import { hostname } from 'node:os'
import { createEventRecorder, type EventRecorder } from '../events/recorder.js'

export interface SchedulerOptions {
  client: Client
  schedulerName?: string
  /** Unschedulable pods are retried at least this often (default 10 s). */
  retryPeriodMs?: number
  /** Where Scheduled/FailedScheduling go (default: events.k8s.io/v1 through client, as kube-scheduler). */
  recorder?: EventRecorder
}

export interface Scheduler {
  readonly metrics: Registry
  stop(): Promise<void>
}

export async function startScheduler(opts: SchedulerOptions): Promise<Scheduler> {
  const log = logger('scheduler')
  const name = opts.schedulerName ?? DEFAULT_SCHEDULER
  const registry = new Registry()
  const attempts = new Counter({ name: 'netkube_scheduler_schedule_attempts_total', help: 'Scheduling attempts by result', labelNames: ['result'], registers: [registry] })
  const latency = new Histogram({
    name: 'netkube_scheduler_scheduling_attempt_duration_seconds',
    help: 'Time from taking a pod off the queue to its binding (or failure)',
    labelNames: ['result'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  })
  const pods = createInformer(opts.client.resource<Pod>(R.pods), { name: 'scheduler-pods' })
  const nodes = createInformer(opts.client.resource<Node>(R.nodes), { name: 'scheduler-nodes' })
  // VolumeBinding's read model: claims, volumes and classes.
  const claims = createInformer(opts.client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims), { name: 'scheduler-pvcs' })
  const pvs = createInformer(opts.client.resource<PersistentVolume>(R.persistentvolumes), { name: 'scheduler-pvs' })
  const classes = createInformer(opts.client.resource<StorageClass>(R.storageclasses), { name: 'scheduler-storageclasses' })
  const volumeView: VolumeView = {
    claim: (ns, name) => claims.store.get(`${ns}/${name}`),
    volume: (name) => pvs.store.get(name),
    storageClass: (name) => classes.store.get(name),
    volumes: () => pvs.store.list(),
  }
  const queue = createWorkQueue<string>({ name: 'scheduler' })
  const recorder = opts.recorder ?? createEventRecorder({ client: opts.client, component: name, host: `${name}-${hostname()}`, api: 'events.k8s.io/v1' })
  const unschedulable = new Set<string>()
  const assumed = new Map<string, Pod>()
  /** Bindings in flight (awaited on stop). */
  const inflight = new Set<Promise<void>>()

  const wants = (p: Pod) =>
    !p.spec.nodeName && (p.spec.schedulerName ?? DEFAULT_SCHEDULER) === name && !p.metadata.deletionTimestamp && !isPodTerminal(p)
  const flush = () => {
    for (const k of unschedulable) queue.add(k)
    unschedulable.clear()
  }
  pods.addEventHandler({
    onAdd: (p) => wants(p) && queue.add(objectKey(p)),
    onUpdate: (_o, p) => {
      if (p.spec.nodeName) assumed.delete(objectKey(p))
      if (wants(p) && !unschedulable.has(objectKey(p))) queue.add(objectKey(p))
    },
    onDelete: (p) => {
      assumed.delete(objectKey(p))
      unschedulable.delete(objectKey(p))
      // Resources freed on a node: waiting pods may fit now.
      if (p.spec.nodeName) flush()
    },
  })
  const nodeChanged = (o: Node | undefined, n: Node) =>
    !o ||
    JSON.stringify([o.spec, o.metadata.labels, o.status?.allocatable, getCondition(o.status?.conditions, 'Ready')?.status]) !==
      JSON.stringify([n.spec, n.metadata.labels, n.status?.allocatable, getCondition(n.status?.conditions, 'Ready')?.status])
  nodes.addEventHandler({ onAdd: () => flush(), onUpdate: (o, n) => nodeChanged(o, n) && flush() })
  // A claim bound, a volume or class added: pods waiting on volumes may fit now.
  for (const inf of [claims, pvs, classes] as { addEventHandler(h: { onAdd?: () => void; onUpdate?: () => void }): void }[]) inf.addEventHandler({ onAdd: () => flush(), onUpdate: () => flush() })

  await Promise.all([pods.start(), nodes.start(), claims.start(), pvs.start(), classes.start()])
  const retry = setInterval(flush, opts.retryPeriodMs ?? 10_000)

  const scheduleOne = async (key: string): Promise<void> => {
    const pod = pods.store.get(key)
    if (!pod || !wants(pod) || assumed.has(key)) return
    const end = latency.startTimer()
    const all = [...pods.store.list().filter((p) => !assumed.has(objectKey(p))), ...assumed.values()]
    const infos = buildNodeInfos(nodes.store.list(), all)
    const r = schedulePod(pod, infos, Math.random, volumeView)
    const api = opts.client.resource<Pod>(R.pods, pod.metadata.namespace)
    if (r.ok) {
      const bound: Pod = { ...pod, spec: { ...pod.spec, nodeName: r.node } }
      assumed.set(key, bound)
      assumePod(infos, pod, r.node)
      const binding: Binding = {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.metadata.name!, namespace: pod.metadata.namespace!, uid: pod.metadata.uid! },
        target: { apiVersion: 'v1', kind: 'Node', name: r.node },
      }
      // VolumeBinding's PreBind: WaitForFirstConsumer claims learn the node first.
      const toSelect = claimsToSelect(pod, volumeView)
      const preBind = async (): Promise<void> => {
        for (const c of toSelect) {
          try {
            await opts.client
              .resource<PersistentVolumeClaim>(R.persistentvolumeclaims, c.metadata.namespace)
              .patch(c.metadata.name!, { metadata: { resourceVersion: c.metadata.resourceVersion, annotations: { [ANNOTATION_SELECTED_NODE]: r.node } } }, 'merge')
          } catch (err) {
            // A claim that changed or went is not the pod's end: schedule it again (the error path retries).
            throw new Error(`setting ${ANNOTATION_SELECTED_NODE} on claim ${c.metadata.namespace}/${c.metadata.name}: ${(err as Error).message}`)
          }
        }
      }
      // The binding runs asynchronously (upstream's binding cycle): the next pod is scheduled
      // meanwhile against the assumed placement; a failed binding un-assumes and retries.
      const bind = preBind().then(() => api.createSubresource(pod.metadata.name!, 'binding', binding)).then(
        () => {
          attempts.inc({ result: 'scheduled' })
          end({ result: 'scheduled' })
          recorder.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${r.node}`, { action: 'Binding' })
          log.debug({ pod: key, node: r.node }, 'bound')
        },
        (err: unknown) => {
          assumed.delete(key)
          attempts.inc({ result: 'error' })
          end({ result: 'error' })
          if (isNotFound(err) || isConflict(err)) return // gone, or bound by someone else
          log.warn({ pod: key, node: r.node, err: (err as Error).message }, 'binding failed, retrying')
          queue.addRateLimited(key)
        },
      )
      inflight.add(bind)
      void bind.finally(() => inflight.delete(bind))
      return
    }
    attempts.inc({ result: 'unschedulable' })
    end({ result: 'unschedulable' })
    unschedulable.add(key)
    // Every failed attempt is an event, as upstream (repeats become a series on one object).
    recorder.event(pod, 'Warning', 'FailedScheduling', r.message, { action: 'Scheduling' })
    const cur = getCondition(pod.status?.conditions, 'PodScheduled')
    if (cur?.status === 'False' && cur.reason === 'Unschedulable' && cur.message === r.message) return
    log.info({ pod: key, why: r.message }, 'unschedulable')
    const conds = setCondition(pod.status?.conditions, { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: r.message, lastProbeTime: null })
    try {
      await api.patchStatus(pod.metadata.name!, { status: { conditions: conds } }, 'merge')
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }
  const running = runWorkers(queue, 1, scheduleOne)
  log.info({ schedulerName: name }, 'scheduler started')
  let stopping: Promise<void> | undefined
  return {
    metrics: registry,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(retry)
        await queue.shutDownWithDrain()
        await running
        await Promise.all([...inflight])
        await recorder.stop()
        for (const i of [pods, nodes, claims, pvs, classes]) i.stop()
        await Promise.all([pods, nodes, claims, pvs, classes].map((i) => i.waitStopped()))
      })()),
  }
}
