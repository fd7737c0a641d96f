// `netkube scheduler --kubeconfig FILE [--api-servers URL,URL] [--scheduler-name default-scheduler] [--metrics-port N]
//   [--leader-elect=true|false] [--leader-elect-lease-duration 15s] … (see LEADER_ELECTION_USAGE)`
// With leader election (the default) it schedules only while it holds kube-system/kube-scheduler;
// losing the Lease ends the process with "leaderelection lost", exit 1, as upstream.
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { waitForSignal } from '../util/signals.js'
import { startStatusServer } from '../util/status-server.js'
import { LEADER_ELECTION_USAGE, parseLeaderElectionFlags, startElectedCli } from '../client/leaderelection.js'
import { startScheduler, type SchedulerOptions } from './scheduler.js'

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
  const { elected, registry } = await startElectedCli({ component: 'kube-scheduler', flags, clientConfig: client.config, log, start: () => startScheduler(opts) })
  const port = flagValue(argv, 'metrics-port')
  const status = port ? await startStatusServer({ component: 'scheduler', registry, port: Number(port) }) : undefined
  log.info({ sig: await waitForSignal() }, 'stopping')
  await elected.stop()
  await status?.close()
  return 0
}
