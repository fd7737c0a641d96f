// kube-proxy's per-Service health check servers (upstream pkg/proxy/healthcheck): every
// LoadBalancer Service with `externalTrafficPolicy: Local` has a `healthCheckNodePort`, and
// every node's proxy answers HTTP on it, any path: 200 while this node has a local ready
// endpoint for it (and the proxy is healthy), else 503, with upstream's JSON body and headers.
// A load balancer (here: the L2 announcer's peers, or anything outside) probes it to send
// traffic only to nodes that will not drop it. The reply is pure; the servers are the edge.
import { createServer, type Server } from 'node:http'
import { netnsHandle } from '../net/door.js'
import { logger } from '../util/log.js'
import { categorize, type ServicePortInfo } from './serviceport.js'

const log = logger('proxy.healthcheck')

export interface HealthCheckTarget {
  namespace: string
  name: string
  localEndpoints: number
}

export interface HealthCheckReply {
  status: number
  headers: Record<string, string>
  body: string
}

/** Upstream's body (tab-indented, no trailing newline) and headers. */
export function healthCheckReply(t: HealthCheckTarget, proxyHealthy: boolean): HealthCheckReply {
  const body = [
    '{',
    '\t"service": {',
    `\t\t"namespace": ${JSON.stringify(t.namespace)},`,
    `\t\t"name": ${JSON.stringify(t.name)}`,
    '\t},',
    `\t"localEndpoints": ${t.localEndpoints},`,
    `\t"serviceProxyHealthy": ${proxyHealthy}`,
    '}',
  ].join('\n')
  return {
    status: t.localEndpoints > 0 && proxyHealthy ? 200 : 503,
    headers: { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': String(t.localEndpoints) },
    body,
  }
}

/** healthCheckNodePort → what it reports, from the proxier's ServicePorts. */
export function healthCheckTargets(ports: Iterable<readonly ServicePortInfo[]>): Map<number, HealthCheckTarget> {
  const out = new Map<number, HealthCheckTarget>()
  for (const sps of ports) {
    const hc = sps.find((sp) => sp.healthCheckNodePort !== undefined)
    if (!hc) continue
    // upstream counts this node's ready endpoints of the Service (the first port's slices)
    const local = new Set<string>()
    for (const sp of sps) for (const ep of categorize(sp).local) local.add(ep.ip)
    out.set(hc.healthCheckNodePort!, { namespace: hc.namespace, name: hc.name, localEndpoints: local.size })
  }
  return out
}

/** One HTTP server per healthCheckNodePort, opened and closed as Services come and go. */
export class HealthCheckServers {
  private servers = new Map<number, { server: Server; target: HealthCheckTarget }>()
  /**
   * `netns`: the node's namespace when the proxy programs it from outside (`--netns`): the
   * servers then listen inside it, on every address, so the node's neighbours reach them.
   */
  constructor(
    private readonly healthy: () => boolean,
    private readonly host = '0.0.0.0',
    private readonly netns?: string,
  ) {}

  get ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b)
  }

  async sync(want: Map<number, HealthCheckTarget>): Promise<void> {
    for (const [port, s] of this.servers)
      if (!want.has(port)) {
        this.servers.delete(port)
        await new Promise<void>((r) => {
          s.server.close(() => r())
          s.server.closeAllConnections()
        })
      }
    for (const [port, target] of want) {
      const cur = this.servers.get(port)
      if (cur) {
        cur.target = target
        continue
      }
      const entry = { server: createServer(), target }
      entry.server.on('request', (_req, res) => {
        const r = healthCheckReply(entry.target, this.healthy())
        res.writeHead(r.status, r.headers).end(r.body)
      })
      try {
        await new Promise<void>((resolve, reject) => {
          entry.server.once('error', reject)
          entry.server.once('listening', () => resolve())
          if (this.netns) netnsHandle(this.netns).listen(entry.server, port)
          else entry.server.listen(port, this.host)
        })
        entry.server.on('error', (err) => log.warn({ port, err: err.message }, 'health check server error'))
        this.servers.set(port, entry)
      } catch (err) {
        // upstream logs and retries on the next sync; the port may be held by someone else
        log.warn({ port, service: `${target.namespace}/${target.name}`, err: (err as Error).message }, 'cannot listen on healthCheckNodePort')
      }
    }
  }

  async close(): Promise<void> {
    await this.sync(new Map())
  }
}
