// Container runtime contract and the process runtime: a container is a process group in
// its pod's network namespace. Records on disk (one JSON file per container) let a restarted
// kubelet adopt processes it started before, identified by PID + kernel start time.
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../util/log.js';
import { spawnInNetns } from '../net/spawn.js';
const log = logger('runtime');
/** The kernel's start time of a process (field 22 of /proc/PID/stat), to tell PID reuse apart. */
function procStartTicks(pid) {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    }
    catch {
        return undefined;
    }
}
function alive(rec) {
    const ticks = procStartTicks(rec.pid);
    if (ticks === undefined || ticks !== rec.startTicks)
        return false;
    try {
        // A zombie still has /proc/PID/stat; state 'Z' means it has exited.
        const stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    }
    catch {
        return false;
    }
}
export class ProcessRuntime {
    stateDir;
    recs = new Map();
    waiters = new Map();
    pollTimer;
    constructor(stateDir) {
        this.stateDir = stateDir;
        mkdirSync(stateDir, { recursive: true });
        for (const f of readdirSync(stateDir).filter((f) => f.endsWith('.json'))) {
            try {
                const rec = JSON.parse(readFileSync(join(stateDir, f), 'utf8'));
                if (rec.running && !alive(rec))
                    Object.assign(rec, { running: false, lost: true, exitCode: 137, finishedAt: new Date().toISOString() });
                this.recs.set(rec.id, rec);
                if (rec.running)
                    log.info({ id: rec.id, pid: rec.pid }, 'adopted container process');
            }
            catch (err) {
                log.warn({ file: f, err: err.message }, 'unreadable container record');
            }
        }
        // Adopted processes are not our children: poll them for exit.
        this.pollTimer = setInterval(() => this.pollAdopted(), 1000);
        this.pollTimer.unref();
    }
    save(rec) {
        const p = join(this.stateDir, `${rec.id}.json`);
        writeFileSync(`${p}.tmp`, JSON.stringify(rec));
        renameSync(`${p}.tmp`, p);
    }
    pollAdopted() {
        for (const rec of this.recs.values()) {
            if (rec.running && !this.waiters.has(rec.id) && !alive(rec)) {
                Object.assign(rec, { running: false, lost: true, exitCode: 137, finishedAt: new Date().toISOString() });
                this.save(rec);
            }
        }
    }
    async start(cfg) {
        const child = spawnInNetns(cfg.netns, cfg.argv, {
            env: cfg.env,
            cwd: cfg.workingDir,
            logPath: cfg.logPath,
            binds: cfg.binds,
        });
        const pid = await new Promise((resolve, reject) => {
            child.once('spawn', () => resolve(child.pid));
            child.once('error', reject);
        });
        const rec = {
            id: cfg.id,
            podUid: cfg.podUid,
            name: cfg.name,
            pid,
            startedAt: new Date().toISOString(),
            running: true,
            startTicks: procStartTicks(pid) ?? '',
        };
        this.recs.set(rec.id, rec);
        this.save(rec);
        this.waiters.set(rec.id, new Promise((resolve) => {
            child.once('exit', (code, signal) => {
                rec.running = false;
                rec.exitCode = code ?? 128 + (signal ? signalNumber(signal) : 0);
                if (signal)
                    rec.signal = signal;
                rec.finishedAt = new Date().toISOString();
                this.save(rec);
                this.waiters.delete(rec.id);
                resolve();
            });
        }));
        return { ...rec };
    }
    async stop(id, graceMs) {
        const rec = this.recs.get(id);
        if (!rec || !rec.running)
            return;
        const kill = (sig) => {
            try {
                process.kill(-rec.pid, sig); // the whole process group
            }
            catch {
                try {
                    process.kill(rec.pid, sig);
                }
                catch {
                    /* gone */
                }
            }
        };
        kill('SIGTERM');
        const deadline = Date.now() + graceMs;
        while (rec.running && alive(rec) && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 50));
        if (rec.running && alive(rec))
            kill('SIGKILL');
        const waiter = this.waiters.get(id);
        if (waiter)
            await waiter;
        else if (rec.running) {
            // Adopted (not our child): its exit status cannot be read, only its absence.
            while (alive(rec))
                await new Promise((r) => setTimeout(r, 20));
            Object.assign(rec, { running: false, lost: true, exitCode: 137, finishedAt: new Date().toISOString() });
            this.save(rec);
        }
    }
    state(id) {
        const rec = this.recs.get(id);
        return rec ? { ...rec } : undefined;
    }
    list() {
        return [...this.recs.values()].map((r) => ({ ...r }));
    }
    remove(id) {
        this.recs.delete(id);
        rmSync(join(this.stateDir, `${id}.json`), { force: true });
    }
    close() {
        clearInterval(this.pollTimer);
    }
}
function signalNumber(sig) {
    const table = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };
    return table[sig] ?? 0;
}
