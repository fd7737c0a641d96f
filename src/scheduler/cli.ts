// `netkube scheduler --kubeconfig FILE [--scheduler-name default-scheduler] [--metrics-port N]`
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { logger } from '../util/log.js'
import { waitForSignal } from '../util/signals.js'
import { startStatusServer } from '../util/status-server.js'
import { startScheduler, type SchedulerOptions } from './scheduler.js'

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: netkube scheduler [--kubeconfig FILE] [--scheduler-name NAME] [--metrics-port N]\n')
    return 0
  }
  const client = createClient({ ...clientConfigFromEnv(argv), userAgent: 'netkube-scheduler' })
  const opts: SchedulerOptions = { client }
  const sn = flagValue(argv, 'scheduler-name')
  if (sn) opts.schedulerName = sn
  const s = await startScheduler(opts)
  const port = flagValue(argv, 'metrics-port')
  const status = port ? await startStatusServer({ component: 'scheduler', registry: s.metrics, port: Number(port) }) : undefined
  logger('scheduler').info({ sig: await waitForSignal() }, 'stopping')
  await s.stop()
  await status?.close()
  return 0
}
