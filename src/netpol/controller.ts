// The NetworkPolicy controller of one node: change tracker → coalesced sync (SyncRunner) →
// incremental core (IncrementalNetpol: the changed objects in, the element diff out) → planner
// → one transaction. A full sync (the first one: adoption; every fullSyncMs; after a failure)
// rebuilds the core from the informer caches and the table from scratch. Nothing is written
// before the informers synced (an empty cache would isolate nobody, or everybody); a failed
// sync leaves the kernel unchanged and schedules a full resync.
import type { KubeObject, Namespace, NetworkPolicy, Pod } from '../api/types.js'
import type { NftRunner } from '../net/nft.js'
import { SyncRunner } from '../proxy/runner.js'
import { logger, type Logger } from '../util/log.js'
import { ChangeTracker, type Kind } from './changes.js'
import { elementCount } from './core.js'
import { IncrementalNetpol, objectKey } from './incremental.js'
import type { NetpolMetrics } from './metrics.js'
import { NetpolNftState } from './nftables.js'

export interface NetpolSource {
  pods(): Iterable<Pod>
  namespaces(): Iterable<Namespace>
  policies(): Iterable<NetworkPolicy>
}

export interface NetpolControllerOptions {
  nft: NftRunner
  nodeName: string
  source: NetpolSource
  metrics?: NetpolMetrics
  /** Coalescing window (default 10 ms: policy changes must reach the kernel in < 200 ms). */
  minSyncMs?: number
  /** Full resync period (default 1 h). */
  fullSyncMs?: number
  retryMs?: number
  log?: Logger
  /** Only syncNow() writes (tests, bench). */
  manual?: boolean
  table?: string
}

export interface NetpolSyncResult {
  full: boolean
  added: number
  deleted: number
  elements: number
  durationMs: number
}

export class NetpolController {
  readonly changes = new ChangeTracker()
  readonly state: NetpolNftState
  private core: IncrementalNetpol
  private synced = false
  private needFull = true
  private lastFullAt = 0
  private readonly runner: SyncRunner
  private readonly log: Logger
  private mutex: Promise<unknown> = Promise.resolve()
  private waiters: ((r: NetpolSyncResult) => void)[] = []
  lastResult: NetpolSyncResult | undefined
  lastError: Error | undefined
  lastSyncedAt = 0

  constructor(private readonly o: NetpolControllerOptions) {
    this.state = new NetpolNftState(o.table)
    this.core = new IncrementalNetpol(o.nodeName)
    this.log = o.log ?? logger('netpol')
    this.runner = new SyncRunner(() => this.syncOnce().then(() => undefined), { minIntervalMs: o.minSyncMs ?? 10, maxIntervalMs: o.fullSyncMs ?? 3_600_000 })
  }

  /** Informer callback: record, then ask for a sync if something policy-relevant changed. */
  onChange(kind: Kind, prev: KubeObject | undefined, cur: KubeObject | undefined): void {
    if (this.changes.update(kind, prev, cur) && this.synced && !this.o.manual) this.runner.run()
  }

  setSynced(): void {
    this.synced = true
    if (!this.o.manual) this.runner.run()
  }

  nextSync(): Promise<NetpolSyncResult> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  syncNow(full = false): Promise<NetpolSyncResult> {
    if (full) this.needFull = true
    return this.syncOnce()
  }

  private syncOnce(): Promise<NetpolSyncResult> {
    const p = this.mutex.then(() => this.doSync())
    this.mutex = p.catch(() => undefined)
    return p
  }

  private async doSync(): Promise<NetpolSyncResult> {
    if (!this.synced) throw new Error('netpol: informers not synced yet')
    const start = performance.now()
    const changes = this.changes.take()
    const full = this.needFull || !this.state.programmed || Date.now() - this.lastFullAt >= (this.o.fullSyncMs ?? 3_600_000)
    let plan
    if (full) {
      // from the caches, from scratch: whatever the core or the kernel held before is replaced
      this.core = this.load()
      this.core.flush()
      plan = this.state.planFull(this.core.desired())
    } else {
      for (const c of changes) {
        if (c.kind === 'pod') this.core.setPod(c.key, c.obj as Pod | undefined)
        else if (c.kind === 'namespace') this.core.setNamespace(c.key, c.obj as Namespace | undefined)
        else this.core.setPolicy(c.key, c.obj as NetworkPolicy | undefined)
      }
      plan = this.state.planDiff(this.core.flush())
    }
    try {
      await this.o.nft.apply(plan.tx)
      plan.commit()
    } catch (err) {
      // atomic: the kernel kept its previous rules; the core is ahead of it, so rebuild both
      this.needFull = true
      this.state.reset()
      this.lastError = err as Error
      this.o.metrics?.failures.inc()
      this.log.error({ err: (err as Error).message, full }, 'netpol sync failed, full resync scheduled')
      if (!this.o.manual) this.runner.runAfter(this.o.retryMs ?? 1000)
      throw err
    }
    const now = Date.now()
    this.needFull = false
    if (full) this.lastFullAt = now
    this.lastSyncedAt = now
    this.lastError = undefined
    const durationMs = performance.now() - start
    const elements = elementCount(this.core.desired())
    const m = this.o.metrics
    if (m) {
      m.syncDuration.observe({ kind: full ? 'full' : 'partial' }, durationMs / 1000)
      m.elements.set(elements)
      m.policies.set(this.core.policyCount)
      for (const c of changes) m.programmingLatency.observe(Math.max(0, now - c.since) / 1000)
    }
    const result = { full, added: plan.added, deleted: plan.deleted, elements, durationMs }
    this.lastResult = result
    if (full || plan.added || plan.deleted) this.log.debug(result, 'netpol synced')
    const w = this.waiters
    this.waiters = []
    for (const r of w) r(result)
    return result
  }

  /** A core loaded from the informer caches. */
  private load(): IncrementalNetpol {
    const core = new IncrementalNetpol(this.o.nodeName)
    for (const n of this.o.source.namespaces()) core.setNamespace(n.metadata.name ?? '', n)
    for (const p of this.o.source.pods()) core.setPod(objectKey(p), p)
    for (const np of this.o.source.policies()) core.setPolicy(objectKey(np), np)
    return core
  }

  async stop(): Promise<void> {
    await this.runner.stop()
    await this.mutex
  }
}
