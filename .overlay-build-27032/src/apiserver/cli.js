// `netkube apiserver` (the API server on an existing etcd) and `netkube server` (a local
// etcd supervised as a child, data under the state dir, plus the API server).
import { join } from 'node:path';
import { startEtcd } from '../etcd/process.js';
import { logger } from '../util/log.js';
import { startApiServer } from './server.js';
const log = logger('server');
const COMMON_FLAGS = [
    { name: 'state-dir', help: 'certificates, tokens, kubeconfig (and local etcd data for `server`)', default: '/var/lib/netkube/server' },
    { name: 'etcd-servers', help: 'comma-separated etcd client URLs (`server`: default = start a local etcd)' },
    { name: 'bind-address', help: 'listen address', default: '127.0.0.1' },
    { name: 'secure-port', help: 'HTTPS port', default: '6443' },
    { name: 'advertise-address', help: 'address put in the kubernetes endpoints and the kubeconfig' },
    { name: 'service-cluster-ip-range', help: 'ClusterIP range', default: '10.96.0.0/12' },
    { name: 'v', help: 'log level (debug, info, warn)', default: 'info' },
];
export function parseFlags(argv, flags) {
    const out = {};
    for (const f of flags)
        if (f.default !== undefined)
            out[f.name] = f.default;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '-h' || a === '--help') {
            out.help = 'true';
            continue;
        }
        const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
        if (!m)
            throw new Error(`unexpected argument ${JSON.stringify(a)}`);
        const name = m[1];
        if (!flags.some((f) => f.name === name))
            throw new Error(`unknown flag --${name}`);
        const value = m[2] ?? argv[++i];
        if (value === undefined)
            throw new Error(`flag --${name} needs a value`);
        out[name] = value;
    }
    return out;
}
function usage(cmd, flags) {
    return `usage: netkube ${cmd} [flags]\n\n${flags.map((f) => `  --${f.name.padEnd(28)} ${f.help}${f.default ? ` (default ${f.default})` : ''}`).join('\n')}\n`;
}
function apiOptions(f, etcdEndpoints) {
    const o = {
        etcdEndpoints,
        stateDir: f['state-dir'],
        host: f['bind-address'],
        port: Number(f['secure-port']),
        serviceCIDR: f['service-cluster-ip-range'],
        logLevel: f.v,
    };
    if (f['advertise-address'])
        o.advertiseAddress = f['advertise-address'];
    return o;
}
function waitForSignal() {
    return new Promise((resolve) => {
        const on = (sig) => () => resolve(sig);
        process.once('SIGINT', on('SIGINT'));
        process.once('SIGTERM', on('SIGTERM'));
    });
}
function announce(api) {
    process.stdout.write(`netkube apiserver at ${api.url}\nkubeconfig: ${api.kubeconfigPath}\n`);
}
export async function main(argv) {
    return runApiserver(argv);
}
export async function runApiserver(argv) {
    const f = parseFlags(argv, COMMON_FLAGS);
    if (f.help) {
        process.stdout.write(usage('apiserver', COMMON_FLAGS));
        return 0;
    }
    if (!f['etcd-servers'])
        throw new Error('--etcd-servers is required (or use `netkube server`, which starts its own etcd)');
    const api = await startApiServer(apiOptions(f, f['etcd-servers'].split(',')));
    announce(api);
    const sig = await waitForSignal();
    log.info({ sig }, 'shutting down');
    await api.close();
    return 0;
}
/** `netkube server`: local etcd (restarted if it dies) + apiserver. */
export async function runServer(argv) {
    const f = parseFlags(argv, COMMON_FLAGS);
    if (f.help) {
        process.stdout.write(usage('server', COMMON_FLAGS));
        return 0;
    }
    let etcd;
    let stopping = false;
    let endpoints;
    if (f['etcd-servers'])
        endpoints = f['etcd-servers'].split(',');
    else {
        const dataDir = join(f['state-dir'], 'etcd');
        etcd = await startEtcd({ dataDir, autoCompactionRevisions: 10000 });
        endpoints = [etcd.endpoint];
        const port = Number(new URL(etcd.endpoint).port);
        const supervise = (p) => {
            p.child.once('exit', (code, signal) => {
                if (stopping)
                    return;
                log.error({ code, signal }, 'etcd exited; restarting');
                setTimeout(() => {
                    startEtcd({ dataDir, clientPort: port, autoCompactionRevisions: 10000 })
                        .then((np) => {
                        etcd = np;
                        supervise(np);
                    })
                        .catch((err) => log.error({ err: err.message }, 'etcd restart failed'));
                }, 1000);
            });
        };
        supervise(etcd);
    }
    let api;
    try {
        api = await startApiServer(apiOptions(f, endpoints));
    }
    catch (err) {
        stopping = true;
        await etcd?.stop();
        throw err;
    }
    announce(api);
    const sig = await waitForSignal();
    log.info({ sig }, 'shutting down');
    stopping = true;
    await api.close();
    await etcd?.stop();
    return 0;
}
