// The DNS server: composes the pure request handler (handler.ts: caches, answers,
// forwarding, error and truncation decisions) with its transports (udp.ts: dgram or the
// batched mmsg path; tcp.ts: length-framed) and the /healthz /readyz /metrics listener.
// What it decides itself: the upstream list (never ourselves) and the shared port.
import { logger } from '../util/log.js'
import { normalizeName, type AnswerConfig } from './answer.js'
import { DnsHandler } from './handler.js'
import { startStatusServer } from '../util/status-server.js'
import { DnsMetrics } from './metrics.js'
import type { DnsReadModel } from './model.js'
import { listenTcp, type TcpListener } from './tcp.js'
import { listenUdp } from './udp.js'
import { Forwarder, parseUpstream, readResolvConf, type Upstream } from './upstream.js'

const log = logger('dns')

export interface DnsServerOptions {
  model: DnsReadModel
  /** Listen address (UDP and TCP). Default 127.0.0.1. */
  host?: string
  /** Listen port; 0 picks a free one (the same for UDP and TCP). Default 53. */
  port?: number
  /** Cluster domain. Default cluster.local. */
  zone?: string
  /** TTL of cluster records, seconds. Default 5. */
  ttl?: number
  /** Our own address as clients see it (kube-dns ClusterIP), for the apex NS glue. */
  nsAddress?: string
  /** Upstream resolvers (`ip`, `ip:port`, `[v6]:port`); default: the nameservers of resolvConf. */
  upstreams?: (string | Upstream)[]
  /** Default /etc/resolv.conf. */
  resolvConf?: string
  /** Per-upstream timeout, ms. Default 2000. */
  upstreamTimeoutMs?: number
  /** Longest time a forwarded answer is cached, seconds. Default 30. */
  forwardCacheMaxTtl?: number
  /** Entries in each cache before the oldest are evicted. Default 50000. */
  cacheMaxEntries?: number
  /** Serve /healthz, /readyz and /metrics over HTTP on this port (0 picks one). */
  metricsPort?: number
  metricsHost?: string
}

export interface DnsServerHandle {
  port: number
  /** Which UDP receive path serves queries: batched recvmmsg/sendmmsg addon, or Node dgram. */
  udpPath: 'mmsg' | 'dgram'
  metricsPort?: number
  metrics: DnsMetrics
  stop(): Promise<void>
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServerHandle> {
  const host = opts.host ?? '127.0.0.1'
  const cfg: AnswerConfig = { zone: normalizeName(opts.zone ?? 'cluster.local'), ttl: opts.ttl ?? 5 }
  if (opts.nsAddress) cfg.nsAddress = opts.nsAddress
  const model = opts.model
  // Never forward to ourselves: a DNS pod given ClusterFirst instead of Default would
  // find the kube-dns ClusterIP in its resolv.conf and loop every unknown name.
  const isSelf = (u: Upstream): boolean =>
    (u.host === opts.nsAddress && u.port === 53) || (u.host === host && u.port === (opts.port ?? 53))
  const upstreams = (opts.upstreams ?? readResolvConf(opts.resolvConf ?? '/etc/resolv.conf'))
    .map((u) => (typeof u === 'string' ? parseUpstream(u) : u))
    .filter((u) => {
      if (isSelf(u)) log.warn({ upstream: u }, 'ignoring an upstream that is this server')
      return !isSelf(u)
    })
  const forwarder = new Forwarder(upstreams, opts.upstreamTimeoutMs ?? 2000)
  const metrics: DnsMetrics = new DnsMetrics(() => handler.cacheSizes())
  const handler = new DnsHandler({
    model,
    config: cfg,
    upstream: forwarder,
    metrics,
    cacheMaxEntries: opts.cacheMaxEntries,
    forwardCacheMaxTtl: opts.forwardCacheMaxTtl,
  })

  const udp = await listenUdp(host, opts.port ?? 53, (q) => handler.handle(q, false))
  const port = udp.port
  let tcp: TcpListener
  try {
    tcp = await listenTcp(host, port, (q) => handler.handle(q, true))
  } catch (err) {
    await udp.close()
    throw err
  }

  // Readiness as CoreDNS's /ready: not until the informers have synced (SERVFAIL until then).
  const status =
    opts.metricsPort !== undefined
      ? await startStatusServer({
          component: 'dns',
          port: opts.metricsPort,
          host: opts.metricsHost ?? host,
          registry: metrics.registry,
          checks: { readyz: [{ name: 'informer-sync', check: () => (model.synced ? undefined : 'caches not synced') }] },
        })
      : undefined
  const metricsPort = status?.port
  log.debug({ host, port, zone: cfg.zone, upstreams, metricsPort }, 'dns server listening')

  let stopped = false
  return {
    port,
    metrics,
    udpPath: udp.path,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    async stop() {
      if (stopped) return
      stopped = true
      forwarder.close()
      await Promise.all([
        udp.close(),
        tcp.close(),
        status?.close(),
      ])
    },
  }
}
