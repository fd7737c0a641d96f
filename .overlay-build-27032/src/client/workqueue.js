// A rate-limited work queue with client-go's semantics, so controllers are written the
// client-go way: informer handlers only enqueue keys; workers take keys, reconcile, and
// either forget the key (success) or requeue it with per-item exponential back-off.
//
// Guarantees
// - A key waits in the queue at most once (adds of a pending key are merged).
// - A key is never handed to two workers at once: added while being processed, it is marked
//   dirty and queued again when the worker calls done(key).
// - After shutDown(), get() answers undefined (pending waiters too), and adds are ignored.
import { logger } from '../util/log.js';
const log = logger('workqueue');
/** base · 2^failures, capped; per item. client-go's default is 5 ms → 1000 s. */
export class ItemExponentialFailureRateLimiter {
    baseMs;
    maxMs;
    failures = new Map();
    constructor(baseMs = 5, maxMs = 1_000_000) {
        this.baseMs = baseMs;
        this.maxMs = maxMs;
    }
    when(item) {
        const n = this.failures.get(item) ?? 0;
        this.failures.set(item, n + 1);
        // 2^n overflows to Infinity quickly; the cap keeps it sane.
        const d = this.baseMs * Math.pow(2, n);
        return Number.isFinite(d) ? Math.min(d, this.maxMs) : this.maxMs;
    }
    forget(item) {
        this.failures.delete(item);
    }
    numRequeues(item) {
        return this.failures.get(item) ?? 0;
    }
}
/** An overall token bucket (qps, burst) shared by all items: bounds the total retry rate. */
export class BucketRateLimiter {
    qps;
    burst;
    now;
    tokens;
    last;
    constructor(qps = 10, burst = 100, now = Date.now) {
        this.qps = qps;
        this.burst = burst;
        this.now = now;
        this.tokens = burst;
        this.last = now();
    }
    when(_item) {
        const t = this.now();
        this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
        this.last = t;
        // Reserve a token now, possibly going negative: the wait is the time to pay the debt.
        this.tokens -= 1;
        return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
    }
    forget(_item) { }
    numRequeues(_item) {
        return 0;
    }
}
/** The longest delay of several limiters (client-go's MaxOfRateLimiter). */
export class MaxOfRateLimiter {
    limiters;
    constructor(...limiters) {
        this.limiters = limiters;
    }
    when(item) {
        let d = 0;
        for (const l of this.limiters)
            d = Math.max(d, l.when(item));
        return d;
    }
    forget(item) {
        for (const l of this.limiters)
            l.forget(item);
    }
    numRequeues(item) {
        let n = 0;
        for (const l of this.limiters)
            n = Math.max(n, l.numRequeues(item));
        return n;
    }
}
/** client-go's DefaultControllerRateLimiter: per-item 5 ms → 1000 s, overall 10 qps / burst 100. */
export function defaultControllerRateLimiter() {
    return new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1_000_000), new BucketRateLimiter(10, 100));
}
export class WorkQueue {
    name;
    limiter;
    // FIFO of pending keys: an array with a moving head so get() is O(1).
    items = [];
    head = 0;
    /** Keys that need processing (pending, or re-added while in progress). */
    dirty = new Set();
    processing = new Set();
    waiters = [];
    /** Delayed adds: key → when it becomes ready, and its timer (only the earliest is kept). */
    delayed = new Map();
    closing = false;
    drainWaiters = [];
    constructor(opts = {}) {
        this.name = opts.name ?? 'queue';
        this.limiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    }
    add(key) {
        if (this.closing)
            return;
        if (this.dirty.has(key))
            return;
        this.dirty.add(key);
        if (this.processing.has(key))
            return;
        this.enqueue(key);
    }
    enqueue(key) {
        const w = this.waiters.shift();
        if (w) {
            this.dirty.delete(key);
            this.processing.add(key);
            w(key);
        }
        else {
            this.items.push(key);
        }
    }
    addAfter(key, ms) {
        if (this.closing)
            return;
        if (!(ms > 0)) {
            this.add(key);
            return;
        }
        const at = Date.now() + ms;
        const prev = this.delayed.get(key);
        if (prev) {
            if (prev.at <= at)
                return;
            clearTimeout(prev.timer);
        }
        const timer = setTimeout(() => {
            this.delayed.delete(key);
            this.add(key);
        }, ms);
        this.delayed.set(key, { at, timer });
    }
    addRateLimited(key) {
        this.addAfter(key, this.limiter.when(key));
    }
    forget(key) {
        this.limiter.forget(key);
    }
    numRequeues(key) {
        return this.limiter.numRequeues(key);
    }
    get() {
        if (this.head < this.items.length) {
            const key = this.items[this.head];
            this.head++;
            if (this.head > 1024 && this.head * 2 > this.items.length) {
                this.items = this.items.slice(this.head);
                this.head = 0;
            }
            this.dirty.delete(key);
            this.processing.add(key);
            return Promise.resolve(key);
        }
        if (this.closing)
            return Promise.resolve(undefined);
        return new Promise((resolve) => this.waiters.push(resolve));
    }
    done(key) {
        if (!this.processing.delete(key))
            return;
        if (this.dirty.has(key)) {
            if (this.closing)
                this.dirty.delete(key);
            else
                this.enqueue(key);
        }
        if (this.processing.size === 0)
            for (const d of this.drainWaiters.splice(0))
                d();
    }
    len() {
        return this.items.length - this.head;
    }
    /** Keys being processed right now (for tests and metrics). */
    inProgress() {
        return this.processing.size;
    }
    shutDown() {
        if (this.closing)
            return;
        this.closing = true;
        for (const d of this.delayed.values())
            clearTimeout(d.timer);
        this.delayed.clear();
        // Pending items are dropped: a shut-down controller does no more work.
        this.items = [];
        this.head = 0;
        this.dirty.clear();
        for (const w of this.waiters.splice(0))
            w(undefined);
        if (this.processing.size === 0)
            for (const d of this.drainWaiters.splice(0))
                d();
    }
    shutDownWithDrain() {
        const p = this.processing.size === 0 ? Promise.resolve() : new Promise((r) => this.drainWaiters.push(r));
        this.shutDown();
        return p;
    }
    shuttingDown() {
        return this.closing;
    }
}
export function createWorkQueue(opts = {}) {
    return new WorkQueue(opts);
}
/**
 * Runs `n` workers until the queue shuts down. A handler that throws gets its key requeued
 * rate-limited; one that succeeds gets its back-off forgotten. Resolves when all workers exit.
 */
export async function runWorkers(queue, n, handler, opts = {}) {
    const worker = async () => {
        for (;;) {
            const key = await queue.get();
            if (key === undefined)
                return;
            try {
                await handler(key);
                queue.forget(key);
            }
            catch (err) {
                const retries = queue.numRequeues(key);
                if (opts.onError)
                    opts.onError(key, err, retries);
                else
                    log.warn({ key: String(key), err: err?.message ?? String(err), retries }, 'sync failed, requeued');
                if (opts.maxRetries !== undefined && retries >= opts.maxRetries) {
                    log.error({ key: String(key), retries }, 'dropping key after max retries');
                    queue.forget(key);
                }
                else {
                    queue.addRateLimited(key);
                }
            }
            finally {
                queue.done(key);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
}
