// A real etcd + a real netkube apiserver per call, on free loopback ports, in a temp state
// dir, torn down on t.teardown. Other components' tests (client, controllers) build on this:
// keep `withApiServer`'s signature stable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startApiServer, type ApiServer } from '../../src/apiserver/server.js'
import type { EtcdProcess } from '../../src/etcd/process.js'
import { withEtcd } from './etcd.js'

export interface TestApiServerOptions {
  serviceCIDR?: string
  /** Bookmark cadence for watches with allowWatchBookmarks (default 60 s). */
  bookmarkIntervalMs?: number
  /** etcd auto-compaction (revisions). */
  autoCompactionRevisions?: number
  /** Use this etcd instead of starting one. */
  etcd?: EtcdProcess
  /** Listen (and advertise) address, default 127.0.0.1; any 127.x address is loopback. */
  host?: string
  /** Listen port (default: any free one). */
  port?: number
  /** The `kubernetes` endpoint lease TTL (seconds). */
  endpointLeaseTtlSeconds?: number
  /** Events expire this long after their last write (`--event-ttl`, default 1 h). */
  eventTtlSeconds?: number
  /** `--authorization-mode` (default Node,RBAC). */
  authorizationMode?: string
  /** Extra static tokens (token → user, groups), written to tokens.csv before the start. */
  tokens?: { token: string; user: string; groups?: string[] }[]
  auditLogPath?: string
  auditPolicyFile?: string
}

export interface TestApiServer {
  url: string
  token: string
  caPem: string
  kubeconfigPath: string
  etcdEndpoint: string
  stateDir: string
  port: number
  /** The running server (its fastify app answers `inject`). Changes on restart. */
  server: ApiServer
  /** Stop and start again on the same etcd, state dir and port. */
  restart(): Promise<void>
  stop(): Promise<void>
}

export async function withApiServer(t: Test, opts: TestApiServerOptions = {}): Promise<TestApiServer> {
  const etcd = opts.etcd ?? (await withEtcd(t, opts.autoCompactionRevisions ? { autoCompactionRevisions: opts.autoCompactionRevisions } : {}))
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-apiserver-'))
  if (opts.tokens?.length)
    writeFileSync(join(stateDir, 'tokens.csv'), opts.tokens.map((x) => `${x.token},${x.user},${x.user},"${(x.groups ?? []).join(',')}"\n`).join(''), { mode: 0o600 })
  const start = (port: number): Promise<ApiServer> =>
    startApiServer({
      etcdEndpoints: [etcd.endpoint],
      stateDir,
      host: opts.host ?? '127.0.0.1',
      port,
      logLevel: process.env.NETKUBE_LOG_LEVEL ?? 'warn',
      ...(opts.serviceCIDR ? { serviceCIDR: opts.serviceCIDR } : {}),
      ...(opts.bookmarkIntervalMs ? { bookmarkIntervalMs: opts.bookmarkIntervalMs } : {}),
      ...(opts.endpointLeaseTtlSeconds ? { endpointLeaseTtlSeconds: opts.endpointLeaseTtlSeconds } : {}),
      ...(opts.eventTtlSeconds ? { eventTtlSeconds: opts.eventTtlSeconds } : {}),
      ...(opts.authorizationMode ? { authorizationMode: opts.authorizationMode } : {}),
      ...(opts.auditLogPath ? { auditLogPath: opts.auditLogPath } : {}),
      ...(opts.auditPolicyFile ? { auditPolicyFile: opts.auditPolicyFile } : {}),
    })
  let server: ApiServer | undefined = await start(opts.port ?? 0)
  const h: TestApiServer = {
    url: server.url,
    token: server.token,
    caPem: server.caPem,
    kubeconfigPath: server.kubeconfigPath,
    etcdEndpoint: etcd.endpoint,
    stateDir,
    port: server.port,
    server,
    async restart() {
      if (server) await server.close()
      server = undefined
      // The port was ours a moment ago; retry briefly in case the kernel still holds it.
      for (let i = 0; ; i++) {
        try {
          server = await start(h.port)
          break
        } catch (err) {
          if (i >= 20 || !/EADDRINUSE/.test((err as Error).message)) throw err
          await new Promise((r) => setTimeout(r, 100))
        }
      }
      h.server = server
      h.url = server.url
      h.token = server.token
    },
    async stop() {
      const s = server
      server = undefined
      if (s) await s.close()
    },
  }
  t.teardown(async () => {
    await h.stop()
    rmSync(stateDir, { recursive: true, force: true })
  })
  return h
}

export interface ApiResponse<T = unknown> {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  body: T
}

/** One HTTPS request to the test server with its CA and (unless token: null) its admin token. */
export function apiRequest<T = any>(
  srv: Pick<TestApiServer, 'url' | 'caPem' | 'token'>,
  method: string,
  path: string,
  body?: unknown,
  opts: { contentType?: string; accept?: string; token?: string | null; rawBody?: string | Buffer } = {},
): Promise<ApiResponse<T>> {
  const u = new URL(path, srv.url)
  const payload = opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body))
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' }
  const token = opts.token === undefined ? srv.token : opts.token
  if (token) headers.Authorization = `Bearer ${token}`
  if (payload !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/json'
    headers['Content-Length'] = String(Buffer.byteLength(payload))
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(u, { method, headers, ca: srv.caPem }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = undefined
        try {
          parsed = text ? JSON.parse(text) : undefined
        } catch {
          parsed = undefined
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed as T })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (payload !== undefined) req.write(payload)
    req.end()
  })
}

export interface WatchStream<T = any> {
  /** Events received so far (parsed JSON lines). */
  events: T[]
  /** Resolves with the first event (index >= from) matching pred, or rejects after timeoutMs. */
  next(pred?: (ev: T) => boolean, timeoutMs?: number, from?: number): Promise<T>
  /** Resolves when the server ends the stream. */
  ended: Promise<void>
  close(): void
}

/** Open a watch (path includes ?watch=true…) and collect its newline-delimited events. */
export function apiWatch<T = any>(srv: Pick<TestApiServer, 'url' | 'caPem' | 'token'>, path: string, opts: { accept?: string } = {}): Promise<WatchStream<T>> {
  const u = new URL(path, srv.url)
  return new Promise((resolve, reject) => {
    const events: T[] = []
    const waiters: (() => void)[] = []
    let endResolve!: () => void
    const ended = new Promise<void>((r) => (endResolve = r))
    const req = httpsRequest(u, { method: 'GET', headers: { Accept: opts.accept ?? 'application/json', Authorization: `Bearer ${srv.token}` }, ca: srv.caPem }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => reject(new Error(`watch ${path}: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)))
        return
      }
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        buf += d
        let i: number
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim()
          buf = buf.slice(i + 1)
          if (line) events.push(JSON.parse(line) as T)
        }
        for (const w of waiters.splice(0)) w()
      })
      res.on('end', () => {
        endResolve()
        for (const w of waiters.splice(0)) w()
      })
      res.on('error', () => endResolve())
      res.on('close', () => endResolve())
      resolve({
        events,
        ended,
        close: () => req.destroy(),
        next(pred = () => true, timeoutMs = 10_000, from = 0) {
          return new Promise<T>((res2, rej2) => {
            const deadline = setTimeout(() => rej2(new Error(`no matching watch event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => (e as { type?: string }).type))}`)), timeoutMs)
            const check = (): void => {
              const hit = events.slice(from).find(pred)
              if (hit !== undefined) {
                clearTimeout(deadline)
                res2(hit)
              } else waiters.push(check)
            }
            check()
          })
        },
      })
    })
    req.on('error', reject)
    req.end()
  })
}
