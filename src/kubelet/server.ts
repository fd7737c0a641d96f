// The kubelet's HTTPS endpoint: container logs (the apiserver proxies `kubectl logs` here),
// the streaming endpoints (exec, attach, portForward: see ./streaming), /healthz and
// /metrics. Only the apiserver may call it (./tls.ts); plain HTTP without `tls` is for
// tests of the kubelet alone.
import Fastify, { type FastifyInstance } from 'fastify'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { callerOf, forbiddenText, mayCall, subresourceOf, type KubeletTLS } from './tls.js'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import type { Registry } from 'prom-client'
import { probeReply } from '../util/status-server.js'

export interface KubeletServerOptions {
  host: string
  port: number
  registry: Registry
  /** The log file of a container (previous = the instance before the current one). */
  logPath(namespace: string, pod: string, container: string | undefined, previous: boolean): string | undefined
  tls?: KubeletTLS
  /** Upgrade requests (exec/attach/portForward) of an authorized caller. */
  onUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void
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
  app.get<{ Params: { ns: string; pod: string; container?: string }; Querystring: { tailLines?: string; previous?: string } }>(
    '/containerLogs/:ns/:pod/:container?',
    async (req, reply) => {
      const { ns, pod, container } = req.params
      const path = o.logPath(ns, pod, container, req.query.previous === 'true')
      if (!path || !existsSync(path)) {
        reply.code(404)
        return `no logs for ${ns}/${pod}${container ? `/${container}` : ''}\n`
      }
      reply.header('content-type', 'text/plain')
      const tail = req.query.tailLines !== undefined ? Number(req.query.tailLines) : undefined
      if (tail === undefined) return reply.send(createReadStream(path))
      const lines = readFileSync(path, 'utf8').split('\n')
      if (lines.at(-1) === '') lines.pop()
      return lines.slice(Math.max(0, lines.length - tail)).join('\n') + (lines.length ? '\n' : '')
    },
  )
  await app.listen({ host: o.host, port: o.port })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : o.port
  return { port, close: () => app.close() }
}
