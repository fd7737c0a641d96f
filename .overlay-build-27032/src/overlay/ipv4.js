// IPv4 arithmetic on unsigned 32-bit numbers. Subnet policy is integer maths (flannel does the
// same with its ip.IP4 type); keeping it here keeps config.ts and subnets.ts free of parsing.
export function parseIp(s) {
    const parts = s.trim().split('.');
    if (parts.length !== 4)
        throw new Error(`invalid IPv4 address "${s}"`);
    let n = 0;
    for (const p of parts) {
        if (!/^\d{1,3}$/.test(p) || Number(p) > 255)
            throw new Error(`invalid IPv4 address "${s}"`);
        n = n * 256 + Number(p);
    }
    return n >>> 0;
}
export function formatIp(n) {
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
export function maskOf(prefix) {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
export function sizeOf(prefix) {
    return 2 ** (32 - prefix);
}
/** Parse "a.b.c.d/len"; host bits must be zero unless `loose` (then they are cleared). */
export function parseCidr(s, loose = false) {
    const m = /^([\d.]+)\/(\d{1,2})$/.exec(s.trim());
    if (!m)
        throw new Error(`invalid CIDR "${s}"`);
    const prefix = Number(m[2]);
    if (prefix > 32)
        throw new Error(`invalid CIDR "${s}": prefix > 32`);
    const ip = parseIp(m[1]);
    const net = (ip & maskOf(prefix)) >>> 0;
    if (net !== ip && !loose)
        throw new Error(`invalid CIDR "${s}": host bits set`);
    return { ip: net, prefix };
}
export function formatCidr(c) {
    return `${formatIp(c.ip)}/${c.prefix}`;
}
export function contains(net, ip) {
    return ((ip & maskOf(net.prefix)) >>> 0) === net.ip;
}
export function containsCidr(outer, inner) {
    return inner.prefix >= outer.prefix && contains(outer, inner.ip);
}
export function sameCidr(a, b) {
    return a.ip === b.ip && a.prefix === b.prefix;
}
