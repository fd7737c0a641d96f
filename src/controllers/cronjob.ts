// CronJob controller shell: CronJob and Job informer events → queue → reconcileCronJob → API
// calls; each CronJob is requeued for its next schedule time.
import type { CronJob, Job } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { controllerRef, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import { jobRef, jobsToPrune, reconcileCronJob } from './cronjob-core.js'
import type { EventRecorder } from '../events/recorder.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'

export class CronJobController extends QueueController {
  private readonly cronjobs
  private readonly jobs

  constructor(
    private readonly client: Client,
    f: InformerFactory,
    metrics: ControllerMetrics,
    private readonly events: EventRecorder,
  ) {
    super('cronjob', metrics)
    this.cronjobs = f.get<CronJob>(R.cronjobs)
    this.jobs = f.get<Job>(R.jobs)
    this.cronjobs.addEventHandler({
      onAdd: (c) => this.enqueue(objectKey(c)),
      onUpdate: (_o, c) => this.enqueue(objectKey(c)),
      onDelete: (c) => this.enqueue(objectKey(c)),
    })
    const owner = (j: Job): void => {
      const r = controllerRef(j)
      if (r?.kind === 'CronJob') this.enqueue(`${j.metadata.namespace}/${r.name}`)
    }
    this.jobs.addEventHandler({ onAdd: owner, onUpdate: (_o, j) => owner(j), onDelete: owner })
  }

  protected async sync(key: string): Promise<void> {
    const cj = this.cronjobs.store.get(key)
    if (!cj) return
    const { namespace } = splitKey(key)
    const jobs = this.jobs.store.byIndex(BY_NAMESPACE, namespace)
    const jobClient = this.client.resource<Job>(R.jobs, namespace)
    // Active refs the cache does not show are confirmed gone with a live read (a slow watch is no proof).
    const cached = new Set(jobs.map((j) => j.metadata.uid))
    const gone = new Set<string>()
    for (const a of cj.status?.active ?? []) {
      if (!a.uid || cached.has(a.uid)) continue
      try {
        const live = await jobClient.get(a.name!)
        if (live.metadata.uid !== a.uid) gone.add(a.uid)
      } catch (err) {
        if (!isNotFound(err)) throw err
        gone.add(a.uid)
      }
    }
    const res = reconcileCronJob({ cj, jobs, now: Date.now(), goneActive: gone })
    for (const e of res.events) this.events.event(cj, e.type, e.reason, e.message)
    const status = res.status
    let changed = res.statusChanged
    for (const ref of res.replace) {
      try {
        await jobClient.delete(ref.name!, { propagationPolicy: 'Background', preconditions: { uid: ref.uid! } })
        this.events.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${ref.name}`)
      } catch (err) {
        if (!isNotFound(err)) {
          this.events.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${(err as Error).message}`)
          throw err
        }
      }
      status.active = (status.active ?? []).filter((a) => a.uid !== ref.uid)
      changed = true
    }
    if (res.create) {
      let created: Job
      try {
        created = await jobClient.create(res.create.job)
        this.events.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`)
      } catch (err) {
        if (!isAlreadyExists(err)) {
          this.events.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${(err as Error).message}`)
          throw err
        }
        // Created by an earlier pass whose status write was lost: take it as ours.
        created = await jobClient.get(res.create.job.metadata.name!)
      }
      if (!(status.active ?? []).some((a) => a.uid === created.metadata.uid)) status.active = [...(status.active ?? []), jobRef(created)]
      status.lastScheduleTime = res.create.scheduledTime
      changed = true
    }
    if (changed) {
      try {
        await this.client.resource<CronJob>(R.cronjobs, namespace).updateStatus({ ...cj, status })
      } catch (err) {
        if (isNotFound(err)) return
        throw err
      }
    }
    for (const j of jobsToPrune(cj, jobs)) {
      try {
        await jobClient.delete(j.metadata.name!, { propagationPolicy: 'Background', preconditions: { uid: j.metadata.uid! } })
        this.events.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${j.metadata.name}`)
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err
      }
    }
    if (res.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs)
  }
}
