// The controller manager: one shared informer factory, every controller on it, started after
// the caches have synced (no writes from a half-filled cache).
import type { Client } from '../client/interfaces.js'
import { logger } from '../util/log.js'
import { DeploymentController } from './deployment.js'
import { EndpointSliceController, EndpointsController } from './endpoints.js'
import { GarbageCollector } from './gc.js'
import { InformerFactory } from './informers.js'
import { ControllerMetrics } from './metrics.js'
import { NodeLifecycleController } from './nodelifecycle.js'
import { ReplicaSetController } from './replicaset.js'
import { ServiceAccountsController } from './serviceaccounts.js'
import { CronJobController } from './cronjob.js'
import { createEventRecorder, type EventRecorder } from '../events/recorder.js'
import { JobController } from './job.js'
import { TTLAfterFinishedController } from './ttlafterfinished.js'
import { PersistentVolumeController } from './persistentvolume.js'
import { DaemonSetController } from './daemonset.js'
import { StatefulSetController } from './statefulset.js'
import type { Registry } from 'prom-client'

export interface ControllerManagerOptions {
  client: Client
  /** A node silent this long becomes Ready=Unknown (default 40 s). */
  nodeMonitorGracePeriodMs?: number
  /** Pods on a NoExecute-tainted node without a toleration go after this long (default 300 s). */
  podEvictionTimeoutMs?: number
  /** How often node health is checked (default 1 s). */
  nodeMonitorPeriodMs?: number
  /** Workers per queue-driven controller (default 2). */
  workers?: number
  /** First back-off before the Job controller replaces a failed pod (default 10 s, doubling, capped at 10 min). */
  jobPodFailureBackoffMs?: number
  /** Where the Job and CronJob controllers send Events (default: core/v1 Events through `client`). */
  events?: EventRecorder
}

export interface ControllerManager {
  readonly metrics: Registry
  stop(): Promise<void>
}

export async function startControllerManager(opts: ControllerManagerOptions): Promise<ControllerManager> {
  const log = logger('controller-manager')
  const f = new InformerFactory(opts.client)
  const metrics = new ControllerMetrics()
  const workers = opts.workers ?? 2
  // One recorder per controller, named as upstream's event sources.
  const recorders: EventRecorder[] = []
  const recorder = (component: string): EventRecorder => {
    if (opts.events) return opts.events
    const r = createEventRecorder({ client: opts.client, component })
    recorders.push(r)
    return r
  }
  // Construct everything first: indexers must be registered before informers exist.
  const nodeLifecycle = new NodeLifecycleController(opts.client, f, metrics, {
    gracePeriodMs: opts.nodeMonitorGracePeriodMs ?? 40_000,
    podEvictionTimeoutMs: opts.podEvictionTimeoutMs ?? 300_000,
    monitorPeriodMs: opts.nodeMonitorPeriodMs ?? 1000,
  })
  const queued = [
    new ReplicaSetController(opts.client, f, metrics),
    new DeploymentController(opts.client, f, metrics),
    new EndpointsController(opts.client, f, metrics),
    new EndpointSliceController(opts.client, f, metrics, recorder('endpoint-slice-controller')),
    new ServiceAccountsController(opts.client, f, metrics),
    new JobController(opts.client, f, metrics, recorder('job-controller'), {
      ...(opts.jobPodFailureBackoffMs !== undefined ? { backoffBaseMs: opts.jobPodFailureBackoffMs } : {}),
    }),
    new CronJobController(opts.client, f, metrics, recorder('cronjob-controller')),
    new TTLAfterFinishedController(opts.client, f, metrics),
    new PersistentVolumeController(opts.client, f, metrics, recorder('persistentvolume-controller')),
    new DaemonSetController(opts.client, f, metrics, recorder('daemonset-controller')),
    new StatefulSetController(opts.client, f, metrics, recorder('statefulset-controller')),
  ]
  const gc = new GarbageCollector(opts.client, f, metrics)
  await f.start()
  for (const c of queued) c.run(workers)
  nodeLifecycle.run()
  gc.run()
  log.info({ controllers: [...queued.map((c) => c.name), 'nodelifecycle', 'garbagecollector'] }, 'controllers started')
  let stopping: Promise<void> | undefined
  return {
    metrics: metrics.registry,
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all([...queued.map((c) => c.stop()), nodeLifecycle.stop(), gc.stop()])
        await Promise.all(recorders.map((r) => r.stop()))
        await f.stop()
      })()),
  }
}
