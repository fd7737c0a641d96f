export class SyncRunner {
    fn;
    opts;
    requested = false;
    running;
    timer;
    timerAt = Infinity;
    periodic;
    lastRun = -Infinity;
    stopped = false;
    now;
    constructor(fn, opts) {
        this.fn = fn;
        this.opts = opts;
        this.now = opts.now ?? Date.now;
    }
    /** Ask for a run as soon as the minimum interval allows. */
    run() {
        this.requested = true;
        this.schedule(this.lastRun + this.opts.minIntervalMs);
    }
    /** Ask for a run no earlier than `delayMs` from now (retry after a failure). */
    runAfter(delayMs) {
        this.requested = true;
        this.schedule(Math.max(this.now() + delayMs, this.lastRun + this.opts.minIntervalMs));
    }
    schedule(at) {
        if (this.stopped || this.running)
            return;
        if (this.timer && this.timerAt <= at)
            return;
        if (this.timer)
            clearTimeout(this.timer);
        this.timerAt = at;
        this.timer = setTimeout(() => this.tick(), Math.max(0, at - this.now()));
    }
    tick() {
        this.timer = undefined;
        this.timerAt = Infinity;
        if (!this.requested || this.stopped)
            return;
        this.requested = false;
        this.lastRun = this.now();
        this.armPeriodic();
        this.running = this.fn()
            .catch(() => { }) // the callee reports and reschedules its own failures
            .finally(() => {
            this.running = undefined;
            if (this.requested)
                this.schedule(this.lastRun + this.opts.minIntervalMs);
        });
    }
    armPeriodic() {
        if (this.periodic)
            clearTimeout(this.periodic);
        this.periodic = setTimeout(() => this.run(), this.opts.maxIntervalMs);
        this.periodic.unref();
    }
    async stop() {
        this.stopped = true;
        if (this.timer)
            clearTimeout(this.timer);
        if (this.periodic)
            clearTimeout(this.periodic);
        await this.running;
    }
}
