// The informer: list, then watch from the list's resourceVersion, into an indexed store;
// event handlers see every change once, in order.
//
// Lifecycle (one loop, never two watches at once):
//   list ──► watch(rv) ──► stream ends (timeout, disconnect) ──► watch(last rv) …
//     ▲          │ 410 Gone (HTTP answer or in-stream ERROR): rv is compacted
//     └──────────┘ relist, and diff the store against the new list: deletes for vanished
//                  objects, updates for changed ones, adds for new ones.
//   Any failure (server down, 5xx) waits an exponential back-off (capped, jittered) first.
// resourceVersion is tracked from every event, including BOOKMARKs, so a re-watch resumes
// exactly where the previous stream stopped and nothing is replayed or lost.
import type { KubeObject, Status, WatchEvent } from '../api/types.js'
import { logger } from '../util/log.js'
import { isGone } from './errors.js'
import { objectKey, type EventHandler, type ResourceClient, type SharedInformer, type WatchHandle, type WatchOptions } from './interfaces.js'
import { IndexedStore, type Indexers } from './store.js'

export interface InformerOptions<T> {
  labelSelector?: string
  fieldSelector?: string
  /** Every resyncMs, each handler's onUpdate(obj, obj) for every cached object. */
  resyncMs?: number
  indexers?: Indexers<T>
  /** Page size of the list (default 500). 0 lists in one request. */
  pageSize?: number
  /** Server-side watch timeout; default random in [300, 600) s like client-go. */
  watchTimeoutSeconds?: number
  /** Reconnect back-off (default 200 ms doubling to 30 s, ±50 % jitter). */
  backoff?: { initialMs?: number; maxMs?: number }
  /** For logs. */
  name?: string
}

/** Exponential back-off with jitter; reset after a healthy period. */
export class Backoff {
  private attempt = 0
  constructor(
    readonly initialMs = 200,
    readonly maxMs = 30_000,
    readonly jitter = 0.5,
    private readonly rand: () => number = Math.random,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * Math.pow(2, this.attempt))
    if (base < this.maxMs) this.attempt++
    // jitter in [-j, +j] of the base, never above the cap
    const d = base * (1 + this.jitter * (2 * this.rand() - 1))
    return Math.max(0, Math.min(this.maxMs, Math.round(d)))
  }

  reset(): void {
    this.attempt = 0
  }

  get attempts(): number {
    return this.attempt
  }
}

export interface InformerStats {
  lists: number
  watches: number
  relistsAfterGone: number
  reconnectWaits: number
  events: number
}

export class Informer<T extends KubeObject> implements SharedInformer<T> {
  readonly store: IndexedStore<T>
  readonly stats: InformerStats = { lists: 0, watches: 0, relistsAfterGone: 0, reconnectWaits: 0, events: 0 }
  private handlers: EventHandler<T>[] = []
  private rv = ''
  private synced = false
  private stopped = false
  private running: Promise<void> | undefined
  private startPromise: Promise<void> | undefined
  private resolveStart: (() => void) | undefined
  private watch: WatchHandle | undefined
  private sleepTimer: NodeJS.Timeout | undefined
  private wakeSleep: (() => void) | undefined
  private resyncTimer: NodeJS.Timeout | undefined
  private readonly backoff: Backoff
  private listedAt = 0
  private unpagedNext = false
  private readonly log

  constructor(
    private readonly client: ResourceClient<T>,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.store = new IndexedStore<T>(opts.indexers)
    this.backoff = new Backoff(opts.backoff?.initialMs ?? 200, opts.backoff?.maxMs ?? 30_000)
    this.log = logger('informer').child({ informer: opts.name ?? 'informer' })
  }

  addEventHandler(h: EventHandler<T>): void {
    this.handlers.push(h)
    // A late handler catches up with synthetic adds, as client-go does.
    if (this.synced) for (const o of this.store.list()) this.call(h, 'onAdd', o)
  }

