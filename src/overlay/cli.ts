// `netkube overlay`: the overlay agent as a program (flannel's flanneld role).
import { logger } from '../util/log.js'
import { startOverlayAgent, type OverlayAgentOptions } from './agent.js'
import { maybeRootNetns } from '../net/netns.js'
import type { BackendType } from './config.js'
import { OverlayMetrics } from './metrics.js'
import { startStatusServer } from '../util/status-server.js'

const log = logger('overlay-cli')

const USAGE = `usage: netkube overlay --etcd-endpoints URL[,URL] [flags]

  --etcd-endpoints URLS       etcd client URLs (default http://127.0.0.1:2379)
  --prefix PATH               etcd prefix (default /coreos.com/network)
  --public-ip IP              this node's underlay address (default: from --iface / default route)
  --iface NAME                underlay interface (default: the default route's)
  --subnet-file PATH          where subnet.env is written (default /run/flannel/subnet.env)
  --backend vxlan|host-gw     override Backend.Type from the etcd config
  --lease-ttl SECONDS         subnet lease TTL (default 86400)
  --reconcile-interval MS     periodic kernel reconcile (default 5000)
  --no-watch                  no lease watch: every periodic pass re-lists the leases (polling baseline)
  --no-ip-masq                do not masquerade pod → outside traffic
  --metrics-port PORT         serve /metrics and /healthz on 127.0.0.1:PORT
  --allow-root-netns          permit running in the host's root network namespace
`

export function parseArgs(argv: string[]): { opts: OverlayAgentOptions; metricsPort?: number; allowRootNetns: boolean } {
  const opts: OverlayAgentOptions = { etcdEndpoints: ['http://127.0.0.1:2379'] }
  let metricsPort: number | undefined
  let allowRootNetns = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
    const val = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    const int = (): number => {
      const v = Number(val())
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} needs a positive integer`)
      return v
    }
    switch (flag) {
      case '--etcd-endpoints': opts.etcdEndpoints = val().split(',').filter(Boolean); break
      case '--prefix': opts.prefix = val(); break
      case '--public-ip': opts.publicIP = val(); break
      case '--iface': opts.iface = val(); break
      case '--subnet-file': opts.subnetFile = val(); break
      case '--backend': {
        const b = val()
        if (b !== 'vxlan' && b !== 'host-gw') throw new Error(`--backend must be vxlan or host-gw, got ${b}`)
        opts.backend = b as BackendType
        break
      }
      case '--lease-ttl': opts.leaseTtlSec = int(); break
      case '--reconcile-interval': opts.reconcileIntervalMs = int(); break
      case '--no-watch': opts.watchLeases = false; break
      case '--no-ip-masq': opts.ipMasq = false; break
      case '--metrics-port': metricsPort = int(); break
      case '--allow-root-netns': allowRootNetns = true; break
      default: throw new Error(`unknown flag ${a}\n\n${USAGE}`)
    }
  }
  return metricsPort === undefined ? { opts, allowRootNetns } : { opts, metricsPort, allowRootNetns }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return 0
  }
  const { opts, metricsPort, allowRootNetns } = parseArgs(argv)
  // The agent rewrites routes, ARP, FDB, nftables and ip_forward of the namespace it runs in.
  if (!allowRootNetns && maybeRootNetns()) {
    process.stderr.write('netkube overlay: refusing to program the root network namespace (run it inside the node namespace, or pass --allow-root-netns)\n')
    return 2
  }
  const metrics = new OverlayMetrics()
  let failed: Error | undefined
  let wake: () => void = () => {}
  const done = new Promise<void>((r) => (wake = r))
  const agent = await startOverlayAgent({
    ...opts,
    allowRootNetns,
    metrics,
    onFatal: (err) => {
      failed = err
      wake()
    },
  })
  process.stdout.write(`${JSON.stringify({ subnet: agent.subnetEnv.subnet, network: agent.subnetEnv.network, mtu: agent.subnetEnv.mtu })}\n`)
  const srv = metricsPort
    ? await startStatusServer({ component: 'overlay', port: metricsPort, registry: metrics.registry, checks: { healthz: [{ name: 'overlay', check: () => agent.health() }] } })
    : undefined
  const onSignal = (sig: string) => {
    log.info({ sig }, 'stopping')
    wake()
  }
  process.once('SIGTERM', () => onSignal('SIGTERM'))
  process.once('SIGINT', () => onSignal('SIGINT'))
  // the agent's own timers are unref'd (it can be embedded); with --no-watch no etcd stream
  // holds the loop open either, so the program holds it until a signal or a fatal stop
  const hold = setInterval(() => {}, 1 << 30)
  await done
  clearInterval(hold)
  await srv?.close()
  if (failed) {
    process.stderr.write(`netkube overlay: ${failed.message}\n`)
    return 1
  }
  await agent.stop()
  return 0
}
