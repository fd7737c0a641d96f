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
import http from 'node:http'
import https from 'node:https'
import { StringDecoder } from 'node:string_decoder'
import type { KubeList, KubeObject, Status, WatchEvent } from '../api/types.js'
import { ApiStatusErrorImpl } from './errors.js'
import type {
  Client,
  ClientConfig,
  DeleteOptions,
  ListOptions,
  PatchType,
  ResourceClient,
  ResourceRef,
  WatchHandle,
  WatchOptions,
} from './interfaces.js'

export const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
}

const DEFAULT_USER_AGENT = 'netkube-client/0.1'
/** Non-watch requests give up after this long without an answer. */
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000

/** The collection (or object / subresource) path of a resource, as the apiserver routes it. */
export function resourcePath(r: ResourceRef, namespace?: string, name?: string, sub?: string): string {
  let p = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`
  p += `/${r.plural}`
  if (name !== undefined) {
    if (name === '') throw new Error(`empty name for ${r.plural}`)
    p += `/${encodeURIComponent(name)}`
    if (sub) p += `/${sub}`
  }
  return p
}

function listQuery(opts: ListOptions | undefined): Record<string, string> {
  const q: Record<string, string> = {}
  if (!opts) return q
  if (opts.labelSelector) q.labelSelector = opts.labelSelector
  if (opts.fieldSelector) q.fieldSelector = opts.fieldSelector
  if (opts.limit !== undefined) q.limit = String(opts.limit)
  if (opts.continue) q.continue = opts.continue
  if (opts.resourceVersion !== undefined && opts.resourceVersion !== '') q.resourceVersion = opts.resourceVersion
  return q
}

function withQuery(path: string, q: Record<string, string>): string {
  const s = new URLSearchParams(q).toString()
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path
}

/**
 * Splits a byte stream into lines. Chunks may cut a line (or a multi-byte UTF-8 character)
 * anywhere; only complete lines are returned, the tail waits for the next chunk.
 */
export class LineSplitter {
  private decoder = new StringDecoder('utf8')
  private tail = ''

  push(chunk: Buffer | string): string[] {
    const text = this.tail + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk))
    const parts = text.split('\n')
    this.tail = parts.pop() ?? ''
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.trim() !== '')
  }

  /** What is left at end of stream (a last line without newline). */
  end(): string[] {
    const rest = (this.tail + this.decoder.end()).trim()
    this.tail = ''
    return rest ? [rest] : []
  }
}

/** A watch handle that also says why the stream ended. */
export interface RestWatchHandle extends WatchHandle {
  /** Set before `done` resolves when the stream ended by an error (network or HTTP status). */
  readonly error: Error | undefined
  /** Number of events delivered so far. */
  readonly events: number
}

interface RawResponse {
  status: number
  body: string
  headers: http.IncomingHttpHeaders
}

interface RequestSpec {
  method: string
  path: string
  body?: string
  contentType?: string
  accept?: string
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])

export class RestClient implements Client {
  readonly config: ClientConfig
  private readonly base: URL
  private readonly agent: http.Agent
  private readonly transport: typeof http | typeof https
  readonly requestTimeoutMs: number

  constructor(cfg: ClientConfig, opts: { requestTimeoutMs?: number } = {}) {
    this.config = cfg
    this.base = new URL(cfg.server)
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    if (this.base.protocol === 'https:') {
      this.transport = https
      this.agent = new https.Agent({
        keepAlive: true,
        ca: cfg.caPem,
        rejectUnauthorized: !cfg.insecureSkipTLSVerify,
      })
    } else if (this.base.protocol === 'http:') {
      this.transport = http
      this.agent = new http.Agent({ keepAlive: true })
    } else {
      throw new Error(`unsupported server URL ${cfg.server}: want https:// or http://`)
    }
  }

  resource<T extends KubeObject = KubeObject>(r: ResourceRef, namespace?: string): ResourceClient<T> {
    return new RestResourceClient<T>(this, r, namespace)
  }

  async raw(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: string }> {
    const spec: RequestSpec = { method, path }
    if (body !== undefined) {
      spec.body = typeof body === 'string' ? body : JSON.stringify(body)
      spec.contentType = contentType ?? 'application/json'
    }
    const res = await this.send(spec)
    return { status: res.status, body: res.body }
  }

  /** Sends a request and parses a JSON answer; any non-2xx becomes an ApiStatusError. */
  async requestJSON<R>(spec: RequestSpec, what: string): Promise<R> {
    const res = await this.send(spec)
    if (res.status < 200 || res.status > 299) throw ApiStatusErrorImpl.fromResponse(res.status, res.body, what)
    if (res.body === '') return undefined as R
    try {
      return JSON.parse(res.body) as R
    } catch {
      throw new Error(`${what}: answer is not JSON (HTTP ${res.status}): ${res.body.slice(0, 200)}`)
    }
  }

  /** Releases the keep-alive sockets (open watches are not affected). */
  close(): void {
    this.agent.destroy()
  }

  private headers(spec: RequestSpec): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = {
      accept: spec.accept ?? 'application/json',
      'user-agent': this.config.userAgent ?? DEFAULT_USER_AGENT,
    }
    if (this.config.token) h.authorization = `Bearer ${this.config.token}`
    if (spec.body !== undefined) {
      h['content-type'] = spec.contentType ?? 'application/json'
      h['content-length'] = Buffer.byteLength(spec.body)
    }
    return h
  }

  private requestOptions(spec: RequestSpec): http.RequestOptions {
    return {
      protocol: this.base.protocol,
      hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
      port: this.base.port || (this.base.protocol === 'https:' ? 443 : 80),
      method: spec.method,
      path: joinPath(this.base.pathname, spec.path),
      headers: this.headers(spec),
      agent: this.agent,
    }
  }

  private send(spec: RequestSpec): Promise<RawResponse> {
    return this.sendOnce(spec).catch((err: Error & { code?: string; reusedSocket?: boolean }) => {
      if (err.reusedSocket && err.code === 'ECONNRESET' && IDEMPOTENT.has(spec.method.toUpperCase())) {
        return this.sendOnce(spec)
      }
      throw err
    })
  }

  private sendOnce(spec: RequestSpec): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = this.transport.request(this.requestOptions(spec), (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }))
        res.on('error', reject)
        res.on('aborted', () => reject(new Error(`${spec.method} ${spec.path}: answer aborted`)))
      })
      req.setTimeout(this.requestTimeoutMs, () => {
        req.destroy(new Error(`${spec.method} ${spec.path}: no answer after ${this.requestTimeoutMs} ms`))
      })
      req.on('error', (err: Error & { reusedSocket?: boolean }) => {
        err.reusedSocket = req.reusedSocket
        reject(err)
      })
      req.end(spec.body)
    })
  }

  /** Opens a watch: newline-delimited WatchEvents, one onEvent call per event. */
  watchPath<T>(path: string, onEvent: (ev: WatchEvent<T>) => void, idleTimeoutMs?: number): RestWatchHandle {
    let resolveDone!: () => void
    const done = new Promise<void>((r) => (resolveDone = r))
    let finished = false
    let stopped = false
    let req: http.ClientRequest | undefined
    const handle = {
      error: undefined as Error | undefined,
      events: 0,
      done,
      stop: () => {
        stopped = true
        req?.destroy()
        finish()
      },
    }
    const finish = (err?: Error) => {
      if (finished) return
      finished = true
      if (err && !stopped) handle.error = err
      resolveDone()
    }
    const deliver = (line: string) => {
      if (finished) return
      let ev: WatchEvent<T>
      try {
        ev = JSON.parse(line) as WatchEvent<T>
      } catch {
        req?.destroy()
        finish(new Error(`watch ${path}: undecodable line: ${line.slice(0, 200)}`))
        return
      }
      handle.events++
      onEvent(ev)
    }
    const spec: RequestSpec = { method: 'GET', path }
    req = this.transport.request(this.requestOptions(spec), (res) => {
      const status = res.statusCode ?? 0
      if (status !== 200) {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const err = ApiStatusErrorImpl.fromResponse(status, Buffer.concat(chunks).toString('utf8'), `watch ${path}`)
          if (!finished && !stopped) {
            handle.error = err
            onEvent({ type: 'ERROR', object: err.status as unknown as T })
          }
          finish(err)
        })
        res.on('error', (e) => finish(e))
        return
      }
      const splitter = new LineSplitter()
      res.on('data', (c: Buffer) => {
        for (const line of splitter.push(c)) deliver(line)
      })
      res.on('end', () => {
        for (const line of splitter.end()) deliver(line)
        finish()
      })
      res.on('aborted', () => finish(new Error(`watch ${path}: stream aborted`)))
      res.on('error', (e) => finish(e))
      res.on('close', () => finish())
    })
    if (idleTimeoutMs) {
      // A server that vanished without closing the socket would leave the watch hanging.
      req.setTimeout(idleTimeoutMs, () => req?.destroy(new Error(`watch ${path}: idle for ${idleTimeoutMs} ms`)))
    }
    req.on('error', (e) => finish(e))
    req.on('close', () => finish())
    req.end()
    return handle
  }
}

