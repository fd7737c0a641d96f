// Change trackers, as upstream kube-proxy has them: informer callbacks only record what
// changed, per Service, as {previous, current}; the sync takes the accumulated changes at once.
// A change that is undone before the sync (add then delete, or an update back to the old spec)
// disappears, so it costs nothing.
import { serviceKeyOf, sliceServiceKey } from '../api/meta.js'
import type { EndpointSlice, Service } from '../api/types.js'

export interface Change<T> {
  previous: T | undefined
  current: T | undefined
}

/** Annotation the EndpointSlice controller sets to when the change that caused it happened. */
export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time'

/** What of a Service matters to the proxy: its spec and LoadBalancer ingress (not metadata noise). */
function serviceFingerprint(s: Service | undefined): string {
  return s ? JSON.stringify([s.spec, s.status?.loadBalancer?.ingress ?? []]) : ''
}

export class ServiceChangeTracker {
  private changes = new Map<string, Change<Service>>()

  /** Record an add (prev undefined), update, or delete (cur undefined). Returns true if a sync is needed. */
  update(prev: Service | undefined, cur: Service | undefined): boolean {
    const obj = cur ?? prev
    if (!obj) return false
    const key = serviceKeyOf(obj)
    const c = this.changes.get(key)
    if (c) c.current = cur
    else this.changes.set(key, { previous: prev, current: cur })
    const rec = this.changes.get(key)!
    if (serviceFingerprint(rec.previous) === serviceFingerprint(rec.current)) this.changes.delete(key)
    return this.changes.size > 0
  }

  get pending(): number {
    return this.changes.size
  }

  take(): Map<string, Change<Service>> {
    const out = this.changes
    this.changes = new Map()
    return out
  }
}

export type SliceSet = Map<string, EndpointSlice>

function slicesFingerprint(s: SliceSet | undefined): string {
  if (!s || s.size === 0) return ''
  return [...s.keys()]
    .sort()
    .map((k) => {
      const x = s.get(k)!
      return JSON.stringify([k, x.addressType, x.ports, x.endpoints])
    })
    .join('\n')
}

/**
 * Tracks EndpointSlices grouped by the Service they belong to. It keeps the latest slices
 * per Service (the informer's view) and the per-Service change since the last take().
 */
export class EndpointsChangeTracker {
  private latest = new Map<string, SliceSet>()
  private changes = new Map<string, Change<SliceSet>>()
  /** Earliest not-yet-programmed change time per Service (ms since epoch), for latency metrics. */
  private triggers = new Map<string, number>()

  constructor(private now: () => number = Date.now) {}

  update(prev: EndpointSlice | undefined, cur: EndpointSlice | undefined): boolean {
    const prevKey = prev && sliceServiceKey(prev)
    const curKey = cur && sliceServiceKey(cur)
    // A relabelled (or unlabelled) slice leaves its old Service, which must stop sending
    // traffic to its endpoints; it then joins the new one like an added slice.
    if (prev && prevKey && prevKey !== curKey) this.record(prevKey, prev.metadata.name ?? '', undefined, cur)
    if (cur && curKey) this.record(curKey, cur.metadata.name ?? '', cur, cur)
    return this.changes.size > 0
  }

  /** Set (or, with `slice` undefined, remove) one slice of one Service; `trigger` carries the change time. */
  private record(key: string, sliceName: string, slice: EndpointSlice | undefined, trigger: EndpointSlice | undefined): void {
    const before = this.latest.get(key)
    const after: SliceSet = new Map(before ?? [])
    if (slice) after.set(sliceName, slice)
    else after.delete(sliceName)
    if (after.size) this.latest.set(key, after)
    else this.latest.delete(key)
    const c = this.changes.get(key)
    if (c) c.current = after
    else this.changes.set(key, { previous: before, current: after })
    const rec = this.changes.get(key)!
    if (slicesFingerprint(rec.previous) === slicesFingerprint(rec.current)) {
      this.changes.delete(key)
      this.triggers.delete(key)
    } else if (!this.triggers.has(key)) {
      const ann = trigger?.metadata.annotations?.[TRIGGER_TIME_ANNOTATION]
      const t = ann ? Date.parse(ann) : NaN
      this.triggers.set(key, Number.isFinite(t) ? t : this.now())
    }
  }

  get pending(): number {
    return this.changes.size
  }

  slicesFor(key: string): SliceSet | undefined {
    return this.latest.get(key)
  }

  take(): { changes: Map<string, Change<SliceSet>>; triggerTimes: Map<string, number> } {
    const out = { changes: this.changes, triggerTimes: this.triggers }
    this.changes = new Map()
    this.triggers = new Map()
    return out
  }
}
