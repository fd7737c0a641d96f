// The pure core of the event recorder: client-go's EventCorrelator (tools/record/events_cache.go)
// with an injected clock. For every event a component wants to record it decides one of
//   - drop: the source has spent its token bucket for this object (spam filter),
//   - create: a new Event object,
//   - update: an already written Event seen again — same name, count + 1, new lastTimestamp
//     (and series), patched instead of creating another object.
// Similar events whose messages keep changing are folded into one "(combined from similar
// events): …" event once more than 10 arrive within 10 minutes (the aggregator).
import type { CoreEvent, ObjectReference } from '../api/types.js'

export interface CorrelatorOptions {
  /** Spam filter bucket per (source, object): burst and refill interval (client-go: 25, one per 5 min). */
  burst?: number
  refillMs?: number
  /** Aggregation: more than this many distinct messages for one (source, object, type, reason)… */
  maxSimilar?: number
  /** …within this window (client-go: 10 events, 10 min). */
  aggregateWindowMs?: number
  /** LRU size of each cache (client-go: 4096). */
  cacheSize?: number
}

export type Decision = { kind: 'drop' } | { kind: 'create'; event: CoreEvent } | { kind: 'update'; event: CoreEvent }

export const AGGREGATED_PREFIX = '(combined from similar events): '

/** An LRU map: reads refresh an entry, inserts evict the oldest over capacity. */
class Lru<V> {
  private readonly m = new Map<string, V>()
  constructor(private readonly cap: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k)
    if (v !== undefined) {
      this.m.delete(k)
      this.m.set(k, v)
    }
    return v
  }
  set(k: string, v: V): void {
    this.m.delete(k)
    this.m.set(k, v)
    if (this.m.size > this.cap) this.m.delete(this.m.keys().next().value as string)
  }
  delete(k: string): void {
    this.m.delete(k)
  }
  get size(): number {
    return this.m.size
  }
}

/** A passive token bucket: tokens refill continuously, a take succeeds while one is left. */
export class TokenBucket {
  private tokens: number
  private last: number
  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    now: number,
  ) {
    this.tokens = burst
    this.last = now
  }
  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.refillMs)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

const refKey = (r: ObjectReference | undefined): string[] => [r?.kind ?? '', r?.namespace ?? '', r?.name ?? '', r?.uid ?? '', r?.apiVersion ?? '']
const sourceKey = (e: CoreEvent): string[] => [e.source?.component ?? '', e.source?.host ?? '']

/** getSpamKey: the source and the object, nothing about the event itself. */
export function spamKey(e: CoreEvent): string {
  return JSON.stringify([...sourceKey(e), ...refKey(e.involvedObject)])
}

/** getEventKey: what makes two events "the same" (then counted, not written twice). */
export function eventKey(e: CoreEvent): string {
  return JSON.stringify([...sourceKey(e), ...refKey(e.involvedObject), e.involvedObject?.fieldPath ?? '', e.type ?? '', e.reason ?? '', e.message ?? ''])
}

/** EventAggregatorByReasonFunc: same source, object, type and reason; the message is the local key. */
function aggregateKey(e: CoreEvent): string {
  return JSON.stringify([...sourceKey(e), ...refKey(e.involvedObject), e.type ?? '', e.reason ?? '', e.reportingComponent ?? '', e.reportingInstance ?? ''])
}

interface Aggregate {
  messages: Set<string>
  first: number
}

interface Observed {
  name: string
  count: number
  firstTimestamp: string
}

export class EventCorrelator {
  private readonly buckets: Lru<TokenBucket>
  private readonly aggregates: Lru<Aggregate>
  private readonly observed: Lru<Observed>
  private readonly o: Required<CorrelatorOptions>

  constructor(opts: CorrelatorOptions = {}) {
    this.o = { burst: 25, refillMs: 300_000, maxSimilar: 10, aggregateWindowMs: 600_000, cacheSize: 4096, ...opts }
    this.buckets = new Lru(this.o.cacheSize)
    this.aggregates = new Lru(this.o.cacheSize)
    this.observed = new Lru(this.o.cacheSize)
  }

  /** Decide what to write for `e` (a fresh event from the recorder, count 1) at `now`. */
  correlate(e: CoreEvent, now: number): Decision {
    const sk = spamKey(e)
    let bucket = this.buckets.get(sk)
    if (!bucket) {
      bucket = new TokenBucket(this.o.burst, this.o.refillMs, now)
      this.buckets.set(sk, bucket)
    }
    if (!bucket.take(now)) return { kind: 'drop' }

    let ev = structuredClone(e)
    const ak = aggregateKey(ev)
    let agg = this.aggregates.get(ak)
    if (!agg || now - agg.first > this.o.aggregateWindowMs) {
      agg = { messages: new Set(), first: now }
      this.aggregates.set(ak, agg)
    }
    agg.messages.add(ev.message ?? '')
    // Once combined, all similar events count on one object (keyed without the message),
    // which carries the latest message.
    const combined = agg.messages.size > this.o.maxSimilar
    if (combined) ev = { ...ev, message: AGGREGATED_PREFIX + (ev.message ?? '') }

    const key = combined ? ak : eventKey(ev)
    const seen = this.observed.get(key)
    if (!seen) {
      this.observed.set(key, { name: ev.metadata.name!, count: ev.count ?? 1, firstTimestamp: ev.firstTimestamp ?? ev.lastTimestamp ?? '' })
      return { kind: 'create', event: ev }
    }
    seen.count += 1
    ev.metadata = { ...ev.metadata, name: seen.name }
    ev.count = seen.count
    ev.firstTimestamp = seen.firstTimestamp
    return { kind: 'update', event: ev }
  }

  /** The written event is gone (expired, deleted): the next sighting creates a new one. */
  forget(e: CoreEvent): void {
    this.observed.delete(e.message?.startsWith(AGGREGATED_PREFIX) ? aggregateKey(e) : eventKey(e))
  }
}
