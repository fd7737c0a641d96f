// Leader election on a coordination.k8s.io/v1 Lease, the loop of client-go's `leaderelection`
// (the decisions are in leaderelection-core.ts):
//
//   acquire: try every retryPeriod·(1 + rand·1.2) until the Lease is ours
//      │  onStartedLeading() — the component starts acting (renewal runs meanwhile)
//      ▼
//   renew: every retryPeriod; a renewal may retry (every retryPeriod) until renewDeadline
//      │  ├─ deadline passed, or someone else holds the Lease  → lost:
//      │  │     onStoppedLeading() first (a CLI exits here, as kube-controller-manager does),
//      │  │     then the component is stopped and the candidate campaigns again
//      │  └─ stop() → the component is stopped, *then* the Lease is released (ReleaseOnCancel),
//      │        so nothing acts after a successor may have started.
//
// Writes are optimistic: an update carries the resourceVersion of the Lease last read or
// written, so two candidates racing for an expired lease cannot both win (409 for one of them;
// the leader's fast-path renewal falls back to read-then-write on a conflict).
// A try that outlives the renew deadline does not hold up the verdict (it is raced against the
// deadline); the client given here should time requests out at about renewDeadline, as
// kube-controller-manager's leader-election client does.
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Gauge, Registry } from 'prom-client'
import { resourceFor } from '../api/resources.js'
import type { Lease } from '../api/types.js'
import { logger, type Logger } from '../util/log.js'
import { parseDuration } from '../util/duration.js'
import { isNotFound } from './errors.js'
import { createEventRecorder, type EventRecorder } from '../events/recorder.js'
import type { Client, ClientConfig, ResourceClient } from './interfaces.js'
import { createClient } from './rest.js'
import {
  JITTER_FACTOR,
  NOTHING_OBSERVED,
  afterWrite,
  decide,
  fastRenew,
  isLeader,
  leaseSpec,
  releaseRecord,
  validateTiming,
  type LeaderElectionRecord,
  type Observed,
  type Timing,
} from './leaderelection-core.js'

export type { Timing } from './leaderelection-core.js'

/** Upstream's defaults (--leader-elect-lease-duration 15s, -renew-deadline 10s, -retry-period 2s). */
export const DEFAULT_TIMING: Timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }

/** `<hostname>_<uuid>`, the identity kube-controller-manager and kube-scheduler use. */
export function electionIdentity(): string {
  return `${hostname()}_${randomUUID()}`
}

/** What acting as leader started; stopped when leadership ends. */
export interface Leading {
  stop(): Promise<void>
}

export interface LeaderCallbacks {
  /** We lead: start acting. Renewal goes on while this runs. */
  onStartedLeading(): Promise<Leading>
  /** Leadership was lost (not called on stop()). Called before the component is stopped. */
  onStoppedLeading(): void
  /** A different holder was observed (also the first one seen). */
  onNewLeader?(identity: string): void
}

export interface LeaderElectionConfig {
  client: Client
  namespace: string
  /** The Lease's name, also the metric's `name` label. */
  name: string
  identity: string
  timing: Timing
  callbacks: LeaderCallbacks
  /** Release the Lease on stop() (default true). */
  releaseOnCancel?: boolean
  /** `leader_election_master_status{name}` is registered here. */
  registry?: Registry
  /** Events `LeaderElection` on the Lease ("<id> became leader", "<id> stopped leading"), as upstream's LeaseLock records. */
  recorder?: EventRecorder
  now?: () => number
  random?: () => number
}

const gauges = new WeakMap<Registry, Gauge>()
/** One gauge per registry: several elections (controller-manager, scheduler) share it by label. */
function masterStatus(registry: Registry): Gauge {
  let g = gauges.get(registry)
  if (!g) {
    g = new Gauge({
      name: 'leader_election_master_status',
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
      labelNames: ['name'],
      registers: [registry],
    })
    gauges.set(registry, g)
  }
  return g
}

type Outcome = 'lost' | 'stopped'

export class LeaderElector {
  private readonly log
  private readonly leases: ResourceClient<Lease>
  private readonly now: () => number
  private readonly random: () => number
  private readonly gauge: Gauge | undefined
  private readonly abort = new AbortController()
  private observed: Observed = NOTHING_OBSERVED
  /** The Lease as last read or written: the base (and resourceVersion) of the next write. */
  private lease: Lease | undefined
  private lostTo: string | undefined
  private reportedLeader = ''
  /** A try still in flight (awaited before the next one, so two never overlap). */
  private inflight: Promise<boolean> | undefined
  private running: Promise<void> | undefined

