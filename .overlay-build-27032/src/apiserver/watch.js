// One Kubernetes watch = one etcd watch on the resource's key prefix, started right after
// the requested resourceVersion, so nothing committed between a list and the watch that
// follows it is lost. Events are filtered per watcher: an object that stops matching the
// selector is sent as DELETED, one that starts matching as ADDED (kube-apiserver's rule).
// Bookmarks come from etcd progress notifications, so a bookmark's resourceVersion is one
// up to which etcd has really delivered everything. A compacted start revision ends the
// stream with an ERROR event carrying a 410 Expired Status, as kube-apiserver does.
import { etcdListPrefix, groupVersion } from '../api/resources.js';
import * as E from './errors.js';
export function parseWatchRV(rv) {
    if (rv === undefined || rv === '' || rv === '0')
        return 0;
    if (!/^\d+$/.test(rv))
        throw E.badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
    return Number(rv);
}
export function startWatch(reg, p, sink) {
    const { r } = p;
    let stopped = false;
    let resolveDone;
    const done = new Promise((res) => (resolveDone = res));
    let lastRev = 0;
    const timers = [];
    let storeWatch;
    const send = (ev) => {
        if (!stopped)
            sink.write(JSON.stringify(ev) + '\n');
    };
    const typed = (obj) => {
        const { apiVersion: _a, kind: _k, ...rest } = obj;
        return { apiVersion: groupVersion(r), kind: r.kind, ...rest };
    };
    const emit = (type, obj) => send({ type, object: p.render(typed(obj)) });
    const stop = () => {
        if (stopped)
            return;
        stopped = true;
        for (const t of timers)
            clearTimeout(t);
        storeWatch?.stop();
        try {
            sink.end();
        }
        catch {
            /* client gone */
        }
        resolveDone();
    };
    const onEvents = (events) => {
        for (const ev of events) {
            lastRev = Math.max(lastRev, ev.revision);
            const was = ev.prev !== undefined && reg.matches(r, p.filter, ev.prev);
            if (ev.type === 'delete') {
                if (was)
                    emit('DELETED', ev.obj);
                continue;
            }
            const is = reg.matches(r, p.filter, ev.obj);
            if (is && !was)
                emit('ADDED', ev.obj);
            else if (is && was)
                emit('MODIFIED', ev.obj);
            else if (!is && was)
                emit('DELETED', ev.obj);
        }
    };
    const begin = async () => {
        let from = parseWatchRV(p.resourceVersion);
        if (from === 0) {
            // "Start at most recent": the current state as ADDED events, then changes after it.
            const list = await reg.store.list(etcdListPrefix(r, p.namespace));
            for (const o of list.items)
                if (reg.matches(r, p.filter, o))
                    emit('ADDED', o);
            from = list.revision;
        }
        lastRev = from;
        if (stopped)
            return;
        storeWatch = reg.store.watch(etcdListPrefix(r, p.namespace), from, {
            onEvents,
            onProgress(rev) {
                lastRev = Math.max(lastRev, rev);
                if (p.allowBookmarks)
                    send({ type: 'BOOKMARK', object: { apiVersion: groupVersion(r), kind: r.kind, metadata: { resourceVersion: String(lastRev) } } });
            },
            onCompacted(compactRev) {
                const st = E.expired(`too old resource version: ${from} (${compactRev})`).status;
                send({ type: 'ERROR', object: st });
                stop();
            },
            onError() {
                // The etcd stream failed: end this watch; the client re-watches from its last RV.
                stop();
            },
        });
        if (p.allowBookmarks) {
            const tick = () => {
                if (stopped)
                    return;
                storeWatch?.requestProgress();
                timers.push(setTimeout(tick, p.bookmarkIntervalMs));
            };
            timers.push(setTimeout(tick, p.bookmarkIntervalMs));
        }
    };
    timers.push(setTimeout(stop, p.timeoutMs));
    begin().catch((err) => {
        const st = err instanceof E.ApiError ? err.status : E.internal(err.message).status;
        send({ type: 'ERROR', object: st });
        stop();
    });
    return { stop, done };
}
