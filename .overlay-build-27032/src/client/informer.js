import { logger } from '../util/log.js';
import { isGone } from './errors.js';
import { objectKey } from './interfaces.js';
import { IndexedStore } from './store.js';
/** Exponential back-off with jitter; reset after a healthy period. */
export class Backoff {
    initialMs;
    maxMs;
    jitter;
    rand;
    attempt = 0;
    constructor(initialMs = 200, maxMs = 30_000, jitter = 0.5, rand = Math.random) {
        this.initialMs = initialMs;
        this.maxMs = maxMs;
        this.jitter = jitter;
        this.rand = rand;
    }
    next() {
        const base = Math.min(this.maxMs, this.initialMs * Math.pow(2, this.attempt));
        if (base < this.maxMs)
            this.attempt++;
        // jitter in [-j, +j] of the base, never above the cap
        const d = base * (1 + this.jitter * (2 * this.rand() - 1));
        return Math.max(0, Math.min(this.maxMs, Math.round(d)));
    }
    reset() {
        this.attempt = 0;
    }
    get attempts() {
        return this.attempt;
    }
}
class GoneError extends Error {
    constructor(msg) {
        super(msg);
        this.name = 'GoneError';
    }
}
export class Informer {
    client;
    opts;
    store;
    stats = { lists: 0, watches: 0, relistsAfterGone: 0, reconnectWaits: 0, events: 0 };
    handlers = [];
    rv = '';
    synced = false;
    stopped = false;
    running;
    startPromise;
    resolveStart;
    watch;
    sleepTimer;
    wakeSleep;
    resyncTimer;
    backoff;
    log;
    constructor(client, opts = {}) {
        this.client = client;
        this.opts = opts;
        this.store = new IndexedStore(opts.indexers);
        this.backoff = new Backoff(opts.backoff?.initialMs ?? 200, opts.backoff?.maxMs ?? 30_000);
        this.log = logger('informer').child({ informer: opts.name ?? 'informer' });
    }
    addEventHandler(h) {
        this.handlers.push(h);
        // A late handler catches up with synthetic adds, as client-go does.
        if (this.synced)
            for (const o of this.store.list())
                this.call(h, 'onAdd', o);
    }
    start() {
        if (this.startPromise)
            return this.startPromise;
        this.startPromise = new Promise((r) => (this.resolveStart = r));
        this.running = this.run().catch((err) => this.log.error({ err: err.message }, 'informer loop crashed'));
        if (this.opts.resyncMs && this.opts.resyncMs > 0) {
            this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
            this.resyncTimer.unref?.();
        }
        return this.startPromise;
    }
    hasSynced() {
        return this.synced;
    }
    /** Stops the loop; a pending start() resolves (check hasSynced()). */
    stop() {
        if (this.stopped)
            return;
        this.stopped = true;
        this.watch?.stop();
        if (this.sleepTimer)
            clearTimeout(this.sleepTimer);
        this.wakeSleep?.();
        if (this.resyncTimer)
            clearInterval(this.resyncTimer);
        this.resolveStart?.();
    }
    /** Resolves when the loop has exited after stop(). */
    async waitStopped() {
        await this.running;
    }
    lastResourceVersion() {
        return this.rv;
    }
    // ---------- the loop ----------
    async run() {
        let needList = true;
        while (!this.stopped) {
            try {
                if (needList) {
                    await this.relist();
                    needList = false;
                }
                const started = Date.now();
                const r = await this.watchOnce();
                if (this.stopped)
                    break;
                if (r.gone) {
                    this.log.info({ rv: this.rv }, 'resourceVersion compacted (410): relisting');
                    this.stats.relistsAfterGone++;
                    needList = true;
                    continue;
                }
                if (r.error) {
                    // A stream that worked for a while before failing starts the back-off afresh.
                    if (r.events > 0 || Date.now() - started > 10_000)
                        this.backoff.reset();
                    this.log.warn({ err: r.error.message, rv: this.rv }, 'watch failed');
                    await this.sleep(this.backoff.next());
                    continue;
                }
                // A stream that closed at once without a single event is suspicious (a server
                // shutting down): wait a little before hammering it. A healthy stream resets.
                if (r.events === 0 && Date.now() - started < 1000)
                    await this.sleep(this.backoff.next());
                else
                    this.backoff.reset();
            }
            catch (err) {
                if (this.stopped)
                    break;
                if (err instanceof GoneError || isGone(err)) {
                    // The continue token of a paged list expired: start the list again.
                    needList = true;
                    continue;
                }
                this.log.warn({ err: err.message }, 'list failed');
                needList = true;
                await this.sleep(this.backoff.next());
            }
        }
    }
    sleep(ms) {
        if (this.stopped)
            return Promise.resolve();
        this.stats.reconnectWaits++;
        return new Promise((resolve) => {
            this.wakeSleep = resolve;
            this.sleepTimer = setTimeout(resolve, ms);
        });
    }
    /** Full list (paged), then replace the store contents and emit the differences. */
    async relist() {
        const pageSize = this.opts.pageSize ?? 500;
        const items = [];
        let cont;
        let rv = '';
        do {
            const page = await this.client.list({
                ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
                ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
                ...(pageSize > 0 ? { limit: pageSize } : {}),
                ...(cont ? { continue: cont } : {}),
            });
            if (this.stopped)
                return;
            items.push(...page.items);
            // Every page carries the snapshot revision of the first; keep the first one.
            if (!rv)
                rv = page.metadata.resourceVersion ?? '';
            cont = page.metadata.continue || undefined;
        } while (cont);
        this.stats.lists++;
        this.replace(items);
        this.rv = rv;
        if (!this.synced) {
            this.synced = true;
            this.resolveStart?.();
        }
        this.backoff.reset();
    }
    /** Makes the store equal to `items`, emitting add/update/delete for the differences. */
    replace(items) {
        const fresh = new Map();
        for (const o of items)
            fresh.set(objectKey(o), o);
        for (const key of this.store.keys()) {
            if (!fresh.has(key)) {
                const old = this.store.remove(key);
                this.dispatch('onDelete', old);
            }
        }
        for (const [key, o] of fresh) {
            const old = this.store.put(key, o);
            if (!old)
                this.dispatch('onAdd', o);
            else if (old.metadata.resourceVersion !== o.metadata.resourceVersion)
                this.dispatch('onUpdate', old, o);
        }
    }
    watchOnce() {
        const wopts = {
            resourceVersion: this.rv,
            allowWatchBookmarks: true,
            timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
        };
        if (this.opts.labelSelector)
            wopts.labelSelector = this.opts.labelSelector;
        if (this.opts.fieldSelector)
            wopts.fieldSelector = this.opts.fieldSelector;
        let gone = false;
        let error;
        let events = 0;
        let active = true;
        this.stats.watches++;
        let h;
        h = this.client.watch(wopts, (ev) => {
            // Events after we gave up on this stream (gone, error, stop) must not touch the store.
            if (!active || this.stopped || gone || error)
                return;
            events++;
            const r = this.apply(ev);
            if (r === 'gone')
                gone = true;
            else if (r instanceof Error)
                error = r;
            if (gone || error)
                h?.stop();
        });
        this.watch = h;
        // A synchronous implementation may already have delivered the end.
        if (this.stopped || gone || error)
            h.stop();
        return h.done.then(() => {
            active = false;
            this.watch = undefined;
            // The REST handle records why it ended; any other implementation may not.
            const hErr = h.error;
            if (!gone && !error && hErr instanceof Error) {
                if (isGone(hErr))
                    gone = true;
                else
                    error = hErr;
            }
            return error ? { gone, error, events } : { gone, events };
        });
    }
    /** Applies one watch event to the store. */
    apply(ev) {
        this.stats.events++;
        const obj = ev.object;
        switch (ev.type) {
            case 'ADDED':
            case 'MODIFIED': {
                const key = objectKey(obj);
                // Never go back in time: an event older than what the cache holds (a paged list
                // read past the watch start) would otherwise regress the object.
                if (olderThanCached(this.store.get(key), obj))
                    break;
                const old = this.store.put(key, obj);
                if (old)
                    this.dispatch('onUpdate', old, obj);
                else
                    this.dispatch('onAdd', obj);
                break;
            }
            case 'DELETED': {
                const old = this.store.remove(objectKey(obj));
                // The deleted object's final state is in the event (with its deletion revision).
                if (old)
                    this.dispatch('onDelete', obj);
                break;
            }
            case 'BOOKMARK':
                break;
            case 'ERROR': {
                const st = obj;
                if (st?.code === 410 || st?.reason === 'Gone' || st?.reason === 'Expired')
                    return 'gone';
                return new Error(`watch error event: ${st?.code ?? '?'} ${st?.reason ?? ''} ${st?.message ?? ''}`.trim());
            }
            default:
                return new Error(`unknown watch event type ${String(ev.type)}`);
        }
        const rv = obj?.metadata?.resourceVersion;
        if (rv && !rvLess(rv, this.rv))
            this.rv = rv;
        return 'ok';
    }
    resync() {
        if (!this.synced || this.stopped)
            return;
        for (const o of this.store.list())
            this.dispatch('onUpdate', o, o);
    }
    dispatch(kind, a, b) {
        for (const h of this.handlers)
            this.call(h, kind, a, b);
    }
    call(h, kind, a, b) {
        try {
            if (kind === 'onUpdate')
                h.onUpdate?.(a, b);
            else
                h[kind]?.(a);
        }
        catch (err) {
            // One faulty handler must not stop the informer nor starve the others.
            this.log.error({ err: err.message, handler: kind }, 'event handler threw');
        }
    }
}
/** resourceVersions are opaque in Kubernetes; netkube's are etcd revisions, compared only when numeric. */
function rvLess(a, b) {
    if (!/^\d+$/.test(a) || !/^\d+$/.test(b))
        return false;
    return BigInt(a) < BigInt(b);
}
function olderThanCached(cached, incoming) {
    const a = cached?.metadata.resourceVersion;
    const b = incoming.metadata.resourceVersion;
    return !!a && !!b && rvLess(b, a);
}
export function createInformer(client, opts = {}) {
    return new Informer(client, opts);
}
/** Resolves once every informer has synced (start() them first). */
export async function waitForCacheSync(...informers) {
    while (!informers.every((i) => i.hasSynced()))
        await new Promise((r) => setTimeout(r, 20));
    return true;
}
/** Like waitForCacheSync but gives up after `ms`; answers whether all synced. */
export async function waitForCacheSyncTimeout(ms, ...informers) {
    const deadline = Date.now() + ms;
    while (!informers.every((i) => i.hasSynced())) {
        if (Date.now() >= deadline)
            return false;
        await new Promise((r) => setTimeout(r, 20));
    }
    return true;
}