  constructor(private readonly cfg: LeaderElectionConfig) {
    const bad = validateTiming(cfg.timing)
    if (bad) throw new Error(bad)
    if (!cfg.identity) throw new Error('Lock identity is empty')
    this.log = logger('leaderelection').child({ lease: this.describe() })
    this.leases = cfg.client.resource<Lease>(resourceFor('leases'), cfg.namespace)
    this.now = cfg.now ?? Date.now
    this.random = cfg.random ?? Math.random
    this.gauge = cfg.registry ? masterStatus(cfg.registry) : undefined
    this.gauge?.set({ name: cfg.name }, 0)
  }

  get identity(): string {
    return this.cfg.identity
  }

  /** True while the last observed holder is us. */
  isLeader(): boolean {
    return isLeader(this.observed, this.cfg.identity)
  }

  /** The last observed holder ('' before any or after a release). */
  getLeader(): string {
    return this.observed.record?.holderIdentity ?? ''
  }

  /** Starts campaigning in the background. */
  run(): void {
    this.running ??= this.loop().catch((err: Error) => this.log.error({ err: err.message }, 'leader election loop failed'))
  }

  /** Stops acting (the component first), then releases the Lease if configured. Idempotent. */
  async stop(): Promise<void> {
    this.abort.abort()
    await this.running
  }

  private describe(): string {
    return `${this.cfg.namespace}/${this.cfg.name}`
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted
  }

