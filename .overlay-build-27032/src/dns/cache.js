// A cache of whole answers in wire format, with TTLs that count down (the cache
// CoreDNS puts in front of `forward`). Entries are stored with the offsets of their
// TTL fields so a hit is a copy plus a few 32-bit writes, never a parse.
import { ttlOffsets } from './wire.js';
export class TtlCache {
    opts;
    nowMs;
    map = new Map();
    hits = 0;
    misses = 0;
    constructor(opts, nowMs = Date.now) {
        this.opts = opts;
        this.nowMs = nowMs;
    }
    get size() {
        return this.map.size;
    }
    /** Store a response; returns false when it is not cacheable (malformed, TC, or an rcode other than NOERROR/NXDOMAIN). */
    set(key, resp) {
        if (resp.length < 12 || resp[2] & 0x02)
            return false;
        const rcode = resp[3] & 0xf;
        if (rcode !== 0 && rcode !== 3)
            return false;
        const t = ttlOffsets(resp);
        if (!t)
            return false;
        const ttl = Math.min(this.opts.maxTtl, t.offsets.length ? t.minTtl : this.opts.emptyTtl);
        if (ttl <= 0)
            return false;
        if (this.map.size >= this.opts.maxEntries) {
            // Evict the oldest insertion (Map keeps insertion order).
            const first = this.map.keys().next().value;
            if (first !== undefined)
                this.map.delete(first);
        }
        const now = this.nowMs();
        const buf = Buffer.from(resp);
        this.map.delete(key);
        this.map.set(key, { buf, offsets: t.offsets, ttls: t.offsets.map((o) => buf.readUInt32BE(o)), storedAt: now, expiresAt: now + ttl * 1000 });
        return true;
    }
    /** A fresh copy of the cached response with TTLs reduced by its age, or undefined. */
    get(key) {
        const e = this.map.get(key);
        if (!e) {
            this.misses++;
            return undefined;
        }
        const now = this.nowMs();
        if (now >= e.expiresAt) {
            this.map.delete(key);
            this.misses++;
            return undefined;
        }
        this.hits++;
        const age = Math.floor((now - e.storedAt) / 1000);
        const out = Buffer.allocUnsafe(e.buf.length);
        e.buf.copy(out);
        for (let i = 0; i < e.offsets.length; i++)
            out.writeUInt32BE(Math.max(0, e.ttls[i] - age), e.offsets[i]);
        return out;
    }
    clear() {
        this.map.clear();
    }
}
