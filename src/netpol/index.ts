// `startNetpol`: NetworkPolicy enforcement for one node, as `netkube netpol` or inside
// `netkube agent`. Informers (Pods and Namespaces and NetworkPolicies, all namespaces) feed
// the controller (controller.ts), which writes table `ip netkube-netpol` in the node's
// namespace. See README.md for the layout and core.ts for how a packet is decided.
import type { KubeObject, Namespace, NetworkPolicy, Pod } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import type { Client, SharedInformer } from '../client/interfaces.js'
import { createInformer } from '../client/informer.js'
import { NftExec, type NftRunner } from '../net/nft.js'
import { NftNetlinkRunner } from '../net/nft-netlink.js'
import { netnsHandle } from '../net/door.js'
import { loadNative } from '../net/native.js'
import { assertNotRootNetns, ensureSysctls } from '../proxy/node.js'
import { startStatusServer, type StatusServer } from '../util/status-server.js'
import { logger } from '../util/log.js'
import type { Kind } from './changes.js'
import { NetpolController } from './controller.js'
import { NetpolMetrics } from './metrics.js'

export interface StartNetpolOptions {
  client: Client
  nodeName: string
  /** Network namespace (name or path); default this process's own (never the root one). */
  netns?: string
  minSyncMs?: number
  fullSyncMs?: number
  /** /healthz and /metrics on this port (0 = pick one). */
  healthPort?: number
  healthHost?: string
  /** Skip the sysctls (tests that prepared the namespace). */
  skipNodeSetup?: boolean
  /**
   * How element diffs reach the kernel: `netlink` (default: one batch on a kept socket, ~1 ms
   * whatever the set sizes) or `nft` (`nft -f`, which first reads the sets back: tens to
   * hundreds of ms at 10,000 policies; measured in bench:netpol). Full syncs (base chains,
   * comments) always go through `nft -f`.
   */
  transport?: 'nft' | 'netlink'
  nft?: NftRunner
}

export interface NetpolHandle {
  controller: NetpolController
  metrics: NetpolMetrics
  healthPort?: number
  stop(): Promise<void>
}

export async function startNetpol(o: StartNetpolOptions): Promise<NetpolHandle> {
  const log = logger('netpol')
  assertNotRootNetns(o.netns)
  // bridged same-node pod traffic reaches the forward hook only through br_netfilter
  if (!o.skipNodeSetup) await ensureSysctls(o.netns)
  const pods = createInformer<Pod>(o.client.resource<Pod>(resourceFor('pods')), { name: 'netpol-pods' })
  const namespaces = createInformer<Namespace>(o.client.resource<Namespace>(resourceFor('namespaces')), { name: 'netpol-namespaces' })
  const policies = createInformer<NetworkPolicy>(o.client.resource<NetworkPolicy>(resourceFor('networkpolicies')), { name: 'netpol-policies' })
  const metrics = new NetpolMetrics()
  // netlink inside another namespace needs the setns addon; without it, nft -f
  const netlink = (o.transport ?? 'netlink') === 'netlink' && (!o.netns || loadNative() !== null)
  const nft = o.nft ?? (netlink ? netnsHandle(o.netns).nftNetlink() : new NftExec(o.netns))
  const controller = new NetpolController({
    nft,
    nodeName: o.nodeName,
    source: { pods: () => pods.store.list(), namespaces: () => namespaces.store.list(), policies: () => policies.store.list() },
    metrics,
    log,
    ...(o.minSyncMs !== undefined ? { minSyncMs: o.minSyncMs } : {}),
    ...(o.fullSyncMs !== undefined ? { fullSyncMs: o.fullSyncMs } : {}),
  })
  const on = <T extends KubeObject>(inf: SharedInformer<T>, kind: Kind): void =>
    inf.addEventHandler({
      onAdd: (x) => controller.onChange(kind, undefined, x),
      onUpdate: (a, b) => controller.onChange(kind, a, b),
      onDelete: (x) => controller.onChange(kind, x, undefined),
    })
  on(pods, 'pod')
  on(namespaces, 'namespace')
  on(policies, 'policy')
  const informers = [pods, namespaces, policies] as unknown as SharedInformer<KubeObject>[]
  await Promise.all(informers.map((i) => i.start()))
  const first = controller.nextSync()
  controller.setSynced()
  let server: StatusServer | undefined
  if (o.healthPort !== undefined)
    try {
      server = await startStatusServer({
        component: 'netpol',
        port: o.healthPort,
        host: o.healthHost ?? '127.0.0.1',
        registry: metrics.registry,
        checks: { healthz: [{ name: 'synced', check: () => (controller.lastSyncedAt > 0 ? undefined : 'not synced yet') }] },
      })
    } catch (err) {
      // enforcement matters more than its metrics: a taken port is logged, not fatal
      log.error({ err: (err as Error).message, port: o.healthPort }, 'netpol metrics server not started')
    }
  await first
  log.info({ node: o.nodeName, netns: o.netns, result: controller.lastResult }, 'netpol running')
  return {
    controller,
    metrics,
    ...(server ? { healthPort: server.port } : {}),
    async stop() {
      for (const i of informers) i.stop()
      await controller.stop()
      if (!o.nft && nft instanceof NftNetlinkRunner) nft.close()
      await server?.close()
    },
  }
}
