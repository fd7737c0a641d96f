// The lab's daemons: started detached inside a node's network namespace (nsenter --net, so
// they share the host's mount namespace and the netns they create stay visible to `ip netns`),
// recorded by PID + kernel start time, and stopped only by that record — or, for `lab down`
// after a crash, by being inside one of the lab's own namespaces.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { netnsPath } from '../net/netns.js';
export function procStartTicks(pid) {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    }
    catch {
        return undefined;
    }
}
export function isAlive(rec) {
    const ticks = procStartTicks(rec.pid);
    if (ticks !== rec.startTicks)
        return false;
    const state = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    return state.slice(state.lastIndexOf(')') + 2)[0] !== 'Z';
}
export function spawnDaemon(role, node, netns, argv, log, env) {
    const fd = openSync(log, 'a');
    const [file, args] = netns ? ['nsenter', [`--net=${netnsPath(netns)}`, '--', ...argv]] : [argv[0], argv.slice(1)];
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    closeSync(fd);
    child.unref();
    const pid = child.pid;
    return { role, node, pid, startTicks: procStartTicks(pid) ?? '', log };
}
/** SIGTERM, wait up to graceMs, then SIGKILL. Only if the PID is still the process we started. */
export async function stopDaemon(rec, graceMs = 5000) {
    if (!isAlive(rec))
        return;
    try {
        process.kill(rec.pid, 'SIGTERM');
    }
    catch {
        return;
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && isAlive(rec))
        await new Promise((r) => setTimeout(r, 50));
    if (isAlive(rec)) {
        try {
            process.kill(rec.pid, 'SIGKILL');
        }
        catch {
            /* already gone */
        }
    }
}
/** PIDs of processes whose network namespace is one of `netnsNames` (by inode). */
export function processesInNamespaces(netnsNames) {
    const inodes = new Set();
    for (const n of netnsNames) {
        try {
            inodes.add(statSync(netnsPath(n)).ino);
        }
        catch {
            /* gone */
        }
    }
    if (inodes.size === 0)
        return [];
    const pids = [];
    for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry))
            continue;
        try {
            if (inodes.has(statSync(`/proc/${entry}/ns/net`).ino))
                pids.push(Number(entry));
        }
        catch {
            /* exited or not ours to read */
        }
    }
    return pids;
}
