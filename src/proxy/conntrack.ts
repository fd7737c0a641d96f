// Stale UDP flows, as upstream kube-proxy cleans them (pkg/proxy/conntrack CleanStaleEntries).
// UDP has no connection the kernel could see end: a client that keeps its source port (a DNS
// resolver, a syslog sender) keeps matching its conntrack entry, whose NAT was decided by the
// first datagram — so after its endpoint went away every datagram still goes to the dead pod
// until the entry times out (120 s once replied). So after each sync that touched a UDP
// Service, the node's table is dumped and every UDP entry is deleted that
//   - is addressed to a UDP Service IP (ClusterIP, externalIP, LoadBalancer IP) but was not
//     DNATed to one of its serving endpoints (reply source), or
//   - is addressed to a UDP NodePort (any local address) and was not DNATed to a serving endpoint,
// (upstream's two filters; traffic policies and terminating state are deliberately ignored,
// as upstream does, so UDP flows live as long as TCP ones would), and, beyond upstream's
// current code (its older releases did this for stale Services):
//   - is addressed to a Service IP or NodePort that no longer exists, or to an address in the
//     service CIDR no Service holds (a ClusterIP deleted while no proxy ran).
// The decision is pure (`staleUdpFlows`); `ConntrackCleaner` is the edge around src/net's socket.
import type { Counter, Histogram } from 'prom-client'
import type { CtEntry, DeleteResult } from '../net/conntrack.js'
import { IPPROTO } from '../net/conntrack.js'
import { cidrContains, parseCidr, type Cidr } from '../net/ip.js'
import { logger, type Logger } from '../util/log.js'
import type { ServicePortInfo } from './serviceport.js'

/** Where UDP Services are reached, each with the IPs of its serving endpoints. */
export interface UdpTargets {
  ips: Map<string, Set<string>>
  nodePorts: Map<number, Set<string>>
}

export function udpTargets(ports: Iterable<readonly ServicePortInfo[]>): UdpTargets {
  const out: UdpTargets = { ips: new Map(), nodePorts: new Map() }
  const add = <K>(m: Map<K, Set<string>>, k: K, eps: Set<string>): void => {
    // two UDP ports of one IP (two Services cannot share a ClusterIP; externalIPs can)
    const cur = m.get(k)
    if (cur) for (const e of eps) cur.add(e)
    else m.set(k, new Set(eps))
  }
  for (const sps of ports)
    for (const sp of sps) {
      if (sp.protocol !== 'udp' || !sp.clusterIP) continue
      const serving = new Set(sp.endpoints.filter((e) => e.serving).map((e) => e.ip))
      for (const ip of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs]) add(out.ips, ip, serving)
      if (sp.nodePort) add(out.nodePorts, sp.nodePort, serving)
    }
  return out
}

/** Does any of these ports carry UDP (a sync that touched none needs no conntrack work)? */
export function hasUdp(ports: readonly ServicePortInfo[] | undefined): boolean {
  return !!ports?.some((sp) => sp.protocol === 'udp')
}

/** The entries to delete, given where UDP Services are now and were at the last clean. */
export function staleUdpFlows(entries: Iterable<CtEntry>, now: UdpTargets, previous: UdpTargets | undefined, serviceCIDR: Cidr | undefined): CtEntry[] {
  const out: CtEntry[] = []
  for (const e of entries) {
    if (e.orig.proto !== IPPROTO.udp) continue
    const dst = e.orig.dst
    const replySrc = e.reply.src
    const byIp = now.ips.get(dst)
    const byPort = now.nodePorts.get(e.orig.dport)
    let stale = false
    if (byIp) stale = !byIp.has(replySrc)
    else if (previous?.ips.has(dst) || (serviceCIDR && cidrContains(serviceCIDR, dst))) stale = true
    if (!stale && byPort) stale = !byPort.has(replySrc)
    // a NodePort that went away: only flows it DNATed (others merely share the port number)
    else if (!stale && previous?.nodePorts.has(e.orig.dport) && replySrc !== dst) stale = true
    if (stale) out.push(e)
  }
  return out
}

/** What the cleaner needs of a conntrack table (src/net/conntrack.ts's Conntrack; a fake in tests). */
export interface ConntrackTable {
  list(): Promise<CtEntry[]>
  delete(entries: readonly CtEntry[]): Promise<DeleteResult>
  close(): void
}

export interface CleanerMetrics {
  conntrackDeleted: Counter<string>
  conntrackDuration: Histogram<string>
}

export class ConntrackCleaner {
  private previous: UdpTargets | undefined
  private readonly cidr: Cidr | undefined
  private readonly log: Logger

  constructor(
    private readonly table: ConntrackTable,
    serviceCIDR: string | undefined,
    private readonly metrics?: CleanerMetrics,
    log?: Logger,
  ) {
    this.cidr = serviceCIDR ? parseCidr(serviceCIDR) : undefined
    this.log = log ?? logger('proxy.conntrack')
  }

  /** Dump, decide, delete; returns how many entries were deleted. Failures are logged, not thrown (upstream's). */
  async clean(ports: ReadonlyMap<string, readonly ServicePortInfo[]>): Promise<number> {
    const start = performance.now()
    const now = udpTargets(ports.values())
    try {
      const stale = staleUdpFlows(await this.table.list(), now, this.previous, this.cidr)
      const r = stale.length ? await this.table.delete(stale) : { deleted: 0, missing: 0 }
      this.previous = now
      if (r.deleted) {
        this.metrics?.conntrackDeleted.inc(r.deleted)
        this.log.debug({ deleted: r.deleted, missing: r.missing }, 'stale UDP conntrack entries deleted')
      }
      return r.deleted
    } catch (err) {
      // `previous` is kept: the next clean still knows what went away
      this.log.error({ err: (err as Error).message }, 'conntrack cleanup failed')
      return 0
    } finally {
      this.metrics?.conntrackDuration.observe((performance.now() - start) / 1000)
    }
  }

  close(): void {
    this.table.close()
  }
}