function joinPath(basePath: string, path: string): string {
  const b = basePath.replace(/\/+$/, '')
  return `${b}${path.startsWith('/') ? '' : '/'}${path}`
}

class RestResourceClient<T extends KubeObject> implements ResourceClient<T> {
  constructor(
    private readonly c: RestClient,
    private readonly r: ResourceRef,
    private readonly namespace: string | undefined,
  ) {}

  /**
   * Namespace and name for one object. A client not bound to a namespace accepts
   * `namespace/name` (the informer's store key) for namespaced resources.
   */
  private locate(name: string, objNs?: string): { ns: string | undefined; name: string } {
    if (!this.r.namespaced) return { ns: undefined, name }
    if (this.namespace) return { ns: this.namespace, name }
    const slash = name.indexOf('/')
    if (slash > 0) return { ns: name.slice(0, slash), name: name.slice(slash + 1) }
    if (objNs) return { ns: objNs, name }
    throw new Error(`${this.r.plural} is namespaced: bind the client to a namespace or pass "namespace/${name}"`)
  }

  private what(verb: string, name?: string): string {
    return `${verb} ${this.r.plural}${name ? ` "${name}"` : ''}`
  }

  get(name: string): Promise<T> {
    const l = this.locate(name)
    return this.c.requestJSON<T>({ method: 'GET', path: resourcePath(this.r, l.ns, l.name) }, this.what('get', name))
  }

