// The event recorder: how controllers, the scheduler and the kubelet tell users what they did
// (`kubectl describe` / `kubectl get events`), with client-go's semantics.
//
// Design note
// - `recorder.event(obj, type, reason, message)` only builds the Event and queues it: it never
//   blocks, throws or fails the caller. One background loop writes the queue in order.
// - Before writing, the pure correlator (correlator.ts) drops spam (a token bucket per source and
//   object: burst 25, one more every 5 min), folds floods of similar messages into one, and turns a
//   repeat of an event already written into an update of that object (count + 1, lastTimestamp,
//   and `series` for events.k8s.io/v1) instead of a new one.
// - Two sinks, as upstream has two libraries: core/v1 (client-go tools/record, used by the
//   controllers and the kubelet: source, count, first/lastTimestamp) and events.k8s.io/v1
//   (tools/events, used by kube-scheduler: eventTime, reportingController/Instance, action,
//   series). Both land in the same storage.
// - Network errors are retried (12 tries, 10 s apart, as client-go); an answer from the server
//   (Invalid, AlreadyExists, Forbidden) is final. A full queue (1000) drops new events.
import { resourceFor } from '../api/resources.js'
import type { CoreEvent, KubeObject, ObjectReference } from '../api/types.js'
import type { ApiStatusError, Client } from '../client/interfaces.js'
import { logger } from '../util/log.js'
import { EventCorrelator, type CorrelatorOptions } from './correlator.js'

const log = logger('events')

export type EventType = 'Normal' | 'Warning'

export interface EventRecorderOptions {
  client: Client
  /** source.component / reportingController, e.g. `kubelet`, `replicaset-controller`, `default-scheduler`. */
  component: string
  /** source.host / reportingInstance (the kubelet's node name; a controller's instance). */
  host?: string
  /** Which API the events are written through (default core/v1). */
  api?: 'v1' | 'events.k8s.io/v1'
  correlator?: CorrelatorOptions
  /** Attempts per event on network errors (default 12) and the pause between them (default 10 s). */
  maxTries?: number
  retryDelayMs?: number
  queueLimit?: number
  now?: () => number
}

export interface EventOptions {
  /** A part of the object, e.g. `spec.containers{web}` for a container's events. */
  fieldPath?: string
  /** events.k8s.io/v1 `action` (default: the reason). */
  action?: string
}

export interface EventRecorder {
  event(obj: KubeObject | ObjectReference, type: EventType, reason: string, message: string, opts?: EventOptions): void
  /** Resolves when everything queued so far has been written (or given up). */
  flush(): Promise<void>
  /** Stop taking events; resolves after the queue is written. */
  stop(): Promise<void>
  readonly stats: { written: number; updated: number; dropped: number; failed: number }
}

const EVENTS = resourceFor('events')
const EVENTS_V1 = { group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true }

/** metav1.Time: RFC 3339, seconds. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z')
}

/** An ObjectReference for an object (its apiVersion/kind as the apiserver serves them). */
export function referenceTo(obj: KubeObject | ObjectReference, fieldPath?: string): ObjectReference {
  if (!('metadata' in obj)) return { ...obj, ...(fieldPath ? { fieldPath } : {}) }
  const m = obj.metadata
  const ref: ObjectReference = { kind: obj.kind ?? '', name: m.name ?? '' }
  if (m.namespace) ref.namespace = m.namespace
  if (m.uid) ref.uid = m.uid
  if (obj.apiVersion) ref.apiVersion = obj.apiVersion
  if (m.resourceVersion) ref.resourceVersion = m.resourceVersion
  if (fieldPath) ref.fieldPath = fieldPath
  return ref
}

function isNetworkError(err: unknown): boolean {
  const e = err as Partial<ApiStatusError> & { code?: unknown }
  if (typeof e?.code === 'number') return e.code >= 500 || e.code === 429
  return true
}

