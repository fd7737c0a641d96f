// `netkube scheduler --kubeconfig FILE [--api-servers URL,URL] [--scheduler-name default-scheduler] [--metrics-port N]
//   [--leader-elect=true|false] [--leader-elect-lease-duration 15s] … (see LEADER_ELECTION_USAGE)`
// With leader election (the default) it schedules only while it holds kube-system/kube-scheduler;
// losing the Lease ends the process with "leaderelection lost", exit 1, as upstream.
import { Registry } from 'prom-client'
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { waitForSignal } from '../util/signals.js'
import { startStatusServer } from '../util/status-server.js'
import { LEADER_ELECTION_USAGE, parseLeaderElectionFlags, startElected } from '../client/leaderelection.js'
import { startScheduler, type Scheduler, type SchedulerOptions } from './scheduler.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: netkube scheduler [--kubeconfig FILE] [--scheduler-name NAME] [--metrics-port N]\n         ${LEADER_ELECTION_USAGE}\n`)
    return 0
  }
  const log = logger('scheduler')
  const { flags } = parseLeaderElectionFlags(argv)
  const client = createClient({ ...clientConfigFromEnv(argv), userAgent: 'netkube-scheduler' })
  const opts: SchedulerOptions = { client }
  const sn = flagValue(argv, 'scheduler-name')
  if (sn) opts.schedulerName = sn
  const leaderMetrics = new Registry()
  let s: Scheduler | undefined
  const elected = await startElected({
    component: 'kube-scheduler',
    flags,
    clientConfig: client.config,
    registry: leaderMetrics,
    start: async () => (s = await startScheduler(opts)),
    onLost: () => {
      log.error('leaderelection lost')
      process.exit(1)
    },
  })
  const port = flagValue(argv, 'metrics-port')
  const registry = () => Registry.merge([leaderMetrics, ...(s ? [s.metrics] : [])])
  const status = port ? await startStatusServer({ component: 'scheduler', registry, port: Number(port) }) : undefined
  log.info({ sig: await waitForSignal() }, 'stopping')
  await elected.stop()
  await status?.close()
  return 0
}
