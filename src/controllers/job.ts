// Job controller shell: informer events → queue → reconcileJob → API calls, in the order the
// core lists them (status with the uncounted pods before any finalizer is removed).
import type { Job, Pod } from '../api/types.js'
import { FINALIZER_JOB_TRACKING } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isConflict, isNotFound } from '../client/errors.js'
import { controllerRef, labelSelectorMatches, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import type { EventRecorder } from '../events/recorder.js'
import { Expectations } from './expectations.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import { hasTrackingFinalizer, reconcileJob } from './job-core.js'
import type { ControllerMetrics } from './metrics.js'
import { handleOwnedPods } from './owned-pods.js'

export interface JobControllerOptions {
  /** First back-off before a failed pod is replaced (upstream: 10 s); doubles per failure. */
  backoffBaseMs?: number
  /** Cap of that back-off (upstream: 10 min). */
  backoffMaxMs?: number
}

/** A strategic merge patch removing only our finalizer, pinned to the pod's uid. */
const removeFinalizerPatch = (p: Pod): unknown => ({ metadata: { uid: p.metadata.uid, '$deleteFromPrimitiveList/finalizers': [FINALIZER_JOB_TRACKING] } })

export class JobController extends QueueController {
  private readonly exp = new Expectations()
  /** Finalizer removals sent and not yet seen, per Job key (finalizerExpectations). */
  private readonly rmFinalizers = new Map<string, Set<string>>()
  private readonly jobs
  private readonly pods

  constructor(
    private readonly client: Client,
    f: InformerFactory,
    metrics: ControllerMetrics,
    private readonly events: EventRecorder,
    private readonly opts: JobControllerOptions = {},
  ) {
    super('job', metrics)
    this.jobs = f.get<Job>(R.jobs)
    this.pods = f.get<Pod>(R.pods)
    this.jobs.addEventHandler({
      onAdd: (j) => this.enqueue(objectKey(j)),
      onUpdate: (_o, j) => this.enqueue(objectKey(j)),
      onDelete: (j) => {
        this.exp.forget(objectKey(j))
        this.rmFinalizers.delete(objectKey(j))
        this.enqueue(objectKey(j))
      },
    })
    handleOwnedPods(this.pods, {
      ownerKey: (p) => this.ownerKey(p),
      enqueue: (k) => this.enqueue(k),
      enqueueMatching: (p) => this.enqueueMatching(p),
      exp: this.exp,
      observed: (k, p, deleted) => {
        if (deleted || !hasTrackingFinalizer(p)) this.rmFinalizers.get(k)?.delete(p.metadata.uid!)
      },
    })
  }

  private ownerKey(p: Pod): string | undefined {
    const r = controllerRef(p)
    return r && r.kind === 'Job' && r.apiVersion.startsWith('batch/') ? `${p.metadata.namespace}/${r.name}` : undefined
  }

  private enqueueMatching(p: Pod): void {
    for (const j of this.jobs.store.byIndex(BY_NAMESPACE, p.metadata.namespace ?? '')) {
      if (j.spec.selector && labelSelectorMatches(j.spec.selector, p.metadata.labels)) this.enqueue(objectKey(j))
    }
  }

  protected async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key)
    const pods = this.pods.store.byIndex(BY_NAMESPACE, namespace)
    const podClient = this.client.resource<Pod>(R.pods, namespace)
    const job = this.jobs.store.get(key)
    // Pods that still carry our finalizer for a Job that is gone (or a namesake's) are let go.
    const orphans = pods.filter((p) => {
      const r = controllerRef(p)
      return r?.kind === 'Job' && r.name === name && hasTrackingFinalizer(p) && r.uid !== job?.metadata.uid
    })
    if (orphans.length) await this.releaseOrphans(namespace, name, orphans)
    if (!job) {
      this.exp.forget(key)
      this.rmFinalizers.delete(key)
      return
    }
    const res = reconcileJob({
      job,
      pods,
      now: Date.now(),
      expectationsSatisfied: this.exp.satisfied(key),
      expectedRmFinalizers: this.rmFinalizers.get(key) ?? new Set(),
      ...(this.opts.backoffBaseMs !== undefined ? { backoffBaseMs: this.opts.backoffBaseMs } : {}),
      ...(this.opts.backoffMaxMs !== undefined ? { backoffMaxMs: this.opts.backoffMaxMs } : {}),
    })
    const byName = new Map(pods.map((p) => [p.metadata.name!, p]))
    let current = job
    for (const a of res.actions) {
      switch (a.kind) {
        case 'adopt':
        case 'release': {
          const p = byName.get(a.pod)!
          const ref = { apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid!, controller: true, blockOwnerDeletion: true }
          const others = (p.metadata.ownerReferences ?? []).filter((r) => r.uid !== job.metadata.uid)
          const fins = (p.metadata.finalizers ?? []).filter((f) => f !== FINALIZER_JOB_TRACKING)
          const meta =
            a.kind === 'adopt'
              ? { ownerReferences: [...others, ref], finalizers: [...fins, FINALIZER_JOB_TRACKING] }
              : { ownerReferences: others, finalizers: fins }
          try {
            await podClient.patch(a.pod, { metadata: { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion, ...meta } }, 'merge')
          } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err
          }
          break
        }
        case 'delete':
          await this.deletePods(key, job, a.pods.map((n) => byName.get(n)!))
          break
        case 'status':
          try {
            current = await this.client.resource<Job>(R.jobs, namespace).updateStatus({ ...current, status: a.status })
          } catch (err) {
            if (isNotFound(err)) return
            // A stale Job: start over from the cache rather than remove finalizers of uncounted pods.
            throw err
          }
          break
        case 'removeFinalizers':
          await this.removeFinalizers(key, a.pods.map((n) => byName.get(n)!))
          break
        case 'create':
          await this.createPods(key, job, a.pods)
          break
        case 'event':
          this.events.event(job, a.type, a.reason, a.message)
          break
      }
    }
    if (res.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs + 50)
  }

  private async releaseOrphans(namespace: string, name: string, pods: Pod[]): Promise<void> {
    // Confirm with a live read: the Job informer may lag the pod informer.
    let liveUid: string | undefined
    try {
      liveUid = (await this.client.resource<Job>(R.jobs, namespace).get(name)).metadata.uid
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
    await this.removeFinalizers(undefined, pods.filter((p) => controllerRef(p)?.uid !== liveUid))
  }

  private async removeFinalizers(key: string | undefined, pods: Pod[]): Promise<void> {
    if (pods.length === 0) return
    const expected = key ? this.rmFinalizers.get(key) ?? new Set<string>() : undefined
    if (key && expected) this.rmFinalizers.set(key, expected)
    const results = await Promise.allSettled(
      pods.map(async (p) => {
        expected?.add(p.metadata.uid!)
        try {
          await this.client.resource<Pod>(R.pods, p.metadata.namespace).patch(p.metadata.name!, removeFinalizerPatch(p), 'strategic')
        } catch (err) {
          expected?.delete(p.metadata.uid!)
          if (!isNotFound(err) && !isConflict(err)) throw err
        }
      }),
    )
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
  }

  /** deleteJobPods: the finalizer goes first, so a deleted active pod is never counted. */
  private async deletePods(key: string, job: Job, pods: Pod[]): Promise<void> {
    this.exp.expectDeletions(key, pods.map((p) => p.metadata.name!))
    const results = await Promise.allSettled(
      pods.map(async (p) => {
        const c = this.client.resource<Pod>(R.pods, p.metadata.namespace)
        try {
          if (hasTrackingFinalizer(p)) await c.patch(p.metadata.name!, removeFinalizerPatch(p), 'strategic')
          await c.delete(p.metadata.name!, { preconditions: { uid: p.metadata.uid! } })
          this.events.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`)
        } catch (err) {
          this.exp.deletionObserved(key, p.metadata.name!)
          if (!isNotFound(err) && !isConflict(err)) {
            this.events.event(job, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`)
            throw err
          }
        }
      }),
    )
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
  }

  /** Slow start (1, 2, 4, …) as upstream: a failing create stops the burst early. */
  private async createPods(key: string, job: Job, bodies: Pod[]): Promise<void> {
    const podClient = this.client.resource<Pod>(R.pods, job.metadata.namespace)
    this.exp.expectCreations(key, bodies.length)
    let i = 0
    for (let batch = 1; i < bodies.length; batch *= 2) {
      const chunk = bodies.slice(i, i + batch)
      i += chunk.length
      const results = await Promise.allSettled(chunk.map((b) => podClient.create(b)))
      for (const r of results) if (r.status === 'fulfilled') this.events.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`)
      const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
      if (failed.length) {
        for (let n = 0; n < failed.length + (bodies.length - i); n++) this.exp.creationObserved(key)
        this.events.event(job, 'Warning', 'FailedCreate', `Error creating: ${(failed[0]!.reason as Error).message}`)
        throw failed[0]!.reason
      }
    }
  }
}