  private async wait(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined)
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (!(await this.acquire())) return
      this.log.info({ identity: this.cfg.identity }, `successfully acquired lease ${this.describe()}`)
      this.recordEvent('became leader')
      this.gauge?.set({ name: this.cfg.name }, 1)
      const starting = this.cfg.callbacks.onStartedLeading()
      let failedToStart = false
      void starting.catch((err: Error) => {
        failedToStart = true
        this.log.error({ err: err.message }, 'failed to start acting as leader')
      })
      const outcome = await this.renew(() => failedToStart)
      this.gauge?.set({ name: this.cfg.name }, 0)
      this.recordEvent('stopped leading')
      if (outcome === 'lost') {
        this.log.error({ identity: this.cfg.identity, newHolder: this.lostTo }, 'leaderelection lost')
        this.cfg.callbacks.onStoppedLeading()
      }
      await starting.then((l) => l.stop(), () => undefined)
      if (outcome === 'stopped') {
        if (this.cfg.releaseOnCancel ?? true) await this.release()
        return
      }
    }
  }

  /** Resolves true once the Lease is ours, false when stopped first. */
  private async acquire(): Promise<boolean> {
    this.log.info(`attempting to acquire leader lease ${this.describe()}...`)
    while (!this.stopped) {
      const ok = await this.tryOnce()
      this.reportTransition()
      if (ok) return true
      if (this.stopped) break
      await this.wait(this.cfg.timing.retryPeriodMs * (1 + this.random() * JITTER_FACTOR))
    }
    return false
  }

  /** Renews until leadership is lost or stop() is called. */
  private async renew(failed: () => boolean): Promise<Outcome> {
    const { renewDeadlineMs, retryPeriodMs } = this.cfg.timing
    this.lostTo = undefined
    for (;;) {
      if (this.stopped) return 'stopped'
      const deadline = this.now() + renewDeadlineMs
      let renewed = false
      while (!renewed) {
        const left = deadline - this.now()
        if (left <= 0) break
        renewed = await this.tryOnce(left)
        this.reportTransition()
        if (this.stopped) return 'stopped'
        if (this.lostTo !== undefined || failed()) return 'lost'
        if (!renewed) await this.wait(Math.min(retryPeriodMs, Math.max(0, deadline - this.now())))
      }
      if (!renewed) {
        this.log.info(`failed to renew lease ${this.describe()}: timed out waiting for the condition`)
        return 'lost'
      }
      await this.wait(retryPeriodMs)
    }
  }

  /** One tryAcquireOrRenew; with `withinMs`, a try still running then counts as failed. */
  private async tryOnce(withinMs?: number): Promise<boolean> {
    if (this.inflight) await this.inflight
    const p = this.tryAcquireOrRenew().finally(() => {
      if (this.inflight === p) this.inflight = undefined
    })
    this.inflight = p
    if (withinMs === undefined) return p
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), withinMs)))
    try {
      return await Promise.race([p, late])
    } finally {
      clearTimeout(timer)
    }
  }

  private async write(base: Lease | undefined, record: LeaderElectionRecord): Promise<void> {
    const spec = leaseSpec(record)
    this.lease = base
      ? await this.leases.update({ ...base, spec })
      : await this.leases.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.cfg.name, namespace: this.cfg.namespace }, spec })
    this.observed = afterWrite(this.observed, record, this.now())
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, timing } = this.cfg
    // 1. Fast path: the leader renews on the Lease it wrote last.
    const fast = fastRenew(this.observed, this.now(), identity, timing.leaseDurationMs)
    if (fast && this.lease) {
      try {
        await this.write(this.lease, fast)
        return true
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'Failed to update lock optimistically, falling back to slow path')
      }
    }
    // 2. Read (or create) the record.
    let current: Lease | undefined
    try {
      current = await this.leases.get(this.cfg.name)
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn({ err: (err as Error).message }, `error retrieving resource lock ${this.describe()}`)
        return false
      }
    }
    const { step, observed } = decide({ lease: current, observed: this.observed, now: this.now(), identity, leaseDurationMs: timing.leaseDurationMs })
    this.observed = observed
    switch (step.kind) {
      case 'wait':
        this.log.debug({ holder: step.holder }, 'lock is held and has not yet expired')
        return false
      case 'lost':
        this.lostTo = step.holder
        return false
      case 'create':
      case 'acquire':
      case 'renew':
        try {
          await this.write(current, step.record)
          return true
        } catch (err) {
          this.log.warn({ err: (err as Error).message, step: step.kind }, step.kind === 'create' ? 'error initially creating leader election record' : 'Failed to update lock')
          return false
        }
    }
  }

  private recordEvent(what: string): void {
    const msg = `${this.cfg.identity} ${what}`
    this.log.info({ reason: 'LeaderElection' }, msg)
    const lease = this.lease ?? { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.cfg.name, namespace: this.cfg.namespace } }
    this.cfg.recorder?.event({ ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' }, 'Normal', 'LeaderElection', msg)
  }

  private reportTransition(): void {
    const holder = this.getLeader()
    if (holder === this.reportedLeader) return
    this.reportedLeader = holder
    if (holder && holder !== this.cfg.identity) this.log.info({ leader: holder }, 'new leader elected')
    this.cfg.callbacks.onNewLeader?.(holder)
  }

  /** ReleaseOnCancel: hand the Lease on at once (empty holder, 1 s). */
  private async release(): Promise<void> {
    if (this.inflight) await this.inflight
    const record = releaseRecord(this.observed, this.now(), this.cfg.identity)
    if (!record || !this.lease) return
    try {
      await this.write(this.lease, record)
      this.log.info(`released lease ${this.describe()}`)
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'Failed to release lock')
    }
  }
}

/** The upstream component flags of leader election, as read from a command line. */
export interface LeaderElectionFlags {
  /** --leader-elect (default true). */
  enabled: boolean
  timing: Timing
  /** --leader-elect-resource-namespace (default kube-system). */
  namespace: string
  /** --leader-elect-resource-name (undefined: the component's own name). */
  name?: string
}

const DURATION_FLAGS = { 'leader-elect-lease-duration': 'leaseDurationMs', 'leader-elect-renew-deadline': 'renewDeadlineMs', 'leader-elect-retry-period': 'retryPeriodMs' } as const
const STRING_FLAGS = ['leader-elect-resource-namespace', 'leader-elect-resource-name', 'leader-elect-resource-lock']

/**
 * Takes the leader-election flags out of argv (`--flag value` or `--flag=value`; the bool
 * `--leader-elect` alone or as `--leader-elect=true|false`, as pflag reads it) and returns them
 * with the remaining arguments. Bad values throw with the flag's name.
 */
