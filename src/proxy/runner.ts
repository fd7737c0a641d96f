// A bounded-frequency runner (upstream's async.BoundedFrequencyRunner, simplified): requests
// are coalesced so fn runs at most once per minIntervalMs, never concurrently, and at least
// once per maxIntervalMs even without requests.
export interface RunnerOptions {
  minIntervalMs: number
  maxIntervalMs: number
  now?: () => number
}

export class SyncRunner {
  private requested = false
  private running: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private periodic: NodeJS.Timeout | undefined
  private lastRun = -Infinity
  private stopped = false
  private readonly now: () => number

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly opts: RunnerOptions,
  ) {
    this.now = opts.now ?? Date.now
  }

  /** Ask for a run as soon as the minimum interval allows. */
  run(): void {
    this.requested = true
    this.schedule(this.lastRun + this.opts.minIntervalMs)
  }

  /** Ask for a run no earlier than `delayMs` from now (retry after a failure). */
  runAfter(delayMs: number): void {
    this.requested = true
    this.schedule(Math.max(this.now() + delayMs, this.lastRun + this.opts.minIntervalMs))
  }

  private schedule(at: number): void {
    if (this.stopped || this.running) return
    if (this.timer && this.timerAt <= at) return
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - this.now()))
  }

  private tick(): void {
    this.timer = undefined
    this.timerAt = Infinity
    if (!this.requested || this.stopped) return
    this.requested = false
    this.lastRun = this.now()
    this.armPeriodic()
    this.running = this.fn()
      .catch(() => {}) // the callee reports and reschedules its own failures
      .finally(() => {
        this.running = undefined
        if (this.requested) this.schedule(this.lastRun + this.opts.minIntervalMs)
      })
  }

  private armPeriodic(): void {
    if (this.periodic) clearTimeout(this.periodic)
    this.periodic = setTimeout(() => this.run(), this.opts.maxIntervalMs)
    this.periodic.unref()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.periodic) clearTimeout(this.periodic)
    await this.running
  }
}
