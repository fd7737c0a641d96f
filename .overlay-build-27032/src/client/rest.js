// The typed REST client: node:http(s) with a keep-alive agent, bearer token, custom CA,
// JSON bodies, Kubernetes paths, metav1.Status errors and newline-delimited JSON watches.
//
// Design notes
// - One Agent per Client, keep-alive on: controllers issue many small requests, and a TLS
//   handshake per request would dominate their latency.
// - A request sent on a re-used keep-alive socket can race the server closing that socket
//   while idle (ECONNRESET before any byte of answer). Idempotent verbs are retried once then.
// - A watch never rejects: `done` always resolves (an unobserved rejected promise would kill
//   the process). Why it ended is on `handle.error`; an HTTP error answer (e.g. 410 when the
//   revision is compacted) is also delivered in-band as an ERROR event carrying the Status,
//   the same shape a server uses for errors inside an open stream, so consumers handle one path.
import http from 'node:http';
import https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { ApiStatusErrorImpl } from './errors.js';
export const PATCH_CONTENT_TYPES = {
    merge: 'application/merge-patch+json',
    strategic: 'application/strategic-merge-patch+json',
    json: 'application/json-patch+json',
    apply: 'application/apply-patch+yaml',
};
const DEFAULT_USER_AGENT = 'netkube-client/0.1';
/** Non-watch requests give up after this long without an answer. */
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** The collection (or object / subresource) path of a resource, as the apiserver routes it. */
export function resourcePath(r, namespace, name, sub) {
    let p = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
    if (r.namespaced && namespace)
        p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${r.plural}`;
    if (name !== undefined) {
        if (name === '')
            throw new Error(`empty name for ${r.plural}`);
        p += `/${encodeURIComponent(name)}`;
        if (sub)
            p += `/${sub}`;
    }
    return p;
}
function listQuery(opts) {
    const q = {};
    if (!opts)
        return q;
    if (opts.labelSelector)
        q.labelSelector = opts.labelSelector;
    if (opts.fieldSelector)
        q.fieldSelector = opts.fieldSelector;
    if (opts.limit !== undefined)
        q.limit = String(opts.limit);
    if (opts.continue)
        q.continue = opts.continue;
    if (opts.resourceVersion !== undefined && opts.resourceVersion !== '')
        q.resourceVersion = opts.resourceVersion;
    return q;
}
function withQuery(path, q) {
    const s = new URLSearchParams(q).toString();
    return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}
/**
 * Splits a byte stream into lines. Chunks may cut a line (or a multi-byte UTF-8 character)
 * anywhere; only complete lines are returned, the tail waits for the next chunk.
 */
export class LineSplitter {
    decoder = new StringDecoder('utf8');
    tail = '';
    push(chunk) {
        const text = this.tail + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
        const parts = text.split('\n');
        this.tail = parts.pop() ?? '';
        return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.trim() !== '');
    }
    /** What is left at end of stream (a last line without newline). */
    end() {
        const rest = (this.tail + this.decoder.end()).trim();
        this.tail = '';
        return rest ? [rest] : [];
    }
}
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
export class RestClient {
    config;
    base;
    agent;
    transport;
    requestTimeoutMs;
    constructor(cfg, opts = {}) {
        this.config = cfg;
        this.base = new URL(cfg.server);
        this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
        if (this.base.protocol === 'https:') {
            this.transport = https;
            this.agent = new https.Agent({
                keepAlive: true,
                ca: cfg.caPem,
                rejectUnauthorized: !cfg.insecureSkipTLSVerify,
            });
        }
        else if (this.base.protocol === 'http:') {
            this.transport = http;
            this.agent = new http.Agent({ keepAlive: true });
        }
        else {
            throw new Error(`unsupported server URL ${cfg.server}: want https:// or http://`);
        }
    }
    resource(r, namespace) {
        return new RestResourceClient(this, r, namespace);
    }
    async raw(method, path, body, contentType) {
        const spec = { method, path };
        if (body !== undefined) {
            spec.body = typeof body === 'string' ? body : JSON.stringify(body);
            spec.contentType = contentType ?? 'application/json';
        }
        const res = await this.send(spec);
        return { status: res.status, body: res.body };
    }
    /** Sends a request and parses a JSON answer; any non-2xx becomes an ApiStatusError. */
    async requestJSON(spec, what) {
        const res = await this.send(spec);
        if (res.status < 200 || res.status > 299)
            throw ApiStatusErrorImpl.fromResponse(res.status, res.body, what);
        if (res.body === '')
            return undefined;
        try {
            return JSON.parse(res.body);
        }
        catch {
            throw new Error(`${what}: answer is not JSON (HTTP ${res.status}): ${res.body.slice(0, 200)}`);
        }
    }
    /** Releases the keep-alive sockets (open watches are not affected). */
    close() {
        this.agent.destroy();
    }
    headers(spec) {
        const h = {
            accept: spec.accept ?? 'application/json',
            'user-agent': this.config.userAgent ?? DEFAULT_USER_AGENT,
        };
        if (this.config.token)
            h.authorization = `Bearer ${this.config.token}`;
        if (spec.body !== undefined) {
            h['content-type'] = spec.contentType ?? 'application/json';
            h['content-length'] = Buffer.byteLength(spec.body);
        }
        return h;
    }
    requestOptions(spec) {
        return {
            protocol: this.base.protocol,
            hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
            port: this.base.port || (this.base.protocol === 'https:' ? 443 : 80),
            method: spec.method,
            path: joinPath(this.base.pathname, spec.path),
            headers: this.headers(spec),
            agent: this.agent,
        };
    }
    send(spec) {
        return this.sendOnce(spec).catch((err) => {
            if (err.reusedSocket && err.code === 'ECONNRESET' && IDEMPOTENT.has(spec.method.toUpperCase())) {
                return this.sendOnce(spec);
            }
            throw err;
        });
    }
    sendOnce(spec) {
        return new Promise((resolve, reject) => {
            const req = this.transport.request(this.requestOptions(spec), (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
                res.on('error', reject);
                res.on('aborted', () => reject(new Error(`${spec.method} ${spec.path}: answer aborted`)));
            });
            req.setTimeout(this.requestTimeoutMs, () => {
                req.destroy(new Error(`${spec.method} ${spec.path}: no answer after ${this.requestTimeoutMs} ms`));
            });
            req.on('error', (err) => {
                err.reusedSocket = req.reusedSocket;
                reject(err);
            });
            req.end(spec.body);
        });
    }
    /** Opens a watch: newline-delimited WatchEvents, one onEvent call per event. */
    watchPath(path, onEvent, idleTimeoutMs) {
        let resolveDone;
        const done = new Promise((r) => (resolveDone = r));
        let finished = false;
        let stopped = false;
        let req;
        const handle = {
            error: undefined,
            events: 0,
            done,
            stop: () => {
                stopped = true;
                req?.destroy();
                finish();
            },
        };
        const finish = (err) => {
            if (finished)
                return;
            finished = true;
            if (err && !stopped)
                handle.error = err;
            resolveDone();
        };
        const deliver = (line) => {
            if (finished)
                return;
            let ev;
            try {
                ev = JSON.parse(line);
            }
            catch {
                req?.destroy();
                finish(new Error(`watch ${path}: undecodable line: ${line.slice(0, 200)}`));
                return;
            }
            handle.events++;
            onEvent(ev);
        };
        const spec = { method: 'GET', path };
        req = this.transport.request(this.requestOptions(spec), (res) => {
            const status = res.statusCode ?? 0;
            if (status !== 200) {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    const err = ApiStatusErrorImpl.fromResponse(status, Buffer.concat(chunks).toString('utf8'), `watch ${path}`);
                    if (!finished && !stopped) {
                        handle.error = err;
                        onEvent({ type: 'ERROR', object: err.status });
                    }
                    finish(err);
                });
                res.on('error', (e) => finish(e));
                return;
            }
            const splitter = new LineSplitter();
            res.on('data', (c) => {
                for (const line of splitter.push(c))
                    deliver(line);
            });
            res.on('end', () => {
                for (const line of splitter.end())
                    deliver(line);
                finish();
            });
            res.on('aborted', () => finish(new Error(`watch ${path}: stream aborted`)));
            res.on('error', (e) => finish(e));
            res.on('close', () => finish());
        });
        if (idleTimeoutMs) {
            // A server that vanished without closing the socket would leave the watch hanging.
            req.setTimeout(idleTimeoutMs, () => req?.destroy(new Error(`watch ${path}: idle for ${idleTimeoutMs} ms`)));
        }
        req.on('error', (e) => finish(e));
        req.on('close', () => finish());
        req.end();
        return handle;
    }
}
function joinPath(basePath, path) {
    const b = basePath.replace(/\/+$/, '');
    return `${b}${path.startsWith('/') ? '' : '/'}${path}`;
}
class RestResourceClient {
    c;
    r;
    namespace;
    constructor(c, r, namespace) {
        this.c = c;
        this.r = r;
        this.namespace = namespace;
    }
    /**
     * Namespace and name for one object. A client not bound to a namespace accepts
     * `namespace/name` (the informer's store key) for namespaced resources.
     */
    locate(name, objNs) {
        if (!this.r.namespaced)
            return { ns: undefined, name };
        if (this.namespace)
            return { ns: this.namespace, name };
        const slash = name.indexOf('/');
        if (slash > 0)
            return { ns: name.slice(0, slash), name: name.slice(slash + 1) };
        if (objNs)
            return { ns: objNs, name };
        throw new Error(`${this.r.plural} is namespaced: bind the client to a namespace or pass "namespace/${name}"`);
    }
    what(verb, name) {
        return `${verb} ${this.r.plural}${name ? ` "${name}"` : ''}`;
    }
    get(name) {
        const l = this.locate(name);
        return this.c.requestJSON({ method: 'GET', path: resourcePath(this.r, l.ns, l.name) }, this.what('get', name));
    }
    list(opts) {
        const path = withQuery(resourcePath(this.r, this.namespace), listQuery(opts));
        return this.c.requestJSON({ method: 'GET', path }, this.what('list'));
    }
    create(obj) {
        const ns = this.r.namespaced ? (this.namespace ?? obj.metadata.namespace) : undefined;
        if (this.r.namespaced && !ns)
            throw new Error(`create ${this.r.plural}: no namespace on client or object`);
        return this.c.requestJSON({ method: 'POST', path: resourcePath(this.r, ns), body: JSON.stringify(obj) }, this.what('create', obj.metadata.name ?? obj.metadata.generateName));
    }
    put(obj, sub) {
        const name = obj.metadata.name;
        if (!name)
            throw new Error(`update ${this.r.plural}: object has no metadata.name`);
        const l = this.locate(name, obj.metadata.namespace);
        return this.c.requestJSON({ method: 'PUT', path: resourcePath(this.r, l.ns, l.name, sub), body: JSON.stringify(obj) }, this.what(sub ? `update ${sub} of` : 'update', name));
    }
    update(obj) {
        return this.put(obj);
    }
    updateStatus(obj) {
        return this.put(obj, 'status');
    }
    doPatch(name, patch, type, sub) {
        const l = this.locate(name);
        let path = resourcePath(this.r, l.ns, l.name, sub);
        // Server-side apply needs a field manager; the user agent names this component.
        if (type === 'apply')
            path = withQuery(path, { fieldManager: fieldManager(this.c.config.userAgent), force: 'true' });
        return this.c.requestJSON({ method: 'PATCH', path, body: typeof patch === 'string' ? patch : JSON.stringify(patch), contentType: PATCH_CONTENT_TYPES[type] }, this.what(sub ? `patch ${sub} of` : 'patch', name));
    }
    patch(name, patch, type = 'merge') {
        return this.doPatch(name, patch, type);
    }
    patchStatus(name, patch, type = 'merge') {
        return this.doPatch(name, patch, type, 'status');
    }
    async delete(name, opts) {
        const l = this.locate(name);
        const spec = { method: 'DELETE', path: resourcePath(this.r, l.ns, l.name) };
        if (opts)
            spec.body = JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', ...opts });
        await this.c.requestJSON(spec, this.what('delete', name));
    }
    createSubresource(name, sub, body) {
        const l = this.locate(name, body.metadata?.namespace);
        return this.c.requestJSON({ method: 'POST', path: resourcePath(this.r, l.ns, l.name, sub), body: JSON.stringify(body) }, this.what(`create ${sub} of`, name));
    }
    watch(opts, onEvent) {
        const q = listQuery(opts);
        q.watch = '1';
        if (opts.allowWatchBookmarks)
            q.allowWatchBookmarks = 'true';
        if (opts.timeoutSeconds !== undefined)
            q.timeoutSeconds = String(opts.timeoutSeconds);
        // Client-side guard: no byte for well past the server's own timeout means a dead peer.
        const idle = opts.timeoutSeconds !== undefined ? (opts.timeoutSeconds + 30) * 1000 : undefined;
        return this.c.watchPath(withQuery(resourcePath(this.r, this.namespace), q), onEvent, idle);
    }
}
function fieldManager(userAgent) {
    const m = (userAgent ?? 'netkube').split('/')[0].trim();
    return m.slice(0, 128) || 'netkube';
}
export function createClient(cfg, opts = {}) {
    return new RestClient(cfg, opts);
}
