// The typed REST client: node:http(s) with a keep-alive agent, bearer token, custom CA,
// JSON bodies, Kubernetes paths, metav1.Status errors and newline-delimited JSON watches.
//
// Design notes
// - One Agent per Client, keep-alive on: controllers issue many small requests, and a TLS
//   handshake per request would dominate their latency.
// - A request sent on a re-used keep-alive socket can race the server closing that socket
//   while idle (ECONNRESET before any byte of answer). Idempotent verbs are retried once then.
// - Several apiservers (`servers`): a client-side load balancer in k3s's manner, sticky on the
//   one that answers. A request that could not reach it (refused, unreachable, no TCP connect
//   within connectTimeoutMs) goes to the next at once, whatever its verb: it was never sent.
//   One that was sent and got no answer (reset, timeout) or a 502/503 moves on only when
//   the verb is idempotent; a POST then fails as it would with one server (it may have been
//   applied), and the next request starts on the next server. Watches fail over the same way
//   when opened; a stream that ends is re-opened by its owner (the informer) on the server
//   that now works.
// - A watch never rejects: `done` always resolves (an unobserved rejected promise would kill
//   the process). Why it ended is on `handle.error`; an HTTP error answer (e.g. 410 when the
//   revision is compacted) is also delivered in-band as an ERROR event carrying the Status,
//   the same shape a server uses for errors inside an open stream, so consumers handle one path.
import http from 'node:http'
import https from 'node:https'
import { StringDecoder } from 'node:string_decoder'
import type { KubeList, KubeObject, Status, WatchEvent } from '../api/types.js'
import { ApiStatusErrorImpl } from './errors.js'
import { logger } from '../util/log.js'
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
/** A TCP connect that takes longer counts as unreachable (client-go's dialer waits 30 s). */
const DEFAULT_CONNECT_TIMEOUT_MS = 30_000
/** With several servers a dead one is skipped sooner. */
const DEFAULT_FAILOVER_CONNECT_TIMEOUT_MS = 5000
/** Answers that say "this server cannot serve now" (a proxy with no backend, a server going away). */
const FAILOVER_STATUS = new Set([502, 503])
/** How often credentials from a file (kubeconfig, projected token) are read again. */
const CREDENTIAL_RELOAD_MS = 5000

export interface RestClientOptions {
  requestTimeoutMs?: number
  /** Default 30 s with one server, 5 s with several. */
  connectTimeoutMs?: number
}

