// Shared bits of the `controller-manager` and `scheduler` commands: a /metrics
// endpoint, running until SIGINT/SIGTERM.
import { createServer } from 'node:http'
import type { Registry } from 'prom-client'
import { logger } from '../util/log.js'

/** Serve a registry on 127.0.0.1:port/metrics (and /healthz); returns a closer. */
export function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): () => Promise<void> {
  const srv = createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok')
    if (req.url !== '/metrics') {
      res.statusCode = 404
      return void res.end()
    }
    registry.metrics().then(
      (body) => {
        res.setHeader('content-type', registry.contentType)
        res.end(body)
      },
      (err: Error) => {
        res.statusCode = 500
        res.end(err.message)
      },
    )
  })
  srv.listen(port, host)
  return () => new Promise((r) => srv.close(() => r()))
}

/** Resolves on the first SIGINT/SIGTERM. */
export function untilSignal(component: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      logger(component).info({ sig }, 'stopping')
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve()
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}
