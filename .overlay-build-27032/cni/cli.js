// `netkube cni …`: install the plugin + conflist, or serve CNI requests on the agent socket.
import { parseArgs } from 'node:util';
import { install } from './install.js';
import { startCniServer } from './server.js';
const USAGE = `usage:
  netkube cni install --bin-dir D --conf-dir C [--name N] [--bridge cni0] [--subnet CIDR]
        [--subnet-file F] [--data-dir D] [--mtu N] [--ip-masq] [--default-gateway]
        [--hairpin] [--promisc] [--socket @name|PATH] [--cni-version V]
  netkube cni serve [--socket @netkube-cni] [--netns NODE]
`;
export async function main(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'install') {
        const { values: v } = parseArgs({
            args: rest,
            options: {
                'bin-dir': { type: 'string' },
                'conf-dir': { type: 'string' },
                name: { type: 'string' },
                bridge: { type: 'string' },
                subnet: { type: 'string' },
                'subnet-file': { type: 'string' },
                'data-dir': { type: 'string' },
                mtu: { type: 'string' },
                'ip-masq': { type: 'boolean' },
                'default-gateway': { type: 'boolean' },
                hairpin: { type: 'boolean' },
                promisc: { type: 'boolean' },
                socket: { type: 'string' },
                'cni-version': { type: 'string' },
            },
        });
        if (!v['bin-dir'] || !v['conf-dir']) {
            process.stderr.write(USAGE);
            return 2;
        }
        const r = install({
            binDir: v['bin-dir'],
            confDir: v['conf-dir'],
            ...(v.name ? { name: v.name } : {}),
            ...(v.bridge ? { bridge: v.bridge } : {}),
            ...(v.subnet ? { subnet: v.subnet } : {}),
            ...(v['subnet-file'] ? { subnetFile: v['subnet-file'] } : {}),
            ...(v['data-dir'] ? { dataDir: v['data-dir'] } : {}),
            ...(v.mtu ? { mtu: Number(v.mtu) } : {}),
            ...(v['ip-masq'] ? { ipMasq: true } : {}),
            ...(v['default-gateway'] ? { isDefaultGateway: true } : {}),
            ...(v.hairpin ? { hairpinMode: true } : {}),
            ...(v.promisc ? { promiscMode: true } : {}),
            ...(v.socket ? { agentSocket: v.socket } : {}),
            ...(v['cni-version'] ? { cniVersion: v['cni-version'] } : {}),
        });
        process.stdout.write(`installed ${r.plugin}\nwrote ${r.conf}\n`);
        return 0;
    }
    if (sub === 'serve') {
        const { values: v } = parseArgs({ args: rest, options: { socket: { type: 'string' }, netns: { type: 'string' } } });
        const srv = await startCniServer({ ...(v.socket ? { socketPath: v.socket } : {}), ...(v.netns ? { hostNetns: v.netns } : {}) });
        process.stderr.write(`netkube cni: serving on ${srv.address}\n`);
        await new Promise((resolve) => {
            process.once('SIGTERM', resolve);
            process.once('SIGINT', resolve);
        });
        await srv.close();
        return 0;
    }
    process.stderr.write(USAGE);
    return 2;
}
