// A tiny in-memory Kubernetes-like API for client tests: configmaps only, list (with paging)
// / get / create / update / delete / patch, and watch (newline-delimited events, bookmarks,
// 410 for compacted revisions). It can drop every open watch, go down and come back on the
// same port, and be mutated directly while "down" — what the informer must survive.
// Lives in test/client only; the integration tests use the real apiserver.
import http from 'node:http'
import type { Socket } from 'node:net'
import type { KubeObject, Status } from '../../src/api/types.js'

interface Change {
  rev: number
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  obj: KubeObject
}

interface Watcher {
  res: http.ServerResponse
  ns: string | undefined
}

export interface FakeApiOptions {
  token?: string
  /** Split every watch line into two writes this many ms apart (tests line reassembly). */
  splitWritesMs?: number
}

function key(ns: string | undefined, name: string): string {
  return ns ? `${ns}/${name}` : name
}

function status(code: number, reason: string, message: string): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, reason, message }
}

export class FakeApi {
  rev = 1
  compactedRev = 0
  objects = new Map<string, KubeObject>()
  history: Change[] = []
  port = 0
  requests: { method: string; url: string; contentType?: string; auth?: string }[] = []
  private server: http.Server | undefined
  private sockets = new Set<Socket>()
  private watchers = new Set<Watcher>()

