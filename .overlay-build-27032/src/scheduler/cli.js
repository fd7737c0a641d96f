// `netkube scheduler --kubeconfig FILE [--scheduler-name default-scheduler] [--metrics-port N]`
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js';
import { createClient } from '../client/rest.js';
import { serveMetrics, untilSignal } from '../controllers/cliutil.js';
import { startScheduler } from './scheduler.js';
export async function main(argv) {
    if (argv.includes('--help') || argv.includes('-h')) {
        process.stdout.write('usage: netkube scheduler [--kubeconfig FILE] [--scheduler-name NAME] [--metrics-port N]\n');
        return 0;
    }
    const client = createClient({ ...clientConfigFromEnv(argv), userAgent: 'netkube-scheduler' });
    const opts = { client };
    const sn = flagValue(argv, 'scheduler-name');
    if (sn)
        opts.schedulerName = sn;
    const s = await startScheduler(opts);
    const port = flagValue(argv, 'metrics-port');
    const closeMetrics = port ? serveMetrics(s.metrics, Number(port)) : async () => { };
    await untilSignal('scheduler');
    await s.stop();
    await closeMetrics();
    return 0;
}