  list(opts?: ListOptions): Promise<KubeList<T>> {
    const path = withQuery(resourcePath(this.r, this.namespace), listQuery(opts))
    return this.c.requestJSON<KubeList<T>>({ method: 'GET', path }, this.what('list'))
  }

  create(obj: T): Promise<T> {
    const ns = this.r.namespaced ? (this.namespace ?? obj.metadata.namespace) : undefined
    if (this.r.namespaced && !ns) throw new Error(`create ${this.r.plural}: no namespace on client or object`)
    return this.c.requestJSON<T>(
      { method: 'POST', path: resourcePath(this.r, ns), body: JSON.stringify(obj) },
      this.what('create', obj.metadata.name ?? obj.metadata.generateName),
    )
  }

  private put(obj: T, sub?: string): Promise<T> {
    const name = obj.metadata.name
    if (!name) throw new Error(`update ${this.r.plural}: object has no metadata.name`)
    const l = this.locate(name, obj.metadata.namespace)
    return this.c.requestJSON<T>(
      { method: 'PUT', path: resourcePath(this.r, l.ns, l.name, sub), body: JSON.stringify(obj) },
      this.what(sub ? `update ${sub} of` : 'update', name),
    )
  }

  update(obj: T): Promise<T> {
    return this.put(obj)
  }

  updateStatus(obj: T): Promise<T> {
    return this.put(obj, 'status')
  }

  private doPatch(name: string, patch: unknown, type: PatchType, sub?: string): Promise<T> {
    const l = this.locate(name)
    let path = resourcePath(this.r, l.ns, l.name, sub)
    // Server-side apply needs a field manager; the user agent names this component.
    if (type === 'apply') path = withQuery(path, { fieldManager: fieldManager(this.c.config.userAgent), force: 'true' })
    return this.c.requestJSON<T>(
      { method: 'PATCH', path, body: typeof patch === 'string' ? patch : JSON.stringify(patch), contentType: PATCH_CONTENT_TYPES[type] },
      this.what(sub ? `patch ${sub} of` : 'patch', name),
    )
  }

  patch(name: string, patch: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.doPatch(name, patch, type)
  }

  patchStatus(name: string, patch: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.doPatch(name, patch, type, 'status')
  }

  async delete(name: string, opts?: DeleteOptions): Promise<void> {
    const l = this.locate(name)
    const spec: RequestSpec = { method: 'DELETE', path: resourcePath(this.r, l.ns, l.name) }
    if (opts) spec.body = JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', ...opts })
    await this.c.requestJSON<Status | T>(spec, this.what('delete', name))
  }

  createSubresource<B extends KubeObject, R = unknown>(name: string, sub: string, body: B): Promise<R> {
    const l = this.locate(name, body.metadata?.namespace)
    return this.c.requestJSON<R>(
      { method: 'POST', path: resourcePath(this.r, l.ns, l.name, sub), body: JSON.stringify(body) },
      this.what(`create ${sub} of`, name),
    )
  }

  watch(opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): RestWatchHandle {
    const q = listQuery(opts)
    q.watch = '1'
    if (opts.allowWatchBookmarks) q.allowWatchBookmarks = 'true'
    if (opts.timeoutSeconds !== undefined) q.timeoutSeconds = String(opts.timeoutSeconds)
    // Client-side guard: no byte for well past the server's own timeout means a dead peer.
    const idle = opts.timeoutSeconds !== undefined ? (opts.timeoutSeconds + 30) * 1000 : undefined
    return this.c.watchPath<T>(withQuery(resourcePath(this.r, this.namespace), q), onEvent, idle)
  }
}

function fieldManager(userAgent: string | undefined): string {
  const m = (userAgent ?? 'netkube').split('/')[0]!.trim()
  return m.slice(0, 128) || 'netkube'
}

export function createClient(cfg: ClientConfig, opts: { requestTimeoutMs?: number } = {}): RestClient {
  return new RestClient(cfg, opts)
}
