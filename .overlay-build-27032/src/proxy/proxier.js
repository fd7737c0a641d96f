import { logger } from '../util/log.js';
import { EndpointsChangeTracker, ServiceChangeTracker } from './changes.js';
import { SyncRunner } from './runner.js';
import { buildServicePorts } from './serviceport.js';
export class Proxier {
    opts;
    services = new ServiceChangeTracker();
    endpoints = new EndpointsChangeTracker();
    svcMap = new Map();
    ports = new Map();
    synced = false;
    needFull = true;
    lastFullAt = 0;
    lastSyncedAt = 0;
    oldestPending = 0;
    runner;
    log;
    minSyncMs;
    fullSyncMs;
    /** Resolvers waiting for the next successful sync (tests, bench). */
    waiters = [];
    lastResult;
    lastError;
    constructor(opts) {
        this.opts = opts;
        this.minSyncMs = opts.minSyncMs ?? 1000;
        this.fullSyncMs = opts.fullSyncMs ?? 3_600_000;
        this.log = opts.log ?? logger('proxy');
        this.runner = new SyncRunner(() => this.syncOnce().then(() => undefined), {
            minIntervalMs: this.minSyncMs,
            maxIntervalMs: this.fullSyncMs,
        });
    }
    get node() {
        return this.opts.node;
    }
    // ---- informer callbacks: record only, then ask for a sync ----
    onService(prev, cur) {
        if (this.services.update(prev, cur))
            this.request();
    }
    onEndpointSlice(prev, cur) {
        if (this.endpoints.update(prev, cur))
            this.request();
    }
    /** The node's own object: new addresses mean every NodePort/externalIP decision may change. */
    onNode(node) {
        const ips = (node?.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address);
        if (ips.length && ips.join(',') !== this.opts.node.ips.join(',')) {
            this.opts.node.ips = ips;
            this.needFull = true;
            this.request();
        }
    }
    /** Informers have listed everything: from now on syncs write to the kernel. */
    setSynced() {
        this.synced = true;
        this.request();
    }
    request() {
        if (!this.oldestPending)
            this.oldestPending = Date.now();
        if (this.synced && !this.opts.manual)
            this.runner.run();
    }
    /** Resolves after the next successful sync that starts after this call. */
    nextSync() {
        return new Promise((resolve) => this.waiters.push(resolve));
    }
    /** Run a sync now (bypassing the rate limit); used by tests and the bench. */
    async syncNow() {
        return this.syncOnce();
    }
    healthSource() {
        return { lastSyncedAt: () => this.lastSyncedAt, oldestPendingAt: () => this.oldestPending };
    }
    mutex = Promise.resolve();
    /** Syncs never overlap: runner and syncNow() callers queue behind each other. */
    syncOnce() {
        const p = this.mutex.then(() => this.doSync());
        this.mutex = p.catch(() => undefined);
        return p;
    }
    async doSync() {
        if (!this.synced)
            throw new Error('proxy: informers not synced yet');
        const start = performance.now();
        const svcChanges = this.services.take();
        const { changes: epChanges, triggerTimes } = this.endpoints.take();
        this.oldestPending = 0;
        const changed = new Set([...svcChanges.keys(), ...epChanges.keys()]);
        for (const [key, c] of svcChanges) {
            if (c.current)
                this.svcMap.set(key, c.current);
            else
                this.svcMap.delete(key);
        }
        const full = this.needFull || Date.now() - this.lastFullAt >= this.fullSyncMs;
        const recompute = full ? new Set([...this.svcMap.keys(), ...this.ports.keys()]) : changed;
        for (const key of recompute) {
            const svc = this.svcMap.get(key);
            if (!svc)
                this.ports.delete(key);
            else
                this.ports.set(key, buildServicePorts(svc, this.endpoints.slicesFor(key)?.values() ?? [], this.opts.node.name));
        }
        const mode = this.opts.backend.mode;
        try {
            const stats = await this.opts.backend.sync({ full, ports: this.ports, changed });
            const durationMs = performance.now() - start;
            const now = Date.now();
            this.needFull = false;
            if (full)
                this.lastFullAt = now;
            this.lastSyncedAt = now;
            this.lastError = undefined;
            const m = this.opts.metrics;
            if (m) {
                m.syncDuration.observe({ mode, kind: full ? 'full' : 'partial' }, durationMs / 1000);
                m.rules.set(stats.rules);
                m.chains.set(stats.chains);
                m.lastSync.set(now / 1000);
                for (const t of triggerTimes.values())
                    m.programmingLatency.observe(Math.max(0, now - t) / 1000);
            }
            const result = { full, services: full ? this.ports.size : changed.size, durationMs };
            this.lastResult = result;
            this.log.debug({ ...result, rules: stats.rules, chains: stats.chains, written: stats.written }, 'synced');
            const w = this.waiters;
            this.waiters = [];
            for (const r of w)
                r(result);
            return result;
        }
        catch (err) {
            // The kernel kept its previous state (transactions are atomic); our memory of it is
            // unchanged too, but the changes taken above are consumed: rebuild everything next time.
            this.needFull = true;
            this.lastError = err;
            this.opts.metrics?.failures.inc();
            this.log.error({ err: err.message, full }, 'sync failed, full resync scheduled');
            if (!this.opts.manual)
                this.runner.runAfter(this.opts.retryMs ?? 1000);
            throw err;
        }
    }
    async stop() {
        await this.runner.stop();
    }
}
