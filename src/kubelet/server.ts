// The kubelet's HTTPS endpoint: container logs (the apiserver proxies `kubectl logs` here),
// the streaming endpoints (exec, attach, portForward: see ./streaming), /healthz and
// /metrics. Only the apiserver may call it (./tls.ts); plain HTTP without `tls` is for
// tests of the kubelet alone.
import Fastify, { type FastifyInstance } from 'fastify'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { callerOf, forbiddenText, mayCall, subresourceOf, type KubeletTLS } from './tls.js'
import { Readable } from 'node:stream'
import type { Registry } from 'prom-client'
import { probeReply } from '../util/status-server.js'
import { parseTimestamp } from './cri-log.js'
import { readContainerLog, type ReadLogOptions } from './log-reader.js'
import type { Summary } from './stats.js'

/** Where one container instance's log is, or why there is none (upstream's texts and codes). */
export type LogSource =
  | {
      path: string
      /** More may still be appended (the instance runs, or its shim still writes). */
      writerAlive(): boolean
      /** Resolves when an exited instance's last lines are on disk. */
      flushed?(): Promise<void>
    }
  | { code: 400 | 404; message: string }


export interface KubeletServerOptions {
  host: string
  port: number
  registry: Registry
  /** Resource usage of the node and its pods (stats.ts), served on /stats/summary. */
  summary?: () => Summary
  /** The log of a container (previous = the instance before the current one). */
  logSource(namespace: string, pod: string, container: string | undefined, previous: boolean): LogSource
  tls?: KubeletTLS
  /** Upgrade requests (exec/attach/portForward) of an authorized caller. */
  onUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void
}

type LogQuery = Partial<Record<'follow' | 'previous' | 'timestamps' | 'tailLines' | 'sinceSeconds' | 'sinceTime' | 'limitBytes', string>>

const isTrue = (v: string | undefined): boolean => v === 'true' || v === '1'

/** PodLogOptions from the query (the apiserver has validated them; here bad numbers are 400). */
export function logOptions(q: LogQuery, nowMs = Date.now()): ReadLogOptions | string {
  const o: ReadLogOptions = { follow: isTrue(q.follow), timestamps: isTrue(q.timestamps) }
  const int = (name: keyof LogQuery): number | undefined | string => {
    const v = q[name]
    if (v === undefined || v === '') return undefined
    return /^\d+$/.test(v) ? Number(v) : `invalid ${name}: ${JSON.stringify(v)}`
  }
  const tail = int('tailLines')
  const limit = int('limitBytes')
  const since = int('sinceSeconds')
  for (const v of [tail, limit, since]) if (typeof v === 'string') return v
  if (tail !== undefined) o.tailLines = tail as number
  if (limit !== undefined && (limit as number) > 0) o.limitBytes = limit as number
  if (since !== undefined) o.sinceNanos = BigInt(nowMs - (since as number) * 1000) * 1_000_000n
  else if (q.sinceTime) {
    const t = parseTimestamp(q.sinceTime)
    if (t === undefined) return `invalid sinceTime: ${JSON.stringify(q.sinceTime)}`
    o.sinceNanos = t
  }
  return o
}

/** Rejects an upgrade on the raw socket (no HTTP framework on an upgrade path). */
function refuseUpgrade(socket: Duplex, code: number, reason: string, text: string): void {
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`)
}

export async function startKubeletServer(o: KubeletServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  // Client certificates are requested, not required: a caller without one gets the
  // kubelet's 401 over HTTP instead of a failed handshake.
  const app = Fastify({
    logger: false,
    // A followed log must not hold a stopping kubelet open.
    forceCloseConnections: true,
    ...(o.tls ? { https: { key: o.tls.keyPem, cert: o.tls.certPem, ca: o.tls.clientCaPem, requestCert: true, rejectUnauthorized: false } } : {}),
  } as never) as unknown as FastifyInstance
  // Authentication (x509 against the client CA) then authorization (the apiserver only).
  // Without TLS there is no identity to check: the test-only plain server trusts its caller.
  const admit = (method: string, url: string, socket: unknown): { code: number; text: string } | undefined => {
    if (!o.tls) return undefined
    const caller = callerOf(socket)
    if (!caller) return { code: 401, text: 'Unauthorized' }
    if (!mayCall(caller)) return { code: 403, text: forbiddenText(caller, method, subresourceOf(url)) }
    return undefined
  }
  app.addHook('onRequest', async (req, reply) => {
    const refused = admit(req.method, req.url, req.raw.socket)
    if (refused) return reply.code(refused.code).type('text/plain; charset=utf-8').send(refused.text)
  })
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const refused = admit(req.method ?? 'GET', req.url ?? '/', socket)
    if (refused) return refuseUpgrade(socket, refused.code, refused.code === 401 ? 'Unauthorized' : 'Forbidden', refused.text)
    if (!o.onUpgrade) return refuseUpgrade(socket, 404, 'Not Found', '404 page not found')
    o.onUpgrade(req, socket, head)
  })
  // Same probe semantics as every other component's status server (one definition of /healthz).
  app.get('/healthz*', async (req, reply) => {
    const r = await probeReply('healthz', [], new URL(req.url, 'http://kubelet.local'))
    reply.code(r.status).header('content-type', r.contentType ?? 'text/plain; charset=utf-8')
    return r.body
  })
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', o.registry.contentType)
    return o.registry.metrics()
  })
  app.get('/stats/summary', async (_req, reply) => {
    if (!o.summary) return reply.code(404).type('text/plain').send('404 page not found')
    return o.summary()
  })
  app.get<{ Params: { ns: string; pod: string; container?: string }; Querystring: LogQuery }>('/containerLogs/:ns/:pod/:container?', async (req, reply) => {
    const { ns, pod, container } = req.params
    const opts = logOptions(req.query)
    if (typeof opts === 'string') return reply.code(400).type('text/plain').send(opts)
    const src = o.logSource(ns, pod, container, isTrue(req.query.previous))
    if ('code' in src) return reply.code(src.code).type('text/plain').send(src.message)
    // A container that has just exited: its shim may still be writing the last lines.
    if (!opts.follow) await src.flushed?.()
    const ctl = new AbortController()
    reply.raw.on('close', () => ctl.abort())
    reply.header('content-type', 'text/plain')
    // Followed logs are flushed as they come (no buffering proxy between here and kubectl).
    return reply.send(Readable.from(readContainerLog(src.path, opts, src.writerAlive, ctl.signal), { objectMode: false }))
  })
  await app.listen({ host: o.host, port: o.port })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : o.port
  return { port, close: () => app.close() }
}
