// Turns model changes into views for the subscribers (the SSE streams): watch events mark the
// view dirty and a flush follows within `debounceMs` (a burst of events is one message); a
// slow tick re-evaluates anyway, since a speaker going silent changes the view with no event.
// A view equal to the last one sent is not sent again (the speakers' Leases renew every 250 ms
// and change nothing visible).
import type { ClusterModel, EventType, WatchedKind } from './model.js'
import type { KubeObject } from '../api/types.js'
import type { ClusterView } from './view.js'

export interface FeedOptions {
  debounceMs?: number
  tickMs?: number
  now?: () => number
}

export type Subscriber = (v: ClusterView) => void

export class ViewFeed {
  private revision = 0
  private lastJson = ''
  private last: ClusterView
  private synced = false
  private timer: NodeJS.Timeout | undefined
  private ticker: NodeJS.Timeout | undefined
  private readonly subs = new Set<Subscriber>()
  private readonly debounceMs: number
  private readonly now: () => number

  constructor(
    private readonly model: ClusterModel,
    o: FeedOptions = {},
  ) {
    this.debounceMs = o.debounceMs ?? 30
    this.now = o.now ?? Date.now
    this.last = model.view(this.now(), 0, false)
    const tick = o.tickMs ?? 250
    if (tick > 0) {
      this.ticker = setInterval(() => this.flush(), tick)
      this.ticker.unref()
    }
  }

  apply(kind: WatchedKind, type: EventType, obj: KubeObject): void {
    this.model.apply(kind, type, obj, this.now())
    if (!this.timer) this.timer = setTimeout(() => this.flush(), this.debounceMs)
  }

  markSynced(): void {
    this.synced = true
    this.flush()
  }

  /** The current view (what GET /api/state answers). */
  current(): ClusterView {
    return this.last
  }

  subscribe(fn: Subscriber): () => void {
    this.subs.add(fn)
    return () => this.subs.delete(fn)
  }

  /** Recompute; send if it changed. Returns whether it did. */
  flush(): boolean {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const v = this.model.view(this.now(), 0, this.synced)
    const json = JSON.stringify(v)
    if (json === this.lastJson) return false
    this.lastJson = json
    this.last = { ...v, revision: ++this.revision }
    for (const s of this.subs) s(this.last)
    return true
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    if (this.ticker) clearInterval(this.ticker)
    this.subs.clear()
  }
}
