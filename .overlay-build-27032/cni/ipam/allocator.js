// host-local's allocation policy, pure (no files, no locks): one address per range set,
// round-robin starting after the last reserved address, skipping each range's gateway;
// an attachment that already holds an address in the set gets it back (so a retried ADD
// after a crash is idempotent).
import { bigIntToIp, cidrContains, familyOf, ipToBigInt, parseCidr } from '../../src/net/ip.js';
import { CniCode, CniError } from '../errors.js';
function rangeOf(set, ip) {
    const n = ipToBigInt(ip);
    return set.find((r) => familyOf(r.rangeStart) === familyOf(ip) && n >= ipToBigInt(r.rangeStart) && n <= ipToBigInt(r.rangeEnd));
}
/** Every candidate address of a range set in order, starting after `after` and wrapping once. */
export function* candidates(set, after) {
    const spans = set.map((r) => ({ r, lo: ipToBigInt(r.rangeStart), hi: ipToBigInt(r.rangeEnd), fam: familyOf(r.rangeStart) }));
    let startSpan = 0;
    let startAt = spans[0].lo;
    const afterRange = after ? rangeOf(set, after) : undefined;
    if (after && afterRange) {
        startSpan = set.indexOf(afterRange);
        startAt = ipToBigInt(after) + 1n;
    }
    const total = spans.reduce((a, s) => a + (s.hi - s.lo + 1n), 0n);
    let i = startSpan;
    let n = startAt;
    for (let seen = 0n; seen < total; seen++) {
        let s = spans[i];
        if (n > s.hi) {
            i = (i + 1) % spans.length;
            s = spans[i];
            n = s.lo;
        }
        const ip = bigIntToIp(n, s.fam);
        if (ip !== s.r.gateway)
            yield { ip, range: s.r };
        n++;
    }
}
export function findExisting(list, set, containerID, ifname) {
    for (const a of list) {
        if (a.containerID !== containerID || a.ifname !== ifname)
            continue;
        const range = rangeOf(set, a.ip) ?? set.find((r) => cidrContains(parseCidr(r.subnet), a.ip));
        if (range)
            return { ip: a.ip, range };
    }
    return undefined;
}
export function allocate(store, sets, containerID, ifname) {
    const existing = store.list();
    const out = [];
    const taken = [];
    sets.forEach((set, idx) => {
        const have = findExisting(existing, set, containerID, ifname);
        if (have) {
            out.push(have);
            return;
        }
        for (const c of candidates(set, store.lastReserved(idx))) {
            if (store.reserve(c.ip, containerID, ifname, idx)) {
                out.push(c);
                taken.push(c.ip);
                return;
            }
        }
        // Give back what this call took in earlier sets: a failed ADD holds nothing.
        for (const ip of taken)
            store.release(ip);
        throw new CniError(CniCode.IPAM_EXHAUSTED, `no IP addresses available in range set ${set.map((r) => `${r.rangeStart}-${r.rangeEnd}`).join(', ')}`);
    });
    return out;
}
/** Release every address held by the attachment; returns them. */
export function releaseAttachment(store, containerID, ifname) {
    const mine = store.list().filter((a) => a.containerID === containerID && a.ifname === ifname);
    for (const a of mine)
        store.release(a.ip);
    return mine.map((a) => a.ip);
}
/** GC: release every allocation whose attachment is not in `valid`. */
export function releaseStale(store, valid) {
    const keep = new Set(valid.map((v) => `${v.containerID}\u0000${v.ifname}`));
    const stale = store.list().filter((a) => !keep.has(`${a.containerID}\u0000${a.ifname}`));
    for (const a of stale)
        store.release(a.ip);
    return stale;
}
