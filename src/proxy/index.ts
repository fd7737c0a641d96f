// kube-proxy for netkube. Design note:
//   informers (Services, EndpointSlices, own Node) ─► change trackers ─► SyncRunner
//   (coalesced, ≥ minSyncMs apart, full every fullSyncMs) ─► pure planning ─► one kernel
//   transaction (nftables: netlink batches, the maps layout; iptables: `iptables-restore --noflush`;
//   ipvs: ipset, iptables-restore, kube-ipvs0 addresses and an ipvsadm diff, src/proxy/ipvs-exec.ts).
// Node prerequisites (sysctls, service CIDR route) are ensured first, inside the node's netns.
// The first sync is full and replaces our table wholesale: rules left by a previous proxy
// process are adopted (rewritten), never duplicated. See README.md for hooks and priorities.
import type { EndpointSlice, KubeObject, Node, Service } from '../api/types.js'
import { findResource } from '../api/resources.js'
import type { Client, EventHandler, SharedInformer } from '../client/interfaces.js'
import { createInformer } from '../client/informer.js'
import { NftExec, type NftRunner } from '../net/nft.js'
import { netnsHandle } from '../net/door.js'
import { canSetns } from '../net/netns.js'
import { logger } from '../util/log.js'
import type { ProxyBackend } from './backend.js'
import { IptablesBackend, IptablesExec } from './iptables.js'
import { IpvsBackend, RecordingIpvsRunner } from './ipvs.js'
import { IpvsExec, cleanupIpvs } from './ipvs-exec.js'
import { ProxyMetrics } from './metrics.js'
import { proxyHealthRoutes } from './health.js'
import { startStatusServer, type StatusServer } from '../util/status-server.js'
import { NftBackend } from './nft-backend.js'
import { ensureNodePrerequisites } from './node.js'
import { Proxier } from './proxier.js'
import { HealthCheckServers, healthCheckTargets } from './healthcheck.js'
import { ConntrackCleaner } from './conntrack.js'
import { parseNodePortAddresses } from './nodeport-addresses.js'

export type ProxyMode = 'nftables' | 'iptables' | 'ipvs'

export interface StartProxyOptions {
  client: Client
  nodeName: string
  /** Network namespace (name or path) to program; default: this process's own (never the root one). */
  netns?: string
  mode: ProxyMode
  clusterCIDR: string
  serviceCIDR: string
  nodeIPs: string[]
  minSyncMs?: number
  fullSyncMs?: number
  /** /healthz and /metrics on this port (0 = pick one, undefined = none). */
  healthPort?: number
  healthHost?: string
  /** /healthz and /livez fail when a change has waited this long (default max(60 s, 2 × minSyncMs)). */
  healthTimeoutMs?: number
  /** Device for the service CIDR route (default: the one reaching the pod network). */
  serviceRouteDev?: string
  /** Skip sysctls and route (tests that prepared the namespace themselves). */
  skipNodeSetup?: boolean
  /**
   * nftables layout: 'maps' (default; nft-maps.ts: Services as map elements in one table, an
   * endpoint change is a few element ops whatever the table's size), 'vmap' (upstream's
   * per-Service chains with `numgen … vmap`) or 'cascade' (per-Service chains, no anonymous
   * sets, sharded over tables with netlink).
   */
  nftDispatch?: 'vmap' | 'cascade' | 'maps'
  /**
   * How nftables changes reach the kernel: 'netlink' (default: batches over a kept socket,
   * `nft -f` only for what netlink does not carry, i.e. base chains; for another netns it needs
   * the setns addon, else it falls back to nft) or 'nft' (every transaction through `nft -f`).
   */
  nftTransport?: 'netlink' | 'nft'
  /** Override the nft runner (tests). */
  nft?: NftRunner
  /**
   * Serve every Local LoadBalancer's healthCheckNodePort (default: on when the proxy runs in
   * its own namespace; the servers listen where this process does, so not with `netns`).
   */
  healthCheckServers?: boolean
  /** Address they listen on (default 0.0.0.0). */
  healthCheckHost?: string
  /**
   * --nodeport-addresses: CIDRs, or ['primary'] (the node's IPs); NodePorts answer only on local
   * addresses in them. Unset: every local address. Invalid values throw (upstream's wording).
   */
  nodePortAddresses?: string[]
  /**
   * Delete stale UDP conntrack entries after syncs (default: on with the real kernel, i.e.
   * without `nft`; another netns needs the setns addon for the ctnetlink socket).
   */
  conntrack?: boolean
}