export function parseLeaderElectionFlags(argv: readonly string[]): { flags: LeaderElectionFlags; rest: string[] } {
  const flags: LeaderElectionFlags = { enabled: true, timing: { ...DEFAULT_TIMING }, namespace: 'kube-system' }
  const rest: string[] = []
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!
    const eq = a.indexOf('=')
    const name = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : ''
    const inline = eq > 0 ? a.slice(eq + 1) : undefined
    const value = (): string => {
      const v = inline ?? argv[++k]
      if (v === undefined) throw new Error(`flag needs an argument: --${name}`)
      return v
    }
    if (name === 'leader-elect') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') throw new Error(`invalid argument "${inline}" for "--leader-elect" flag: strconv.ParseBool: parsing "${inline}": invalid syntax`)
      flags.enabled = inline !== 'false'
    } else if (name in DURATION_FLAGS) {
      const v = value()
      try {
        flags.timing[DURATION_FLAGS[name as keyof typeof DURATION_FLAGS]] = parseDuration(v)
      } catch (err) {
        throw new Error(`invalid argument "${v}" for "--${name}" flag: ${(err as Error).message}`)
      }
    } else if (STRING_FLAGS.includes(name)) {
      const v = value()
      if (name === 'leader-elect-resource-namespace') flags.namespace = v
      else if (name === 'leader-elect-resource-name') flags.name = v
      else if (v !== 'leases') throw new Error(`--leader-elect-resource-lock: only "leases" is supported, not "${v}"`)
    } else rest.push(a)
  }
  if (flags.enabled) {
    const bad = validateTiming(flags.timing)
    if (bad) throw new Error(`invalid leader election flags: ${bad}`)
  }
  return { flags, rest }
}

export const LEADER_ELECTION_USAGE =
  '[--leader-elect=true|false] [--leader-elect-lease-duration 15s] [--leader-elect-renew-deadline 10s] [--leader-elect-retry-period 2s]\n' +
  '         [--leader-elect-resource-namespace kube-system] [--leader-elect-resource-name NAME]'

export interface ElectedOptions {
  /** The Lease's default name: the component's upstream name (kube-controller-manager, kube-scheduler). */
  component: string
  flags: LeaderElectionFlags
  /** The election gets a client of its own with requests timed out at the renew deadline. */
  clientConfig: ClientConfig
  identity?: string
  registry?: Registry
  /** Start acting (called each time leadership is won). */
  start: () => Promise<Leading>
  /** Leadership lost; the component is stopped right after, then the election goes on. */
  onLost: () => void
}

export interface Elected {
  /** undefined with --leader-elect=false. */
  readonly elector: LeaderElector | undefined
  isLeader(): boolean
  stop(): Promise<void>
}

/** Runs `start` only while leading (or at once with --leader-elect=false). */
export async function startElected(o: ElectedOptions): Promise<Elected> {
  if (!o.flags.enabled) {
    const leading = await o.start()
    return { elector: undefined, isLeader: () => true, stop: () => leading.stop() }
  }
  const client = createClient(
    { ...o.clientConfig, userAgent: `${o.clientConfig.userAgent ?? o.component}/leader-election` },
    { requestTimeoutMs: o.flags.timing.renewDeadlineMs },
  )
  const recorder = createEventRecorder({ client, component: o.component })
  const elector = new LeaderElector({
    client,
    recorder,
    namespace: o.flags.namespace,
    name: o.flags.name ?? o.component,
    identity: o.identity ?? electionIdentity(),
    timing: o.flags.timing,
    callbacks: { onStartedLeading: o.start, onStoppedLeading: o.onLost },
    ...(o.registry ? { registry: o.registry } : {}),
  })
  elector.run()
  return {
    elector,
    isLeader: () => elector.isLeader(),
    stop: async () => {
      await elector.stop()
      await recorder.stop()
      client.close()
    },
  }
}

/** kube-controller-manager's and kube-scheduler's reaction to a lost Lease: log, exit 1. */
export function exitOnLost(log: Logger, fields: Record<string, unknown> = {}): () => void {
  return () => {
    log.error(fields, 'leaderelection lost')
    process.exit(1)
  }
}

/**
 * A standalone component CLI under election: the component runs while leading, a lost Lease
 * ends the process, and `registry()` (for /metrics) is the election gauge plus the component's
 * own metrics while it runs.
 */
export async function startElectedCli<T extends Leading & { readonly metrics: Registry }>(
  o: Omit<ElectedOptions, 'start' | 'registry' | 'onLost'> & { start: () => Promise<T>; log: Logger },
): Promise<{ elected: Elected; registry: () => Registry }> {
  const leaderMetrics = new Registry()
  let running: T | undefined
  const elected = await startElected({
    ...o,
    registry: leaderMetrics,
    start: async () => (running = await o.start()),
    onLost: exitOnLost(o.log),
  })
  return { elected, registry: () => Registry.merge([leaderMetrics, ...(running ? [running.metrics] : [])]) }
}