type NetError = Error & { code?: string; reusedSocket?: boolean; connected?: boolean }

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
  private readonly bases: URL[]
  /** Index into `bases` of the server requests go to first (sticky). */
  private current = 0
  private readonly agent: http.Agent
  private readonly transport: typeof http | typeof https
  readonly requestTimeoutMs: number
  readonly connectTimeoutMs: number
  private readonly log = logger('client')

  constructor(cfg: ClientConfig, opts: RestClientOptions = {}) {
    this.config = cfg
    const urls = cfg.servers && cfg.servers.length > 0 ? cfg.servers : [cfg.server]
    this.bases = urls.map((u) => new URL(u))
    const protocols = new Set(this.bases.map((b) => b.protocol))
    if (protocols.size > 1) throw new Error(`servers ${urls.join(',')}: all must use one scheme`)
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.connectTimeoutMs = opts.connectTimeoutMs ?? (this.bases.length > 1 ? DEFAULT_FAILOVER_CONNECT_TIMEOUT_MS : DEFAULT_CONNECT_TIMEOUT_MS)
    const first = this.bases[0]!
    if (first.protocol === 'https:') {
      this.transport = https
      this.agent = new https.Agent({
        keepAlive: true,
        ca: cfg.caPem,
        rejectUnauthorized: !cfg.insecureSkipTLSVerify,
      })
    } else if (first.protocol === 'http:') {
      this.transport = http
      this.agent = new http.Agent({ keepAlive: true })
    } else {
      throw new Error(`unsupported server URL ${first.href}: want https:// or http://`)
    }
  }

  /** The server requests go to now. */
  get server(): string {
    return this.bases[this.current]!.href.replace(/\/$/, '')
  }

  /** After a failure on server `idx`, requests start on the next one (once, however many failed). */
  private failedOn(idx: number, why: string): void {
    if (this.bases.length < 2 || this.current !== idx) return
    this.current = (idx + 1) % this.bases.length
    this.log.warn({ from: this.bases[idx]!.host, to: this.bases[this.current]!.host, why }, 'apiserver unreachable: switching to the next')
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
    const token = this.credentials().token
    if (token) h.authorization = `Bearer ${token}`
    if (spec.body !== undefined) {
      h['content-type'] = spec.contentType ?? 'application/json'
      h['content-length'] = Buffer.byteLength(spec.body)
    }
    return h
  }

  private creds: { at: number; value: Pick<ClientConfig, 'token' | 'certPem' | 'keyPem'> } | undefined

  /**
   * The credentials for the next request. With `reload` (a kubeconfig file, a projected token)
   * they are re-read at most every few seconds: a rotated certificate or refreshed token is used
   * from then on. The certificate goes into each request's TLS options, which the keep-alive
   * agent pools by, so a new certificate opens new connections and old ones drain.
   */
  private credentials(): Pick<ClientConfig, 'token' | 'certPem' | 'keyPem'> {
    const c = this.config
    if (!c.reload) return c
    const now = Date.now()
    if (!this.creds || now - this.creds.at > CREDENTIAL_RELOAD_MS) this.creds = { at: now, value: c.reload() }
    return this.creds.value
  }

  private requestOptions(spec: RequestSpec, base: URL): http.RequestOptions {
    const { certPem, keyPem } = this.credentials()
    return {
      ...(certPem && keyPem ? { cert: certPem, key: keyPem } : {}),
      protocol: base.protocol,
      hostname: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port || (base.protocol === 'https:' ? 443 : 80),
      method: spec.method,
      path: joinPath(base.pathname, spec.path),
      headers: this.headers(spec),
      agent: this.agent,
    }
  }

  /**
   * A request: a socket that does not connect within connectTimeoutMs is destroyed; the error
   * says whether the TCP connection was ever made (`connected`), which decides failover.
   */
  private request(spec: RequestSpec, base: URL, onResponse: (res: http.IncomingMessage) => void): http.ClientRequest {
    const req = this.transport.request(this.requestOptions(spec, base), onResponse)
    let connected = false
    req.on('socket', (sock) => {
      if (!sock.connecting) {
        connected = true
        return
      }
      const timer = setTimeout(() => {
        const err: NetError = new Error(`connect ${base.host}: no connection after ${this.connectTimeoutMs} ms`)
        err.code = 'ETIMEDOUT'
        req.destroy(err)
      }, this.connectTimeoutMs)
      sock.once('connect', () => {
        connected = true
        clearTimeout(timer)
      })
      sock.once('close', () => clearTimeout(timer))
    })
    req.on('error', (err: NetError) => {
      err.reusedSocket = req.reusedSocket
      err.connected = connected
    })
    return req
  }

  /** May this failure on one server be retried on the next? */
  private canFailOver(spec: RequestSpec, err: NetError): boolean {
    if (this.bases.length < 2) return false
    if (!err.connected && err.code !== undefined) return true // never reached the server
    return IDEMPOTENT.has(spec.method.toUpperCase())
  }

  private async send(spec: RequestSpec): Promise<RawResponse> {
    const n = this.bases.length
    const start = this.current
    let last: Error | undefined
    for (let i = 0; i < n; i++) {
      const idx = (start + i) % n
      try {
        const res = await this.sendRetryingReset(spec, idx)
        if (FAILOVER_STATUS.has(res.status) && i < n - 1 && n > 1 && IDEMPOTENT.has(spec.method.toUpperCase())) {
          this.failedOn(idx, `HTTP ${res.status}`)
          continue
        }
        return res
      } catch (err) {
        last = err as Error
        if (!this.canFailOver(spec, err as NetError)) {
          this.failedOn(idx, (err as Error).message)
          throw err
        }
        this.failedOn(idx, (err as Error).message)
      }
    }
    throw last ?? new Error(`${spec.method} ${spec.path}: no server answered`)
  }

  private sendRetryingReset(spec: RequestSpec, idx: number): Promise<RawResponse> {
    return this.sendOnce(spec, idx).catch((err: NetError) => {
      if (err.reusedSocket && err.code === 'ECONNRESET' && IDEMPOTENT.has(spec.method.toUpperCase())) {
        return this.sendOnce(spec, idx)
      }
      throw err
    })
  }

  private sendOnce(spec: RequestSpec, idx: number): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = this.request(spec, this.bases[idx]!, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }))
        res.on('error', reject)
        res.on('aborted', () => reject(new Error(`${spec.method} ${spec.path}: answer aborted`)))
      })
      req.setTimeout(this.requestTimeoutMs, () => {
        req.destroy(new Error(`${spec.method} ${spec.path}: no answer after ${this.requestTimeoutMs} ms`))
      })
      req.on('error', reject)
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
    const n = this.bases.length
    const start = this.current
    // Opening the stream tries each server once, from the current one; once it is open, an
    // end is the owner's to handle (it re-watches from its last resourceVersion).
    const open = (attempt: number): void => {
      const idx = (start + attempt) % n
      const more = attempt < n - 1
      let failedOver = false
      let responded = false
      const failOver = (why: string): boolean => {
        this.failedOn(idx, why)
        if (!more || stopped || finished) return false
        failedOver = true
        open(attempt + 1)
        return true
      }
      const r = this.request(spec, this.bases[idx]!, (res) => {
        responded = true
        const status = res.statusCode ?? 0
        if (status !== 200 && FAILOVER_STATUS.has(status) && more) {
          res.resume()
          failOver(`HTTP ${status}`)
          return
        }
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
        r.setTimeout(idleTimeoutMs, () => r.destroy(new Error(`watch ${path}: idle for ${idleTimeoutMs} ms`)))
      }
      r.on('error', (e: NetError) => {
        if (failedOver) return
        // Only before an answer: an open stream that breaks is re-watched by its owner.
        if (!responded && this.canFailOver(spec, e) && failOver(e.message)) return
        finish(e)
      })
      r.on('close', () => failedOver || finish())
      req = r
      r.end()
    }
    open(0)
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

export function createClient(cfg: ClientConfig, opts: RestClientOptions = {}): RestClient {
  return new RestClient(cfg, opts)
}
