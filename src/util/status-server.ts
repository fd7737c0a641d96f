// The one HTTP endpoint every component serves for operators: /metrics for Prometheus and
// /healthz, /livez, /readyz for probes, with the Kubernetes components' check semantics
// (k8s.io/apiserver healthz): each endpoint is a list of named checks; all pass → 200 "ok";
// one fails → 500 and a "[+]name ok" / "[-]name failed: reason withheld" listing (the reason
// goes to the log, as upstream keeps it out of an unauthenticated body); `?verbose` lists the
// checks on success too; `?exclude=name` leaves a check out; `/healthz/NAME` runs one check
// and, failing, says why. A component with its own contract for a path (kube-proxy's JSON
// /healthz) registers that path as a route instead.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { logger } from './log.js'

/** undefined when healthy, otherwise the reason. */
export type CheckFn = () => string | undefined | Promise<string | undefined>

export interface HealthCheck {
  name: string
  check: CheckFn
}

export interface StatusReply {
  status: number
  contentType?: string
  /** More response headers (a route's own contract, e.g. X-Content-Type-Options). */
  headers?: Record<string, string>
  body: string
}

export type StatusRoute = (url: URL) => StatusReply | Promise<StatusReply>

export type ProbeEndpoint = 'healthz' | 'livez' | 'readyz'

export interface StatusServerOptions {
  /** Component name, for the log lines of failed checks. */
  component: string
  port: number
  /** Default 127.0.0.1. */
  host?: string
  /** Served on /metrics when given; a function is asked on every scrape (a component that comes and goes). */
  registry?: Registry | (() => Registry)
  /** Checks per endpoint; `livez` defaults to `healthz`'s, `readyz` to `healthz`'s too. Every endpoint has `ping`. */
  checks?: Partial<Record<ProbeEndpoint, readonly HealthCheck[]>>
  /** Paths with a contract of their own; they take precedence over the built-in ones. */
  routes?: Record<string, StatusRoute>
}

export interface StatusServer {
  readonly port: number
  readonly server: Server
  close(): Promise<void>
}

const PING: HealthCheck = { name: 'ping', check: () => undefined }

async function runCheck(c: HealthCheck): Promise<string | undefined> {
  try {
    return await c.check()
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

/** The body and status of one probe endpoint, as kube components answer it. Pure apart from the checks. */
export async function probeReply(endpoint: ProbeEndpoint, checks: readonly HealthCheck[], url: URL, onFail?: (name: string, reason: string) => void): Promise<StatusReply> {
  const all = [PING, ...checks]
  const sub = url.pathname.slice(`/${endpoint}`.length).replace(/^\//, '')
  if (sub) {
    const one = all.find((c) => c.name === sub)
    if (!one) return { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' }
    const reason = await runCheck(one)
    if (reason === undefined) return { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok' }
    onFail?.(one.name, reason)
    return { status: 500, contentType: 'text/plain; charset=utf-8', body: `internal server error: ${reason}\n` }
  }
  const excluded = new Set(url.searchParams.getAll('exclude'))
  const verbose = url.searchParams.has('verbose')
  const lines: string[] = []
  let failed = false
  for (const c of all) {
    if (excluded.has(c.name)) {
      lines.push(`[+]${c.name} excluded: ok`)
      continue
    }
    const reason = await runCheck(c)
    if (reason === undefined) lines.push(`[+]${c.name} ok`)
    else {
      failed = true
      onFail?.(c.name, reason)
      lines.push(`[-]${c.name} failed: reason withheld`)
    }
  }
  const contentType = 'text/plain; charset=utf-8'
  if (failed) return { status: 500, contentType, body: `${lines.join('\n')}\n${endpoint} check failed\n` }
  if (verbose) return { status: 200, contentType, body: `${lines.join('\n')}\n${endpoint} check passed\n` }
  return { status: 200, contentType, body: 'ok' }
}

async function metricsReply(registry: Registry): Promise<StatusReply> {
  return { status: 200, contentType: registry.contentType, body: await registry.metrics() }
}

/** Listen on host:port (0 picks a free port) and serve /metrics and the probe endpoints. */
export function startStatusServer(o: StatusServerOptions): Promise<StatusServer> {
  const log = logger(o.component)
  const healthz = o.checks?.healthz ?? []
  const endpoints: Record<ProbeEndpoint, readonly HealthCheck[]> = {
    healthz,
    livez: o.checks?.livez ?? healthz,
    readyz: o.checks?.readyz ?? healthz,
  }
  const onFail = (name: string, reason: string): void => log.warn({ check: name, reason }, 'health check failed')

  const reply = async (req: IncomingMessage): Promise<StatusReply> => {
    const url = new URL(req.url ?? '/', 'http://status.local')
    const route = o.routes?.[url.pathname]
    if (route) return route(url)
    if (url.pathname === '/metrics' && o.registry) return metricsReply(typeof o.registry === 'function' ? o.registry() : o.registry)
    const endpoint = /^\/(healthz|livez|readyz)(\/|$)/.exec(url.pathname)?.[1] as ProbeEndpoint | undefined
    if (endpoint) return probeReply(endpoint, endpoints[endpoint], url, onFail)
    return { status: 404, contentType: 'text/plain; charset=utf-8', body: '404 page not found\n' }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    reply(req).then(
      (r) => {
        res.writeHead(r.status, { ...r.headers, 'content-type': r.contentType ?? 'text/plain; charset=utf-8' })
        res.end(r.body)
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        res.end(`internal server error: ${err instanceof Error ? err.message : String(err)}\n`)
      },
    )
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      const port = (server.address() as AddressInfo).port
      resolve({
        port,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r())
            server.closeAllConnections()
          }),
      })
    })
  })
}
