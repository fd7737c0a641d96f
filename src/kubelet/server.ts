// The kubelet's HTTP endpoint: container logs (the apiserver proxies `kubectl logs` here),
// /healthz and /metrics.
import Fastify from 'fastify'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import type { Registry } from 'prom-client'
import { probeReply } from '../util/status-server.js'

export interface KubeletServerOptions {
  host: string
  port: number
  registry: Registry
  /** The log file of a container (previous = the instance before the current one). */
  logPath(namespace: string, pod: string, container: string | undefined, previous: boolean): string | undefined
}

export async function startKubeletServer(o: KubeletServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const app = Fastify({ logger: false })
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
