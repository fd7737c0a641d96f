// The live map's HTTP side (fastify): the page, its compiled modules, the snapshot, the live
// stream and the trace endpoint. Everything it serves is on this machine (the modules are tsc's
// output of ./client, written at build time); errors are Kubernetes Status bodies.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { Status } from '../api/types.js'
import { ApiError, badRequest, internal, pathNotFound, serviceUnavailable } from '../apiserver/errors.js'
import type { ViewFeed } from './feed.js'
import { PAGE_CSS, PAGE_HTML } from './page.js'
import type { TraceRequest, TraceResult } from '../trace/types.js'

export type TraceFn = (req: TraceRequest) => Promise<TraceResult>

export interface UiServerOptions {
  feed: ViewFeed
  /** netkube trace's trace() bound to a cluster; absent: /api/trace answers 503. */
  trace?: TraceFn
  /** Where the compiled page modules are (default: dist/src/ui/client). */
  clientDir?: string
  /** SSE keep-alive comment interval. */
  heartbeatMs?: number
}

/** The compiled modules: next to this file when it runs from dist, else the build's copy. */
export function defaultClientDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const beside = join(here, 'client')
  if (existsSync(join(beside, 'app.js'))) return beside
  return join(here, '..', '..', 'dist', 'src', 'ui', 'client')
}

const MODULE_NAME = /^[a-z][a-z0-9-]*\.js$/

function sendStatus(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.code).type('application/json').send(err.status satisfies Status)
}

export function parseTraceQuery(q: Record<string, string | undefined>): TraceRequest | ApiError {
  if (!q.from) return badRequest('from is required (a pod as namespace/name, a node, or outside)')
  if (!q.to) return badRequest('to is required (a pod, a Service, a name or an IP)')
  const req: TraceRequest = { from: q.from, to: q.to }
  if (q.port !== undefined && q.port !== '') {
    const port = Number(q.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) return badRequest(`invalid port "${q.port}": must be between 1 and 65535, inclusive`)
    req.port = port
  }
  if (q.proto !== undefined && q.proto !== '') {
    const p = q.proto.toLowerCase()
    if (p !== 'tcp' && p !== 'udp') return badRequest(`unsupported protocol "${q.proto}": supported values: "tcp", "udp"`)
    req.proto = p
  }
  if (q.probe === 'true' || q.probe === '1') req.probe = true
  return req
}

export function buildUiServer(o: UiServerOptions): FastifyInstance {
  const app = Fastify({ logger: false })
  const clientDir = o.clientDir ?? defaultClientDir()
  const heartbeatMs = o.heartbeatMs ?? 15_000

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE_HTML))
  app.get('/ui/style.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(PAGE_CSS))
  app.get<{ Params: { file: string } }>('/ui/:file', async (req, reply) => {
    const file = req.params.file
    if (!MODULE_NAME.test(file)) return sendStatus(reply, pathNotFound())
    let body: string
    try {
      body = readFileSync(join(clientDir, file), 'utf8')
    } catch {
      return sendStatus(reply, pathNotFound())
    }
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(body)
  })

  app.get('/api/state', async (_req, reply) => reply.header('cache-control', 'no-store').send(o.feed.current()))

  // Server-sent events: one `state` event with the whole view now and after every change.
  // The view of a lab is a few kB; whole views keep the page's logic to "draw what you got".
  app.get('/api/watch', (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' })
    const send = (v: unknown): void => void res.write(`event: state\ndata: ${JSON.stringify(v)}\n\n`)
    send(o.feed.current())
    const unsubscribe = o.feed.subscribe(send)
    const hb = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs)
    hb.unref()
    req.raw.on('close', () => {
      clearInterval(hb)
      unsubscribe()
    })
  })

  app.get<{ Querystring: Record<string, string | undefined> }>('/api/trace', async (req, reply) => {
    const parsed = parseTraceQuery(req.query)
    if (parsed instanceof ApiError) return sendStatus(reply, parsed)
    if (!o.trace) return sendStatus(reply, serviceUnavailable('trace is not available: this server was started without netkube trace'))
    try {
      return reply.send(await o.trace(parsed))
    } catch (err) {
      if (err instanceof ApiError) return sendStatus(reply, err)
      const status = (err as { status?: Status }).status
      if (status && status.kind === 'Status' && typeof status.code === 'number') return reply.code(status.code).send(status)
      return sendStatus(reply, internal(err instanceof Error ? err.message : String(err)))
    }
  })

  app.setNotFoundHandler(async (_req, reply) => sendStatus(reply, pathNotFound()))
  return app
}
