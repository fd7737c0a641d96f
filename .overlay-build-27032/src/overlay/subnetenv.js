// subnet.env, the file the CNI plugin reads (flannel's format). Written atomically: a reader
// sees either the old or the new file, never half of one (temp file in the same directory,
// fsync, rename).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export function renderSubnetEnv(e) {
    return `FLANNEL_NETWORK=${e.network}\nFLANNEL_SUBNET=${e.subnet}\nFLANNEL_MTU=${e.mtu}\nFLANNEL_IPMASQ=${e.ipMasq}\n`;
}
export function parseSubnetEnv(text) {
    const kv = new Map();
    for (const line of text.split('\n')) {
        const m = /^\s*([A-Z_]+)=(.*)$/.exec(line);
        if (m)
            kv.set(m[1], m[2].trim());
    }
    const out = {};
    if (kv.has('FLANNEL_NETWORK'))
        out.network = kv.get('FLANNEL_NETWORK');
    if (kv.has('FLANNEL_SUBNET'))
        out.subnet = kv.get('FLANNEL_SUBNET');
    if (kv.has('FLANNEL_MTU'))
        out.mtu = Number(kv.get('FLANNEL_MTU'));
    if (kv.has('FLANNEL_IPMASQ'))
        out.ipMasq = kv.get('FLANNEL_IPMASQ') === 'true';
    return out;
}
export function readSubnetEnv(path) {
    try {
        return parseSubnetEnv(readFileSync(path, 'utf8'));
    }
    catch {
        return undefined;
    }
}
export function writeSubnetEnv(path, e) {
    const dir = dirname(path);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
    const fd = openSync(tmp, 'w', 0o644);
    try {
        writeSync(fd, renderSubnetEnv(e));
        fsyncSync(fd);
    }
    finally {
        closeSync(fd);
    }
    renameSync(tmp, path);
}
