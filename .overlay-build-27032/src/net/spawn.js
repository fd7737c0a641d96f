// Starting long-running processes inside a named network namespace. `ip netns exec`
// enters the namespace, gives the process a private mount namespace and bind-mounts
// /etc/netns/NAME/{resolv.conf,hosts} over /etc — how a pod gets its DNS config —
// then execs the program, so the PID we get is the program's own.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
const shq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
export function spawnInNetns(netns, argv, opts = {}) {
    let cmd = ['ip', 'netns', 'exec', netns, ...argv];
    if (opts.binds && opts.binds.length > 0) {
        const mounts = opts.binds.map((b) => `mkdir -p ${shq(b.target)} && mount --bind ${shq(b.source)} ${shq(b.target)}${b.readOnly ? ` && mount -o remount,bind,ro ${shq(b.target)}` : ''}`);
        cmd = ['ip', 'netns', 'exec', netns, 'sh', '-c', `${mounts.join(' && ')} && exec "$@"`, 'sh', ...argv];
    }
    const fd = opts.logPath ? openSync(opts.logPath, 'a') : 'ignore';
    const child = spawn(cmd[0], cmd.slice(1), {
        detached: true, // own process group: stop signals reach the whole container
        stdio: ['ignore', fd, fd],
        env: opts.env ?? process.env,
        cwd: opts.cwd,
    });
    if (typeof fd === 'number')
        closeSync(fd);
    return child;
}
