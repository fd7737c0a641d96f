// A rate-limited work queue with client-go's semantics, so controllers are written the
// client-go way: informer handlers only enqueue keys; workers take keys, reconcile, and
// either forget the key (success) or requeue it with per-item exponential back-off.
//
// Guarantees
// - A key waits in the queue at most once (adds of a pending key are merged).
// - A key is never handed to two workers at once: added while being processed, it is marked
//   dirty and queued again when the worker calls done(key).
// - After shutDown(), get() answers undefined (pending waiters too), and adds are ignored.
import { logger } from '../util/log.js'

const log = logger('workqueue')

export interface RateLimiter<K> {
  /** How long to wait before the item may be retried; counts a failure. */
  when(item: K): number
  /** Stop tracking the item (it succeeded). */
  forget(item: K): void
  numRequeues(item: K): number
}

/** base · 2^failures, capped; per item. client-go's default is 5 ms → 1000 s. */
export class ItemExponentialFailureRateLimiter<K> implements RateLimiter<K> {
  private failures = new Map<K, number>()
  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  when(item: K): number {
    const n = this.failures.get(item) ?? 0
    this.failures.set(item, n + 1)
    // 2^n overflows to Infinity quickly; the cap keeps it sane.
    const d = this.baseMs * Math.pow(2, n)
    return Number.isFinite(d) ? Math.min(d, this.maxMs) : this.maxMs
  }

  forget(item: K): void {
    this.failures.delete(item)
  }

  numRequeues(item: K): number {
    return this.failures.get(item) ?? 0
  }
}

/** An overall token bucket (qps, burst) shared by all items: bounds the total retry rate. */
export class BucketRateLimiter<K> implements RateLimiter<K> {
  private tokens: number
  private last: number
  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst
    this.last = now()
  }

  when(_item: K): number {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps)
    this.last = t
    // Reserve a token now, possibly going negative: the wait is the time to pay the debt.
    this.tokens -= 1
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000)
  }

  forget(_item: K): void {}

  numRequeues(_item: K): number {
    return 0
  }
}

/** The longest delay of several limiters (client-go's MaxOfRateLimiter). */
export class MaxOfRateLimiter<K> implements RateLimiter<K> {
  private readonly limiters: RateLimiter<K>[]
  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters
  }

  when(item: K): number {
    let d = 0
    for (const l of this.limiters) d = Math.max(d, l.when(item))
    return d
  }

  forget(item: K): void {
    for (const l of this.limiters) l.forget(item)
  }

  numRequeues(item: K): number {
    let n = 0
    for (const l of this.limiters) n = Math.max(n, l.numRequeues(item))
    return n
  }
}

/** client-go's DefaultControllerRateLimiter: per-item 5 ms → 1000 s, overall 10 qps / burst 100. */
export function defaultControllerRateLimiter<K>(): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(new ItemExponentialFailureRateLimiter<K>(5, 1_000_000), new BucketRateLimiter<K>(10, 100))
}

export interface WorkQueueOptions<K> {
  /** For logs. */
  name?: string
  /** Default: defaultControllerRateLimiter(). Pass an ItemExponentialFailureRateLimiter alone for no bucket. */
  rateLimiter?: RateLimiter<K>
}

export interface RateLimitingQueue<K = string> {
  add(key: K): void
  addAfter(key: K, ms: number): void
  addRateLimited(key: K): void
  forget(key: K): void
  numRequeues(key: K): number
  /** The next key, waiting if none; undefined once shut down. */
  get(): Promise<K | undefined>
  done(key: K): void
  /** Keys waiting (not the ones in progress, nor the delayed ones). */
  len(): number
  shutDown(): void
  /** Stops accepting work and resolves once every key in progress is done. */
  shutDownWithDrain(): Promise<void>
  shuttingDown(): boolean
}

