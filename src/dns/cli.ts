// `netkube dns --kubeconfig F --listen 0.0.0.0:53 --cluster-domain cluster.local
//   --upstream-resolv-conf /etc/resolv.conf [--upstream ip[:port],…] [--ttl 5]
//   [--metrics-listen 0.0.0.0:9153] [--ns-address 10.96.0.10] [--upstream-timeout-ms 2000]`
// The cluster DNS, as Kubernetes runs CoreDNS (self-hosted: a Deployment behind the
// kube-dns Service). The kubeconfig comes from --kubeconfig, $KUBECONFIG, ~/.kube/config
// or the in-cluster service account, in kubectl's order.
import cluster from 'node:cluster'
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { startDnsModelFromClient } from './feed.js'
import { startDnsServer, type DnsServerOptions } from './server.js'
import { parseUpstream } from './upstream.js'

const USAGE = `usage: netkube dns [flags]

  --kubeconfig FILE             apiserver credentials (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --api-servers URL,URL,...     several apiservers (same CA and credentials) instead of the kubeconfig's server
  --listen HOST:PORT            UDP and TCP listen address (default 0.0.0.0:53; env NETKUBE_DNS_LISTEN)
  --cluster-domain DOMAIN       the cluster zone (default cluster.local)
  --upstream-resolv-conf FILE   resolvers for other names (default /etc/resolv.conf)
  --upstream IP[:PORT],...      resolvers for other names (overrides the resolv.conf)
  --upstream-timeout-ms MS      per-upstream timeout before trying the next / SERVFAIL (default 2000)
  --ttl SECONDS                 TTL of cluster records (default 5)
  --ns-address IP               our Service address (kube-dns ClusterIP), for the zone's NS glue
  --metrics-listen HOST:PORT    serve /healthz, /readyz, /metrics (default: off; env NETKUBE_DNS_METRICS_LISTEN)
  --workers N                   serving processes sharing the sockets (default 1; each runs its own informers)
`

/** `0.0.0.0:53`, `[::]:53`, `:53`, `53`. */
export function parseListen(s: string, defaultHost = '0.0.0.0'): { host: string; port: number } {
  if (/^\d+$/.test(s)) return { host: defaultHost, port: Number(s) }
  const u = parseUpstream(s)
  return { host: u.host || defaultHost, port: u.port }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return 0
  }
  const log = logger('dns')
  const workers = Number(flagValue(argv, 'workers') ?? 1)
  // Node answers on one core; CoreDNS uses them all. With --workers N the primary forks
  // N copies that share the UDP socket (node:cluster hands every worker the same fd, the
  // kernel wakes whichever is idle) and the TCP/metrics listeners (round-robin).
  if (workers > 1 && cluster.isPrimary) return supervise(workers, log)
  const listen = parseListen(flagValue(argv, 'listen') ?? process.env.NETKUBE_DNS_LISTEN ?? '0.0.0.0:53')
  const metricsListen = flagValue(argv, 'metrics-listen') ?? process.env.NETKUBE_DNS_METRICS_LISTEN
  const client = createClient(clientConfigFromEnv(argv))
  const feed = startDnsModelFromClient(client)
  const opts: DnsServerOptions = {
    model: feed.model,
    host: listen.host,
    port: listen.port,
    zone: flagValue(argv, 'cluster-domain') ?? 'cluster.local',
    ttl: Number(flagValue(argv, 'ttl') ?? 5),
    resolvConf: flagValue(argv, 'upstream-resolv-conf') ?? '/etc/resolv.conf',
    upstreamTimeoutMs: Number(flagValue(argv, 'upstream-timeout-ms') ?? 2000),
  }
  const upstream = flagValue(argv, 'upstream')
  if (upstream) opts.upstreams = upstream.split(',').filter(Boolean)
  const ns = flagValue(argv, 'ns-address')
  if (ns) opts.nsAddress = ns
  if (metricsListen) {
    const m = parseListen(metricsListen)
    opts.metricsHost = m.host
    opts.metricsPort = m.port
  }
  // Listen at once (answering SERVFAIL until synced) so a restarted pod is reachable
  // as soon as possible; CoreDNS instead blocks up to 5 s, then serves what it has.
  const server = await startDnsServer(opts)
  process.stdout.write(`netkube dns listening on ${listen.host}:${server.port}${server.metricsPort ? `, metrics on ${opts.metricsHost}:${server.metricsPort}` : ''}\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  log.info('dns server stopping')
  feed.stop()
  await server.stop()
  // A cluster worker's IPC channel to the primary would keep it alive.
  if (cluster.isWorker) cluster.worker?.disconnect()
  return 0
}

/** Keep `n` workers running (a dead one is replaced after a short pause); stop them on SIGTERM. */
async function supervise(n: number, log: ReturnType<typeof logger>): Promise<number> {
  let stopping = false
  const fork = (): void => {
    const w = cluster.fork()
    w.on('exit', (code, signal) => {
      if (stopping) return
      log.warn({ pid: w.process.pid, code, signal }, 'dns worker exited; restarting')
      setTimeout(fork, 500)
    })
  }
  for (let i = 0; i < n; i++) fork()
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  stopping = true
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined)
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          w.once('exit', () => resolve())
          w.process.kill('SIGTERM')
        }),
    ),
  )
  return 0
}
