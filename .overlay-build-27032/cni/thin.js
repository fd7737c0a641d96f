// The JS twin of the C shim (cni/native/shim.c), used when the shim is not built, and the
// shim's fallback target. Kept thin: it imports nothing but node:net/node:fs. If a node agent serves
// CNI on its socket (config `agentSocket`, env NETKUBE_CNI_SOCKET, default `@netkube-cni`), the
// env + stdin are forwarded there and the answer printed; otherwise (no agent, or it went
// away before answering) the full plugin is loaded and runs in this process.
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
function readStdin() {
    try {
        return readFileSync(0, 'utf8');
    }
    catch {
        return '';
    }
}
function socketFor(stdin) {
    if (process.env.NETKUBE_CNI_SOCKET)
        return process.env.NETKUBE_CNI_SOCKET;
    const m = /"agentSocket"\s*:\s*"([^"]*)"/.exec(stdin);
    return m ? m[1] : '@netkube-cni';
}
async function standalone(stdin) {
    const { runStandalone } = await import('./main.js');
    await runStandalone(stdin);
}
const stdin = readStdin();
const path = socketFor(stdin);
if (path === '' || path === 'none') {
    void standalone(stdin);
}
else {
    const parts = ['NKCNI1\n'];
    for (const [k, v] of Object.entries(process.env))
        if (k.startsWith('CNI_') && v !== undefined)
            parts.push(`${k}=${v}\0`);
    parts.push('\0', stdin);
    const sock = connect(path.startsWith('@') ? `\0${path.slice(1)}` : path);
    const chunks = [];
    let done = false;
    sock.on('connect', () => sock.end(parts.join('')));
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => {
        const resp = Buffer.concat(chunks);
        const nl = resp.indexOf(10);
        if (done)
            return;
        done = true;
        // no answer (the agent went away mid-request): run the plugin here (ADD/DEL are idempotent)
        if (nl < 0)
            return void standalone(stdin);
        const exit = Number(resp.subarray(0, nl).toString());
        process.stdout.write(resp.subarray(nl + 1), () => process.exit(exit));
    });
    sock.on('error', () => {
        if (!done)
            void standalone(stdin);
        done = true;
    });
}