export class WorkQueue<K = string> implements RateLimitingQueue<K> {
  readonly name: string
  private readonly limiter: RateLimiter<K>
  // FIFO of pending keys: an array with a moving head so get() is O(1).
  private items: K[] = []
  private head = 0
  /** Keys that need processing (pending, or re-added while in progress). */
  private dirty = new Set<K>()
  private processing = new Set<K>()
  private waiters: ((k: K | undefined) => void)[] = []
  /** Delayed adds: key → when it becomes ready, and its timer (only the earliest is kept). */
  private delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>()
  private closing = false
  private drainWaiters: (() => void)[] = []

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.name = opts.name ?? 'queue'
    this.limiter = opts.rateLimiter ?? defaultControllerRateLimiter<K>()
  }

  add(key: K): void {
    if (this.closing) return
    if (this.dirty.has(key)) return
    this.dirty.add(key)
    if (this.processing.has(key)) return
    this.enqueue(key)
  }

  private enqueue(key: K): void {
    const w = this.waiters.shift()
    if (w) {
      this.dirty.delete(key)
      this.processing.add(key)
      w(key)
    } else {
      this.items.push(key)
    }
  }

  addAfter(key: K, ms: number): void {
    if (this.closing) return
    if (!(ms > 0)) {
      this.add(key)
      return
    }
    const at = Date.now() + ms
    const prev = this.delayed.get(key)
    if (prev) {
      if (prev.at <= at) return
      clearTimeout(prev.timer)
    }
    const timer = setTimeout(() => {
      this.delayed.delete(key)
      this.add(key)
    }, ms)
    this.delayed.set(key, { at, timer })
  }

  addRateLimited(key: K): void {
    this.addAfter(key, this.limiter.when(key))
  }

  forget(key: K): void {
    this.limiter.forget(key)
  }

  numRequeues(key: K): number {
    return this.limiter.numRequeues(key)
  }

  get(): Promise<K | undefined> {
    if (this.head < this.items.length) {
      const key = this.items[this.head]!
      this.head++
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head)
        this.head = 0
      }
      this.dirty.delete(key)
      this.processing.add(key)
      return Promise.resolve(key)
    }
    if (this.closing) return Promise.resolve(undefined)
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  done(key: K): void {
    if (!this.processing.delete(key)) return
    if (this.dirty.has(key)) {
      if (this.closing) this.dirty.delete(key)
      else this.enqueue(key)
    }
    if (this.processing.size === 0) for (const d of this.drainWaiters.splice(0)) d()
  }

  len(): number {
    return this.items.length - this.head
  }

  /** Keys being processed right now (for tests and metrics). */
  inProgress(): number {
    return this.processing.size
  }

  shutDown(): void {
    if (this.closing) return
    this.closing = true
    for (const d of this.delayed.values()) clearTimeout(d.timer)
    this.delayed.clear()
    // Pending items are dropped: a shut-down controller does no more work.
    this.items = []
    this.head = 0
    this.dirty.clear()
    for (const w of this.waiters.splice(0)) w(undefined)
    if (this.processing.size === 0) for (const d of this.drainWaiters.splice(0)) d()
  }

  shutDownWithDrain(): Promise<void> {
    const p = this.processing.size === 0 ? Promise.resolve() : new Promise<void>((r) => this.drainWaiters.push(r))
    this.shutDown()
    return p
  }

  shuttingDown(): boolean {
    return this.closing
  }
}

export function createWorkQueue<K = string>(opts: WorkQueueOptions<K> = {}): WorkQueue<K> {
  return new WorkQueue<K>(opts)
}

export interface RunWorkersOptions<K> {
  /** Give up on a key after this many failed attempts (default: never). */
  maxRetries?: number
  onError?(key: K, err: unknown, retries: number): void
}

/**
 * Runs `n` workers until the queue shuts down. A handler that throws gets its key requeued
 * rate-limited; one that succeeds gets its back-off forgotten. Resolves when all workers exit.
 */
export async function runWorkers<K>(
  queue: RateLimitingQueue<K>,
  n: number,
  handler: (key: K) => Promise<void>,
  opts: RunWorkersOptions<K> = {},
): Promise<void> {
  const worker = async () => {
    for (;;) {
      const key = await queue.get()
      if (key === undefined) return
      try {
        await handler(key)
        queue.forget(key)
      } catch (err) {
        const retries = queue.numRequeues(key)
        if (opts.onError) opts.onError(key, err, retries)
        else log.warn({ key: String(key), err: (err as Error)?.message ?? String(err), retries }, 'sync failed, requeued')
        if (opts.maxRetries !== undefined && retries >= opts.maxRetries) {
          log.error({ key: String(key), retries }, 'dropping key after max retries')
          queue.forget(key)
        } else {
          queue.addRateLimited(key)
        }
      } finally {
        queue.done(key)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker))
}
