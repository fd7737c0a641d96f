// The thin shell every controller shares: a rate-limited work queue of `namespace/name` keys,
// N workers calling sync(key), errors requeued with back-off, metrics around each sync.
import type { Logger } from '../util/log.js'
import { logger } from '../util/log.js'
import { createWorkQueue, runWorkers, type WorkQueue } from '../client/workqueue.js'
import type { ControllerMetrics } from './metrics.js'
import type { EventRecorder } from '../events/recorder.js'

export abstract class QueueController {
  readonly queue: WorkQueue<string>
  protected readonly log: Logger
  private running: Promise<void> | undefined
  /** Events about the objects this controller acts on (flushed on stop). */
  protected recorder: EventRecorder | undefined

  constructor(
    readonly name: string,
    protected readonly metrics: ControllerMetrics,
  ) {
    this.queue = createWorkQueue<string>({ name })
    this.log = logger(`controller.${name}`)
  }

  /** Reconcile one key; throw to be retried with back-off. */
  protected abstract sync(key: string): Promise<void>

  enqueue(key: string): void {
    this.queue.add(key)
    this.metrics.queueDepth.set({ controller: this.name }, this.queue.len())
  }

  run(workers: number): void {
    this.running = runWorkers(
      this.queue,
      workers,
      async (key) => {
        const end = this.metrics.reconcileDuration.startTimer({ controller: this.name })
        this.metrics.reconciles.inc({ controller: this.name })
        try {
          await this.sync(key)
        } finally {
          end()
          this.metrics.queueDepth.set({ controller: this.name }, this.queue.len())
        }
      },
      {
        onError: (key, err, retries) => {
          this.metrics.reconcileErrors.inc({ controller: this.name })
          this.log.warn({ key, err: (err as Error)?.message ?? String(err), retries }, 'sync failed, requeued')
        },
      },
    )
  }

  async stop(): Promise<void> {
    await this.queue.shutDownWithDrain()
    await this.running
    await this.recorder?.stop()
  }
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/')
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) }
}
