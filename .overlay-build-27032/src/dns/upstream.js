// Forwarding of names outside the cluster to the node's resolvers, like CoreDNS's
// `forward . /etc/resolv.conf`: the client's query goes out unchanged except for a fresh
// random ID (RFC 5452: the full 16-bit space, so answers cannot be guessed), one
// upstream after another until one answers within the timeout; if none does the
// caller answers SERVFAIL. Answers are matched by ID *and* question.
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, isIPv6 } from 'node:net';
import { HEADER_LEN, skipName } from './wire.js';
/** `nameserver` lines of a resolv.conf (an unreadable file means no upstreams). */
export function readResolvConf(path) {
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch {
        return [];
    }
    const out = [];
    for (const line of text.split('\n')) {
        const m = /^\s*nameserver\s+(\S+)/.exec(line);
        if (m)
            out.push({ host: m[1].replace(/%.*$/, ''), port: 53 });
    }
    return out;
}
/** `1.2.3.4`, `1.2.3.4:5353`, `[fd00::1]:53`, `fd00::1`. */
export function parseUpstream(s) {
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    if (v6)
        return { host: v6[1], port: v6[2] ? Number(v6[2]) : 53 };
    if (isIPv6(s))
        return { host: s, port: 53 };
    const [host, port] = s.split(':');
    return { host: host, port: port ? Number(port) : 53 };
}
export class UpstreamError extends Error {
}
export class Forwarder {
    upstreams;
    timeoutMs;
    pending = new Map();
    sock4;
    sock6;
    constructor(upstreams, timeoutMs) {
        this.upstreams = upstreams;
        this.timeoutMs = timeoutMs;
    }
    socket(v6) {
        const existing = v6 ? this.sock6 : this.sock4;
        if (existing)
            return existing;
        const s = createSocket(v6 ? 'udp6' : 'udp4');
        s.on('message', (msg) => this.onMessage(msg));
        s.on('error', () => { });
        s.unref();
        if (v6)
            this.sock6 = s;
        else
            this.sock4 = s;
        return s;
    }
    onMessage(msg) {
        if (msg.length < HEADER_LEN)
            return;
        const p = this.pending.get(msg.readUInt16BE(0));
        if (!p)
            return;
        const qEnd = questionEnd(msg);
        if (qEnd < 0 || qEnd - HEADER_LEN !== p.question.length)
            return;
        // Compare case-insensitively: some servers lower-case the echoed name.
        if (msg.toString('latin1', HEADER_LEN, qEnd).toLowerCase() !== p.question.toString('latin1').toLowerCase())
            return;
        this.pending.delete(msg.readUInt16BE(0));
        clearTimeout(p.timer);
        p.resolve(msg);
    }
    freeId() {
        for (;;) {
            const id = randomInt(0x10000);
            if (!this.pending.has(id))
                return id;
        }
    }
    viaUdp(query, up) {
        return new Promise((resolve) => {
            const id = this.freeId();
            const out = Buffer.from(query);
            out.writeUInt16BE(id, 0);
            const qEnd = questionEnd(out);
            const timer = setTimeout(() => {
                this.pending.delete(id);
                resolve(undefined);
            }, this.timeoutMs);
            this.pending.set(id, { question: out.subarray(HEADER_LEN, qEnd), resolve, timer });
            this.socket(isIPv6(up.host)).send(out, up.port, up.host, (err) => {
                if (err) {
                    clearTimeout(timer);
                    this.pending.delete(id);
                    resolve(undefined);
                }
            });
        });
    }
    viaTcp(query, up) {
        return new Promise((resolve) => {
            const out = Buffer.allocUnsafe(query.length + 2);
            out.writeUInt16BE(query.length, 0);
            query.copy(out, 2);
            const id = randomInt(0x10000);
            out.writeUInt16BE(id, 2);
            const sock = connect({ host: up.host, port: up.port });
            let got = Buffer.alloc(0);
            const finish = (b) => {
                clearTimeout(timer);
                sock.destroy();
                resolve(b);
            };
            const timer = setTimeout(() => finish(undefined), this.timeoutMs);
            sock.on('error', () => finish(undefined));
            sock.on('close', () => finish(undefined));
            sock.on('connect', () => sock.write(out));
            sock.on('data', (d) => {
                got = Buffer.concat([got, d]);
                if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
                    const msg = got.subarray(2, 2 + got.readUInt16BE(0));
                    finish(msg.length >= HEADER_LEN && msg.readUInt16BE(0) === id ? Buffer.from(msg) : undefined);
                }
            });
        });
    }
    /** The upstream's answer to `query`, with the query's own ID restored. */
    async query(query, tcp) {
        for (const up of this.upstreams) {
            const resp = tcp ? await this.viaTcp(query, up) : await this.viaUdp(query, up);
            if (resp) {
                resp.writeUInt16BE(query.readUInt16BE(0), 0);
                return resp;
            }
        }
        throw new UpstreamError(this.upstreams.length ? 'no upstream answered in time' : 'no upstream resolvers configured');
    }
    close() {
        for (const p of this.pending.values())
            clearTimeout(p.timer);
        this.pending.clear();
        this.sock4?.close();
        this.sock6?.close();
        this.sock4 = this.sock6 = undefined;
    }
}
function questionEnd(msg) {
    if (msg.length < HEADER_LEN || msg.readUInt16BE(4) !== 1)
        return -1;
    const e = skipName(msg, HEADER_LEN);
    return e < 0 || e + 4 > msg.length ? -1 : e + 4;
}
