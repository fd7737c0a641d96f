// The proxier: informer callbacks → change trackers → one rate-limited sync → one backend
// transaction. Nothing is written before the informers have synced (an empty cache would
// program "no endpoints" for every Service); a failed sync leaves the state untouched and
// schedules a full resync; a full resync also runs at start and every fullSyncMs.
import { LABEL_TOPOLOGY_ZONE, type EndpointSlice, type Node, type Service } from '../api/types.js'
import { logger, type Logger } from '../util/log.js'
import type { ProxyBackend } from './backend.js'
import { hasUdp, type ConntrackCleaner } from './conntrack.js'
import { EndpointsChangeTracker, ServiceChangeTracker } from './changes.js'
import type { HealthSource } from './health.js'
import type { ProxyMetrics } from './metrics.js'
import { nodePortIPs, type NodePortAddresses } from './nodeport-addresses.js'
import { SyncRunner } from './runner.js'
import { buildServicePorts, type NodeInfo, type ServicePortInfo } from './serviceport.js'

export interface ProxierOptions {
  backend: ProxyBackend
  node: NodeInfo
  metrics?: ProxyMetrics
  /** Coalescing window: at most one sync per minSyncMs (default 1000, upstream's default). */
  minSyncMs?: number
  /** Full resync period (default 1 h). */
  fullSyncMs?: number
  /** Delay before retrying after a failed sync (default 1000). */
  retryMs?: number
  log?: Logger
  /** Never sync on its own: only syncNow() writes (unit tests, the bench). */
  manual?: boolean
  /** --nodeport-addresses (default: every local address). */
  nodePortAddresses?: NodePortAddresses
  /** The node's IPv4 interface addresses (for CIDR --nodeport-addresses), read at full syncs. */
  localAddresses?: () => Promise<string[]>
  /** Deletes stale UDP flows after syncs that touched a UDP Service (undefined: never). */
  conntrack?: ConntrackCleaner
  /** After each successful sync, with every Service's ports (health check servers follow them). */
  onSynced?: (ports: ReadonlyMap<string, ServicePortInfo[]>) => void
}

export interface SyncResult {
  full: boolean
  services: number
  durationMs: number
  rules: number
  chains: number
}

export class Proxier {
  readonly services = new ServiceChangeTracker()
  readonly endpoints = new EndpointsChangeTracker()
  private svcMap = new Map<string, Service>()
  private ports = new Map<string, ServicePortInfo[]>()
  private synced = false
  private needFull = true
  private lastFullAt = 0
  private lastSyncedAt = 0
  private oldestPending = 0
  private nodeObject: Node | undefined
  /** What NodePorts answer on, resolved at the last full sync (undefined: every local address). */
  nodePortIPs: string[] | undefined
  private readonly runner: SyncRunner
  private readonly log: Logger
  readonly minSyncMs: number
  readonly fullSyncMs: number
  /** Resolvers waiting for the next successful sync (tests, bench). */
  private waiters: ((r: SyncResult) => void)[] = []
  lastResult: SyncResult | undefined
  lastError: Error | undefined

  constructor(private readonly opts: ProxierOptions) {
    this.minSyncMs = opts.minSyncMs ?? 1000
    this.fullSyncMs = opts.fullSyncMs ?? 3_600_000
    this.log = opts.log ?? logger('proxy')
    this.runner = new SyncRunner(() => this.syncOnce().then(() => undefined), {
      minIntervalMs: this.minSyncMs,
      maxIntervalMs: this.fullSyncMs,
    })
  }

  get node(): NodeInfo {
    return this.opts.node
  }

  // ---- informer callbacks: record only, then ask for a sync ----
  onService(prev: Service | undefined, cur: Service | undefined): void {
    if (this.services.update(prev, cur)) this.request()
  }
  onEndpointSlice(prev: EndpointSlice | undefined, cur: EndpointSlice | undefined): void {
    if (this.endpoints.update(prev, cur)) this.request()
  }
  /** The node's own object (undefined: deleted): new addresses mean every NodePort/externalIP decision may change, a new zone every hinted Service's. */
  onNode(node: Node | undefined): void {
    this.nodeObject = node
    const ips = (node?.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address)
    if (ips.length && ips.join(',') !== this.opts.node.ips.join(',')) {
      this.opts.node.ips = ips
      this.needFull = true
      this.request()
    }
    // a new zone re-decides every Service's topology-hinted endpoints
    const zone = node?.metadata.labels?.[LABEL_TOPOLOGY_ZONE] || undefined
    if (node && zone !== this.opts.node.zone) {
      this.opts.node.zone = zone
      this.needFull = true
      this.request()
    }
  }

