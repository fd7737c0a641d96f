// An in-memory copy of one etcd key space (list, then watch from the list's revision), the
// apiserver-side informer the authorizers read: RBAC objects for the policy index, pods and
// claims for the node graph. A broken or compacted watch re-lists after a short pause, so the
// copy converges whatever etcd did; `revision` says how far it has seen.
import type { KubeObject } from '../api/types.js'
import type { EtcdStore, StoreWatch } from '../storage/store.js'
import { logger } from '../util/log.js'

const log = logger('rbac.mirror')
const RELIST_DELAY_MS = 500

export class StoreMirror<T extends KubeObject = KubeObject> {
  readonly items = new Map<string, T>()
  revision = 0
  private watch: StoreWatch | undefined
  private stopped = false
  private timer: NodeJS.Timeout | undefined
  private readonly waiters: { rev: number; done: () => void }[] = []

  constructor(
    private readonly store: EtcdStore,
    readonly prefix: string,
    /** Called after every batch of changes (and after a re-list). */
    private readonly onChange: () => void,
  ) {}

  /** Lists once (resolves when the copy is complete), then keeps it current. */
  async start(): Promise<void> {
    const list = await this.store.list(this.prefix)
    this.items.clear()
    for (const o of list.items) this.items.set(keyOf(o), o as T)
    this.advance(list.revision)
    this.onChange()
    if (this.stopped) return
    this.watch = this.store.watch(this.prefix, list.revision, {
      onEvents: (events, header) => {
        for (const ev of events) {
          if (ev.type === 'delete') this.items.delete(keyOf(ev.prev ?? ev.obj, ev.key, this.prefix))
          else this.items.set(keyOf(ev.obj), ev.obj as T)
        }
        this.onChange()
        this.advance(header)
      },
      onProgress: (rev) => this.advance(rev),
      onCompacted: () => this.relist(),
      onError: (err) => {
        log.warn({ prefix: this.prefix, err: err.message }, 'watch failed; re-listing')
        this.relist()
      },
    })
  }

  /** Resolves once the copy has seen etcd revision `rev` (or after `timeoutMs`). */
  waitFor(rev: number, timeoutMs = 2000): Promise<void> {
    if (this.revision >= rev || this.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      const w = { rev, done }
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.waiters.push(w)
      this.watch?.requestProgress()
    })
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.watch?.stop()
    for (const w of this.waiters.splice(0)) w.done()
  }

  private advance(rev: number): void {
    if (rev > this.revision) this.revision = rev
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.rev <= this.revision) this.waiters.splice(i, 1)[0]!.done()
    }
  }

  private relist(): void {
    this.watch?.stop()
    if (this.stopped) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.start().catch((err: Error) => {
        log.warn({ prefix: this.prefix, err: err.message }, 're-list failed')
        this.relist()
      })
    }, RELIST_DELAY_MS)
  }
}

/** `namespace/name` (or `name`), from the object, else from the etcd key. */
function keyOf(o: KubeObject, key?: string, prefix?: string): string {
  const m = o?.metadata
  if (m?.name) return m.namespace ? `${m.namespace}/${m.name}` : m.name
  return key && prefix ? key.slice(prefix.length) : ''
}
