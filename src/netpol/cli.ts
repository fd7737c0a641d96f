// `netkube netpol --kubeconfig F --node-name N [--netns NS] [--healthz-port N]
//   [--min-sync-period-ms 10] [--full-sync-period-ms 3600000] [--nft-transport netlink|nft]`: NetworkPolicy enforcement alone
// (`netkube agent` runs the same inside the node agent).
import { hostname } from 'node:os'
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { waitForSignal } from '../util/signals.js'
import { startNetpol } from './index.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: netkube netpol --kubeconfig FILE --node-name NAME [--netns NS] [--healthz-port N] [--healthz-bind-address IP]\n' +
        '  [--min-sync-period-ms MS] [--full-sync-period-ms MS] [--nft-transport netlink|nft]\n',
    )
    return 0
  }
  const num = (name: string): number | undefined => {
    const v = flagValue(argv, name)
    return v === undefined ? undefined : Number(v)
  }
  const netns = flagValue(argv, 'netns')
  const healthPort = num('healthz-port')
  const healthHost = flagValue(argv, 'healthz-bind-address')
  const minSyncMs = num('min-sync-period-ms')
  const fullSyncMs = num('full-sync-period-ms')
  const transport = flagValue(argv, 'nft-transport')
  if (transport !== undefined && transport !== 'nft' && transport !== 'netlink') throw new Error(`--nft-transport must be netlink or nft, not "${transport}"`)
  const handle = await startNetpol({
    client: createClient(clientConfigFromEnv(argv)),
    nodeName: flagValue(argv, 'node-name') ?? hostname(),
    ...(netns ? { netns } : {}),
    ...(healthPort !== undefined ? { healthPort } : {}),
    ...(healthHost ? { healthHost } : {}),
    ...(minSyncMs !== undefined ? { minSyncMs } : {}),
    ...(fullSyncMs !== undefined ? { fullSyncMs } : {}),
    ...(transport ? { transport } : {}),
  })
  await waitForSignal()
  await handle.stop()
  return 0
}