  constructor(private readonly opts: FakeApiOptions = {}) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    const srv = http.createServer((req, res) => this.handle(req, res))
    srv.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(this.port, '127.0.0.1', () => resolve())
    })
    const a = srv.address()
    this.port = typeof a === 'object' && a ? a.port : 0
    this.server = srv
  }

  /** Goes down hard: every socket (watches included) is destroyed. */
  async stop(): Promise<void> {
    const srv = this.server
    this.server = undefined
    if (!srv) return
    for (const s of this.sockets) s.destroy()
    this.watchers.clear()
    await new Promise<void>((r) => srv.close(() => r()))
  }

  /** Breaks open watch streams mid-flight (the server stays up). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.socket?.destroy()
    this.watchers.clear()
  }

  watcherCount(): number {
    return this.watchers.size
  }

  /** History before the current revision is gone: older watches get 410. */
  compact(): void {
    this.compactedRev = this.rev
    this.history = this.history.filter((c) => c.rev > this.compactedRev)
  }

  // ---------- direct mutations (work while down, too) ----------

  put(obj: KubeObject): KubeObject {
    const k = key(obj.metadata.namespace, obj.metadata.name!)
    const existed = this.objects.has(k)
    this.rev++
    const stored: KubeObject = JSON.parse(JSON.stringify(obj))
    stored.metadata.resourceVersion = String(this.rev)
    if (!stored.metadata.uid) stored.metadata.uid = `uid-${k}-${this.rev}`
    this.objects.set(k, stored)
    this.record({ rev: this.rev, type: existed ? 'MODIFIED' : 'ADDED', obj: stored })
    return stored
  }

  remove(ns: string | undefined, name: string): boolean {
    const k = key(ns, name)
    const old = this.objects.get(k)
    if (!old) return false
    this.rev++
    this.objects.delete(k)
    const gone: KubeObject = JSON.parse(JSON.stringify(old))
    gone.metadata.resourceVersion = String(this.rev)
    this.record({ rev: this.rev, type: 'DELETED', obj: gone })
    return true
  }

  /** Advances the revision without touching configmaps (another resource changed). */
  bump(): void {
    this.rev++
  }

  /** name → resourceVersion of everything stored (what an informer cache must match). */
  snapshot(): Map<string, string> {
    return new Map([...this.objects].map(([k, o]) => [k, o.metadata.resourceVersion!]))
  }

  private record(c: Change): void {
    this.history.push(c)
    for (const w of this.watchers) {
      if (w.ns && c.obj.metadata.namespace !== w.ns) continue
      this.writeEvent(w.res, { type: c.type, object: c.obj })
    }
  }

  /** Per-stream write chain, so split halves of consecutive events never interleave. */
  private chains = new WeakMap<http.ServerResponse, Promise<void>>()

  private writeEvent(res: http.ServerResponse, ev: unknown): void {
    const line = JSON.stringify(ev) + '\n'
    const split = this.opts.splitWritesMs
    if (split === undefined) {
      res.write(line)
      return
    }
    // Cut inside a multi-byte character when there is one, else in the middle.
    const buf = Buffer.from(line)
    let cut = Math.floor(buf.length / 2)
    const mb = buf.findIndex((b) => b >= 0xc0)
    if (mb > 0) cut = mb + 1
    const prev = this.chains.get(res) ?? Promise.resolve()
    const next = prev.then(async () => {
      if (res.destroyed) return
      res.write(buf.subarray(0, cut))
      await new Promise((r) => setTimeout(r, split))
      if (!res.destroyed) res.write(buf.subarray(cut))
    })
    this.chains.set(res, next)
  }

  // ---------- HTTP ----------

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body)
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x')
    const rec: { method: string; url: string; contentType?: string; auth?: string } = { method: req.method ?? '', url: req.url ?? '' }
    if (req.headers['content-type']) rec.contentType = req.headers['content-type']
    if (req.headers.authorization) rec.auth = req.headers.authorization
    this.requests.push(rec)
    if (this.opts.token && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      this.send(res, 401, status(401, 'Unauthorized', 'Unauthorized'))
      return
    }
    const m = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/configmaps(?:\/([^/]+))?$/.exec(u.pathname)
    if (!m) {
      this.send(res, 404, status(404, 'NotFound', `the server could not find the requested resource`))
      return
    }
    const ns = m[1] ? decodeURIComponent(m[1]) : undefined
    const name = m[2] ? decodeURIComponent(m[2]) : undefined
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      let body: KubeObject | undefined
      if (raw) {
        try {
          body = JSON.parse(raw) as KubeObject
        } catch {
          this.send(res, 400, status(400, 'BadRequest', 'bad JSON'))
          return
        }
      }
      this.route(req.method ?? 'GET', u.searchParams, ns, name, body, res)
    })
  }

  private route(method: string, q: URLSearchParams, ns: string | undefined, name: string | undefined, body: KubeObject | undefined, res: http.ServerResponse): void {
    if (method === 'GET' && !name && (q.get('watch') === '1' || q.get('watch') === 'true')) return this.watch(q, ns, res)
    if (method === 'GET' && !name) return this.list(q, ns, res)
    if (method === 'GET' && name) {
      const o = this.objects.get(key(ns, name))
      return o ? this.send(res, 200, o) : this.send(res, 404, status(404, 'NotFound', `configmaps "${name}" not found`))
    }
    if (method === 'POST' && !name && body) {
      body.metadata.namespace = ns
      if (this.objects.has(key(ns, body.metadata.name!))) {
        return this.send(res, 409, status(409, 'AlreadyExists', `configmaps "${body.metadata.name}" already exists`))
      }
      return this.send(res, 201, this.put(body))
    }
    if (method === 'PUT' && name && body) {
      const cur = this.objects.get(key(ns, name))
      if (!cur) return this.send(res, 404, status(404, 'NotFound', `configmaps "${name}" not found`))
      if (body.metadata.resourceVersion && body.metadata.resourceVersion !== cur.metadata.resourceVersion) {
        return this.send(res, 409, status(409, 'Conflict', `Operation cannot be fulfilled on configmaps "${name}": the object has been modified`))
      }
      return this.send(res, 200, this.put({ ...body, metadata: { ...body.metadata, namespace: ns, name } }))
    }
    if (method === 'PATCH' && name && body) {
      const cur = this.objects.get(key(ns, name))
      if (!cur) return this.send(res, 404, status(404, 'NotFound', `configmaps "${name}" not found`))
      return this.send(res, 200, this.put({ ...cur, ...body, metadata: { ...cur.metadata, ...(body.metadata ?? {}) } }))
    }
    if (method === 'DELETE' && name) {
      const cur = this.objects.get(key(ns, name))
      if (!cur || !this.remove(ns, name)) return this.send(res, 404, status(404, 'NotFound', `configmaps "${name}" not found`))
      return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 })
    }
    this.send(res, 405, status(405, 'MethodNotAllowed', `${method} not allowed`))
  }

  private list(q: URLSearchParams, ns: string | undefined, res: http.ServerResponse): void {
    const all = [...this.objects.values()]
      .filter((o) => !ns || o.metadata.namespace === ns)
      .sort((a, b) => key(a.metadata.namespace, a.metadata.name!).localeCompare(key(b.metadata.namespace, b.metadata.name!)))
    const limit = Number(q.get('limit') ?? 0)
    let offset = 0
    let rv = String(this.rev)
    const cont = q.get('continue')
    if (cont) {
      const [crv, coff] = cont.split(':')
      // Paging here reads the current state (a real server reads a snapshot); fine for tests.
      rv = crv!
      offset = Number(coff)
      if (Number(rv) <= this.compactedRev) return this.send(res, 410, status(410, 'Expired', 'continue token expired'))
    }
    const page = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset)
    const next = limit > 0 && offset + limit < all.length ? `${rv}:${offset + limit}` : undefined
    this.send(res, 200, { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) }, items: page })
  }

  private watch(q: URLSearchParams, ns: string | undefined, res: http.ServerResponse): void {
    const from = Number(q.get('resourceVersion') || this.rev)
    if (from < this.compactedRev) {
      // Kubernetes answers 200 then an in-stream ERROR for an expired RV; some servers answer 410.
      if (q.get('labelSelector') === 'http410') return this.send(res, 410, status(410, 'Gone', 'too old resource version'))
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
      res.write(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.compactedRev})`) }) + '\n')
      res.end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    res.flushHeaders()
    const w: Watcher = { res, ns }
    for (const c of this.history) {
      if (c.rev > from && (!ns || c.obj.metadata.namespace === ns)) this.writeEvent(res, { type: c.type, object: c.obj })
    }
    this.watchers.add(w)
    if (q.get('allowWatchBookmarks') === 'true') {
      this.writeEvent(res, { type: 'BOOKMARK', object: { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: String(this.rev) } } })
    }
    const t = Number(q.get('timeoutSeconds') ?? 0)
    const timer = t > 0 ? setTimeout(() => res.end(), t * 1000) : undefined
    res.on('close', () => {
      if (timer) clearTimeout(timer)
      this.watchers.delete(w)
    })
  }
}
