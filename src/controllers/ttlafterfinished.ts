// TTL-after-finished shell: finished Jobs with a TTL are queued; when it runs out the Job is
// deleted with foreground propagation (its pods go first), after a live re-read.
import type { Job } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isConflict, isNotFound } from '../client/errors.js'
import { objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import { R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { ttlDecision } from './ttlafterfinished-core.js'

export class TTLAfterFinishedController extends QueueController {
  private readonly jobs

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics) {
    super('ttl-after-finished', metrics)
    this.jobs = f.get<Job>(R.jobs)
    const on = (j: Job): void => {
      if (ttlDecision(j, Date.now()).kind !== 'none') this.enqueue(objectKey(j))
    }
    this.jobs.addEventHandler({ onAdd: on, onUpdate: (_o, j) => on(j) })
  }

  protected async sync(key: string): Promise<void> {
    const cached = this.jobs.store.get(key)
    if (!cached) return
    const d = ttlDecision(cached, Date.now())
    if (d.kind === 'requeue') this.queue.addAfter(key, d.afterMs + 50)
    if (d.kind !== 'delete') return
    const { namespace, name } = splitKey(key)
    const jobs = this.client.resource<Job>(R.jobs, namespace)
    try {
      // The TTL may have been changed since the cache saw it.
      const fresh = await jobs.get(name)
      const again = ttlDecision(fresh, Date.now())
      if (again.kind === 'requeue') this.queue.addAfter(key, again.afterMs + 50)
      if (again.kind !== 'delete') return
      await jobs.delete(name, { propagationPolicy: 'Foreground', preconditions: { uid: fresh.metadata.uid! } })
      this.log.info({ job: key }, 'deleted finished job after its TTL')
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err
    }
  }
}