  start(): Promise<void> {
    if (this.startPromise) return this.startPromise
    this.startPromise = new Promise<void>((r) => (this.resolveStart = r))
    this.running = this.run().catch((err) => this.log.error({ err: (err as Error).message }, 'informer loop crashed'))
    if (this.opts.resyncMs && this.opts.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs)
      this.resyncTimer.unref?.()
    }
    return this.startPromise
  }

  hasSynced(): boolean {
    return this.synced
  }

  /** Stops the loop; a pending start() resolves (check hasSynced()). */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.watch?.stop()
    if (this.sleepTimer) clearTimeout(this.sleepTimer)
    this.wakeSleep?.()
    if (this.resyncTimer) clearInterval(this.resyncTimer)
    this.resolveStart?.()
  }

  /** Resolves when the loop has exited after stop(). */
  async waitStopped(): Promise<void> {
    await this.running
  }

  lastResourceVersion(): string {
    return this.rv
  }

  // ---------- the loop ----------

  private async run(): Promise<void> {
    let needList = true
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist()
          needList = false
        }
        const started = Date.now()
        const r = await this.watchOnce()
        if (this.stopped) break
        if (r.gone) {
          this.log.info({ rv: this.rv }, 'resourceVersion compacted (410): relisting')
          this.stats.relistsAfterGone++
          needList = true
          // 410 right after a fresh list means the server cannot serve our revision at all:
          // back off instead of spinning list → watch → 410.
          if (Date.now() - this.listedAt < 1000) await this.sleep(this.backoff.next())
          continue
        }
        if (r.error) {
          // A stream that worked for a while before failing starts the back-off afresh.
          if (r.events > 0 || Date.now() - started > 10_000) this.backoff.reset()
          this.log.warn({ err: r.error.message, rv: this.rv }, 'watch failed')
          await this.sleep(this.backoff.next())
          continue
        }
        // A stream that closed at once without a single event is suspicious (a server
        // shutting down): wait a little before hammering it. A healthy stream resets.
        if (r.events === 0 && Date.now() - started < 1000) await this.sleep(this.backoff.next())
        else this.backoff.reset()
      } catch (err) {
        if (this.stopped) break
        if (isGone(err)) {
          // The continue token of a paged list expired (the list was slower than compaction):
          // list again in one request, after a short pause.
          this.log.info('continue token expired (410): listing again without paging')
          this.unpagedNext = true
          needList = true
          await this.sleep(this.backoff.next())
          continue
        }
        this.log.warn({ err: (err as Error).message }, 'list failed')
        needList = true
        await this.sleep(this.backoff.next())
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve()
    this.stats.reconnectWaits++
    return new Promise((resolve) => {
      this.wakeSleep = resolve
      this.sleepTimer = setTimeout(resolve, ms)
    })
  }

  /** Full list (paged), then replace the store contents and emit the differences. */
  private async relist(): Promise<void> {
    const pageSize = this.unpagedNext ? 0 : (this.opts.pageSize ?? 500)
    const items: T[] = []
    let cont: string | undefined
    let rv = ''
    do {
      const page = await this.client.list({
        ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
        ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
        ...(pageSize > 0 ? { limit: pageSize } : {}),
        ...(cont ? { continue: cont } : {}),
      })
      if (this.stopped) return
      items.push(...page.items)
      // Every page carries the snapshot revision of the first; keep the first one.
      if (!rv) rv = page.metadata.resourceVersion ?? ''
      cont = page.metadata.continue || undefined
    } while (cont)
    this.stats.lists++
    this.listedAt = Date.now()
    this.unpagedNext = false
    this.replace(items)
    this.rv = rv
    if (!this.synced) {
      this.synced = true
      this.resolveStart?.()
    }
    this.backoff.reset()
  }

  /** Makes the store equal to `items`, emitting add/update/delete for the differences. */
  private replace(items: T[]): void {
    const fresh = new Map<string, T>()
    for (const o of items) fresh.set(objectKey(o), o)
    for (const key of this.store.keys()) {
      if (!fresh.has(key)) {
        const old = this.store.remove(key)!
        this.dispatch('onDelete', old)
      }
    }
    for (const [key, o] of fresh) {
      const old = this.store.put(key, o)
      if (!old) this.dispatch('onAdd', o)
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.dispatch('onUpdate', old, o)
    }
  }

  private watchOnce(): Promise<{ gone: boolean; error?: Error; events: number }> {
    const wopts: WatchOptions = {
      resourceVersion: this.rv,
      allowWatchBookmarks: true,
      timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
    }
    if (this.opts.labelSelector) wopts.labelSelector = this.opts.labelSelector
    if (this.opts.fieldSelector) wopts.fieldSelector = this.opts.fieldSelector
    let gone = false
    let error: Error | undefined
    let events = 0
    let active = true
    this.stats.watches++
    let h: WatchHandle | undefined
    h = this.client.watch(wopts, (ev) => {
      // Events after we gave up on this stream (gone, error, stop) must not touch the store.
      if (!active || this.stopped || gone || error) return
      events++
      const r = this.apply(ev)
      if (r === 'gone') gone = true
      else if (r instanceof Error) error = r
      if (gone || error) h?.stop()
    })
    this.watch = h
    // A synchronous implementation may already have delivered the end.
    if (this.stopped || gone || error) h.stop()
    return h.done.then(() => {
      active = false
      this.watch = undefined
      // The REST handle records why it ended; any other implementation may not.
      const hErr = (h as WatchHandle & { error?: unknown }).error
      if (!gone && !error && hErr instanceof Error) {
        if (isGone(hErr)) gone = true
        else error = hErr
      }
      return error ? { gone, error, events } : { gone, events }
    })
  }

  /** Applies one watch event to the store. */
  private apply(ev: WatchEvent<T>): 'ok' | 'gone' | Error {
    this.stats.events++
    const obj = ev.object
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const key = objectKey(obj)
        // Never go back in time: an event older than what the cache holds (a paged list
        // read past the watch start) would otherwise regress the object.
        if (olderThanCached(this.store.get(key), obj)) break
        const old = this.store.put(key, obj)
        if (old) this.dispatch('onUpdate', old, obj)
        else this.dispatch('onAdd', obj)
        break
      }
      case 'DELETED': {
        const old = this.store.remove(objectKey(obj))
        // The deleted object's final state is in the event (with its deletion revision).
        if (old) this.dispatch('onDelete', obj)
        break
      }
      case 'BOOKMARK':
        break
      case 'ERROR': {
        const st = obj as unknown as Status
        if (st?.code === 410 || st?.reason === 'Gone' || st?.reason === 'Expired') return 'gone'
        return new Error(`watch error event: ${st?.code ?? '?'} ${st?.reason ?? ''} ${st?.message ?? ''}`.trim())
      }
      default:
        return new Error(`unknown watch event type ${String((ev as { type: unknown }).type)}`)
    }
    const rv = obj?.metadata?.resourceVersion
    if (rv && !rvLess(rv, this.rv)) this.rv = rv
    return 'ok'
  }

  private resync(): void {
    if (!this.synced || this.stopped) return
    for (const o of this.store.list()) this.dispatch('onUpdate', o, o)
  }

  private dispatch(kind: 'onAdd' | 'onDelete', obj: T): void
  private dispatch(kind: 'onUpdate', oldObj: T, newObj: T): void
  private dispatch(kind: keyof EventHandler<T>, a: T, b?: T): void {
    for (const h of this.handlers) this.call(h, kind, a, b)
  }

  private call(h: EventHandler<T>, kind: keyof EventHandler<T>, a: T, b?: T): void {
    try {
      if (kind === 'onUpdate') h.onUpdate?.(a, b!)
      else h[kind]?.(a)
    } catch (err) {
      // One faulty handler must not stop the informer nor starve the others.
      this.log.error({ err: (err as Error).message, handler: kind }, 'event handler threw')
    }
  }
}

/** resourceVersions are opaque in Kubernetes; netkube's are etcd revisions, compared only when numeric. */
function rvLess(a: string, b: string): boolean {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return false
  return BigInt(a) < BigInt(b)
}

function olderThanCached(cached: KubeObject | undefined, incoming: KubeObject): boolean {
  const a = cached?.metadata.resourceVersion
  const b = incoming.metadata.resourceVersion
  return !!a && !!b && rvLess(b, a)
}

export function createInformer<T extends KubeObject>(client: ResourceClient<T>, opts: InformerOptions<T> = {}): Informer<T> {
  return new Informer<T>(client, opts)
}

/** Resolves once every informer has synced (start() them first). */
export async function waitForCacheSync(...informers: SharedInformer<KubeObject>[]): Promise<true> {
  while (!informers.every((i) => i.hasSynced())) await new Promise((r) => setTimeout(r, 20))
  return true
}

/** Like waitForCacheSync but gives up after `ms`; answers whether all synced. */
export async function waitForCacheSyncTimeout(ms: number, ...informers: SharedInformer<KubeObject>[]): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!informers.every((i) => i.hasSynced())) {
    if (Date.now() >= deadline) return false
    await new Promise((r) => setTimeout(r, 20))
  }
  return true
}
