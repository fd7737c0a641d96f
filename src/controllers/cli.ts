// `netkube controller-manager --kubeconfig FILE [--api-servers URL,URL] [--node-monitor-grace-period 40s]
//   [--pod-eviction-timeout 5m] [--node-monitor-period 1s] [--workers 2] [--metrics-port N]
//   [--leader-elect=true|false] [--leader-elect-lease-duration 15s] [--leader-elect-renew-deadline 10s]
//   [--leader-elect-retry-period 2s] [--leader-elect-resource-namespace kube-system] [--leader-elect-resource-name kube-controller-manager]
//   [--job-pod-failure-backoff 10s]`
// With leader election (the default) the controllers run only while this process holds the
// Lease; losing it ends the process with "leaderelection lost", exit 1, as upstream.
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { waitForSignal } from '../util/signals.js'
import { parseDuration } from '../util/duration.js'
import { startStatusServer } from '../util/status-server.js'
import { LEADER_ELECTION_USAGE, parseLeaderElectionFlags, startElectedCli } from '../client/leaderelection.js'
import { startControllerManager, type ControllerManagerOptions } from './manager.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: netkube controller-manager [--kubeconfig FILE] [--node-monitor-grace-period 40s]\n' +
        '         [--pod-eviction-timeout 5m] [--node-monitor-period 1s] [--workers 2] [--metrics-port N]\n' +
        `         ${LEADER_ELECTION_USAGE}\n` +
        '         [--job-pod-failure-backoff 10s]\n',
    )
    return 0
  }
  const log = logger('controller-manager')
  const { flags } = parseLeaderElectionFlags(argv)
  const client = createClient({ ...clientConfigFromEnv(argv), userAgent: 'netkube-controller-manager' })
  const opts: ControllerManagerOptions = { client }
  const grace = flagValue(argv, 'node-monitor-grace-period')
  const evict = flagValue(argv, 'pod-eviction-timeout')
  const period = flagValue(argv, 'node-monitor-period')
  const workers = flagValue(argv, 'workers')
  if (grace) opts.nodeMonitorGracePeriodMs = parseDuration(grace)
  if (evict) opts.podEvictionTimeoutMs = parseDuration(evict)
  if (period) opts.nodeMonitorPeriodMs = parseDuration(period)
  if (workers) opts.workers = Number(workers)
  const jobBackoff = flagValue(argv, 'job-pod-failure-backoff')
  if (jobBackoff) opts.jobPodFailureBackoffMs = parseDuration(jobBackoff)
  const { elected, registry } = await startElectedCli({ component: 'kube-controller-manager', flags, clientConfig: client.config, log, start: () => startControllerManager(opts) })
  const port = flagValue(argv, 'metrics-port')
  const status = port ? await startStatusServer({ component: 'controller-manager', registry, port: Number(port) }) : undefined
  log.info({ sig: await waitForSignal() }, 'stopping')
  await elected.stop()
  await status?.close()
  return 0
}
