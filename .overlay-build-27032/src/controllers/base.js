import { logger } from '../util/log.js';
import { createWorkQueue, runWorkers } from '../client/workqueue.js';
export class QueueController {
    name;
    metrics;
    queue;
    log;
    running;
    constructor(name, metrics) {
        this.name = name;
        this.metrics = metrics;
        this.queue = createWorkQueue({ name });
        this.log = logger(`controller.${name}`);
    }
    enqueue(key) {
        this.queue.add(key);
        this.metrics.queueDepth.set({ controller: this.name }, this.queue.len());
    }
    run(workers) {
        this.running = runWorkers(this.queue, workers, async (key) => {
            const end = this.metrics.reconcileDuration.startTimer({ controller: this.name });
            this.metrics.reconciles.inc({ controller: this.name });
            try {
                await this.sync(key);
            }
            finally {
                end();
                this.metrics.queueDepth.set({ controller: this.name }, this.queue.len());
            }
        }, {
            onError: (key, err, retries) => {
                this.metrics.reconcileErrors.inc({ controller: this.name });
                this.log.warn({ key, err: err?.message ?? String(err), retries }, 'sync failed, requeued');
            },
        });
    }
    async stop() {
        await this.queue.shutDownWithDrain();
        await this.running;
    }
}
export function splitKey(key) {
    const i = key.indexOf('/');
    return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