export function createEventRecorder(o: EventRecorderOptions): EventRecorder {
  const now = o.now ?? Date.now
  const correlator = new EventCorrelator(o.correlator)
  const queue: CoreEvent[] = []
  const limit = o.queueLimit ?? 1000
  const maxTries = o.maxTries ?? 12
  const retryDelayMs = o.retryDelayMs ?? 10_000
  const v1 = o.api === 'events.k8s.io/v1'
  const stats = { written: 0, updated: 0, dropped: 0, failed: 0 }
  let stopped = false
  let loop: Promise<void> | undefined
  let waiters: (() => void)[] = []
  let sleeping: { timer: NodeJS.Timeout; done: () => void } | undefined

  const makeEvent = (target: KubeObject | ObjectReference, type: EventType, reason: string, message: string, opts: EventOptions): CoreEvent => {
    const t = now()
    const ref = referenceTo(target, opts.fieldPath)
    const ns = ref.namespace || 'default'
    // client-go's name: the object's name and the time in hex nanoseconds.
    const name = `${ref.name || 'event'}.${(BigInt(t) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`
    const ev: CoreEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: ref,
      reason,
      message,
      type,
      source: { component: o.component, ...(o.host ? { host: o.host } : {}) },
      firstTimestamp: rfc3339(t),
      lastTimestamp: rfc3339(t),
      count: 1,
      reportingComponent: o.component,
      reportingInstance: o.host ?? '',
    }
    if (opts.action) ev.action = opts.action
    return ev
  }

  /** The events.k8s.io/v1 body of a core event (no deprecated fields: validation forbids them). */
  const toV1Body = (ev: CoreEvent): Record<string, unknown> => ({
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: ev.metadata.name, namespace: ev.metadata.namespace },
    eventTime: microTime(Date.parse(ev.firstTimestamp!)),
    reportingController: o.component,
    reportingInstance: o.host || o.component,
    action: ev.action ?? ev.reason,
    reason: ev.reason,
    regarding: ev.involvedObject,
    note: ev.message,
    type: ev.type,
  })

  const write = async (kind: 'create' | 'update', ev: CoreEvent): Promise<void> => {
    const ns = ev.metadata.namespace!
    const api = v1 ? o.client.resource(EVENTS_V1, ns) : o.client.resource<CoreEvent>(EVENTS, ns)
    if (kind === 'update') {
      const patch = v1
        ? { series: { count: ev.count, lastObservedTime: microTime(Date.parse(ev.lastTimestamp!)) } }
        : { count: ev.count, lastTimestamp: ev.lastTimestamp, message: ev.message }
      try {
        await api.patch(ev.metadata.name!, patch, 'merge')
        stats.updated++
        return
      } catch (err) {
        // Expired or deleted meanwhile: write it again under the same name (client-go does).
        if ((err as ApiStatusError).code !== 404) throw err
      }
    }
    const body = v1 ? toV1Body(ev) : ev
    if (v1 && kind === 'update') (body as Record<string, unknown>).series = { count: ev.count, lastObservedTime: microTime(Date.parse(ev.lastTimestamp!)) }
    await api.create(body as never)
    stats.written++
  }

  const sleep = (ms: number): Promise<void> =>
    new Promise((res) => {
      const done = (): void => {
        clearTimeout(timer)
        sleeping = undefined
        res()
      }
      const timer = setTimeout(done, ms)
      timer.unref?.()
      sleeping = { timer, done }
    })

  const run = async (): Promise<void> => {
    while (queue.length > 0) {
      const ev = queue.shift()!
      const d = correlator.correlate(ev, now())
      if (d.kind === 'drop') {
        stats.dropped++
        log.debug({ reason: ev.reason, object: ev.involvedObject.name }, 'event dropped by the spam filter')
        continue
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await write(d.kind, d.event)
          break
        } catch (err) {
          if (!isNetworkError(err) || attempt >= maxTries || stopped) {
            stats.failed++
            correlator.forget(d.event)
            log.warn({ reason: d.event.reason, object: d.event.involvedObject.name, err: (err as Error).message }, 'event not written')
            break
          }
          await sleep(retryDelayMs * (0.75 + Math.random() / 2))
        }
      }
    }
  }

  const kick = (): void => {
    if (loop) return
    loop = run()
      .catch((err: Error) => log.warn({ err: err.message }, 'event loop failed'))
      .finally(() => {
        loop = undefined
        if (queue.length > 0) kick()
        const w = waiters
        waiters = []
        for (const f of w) f()
      })
  }

  return {
    stats,
    event(target, type, reason, message, opts = {}) {
      try {
        if (stopped) return
        if (queue.length >= limit) {
          stats.dropped++
          return
        }
        queue.push(makeEvent(target, type, reason, message, opts))
        log.debug({ type, reason, message }, 'event')
        kick()
      } catch (err) {
        // Recording an event must never fail the caller.
        log.warn({ err: (err as Error).message }, 'event not recorded')
      }
    },
    async flush() {
      while (loop || queue.length > 0) {
        if (!loop) kick()
        await new Promise<void>((res) => waiters.push(res))
      }
    },
    async stop() {
      stopped = true
      // A retry pause ends now; the failing event is then given up (stopped).
      sleeping?.done()
      await this.flush()
    },
  }
}

/** A recorder that records nothing (tests, components started without events). */
export const nullRecorder: EventRecorder = {
  stats: { written: 0, updated: 0, dropped: 0, failed: 0 },
  event() {},
  flush: () => Promise.resolve(),
  stop: () => Promise.resolve(),
}
