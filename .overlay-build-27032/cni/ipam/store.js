// Where allocations live. The allocator talks only to this interface (tests use MemoryStore);
// FileStore is host-local's on-disk layout: <dataDir>/<network>/<ip> holding
// "<containerID>\r\n<ifname>", plus last_reserved_ip.<rangeSet>. Reserving is an atomic
// exclusive create (link(2) of a fully written temp file), so a crash never leaves a
// half-written reservation.
import { linkSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIp } from '../../src/net/ip.js';
export class MemoryStore {
    ips = new Map();
    last = new Map();
    reserve(ip, containerID, ifname, rangeSet) {
        if (this.ips.has(ip))
            return false;
        this.ips.set(ip, { containerID, ifname });
        this.last.set(rangeSet, ip);
        return true;
    }
    lastReserved(rangeSet) {
        return this.last.get(rangeSet);
    }
    list() {
        return [...this.ips].map(([ip, o]) => ({ ip, ...o }));
    }
    release(ip) {
        this.ips.delete(ip);
    }
}
/** host-local keeps IPv6 file names with ':' as-is; so do we. */
export class FileStore {
    dir;
    constructor(dataDir, network) {
        this.dir = join(dataDir, network);
        mkdirSync(this.dir, { recursive: true });
    }
    get lockPath() {
        return join(this.dir, 'lock');
    }
    reserve(ip, containerID, ifname, rangeSet) {
        const tmp = join(this.dir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
        writeFileSync(tmp, `${containerID}\r\n${ifname}`);
        try {
            linkSync(tmp, join(this.dir, ip));
        }
        catch (err) {
            if (err.code === 'EEXIST')
                return false;
            throw err;
        }
        finally {
            unlinkSync(tmp);
        }
        writeFileSync(join(this.dir, `last_reserved_ip.${rangeSet}`), ip);
        return true;
    }
    lastReserved(rangeSet) {
        try {
            const ip = readFileSync(join(this.dir, `last_reserved_ip.${rangeSet}`), 'utf8').trim();
            return isIp(ip) ? ip : undefined;
        }
        catch {
            return undefined;
        }
    }
    list() {
        const out = [];
        for (const name of readdirSync(this.dir)) {
            if (!isIp(name))
                continue;
            let text = '';
            try {
                text = readFileSync(join(this.dir, name), 'utf8');
            }
            catch {
                continue;
            }
            const [containerID = '', ifname = ''] = text.split(/\r?\n/);
            out.push({ ip: name, containerID: containerID.trim(), ifname: ifname.trim() });
        }
        return out;
    }
    release(ip) {
        try {
            unlinkSync(join(this.dir, ip));
        }
        catch (err) {
            if (err.code !== 'ENOENT')
                throw err;
        }
    }
    /** Temp files of a process killed between write and link. */
    sweepTemp() {
        for (const name of readdirSync(this.dir)) {
            if (!name.startsWith('.tmp-'))
                continue;
            const pid = Number(name.split('-')[1]);
            try {
                process.kill(pid, 0);
            }
            catch {
                try {
                    unlinkSync(join(this.dir, name));
                }
                catch {
                    // gone
                }
            }
        }
    }
}