  /** Informers have listed everything: from now on syncs write to the kernel. */
  setSynced(): void {
    this.synced = true
    this.request()
  }

  private request(): void {
    if (!this.oldestPending) this.oldestPending = Date.now()
    if (this.synced && !this.opts.manual) this.runner.run()
  }

  /** Resolves after the next successful sync that starts after this call. */
  nextSync(): Promise<SyncResult> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Run a sync now (bypassing the rate limit); used by tests and the bench. */
  async syncNow(): Promise<SyncResult> {
    return this.syncOnce()
  }

  healthSource(): HealthSource {
    return { lastSyncedAt: () => this.lastSyncedAt, oldestPendingAt: () => this.oldestPending, node: () => this.nodeObject }
  }

  private mutex: Promise<unknown> = Promise.resolve()

  /** Syncs never overlap: runner and syncNow() callers queue behind each other. */
  private syncOnce(): Promise<SyncResult> {
    const p = this.mutex.then(() => this.doSync())
    this.mutex = p.catch(() => undefined)
    return p
  }

  private async doSync(): Promise<SyncResult> {
    if (!this.synced) throw new Error('proxy: informers not synced yet')
    const start = performance.now()
    const svcChanges = this.services.take()
    const { changes: epChanges, triggerTimes } = this.endpoints.take()
    // pending until the kernel has it: a failed sync keeps the oldest wait (health)
    const pendingSince = this.oldestPending || Date.now()
    this.oldestPending = 0
    const changed = new Set<string>([...svcChanges.keys(), ...epChanges.keys()])
    for (const [key, c] of svcChanges) {
      if (c.current) this.svcMap.set(key, c.current)
      else this.svcMap.delete(key)
    }
    const full = this.needFull || Date.now() - this.lastFullAt >= this.fullSyncMs
    const recompute = full ? new Set([...this.svcMap.keys(), ...this.ports.keys()]) : changed
    // UDP flows may need deleting only if a UDP port changed (before or after this sync)
    let udpTouched = full
    for (const key of recompute) if (!udpTouched && hasUdp(this.ports.get(key))) udpTouched = true
    for (const key of recompute) {
      const svc = this.svcMap.get(key)
      if (!svc) this.ports.delete(key)
      else this.ports.set(key, buildServicePorts(svc, this.endpoints.slicesFor(key)?.values() ?? [], this.opts.node.name, this.opts.node.zone))
      if (!udpTouched && hasUdp(this.ports.get(key))) udpTouched = true
    }
    const mode = this.opts.backend.mode
    try {
      const npa = this.opts.nodePortAddresses
      if (full && npa && npa.kind !== 'all') {
        const local = npa.kind === 'cidrs' && this.opts.localAddresses ? await this.opts.localAddresses() : []
        this.nodePortIPs = nodePortIPs(npa, this.opts.node.ips, local)
      }
      const stats = await this.opts.backend.sync({ full, ports: this.ports, changed, nodePortIPs: this.nodePortIPs })
      // after the rules: a flow deleted earlier could be re-created through the old ones
      if (udpTouched && this.opts.conntrack) await this.opts.conntrack.clean(this.ports)
      const durationMs = performance.now() - start
      const now = Date.now()
      this.needFull = false
      if (full) this.lastFullAt = now
      this.lastSyncedAt = now
      this.lastError = undefined
      const m = this.opts.metrics
      if (m) {
        m.syncDuration.observe({ mode, kind: full ? 'full' : 'partial' }, durationMs / 1000)
        m.rules.set(stats.rules)
        m.chains.set(stats.chains)
        m.lastSync.set(now / 1000)
        for (const t of triggerTimes.values()) m.programmingLatency.observe(Math.max(0, now - t) / 1000)
      }
      const result = { full, services: full ? this.ports.size : changed.size, durationMs, rules: stats.rules, chains: stats.chains }
      this.lastResult = result
      this.log.debug({ ...result, written: stats.written }, 'synced')
      this.opts.onSynced?.(this.ports)
      const w = this.waiters
      this.waiters = []
      for (const r of w) r(result)
      return result
    } catch (err) {
      // The kernel kept its previous state (transactions are atomic); our memory of it is
      // unchanged too, but the changes taken above are consumed: rebuild everything next time.
      this.needFull = true
      this.oldestPending = this.oldestPending ? Math.min(this.oldestPending, pendingSince) : pendingSince
      this.lastError = err as Error
      this.opts.metrics?.failures.inc()
      this.log.error({ err: (err as Error).message, full }, 'sync failed, full resync scheduled')
      if (!this.opts.manual) this.runner.runAfter(this.opts.retryMs ?? 1000)
      throw err
    }
  }

  async stop(): Promise<void> {
    await this.runner.stop()
  }
}
