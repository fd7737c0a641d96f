// The etcd-backed object store under the apiserver. It knows keys, JSON values and
// revisions, nothing about HTTP: every write is one etcd transaction guarded by a
// compare (key absent for create, mod_revision for update/delete), so concurrent writers
// never overwrite each other and an object is never half written. `resourceVersion` is the
// etcd mod_revision of the key (a list's resourceVersion is the header revision it read at).
import { Etcd3 } from 'etcd3';
export class StorageError extends Error {
    code;
    key;
    constructor(code, key, message) {
        super(message ?? `${code}: ${key}`);
        this.code = code;
        this.key = key;
    }
}
const enc = (s) => Buffer.from(s);
/** etcd's range_end for "every key with this prefix". */
export function prefixEnd(prefix) {
    const b = Buffer.from(prefix);
    for (let i = b.length - 1; i >= 0; i--) {
        if (b[i] < 0xff) {
            const out = Buffer.from(b.subarray(0, i + 1));
            out[i] = b[i] + 1;
            return out;
        }
    }
    return Buffer.from([0]);
}
function decode(kv, revision) {
    const obj = JSON.parse(kv.value.toString());
    obj.metadata = obj.metadata ?? {};
    obj.metadata.resourceVersion = revision ?? kv.mod_revision;
    return obj;
}
function encode(obj) {
    // resourceVersion lives in etcd's mod_revision, never in the value.
    const { resourceVersion: _rv, ...meta } = obj.metadata;
    return JSON.stringify({ ...obj, metadata: meta });
}
export function encodeContinue(rv, nextKey) {
    const tok = { v: 'meta.k8s.io/v1', rv, start: nextKey };
    return Buffer.from(JSON.stringify(tok)).toString('base64url');
}
export function decodeContinue(token, prefix) {
    try {
        const tok = JSON.parse(Buffer.from(token, 'base64url').toString());
        if (tok.v !== 'meta.k8s.io/v1' || typeof tok.rv !== 'number' || typeof tok.start !== 'string')
            throw new Error('shape');
        // The token must stay inside the list's prefix, or a client could read across resources.
        if (!tok.start.startsWith(prefix))
            throw new Error('prefix');
        return { rv: tok.rv, start: tok.start };
    }
    catch {
        throw new StorageError('InvalidContinue', prefix, 'continue key is not valid');
    }
}
function isCompactedError(err) {
    return err instanceof Error && /compacted/.test(err.message);
}
export class EtcdStore {
    client;
    constructor(endpoints) {
        this.client = new Etcd3({ hosts: endpoints, dialTimeout: 5000 });
    }
    async close() {
        this.client.close();
    }
    async currentRevision() {
        const res = await this.client.kv.range({ key: enc('/registry/health'), keys_only: true });
        return Number(res.header.revision);
    }
    async get(key) {
        const res = await this.client.kv.range({ key: enc(key) });
        const kv = res.kvs[0];
        return kv ? decode(kv) : undefined;
    }
    async list(prefix, opts = {}) {
        let start = prefix;
        let revision = opts.revision ?? 0;
        if (opts.continue) {
            const tok = decodeContinue(opts.continue, prefix);
            start = tok.start;
            revision = tok.rv;
        }
        const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
        let res;
        try {
            res = await this.client.kv.range({
                key: enc(start),
                range_end: prefixEnd(prefix),
                limit,
                revision: revision || 0,
            });
        }
        catch (err) {
            if (isCompactedError(err))
                throw new StorageError('Compacted', prefix, String(revision));
            throw err;
        }
        const items = res.kvs.map((kv) => decode(kv));
        const readRev = revision || Number(res.header.revision);
        const out = { items, revision: readRev };
        if (res.more && res.kvs.length > 0) {
            const last = res.kvs[res.kvs.length - 1].key.toString();
            // The next page starts right after the last key returned: append a NUL byte.
            out.continue = encodeContinue(readRev, last + '\x00');
            out.remaining = Math.max(0, Number(res.count) - res.kvs.length);
        }
        return out;
    }
    /** Keys only, for allocators. */
    async keys(prefix) {
        const res = await this.client.kv.range({ key: enc(prefix), range_end: prefixEnd(prefix), keys_only: true });
        return res.kvs.map((kv) => kv.key.toString());
    }
    sideOps(side) {
        const compare = [];
        const ops = [];
        for (const [k, v] of Object.entries(side?.create ?? {})) {
            compare.push({ key: enc(k), target: 'Create', result: 'Equal', create_revision: 0 });
            ops.push({ request_put: { key: enc(k), value: enc(v) } });
        }
        for (const k of side?.delete ?? [])
            ops.push({ request_delete_range: { key: enc(k) } });
        return { compare, ops };
    }
    /** Create the key; AlreadyExists if it is there, Conflict if a side-effect key is taken. */
    async create(key, obj, side) {
        const value = encode(obj);
        const s = this.sideOps(side);
        const res = await this.client.kv.txn({
            compare: [{ key: enc(key), target: 'Create', result: 'Equal', create_revision: 0 }, ...s.compare],
            success: [{ request_put: { key: enc(key), value: enc(value) } }, ...s.ops],
            failure: [{ request_range: { key: enc(key), keys_only: true } }],
        });
        if (!res.succeeded) {
            const existing = res.responses[0]?.response_range?.kvs?.length ?? 0;
            if (existing > 0)
                throw new StorageError('AlreadyExists', key);
            throw new StorageError('Conflict', key, 'an allocated key is already taken');
        }
        const out = JSON.parse(value);
        out.metadata.resourceVersion = res.header.revision;
        return out;
    }
    /**
     * Replace the key if its mod_revision is still `expectedRevision`.
     * NotFound when the key is gone, Conflict when it changed in between.
     */
    async update(key, obj, expectedRevision, side) {
        const value = encode(obj);
        const s = this.sideOps(side);
        const res = await this.client.kv.txn({
            compare: [{ key: enc(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision }, ...s.compare],
            success: [{ request_put: { key: enc(key), value: enc(value) } }, ...s.ops],
            failure: [{ request_range: { key: enc(key), keys_only: true } }],
        });
        if (!res.succeeded) {
            const existing = res.responses[0]?.response_range?.kvs?.length ?? 0;
            if (existing === 0)
                throw new StorageError('NotFound', key);
            throw new StorageError('Conflict', key);
        }
        const out = JSON.parse(value);
        out.metadata.resourceVersion = res.header.revision;
        return out;
    }
    /**
     * Read-modify-write with retry on concurrent change: `fn` gets the current object and
     * returns the next one (or throws). Used where the server, not the client, decides the
     * outcome (status merges, scale, binding, finalizer bookkeeping).
     */
    async guaranteedUpdate(key, fn, side, attempts = 16) {
        for (let i = 0;; i++) {
            const cur = await this.get(key);
            if (!cur)
                throw new StorageError('NotFound', key);
            const rev = Number(cur.metadata.resourceVersion);
            const next = await fn(structuredClone(cur));
            try {
                return await this.update(key, next, rev, side?.(cur, next));
            }
            catch (err) {
                if (err instanceof StorageError && err.code === 'Conflict' && i < attempts)
                    continue;
                throw err;
            }
        }
    }
    /** Delete the key, optionally only if unchanged since `expectedRevision`. Returns the last state. */
    async delete(key, expectedRevision, side) {
        const s = this.sideOps(side);
        const compare = [...s.compare];
        if (expectedRevision !== undefined)
            compare.push({ key: enc(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision });
        else
            compare.push({ key: enc(key), target: 'Create', result: 'Greater', create_revision: 0 });
        const res = await this.client.kv.txn({
            compare,
            success: [{ request_delete_range: { key: enc(key), prev_kv: true } }, ...s.ops],
            failure: [{ request_range: { key: enc(key), keys_only: true } }],
        });
        if (!res.succeeded) {
            const existing = res.responses[0]?.response_range?.kvs?.length ?? 0;
            if (existing === 0)
                throw new StorageError('NotFound', key);
            throw new StorageError('Conflict', key);
        }
        const prev = res.responses[0]?.response_delete_range?.prev_kvs?.[0];
        if (!prev)
            throw new StorageError('NotFound', key);
        return decode(prev, res.header.revision);
    }
    /** Put raw strings (allocator bookkeeping, bootstrap). */
    async putRaw(key, value) {
        await this.client.kv.put({ key: enc(key), value: enc(value) });
    }
    async compact(revision) {
        await this.client.kv.compact({ revision, physical: true });
    }
    /**
     * Watch every key under `prefix` from `fromRevision` (exclusive: events with
     * revision > fromRevision). One gRPC stream per watch, so a compacted start revision,
     * progress notifications and stream failures belong to this watch alone.
     */
    watch(prefix, fromRevision, cb) {
        let stopped = false;
        let stream;
        let wantProgress = false;
        const stop = () => {
            if (stopped)
                return;
            stopped = true;
            try {
                stream?.end();
                stream?.cancel?.();
            }
            catch {
                /* already closed */
            }
        };
        this.client.watchClient
            .watch()
            .then((s) => {
            stream = s;
            if (stopped)
                return stop();
            s.on('data', (res) => {
                if (stopped)
                    return;
                const rev = Number(res.header.revision);
                if (res.compact_revision && res.compact_revision !== '0') {
                    stop();
                    cb.onCompacted(Number(res.compact_revision));
                    return;
                }
                if (res.canceled) {
                    stop();
                    cb.onError(new Error(`etcd watch canceled: ${res.cancel_reason}`));
                    return;
                }
                if (res.created)
                    return;
                if (res.events.length === 0) {
                    cb.onProgress(rev);
                    return;
                }
                const events = res.events.map((ev) => {
                    const revision = Number(ev.kv.mod_revision);
                    if (ev.type === 'Delete') {
                        const prev = ev.prev_kv ? decode(ev.prev_kv) : undefined;
                        const last = ev.prev_kv ? decode(ev.prev_kv, String(revision)) : { metadata: {} };
                        const out = { type: 'delete', key: ev.kv.key.toString(), obj: last, revision };
                        if (prev)
                            out.prev = prev;
                        return out;
                    }
                    const out = { type: 'put', key: ev.kv.key.toString(), obj: decode(ev.kv), revision };
                    if (ev.prev_kv && ev.prev_kv.value.length > 0)
                        out.prev = decode(ev.prev_kv);
                    return out;
                });
                cb.onEvents(events, rev);
            });
            s.on('error', (err) => {
                if (stopped)
                    return;
                stopped = true;
                cb.onError(err);
            });
            s.on('end', () => {
                if (stopped)
                    return;
                stopped = true;
                cb.onError(new Error('etcd watch stream ended'));
            });
            s.write({
                create_request: {
                    key: enc(prefix),
                    range_end: prefixEnd(prefix),
                    start_revision: fromRevision + 1,
                    prev_kv: true,
                    progress_notify: true,
                },
            });
            if (wantProgress)
                s.write({ progress_request: {} });
        })
            .catch((err) => {
            if (!stopped) {
                stopped = true;
                cb.onError(err);
            }
        });
        return {
            stop,
            requestProgress() {
                if (stopped)
                    return;
                if (stream)
                    stream.write({ progress_request: {} });
                else
                    wantProgress = true;
            },
        };
    }
}
