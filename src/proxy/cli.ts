// `netkube proxy --kubeconfig F --node-name N [--mode nftables|iptables|ipvs] [--netns NS]
//   [--cluster-cidr 10.244.0.0/16] [--service-cidr 10.96.0.0/12] [--node-ip IP,...]
//   [--healthz-port 10256] [--min-sync-period-ms 1000] [--full-sync-period-ms 3600000]
//   [--nft-dispatch maps|vmap|cascade] [--nft-transport netlink|nft] (defaults: maps over netlink)
//   [--nodeport-addresses primary|CIDR,...]` (default: NodePorts on every local address)
import { hostname } from 'node:os'
import type { Node } from '../api/types.js'
import { findResource } from '../api/resources.js'
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { startProxy, type ProxyMode } from './index.js'
import { parseNodePortAddresses } from './nodeport-addresses.js'

export async function main(argv: string[]): Promise<number> {
  const log = logger('proxy')
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: netkube proxy --kubeconfig FILE --node-name NAME [--mode nftables|iptables|ipvs] [--netns NS]\n' +
        '  [--cluster-cidr CIDR] [--service-cidr CIDR] [--node-ip IP[,IP]] [--healthz-port N]\n' +
        '  [--min-sync-period-ms MS] [--full-sync-period-ms MS] [--service-route-dev DEV] [--nft-dispatch maps|vmap|cascade]\n' +
        '  [--nft-transport netlink|nft] [--nodeport-addresses primary|CIDR[,CIDR]]\n',
    )
    return 0
  }
  const mode = (flagValue(argv, 'mode') ?? 'nftables') as ProxyMode
  if (!['nftables', 'iptables', 'ipvs'].includes(mode)) {
    process.stderr.write(`proxy: unknown --mode ${mode}\n`)
    return 2
  }
  const transport = flagValue(argv, 'nft-transport')
  if (transport !== undefined && transport !== 'nft' && transport !== 'netlink') {
    process.stderr.write(`proxy: --nft-transport must be netlink or nft, not "${transport}"\n`)
    return 2
  }
  const dispatch = flagValue(argv, 'nft-dispatch')
  if (dispatch !== undefined && !['vmap', 'cascade', 'maps'].includes(dispatch)) {
    process.stderr.write(`proxy: --nft-dispatch must be maps, vmap or cascade, not "${dispatch}"\n`)
    return 2
  }
  const npaFlag = flagValue(argv, 'nodeport-addresses')
  const nodePortAddresses = npaFlag === undefined ? undefined : npaFlag.split(',').map((s) => s.trim()).filter(Boolean)
  const npaErrors = parseNodePortAddresses(nodePortAddresses ?? []).errors
  if (npaErrors.length) {
    process.stderr.write(`proxy: invalid --nodeport-addresses: ${npaErrors.join('; ')}\n`)
    return 2
  }
  const nodeName = flagValue(argv, 'node-name') ?? hostname()
  const client = createClient(clientConfigFromEnv(argv))
  let nodeIPs = (flagValue(argv, 'node-ip') ?? '').split(',').filter(Boolean)
  if (!nodeIPs.length) {
    // the Node object knows our addresses (the kubelet registered them)
    try {
      const node = await client.resource<Node>(findResource('', 'v1', 'nodes')!).get(nodeName)
      nodeIPs = (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address)
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot read own Node; NodePorts still answer on every local address')
    }
  }
  const num = (name: string): number | undefined => {
    const v = flagValue(argv, name)
    return v === undefined ? undefined : Number(v)
  }
  const handle = await startProxy({
    client,
    nodeName,
    netns: flagValue(argv, 'netns'),
    mode,
    clusterCIDR: flagValue(argv, 'cluster-cidr') ?? '10.244.0.0/16',
    serviceCIDR: flagValue(argv, 'service-cidr') ?? '10.96.0.0/12',
    nodeIPs,
    minSyncMs: num('min-sync-period-ms'),
    fullSyncMs: num('full-sync-period-ms'),
    healthPort: num('healthz-port'),
    healthHost: flagValue(argv, 'healthz-bind-address'),
    serviceRouteDev: flagValue(argv, 'service-route-dev'),
    nftDispatch: dispatch as 'vmap' | 'cascade' | 'maps' | undefined,
    nftTransport: transport as 'netlink' | 'nft' | undefined,
    nodePortAddresses,
  })
  await new Promise<void>((resolve) => {
    const done = (): void => resolve()
    process.once('SIGTERM', done)
    process.once('SIGINT', done)
  })
  await handle.stop()
  return 0
}