export interface ProxyHandle {
  proxier: Proxier
  metrics: ProxyMetrics
  healthPort?: number
  /** The healthCheckNodePorts being served (undefined: servers off). */
  healthCheckPorts?: () => number[]
  stop(): Promise<void>
}

/** Ops per transaction of a cold start over netlink: ~2 MB batches, the commit mutex held briefly. */
export const NFT_CHUNK_OPS = 10_000
/** Shard tables in the default nftables mode (see NftState): a commit revalidates ~1/64 of the Services. */
export const NFT_SHARDS = Number(process.env.NETKUBE_PROXY_NFT_SHARDS ?? 64)

export function makeBackend(opts: Pick<StartProxyOptions, 'mode' | 'netns' | 'clusterCIDR' | 'nodeIPs' | 'nft' | 'nftDispatch' | 'nftTransport'>): ProxyBackend {
  switch (opts.mode) {
    case 'nftables': {
      // netlink unless told otherwise (or it cannot reach the node's namespace: no setns addon)
      const netlink = !opts.nft && opts.nftTransport !== 'nft' && (!opts.netns || canSetns())
      const runner = opts.nft ?? (netlink ? netnsHandle(opts.netns).nftNetlink() : new NftExec(opts.netns))
      const dispatch = opts.nftDispatch ?? 'maps'
      return new NftBackend(runner, { clusterCIDR: opts.clusterCIDR, dispatch }, {
        adopt: true,
        chunkOps: netlink ? NFT_CHUNK_OPS : undefined,
        // the maps layout needs no shards: its commits revalidate only the few per-Service chains
        shards: netlink && dispatch !== 'maps' ? NFT_SHARDS : 0,
      })
    }
    case 'iptables':
      return new IptablesBackend(new IptablesExec(opts.netns), { clusterCIDR: opts.clusterCIDR })
    case 'ipvs':
      // Applied for real where the kernel has IP_VS (NETKUBE_PROXY_IPVS_RECORD=1: rendered and recorded only).
      return new IpvsBackend(process.env.NETKUBE_PROXY_IPVS_RECORD === '1' ? new RecordingIpvsRunner() : new IpvsExec(opts.netns), { clusterCIDR: opts.clusterCIDR, nodeIPs: opts.nodeIPs })
  }
}

function resource(group: string, version: string, plural: string) {
  const r = findResource(group, version, plural)
  if (!r) throw new Error(`proxy: resource ${group}/${version}/${plural} not in the catalogue`)
  return r
}

function handler<T extends KubeObject>(fn: (prev: T | undefined, cur: T | undefined) => void): EventHandler<T> {
  return { onAdd: (o) => fn(undefined, o), onUpdate: (a, b) => fn(a, b), onDelete: (o) => fn(o, undefined) }
}

