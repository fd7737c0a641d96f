// `netkube controller-manager --kubeconfig FILE [--node-monitor-grace-period 40s]
//   [--pod-eviction-timeout 5m] [--node-monitor-period 1s] [--workers 2] [--metrics-port N]
//   [--job-pod-failure-backoff 10s]`
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { waitForSignal } from '../util/signals.js'
import { parseDuration } from '../util/duration.js'
import { startStatusServer } from '../util/status-server.js'
import { startControllerManager, type ControllerManagerOptions } from './manager.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: netkube controller-manager [--kubeconfig FILE] [--node-monitor-grace-period 40s]\n' +
        '         [--pod-eviction-timeout 5m] [--node-monitor-period 1s] [--workers 2] [--metrics-port N]\n' +
        '         [--job-pod-failure-backoff 10s]\n',
    )
    return 0
  }
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
  const cm = await startControllerManager(opts)
  const port = flagValue(argv, 'metrics-port')
  const status = port ? await startStatusServer({ component: 'controller-manager', registry: cm.metrics, port: Number(port) }) : undefined
  logger('controller-manager').info({ sig: await waitForSignal() }, 'stopping')
  await cm.stop()
  await status?.close()
  return 0
}
