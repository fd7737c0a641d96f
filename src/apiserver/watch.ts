// One Kubernetes watch = one etcd watch on the resource's key prefix, started right after
// the requested resourceVersion, so nothing committed between a list and the watch that
// follows it is lost. Events are filtered per watcher: an object that stops matching the
// selector is sent as DELETED, one that starts matching as ADDED (kube-apiserver's rule).
// Bookmarks come from etcd progress notifications, so a bookmark's resourceVersion is one
// up to which etcd has really delivered everything. A compacted start revision ends the
// stream with an ERROR event carrying a 410 Expired Status, as kube-apiserver does.
import { etcdListPrefix, groupVersion, type ResourceInfo } from '../api/resources.js'
import type { KubeObject, WatchEvent } from '../api/types.js'
import type { WatchEventRaw } from '../storage/store.js'
import * as E from './errors.js'
import type { Filter, Registry } from './registry.js'

export interface WatchSink {
  write(chunk: string): void
  end(): void
}

export interface WatchParams {
  r: ResourceInfo
  namespace: string | undefined
  filter: Filter
  /** '' or '0' = start with the current state (synthetic ADDED events). */
  resourceVersion: string
  allowBookmarks: boolean
  timeoutMs: number
  bookmarkIntervalMs: number
  /** Turns each event's object into what the client asked for (e.g. a Table). */
  render: (obj: KubeObject) => unknown
}

export interface RunningWatch {
  stop(): void
  done: Promise<void>
}

export function parseWatchRV(rv: string | undefined): number {
  if (rv === undefined || rv === '' || rv === '0') return 0
  if (!/^\d+$/.test(rv)) throw E.badRequest(`invalid resource version: ${JSON.stringify(rv)}`)
  return Number(rv)
}

export function startWatch(reg: Registry, p: WatchParams, sink: WatchSink): RunningWatch {
  const { r } = p
  let stopped = false
  let resolveDone!: () => void
  const done = new Promise<void>((res) => (resolveDone = res))
  let lastRev = 0
  const timers: NodeJS.Timeout[] = []
  let storeWatch: { stop(): void; requestProgress(): void } | undefined

  const send = (ev: WatchEvent<unknown>): void => {
    if (!stopped) sink.write(JSON.stringify(ev) + '\n')
  }
  const typed = (obj: KubeObject): KubeObject => reg.present(r, obj)
  const emit = (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject): void => send({ type, object: p.render(typed(obj)) as KubeObject })
  const stop = (): void => {
    if (stopped) return
    stopped = true
    for (const t of timers) clearTimeout(t)
    storeWatch?.stop()
    try {
      sink.end()
    } catch {
      /* client gone */
    }
    resolveDone()
  }

  const onEvents = (events: WatchEventRaw[]): void => {
    for (const ev of events) {
      lastRev = Math.max(lastRev, ev.revision)
      const was = ev.prev !== undefined && reg.matches(r, p.filter, ev.prev)
      if (ev.type === 'delete') {
        if (was) emit('DELETED', ev.obj)
        continue
      }
      const is = reg.matches(r, p.filter, ev.obj)
      if (is && !was) emit('ADDED', ev.obj)
      else if (is && was) emit('MODIFIED', ev.obj)
      else if (!is && was) emit('DELETED', ev.obj)
    }
  }

  const begin = async (): Promise<void> => {
    let from = parseWatchRV(p.resourceVersion)
    if (from === 0) {
      // "Start at most recent": the current state as ADDED events, then changes after it.
      const list = await reg.store.list(etcdListPrefix(r, p.namespace))
      for (const o of list.items) if (reg.matches(r, p.filter, o)) emit('ADDED', o)
      from = list.revision
    }
    lastRev = from
    if (stopped) return
    storeWatch = reg.store.watch(etcdListPrefix(r, p.namespace), from, {
      onEvents,
      onProgress(rev) {
        lastRev = Math.max(lastRev, rev)
        if (p.allowBookmarks)
          send({ type: 'BOOKMARK', object: { apiVersion: groupVersion(r), kind: r.kind, metadata: { resourceVersion: String(lastRev) } } as KubeObject })
      },
      onCompacted(compactRev) {
        const st = E.expired(`too old resource version: ${from} (${compactRev})`).status
        send({ type: 'ERROR', object: st as unknown as KubeObject })
        stop()
      },
      onError() {
        // The etcd stream failed: end this watch; the client re-watches from its last RV.
        stop()
      },
    })
    if (p.allowBookmarks) {
      const tick = (): void => {
        if (stopped) return
        storeWatch?.requestProgress()
        timers.push(setTimeout(tick, p.bookmarkIntervalMs))
      }
      timers.push(setTimeout(tick, p.bookmarkIntervalMs))
    }
  }

  timers.push(setTimeout(stop, p.timeoutMs))
  begin().catch((err: Error) => {
    const st = err instanceof E.ApiError ? err.status : E.internal(err.message).status
    send({ type: 'ERROR', object: st as unknown as KubeObject })
    stop()
  })
  return { stop, done }
}