export async function startProxy(opts: StartProxyOptions): Promise<ProxyHandle> {
  const log = logger('proxy')
  if (!opts.skipNodeSetup) await ensureNodePrerequisites(opts.netns, opts.serviceCIDR, opts.clusterCIDR, opts.serviceRouteDev)
  else if (!opts.netns) (await import('./node.js')).assertNotRootNetns(undefined)
  // A node that ran IPVS mode before: its virtual servers would still take the service IPs.
  // (Not with a caller's nft runner: that is a test's stand-in for the kernel.)
  if (opts.mode !== 'ipvs' && !opts.nft) await cleanupIpvs(opts.netns)
  const npa = parseNodePortAddresses(opts.nodePortAddresses ?? [])
  if (npa.errors.length) throw new Error(`proxy: invalid --nodeport-addresses: ${npa.errors.join('; ')}`)
  const metrics = new ProxyMetrics()
  const backend = makeBackend(opts)
  // From outside the node (--netns) the servers listen inside its namespace, which needs the setns addon.
  const hc = (opts.healthCheckServers ?? (!opts.netns || canSetns())) ? new HealthCheckServers(() => proxier.lastError === undefined, opts.healthCheckHost, opts.netns) : undefined
  let hcSync: Promise<void> = Promise.resolve()
  const ctWanted = opts.conntrack ?? !opts.nft
  if (ctWanted && opts.netns && !canSetns()) log.warn('no setns addon: stale UDP conntrack entries are not deleted')
  const conntrack = ctWanted && (!opts.netns || canSetns()) ? new ConntrackCleaner(netnsHandle(opts.netns).conntrack(), opts.serviceCIDR, metrics, log) : undefined
  const proxier: Proxier = new Proxier({
    onSynced: (ports) => {
      if (hc) hcSync = hcSync.then(() => hc.sync(healthCheckTargets(ports.values())))
    },
    backend,
    conntrack,
    nodePortAddresses: npa.value,
    localAddresses: () => netnsHandle(opts.netns).withOps(async (ops) => (await ops.listAddresses()).filter((a) => a.family === 4).map((a) => a.cidr.split('/')[0]!)),
    node: { name: opts.nodeName, ips: [...opts.nodeIPs], clusterCIDR: opts.clusterCIDR, serviceCIDR: opts.serviceCIDR },
    metrics,
    minSyncMs: opts.minSyncMs,
    fullSyncMs: opts.fullSyncMs,
    log,
  })
  const services = createInformer<Service>(opts.client.resource<Service>(resource('', 'v1', 'services')), { name: 'proxy-services' })
  const slices = createInformer<EndpointSlice>(opts.client.resource<EndpointSlice>(resource('discovery.k8s.io', 'v1', 'endpointslices')), {
    name: 'proxy-endpointslices',
  })
  const nodes = createInformer<Node>(opts.client.resource<Node>(resource('', 'v1', 'nodes')), {
    name: 'proxy-nodes',
    fieldSelector: `metadata.name=${opts.nodeName}`,
  })
  services.addEventHandler(handler<Service>((a, b) => proxier.onService(a, b)))
  slices.addEventHandler(handler<EndpointSlice>((a, b) => proxier.onEndpointSlice(a, b)))
  nodes.addEventHandler(
    handler<Node>((a, b) => {
      if ((b ?? a)?.metadata.name === opts.nodeName) proxier.onNode(b)
    }),
  )
  const informers: SharedInformer<KubeObject>[] = [services, slices, nodes] as unknown as SharedInformer<KubeObject>[]
  await Promise.all(informers.map((i) => i.start()))
  // Only now may the kernel be written: an empty cache would mean "no endpoints anywhere".
  const first = proxier.nextSync()
  proxier.setSynced()
  let server: StatusServer | undefined
  if (opts.healthPort !== undefined) {
    // upstream: 2 × its sync period (30 s); ours is "how long a change may wait", minSync-bound
    const health = proxyHealthRoutes(proxier.healthSource(), opts.healthTimeoutMs ?? Math.max(60_000, 2 * (opts.minSyncMs ?? 1000)), { healthz: metrics.healthzTotal, livez: metrics.livezTotal })
    server = await startStatusServer({
      component: 'proxy',
      port: opts.healthPort,
      host: opts.healthHost ?? '127.0.0.1',
      registry: metrics.registry,
      routes: health,
    })
  }
  const healthPort = server?.port
  await first
  log.info({ node: opts.nodeName, mode: opts.mode, netns: opts.netns, result: proxier.lastResult }, 'proxy running')
  return {
    proxier,
    metrics,
    healthPort,
    ...(hc ? { healthCheckPorts: () => hc.ports } : {}),
    async stop() {
      for (const i of informers) i.stop()
      await proxier.stop()
      await hcSync
      await hc?.close()
      backend.close?.()
      conntrack?.close()
      await server?.close()
    },
  }
}

export { Proxier } from './proxier.js'
export { buildServicePorts } from './serviceport.js'
