// Pure address helpers (no kernel): parse/format addresses and CIDRs, to and from the byte
// buffers netlink wants, and integer arithmetic for IPv4/IPv6 (used by IPAM).
import ipaddr from 'ipaddr.js';
export function familyOf(ip) {
    return ipaddr.parse(ip).kind() === 'ipv6' ? 6 : 4;
}
export function isIp(ip) {
    return ipaddr.isValid(ip) && (ip.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(ip));
}
export function parseCidr(text) {
    const slash = text.indexOf('/');
    if (slash < 0)
        throw new Error(`invalid CIDR "${text}": missing /prefix`);
    const ip = text.slice(0, slash);
    const prefix = Number(text.slice(slash + 1));
    if (!isIp(ip))
        throw new Error(`invalid CIDR "${text}": bad address`);
    const family = familyOf(ip);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
        throw new Error(`invalid CIDR "${text}": bad prefix`);
    }
    return { ip: normalizeIp(ip), prefix, family };
}
export function formatCidr(c) {
    return `${c.ip}/${c.prefix}`;
}
export function normalizeIp(ip) {
    return ipaddr.parse(ip).toString();
}
export function ipToBuffer(ip) {
    return Buffer.from(ipaddr.parse(ip).toByteArray());
}
export function bufferToIp(b) {
    return ipaddr.fromByteArray(Array.from(b)).toString();
}
export function ipToBigInt(ip) {
    let n = 0n;
    for (const byte of ipaddr.parse(ip).toByteArray())
        n = (n << 8n) | BigInt(byte);
    return n;
}
export function bigIntToIp(n, family) {
    const len = family === 4 ? 4 : 16;
    const bytes = new Array(len);
    for (let i = len - 1; i >= 0; i--) {
        bytes[i] = Number(n & 0xffn);
        n >>= 8n;
    }
    return ipaddr.fromByteArray(bytes).toString();
}
/** The network address of a CIDR (`10.244.1.5/24` → `10.244.1.0`). */
export function networkOf(c) {
    const bits = c.family === 4 ? 32 : 128;
    const mask = ((1n << BigInt(c.prefix)) - 1n) << BigInt(bits - c.prefix);
    return bigIntToIp(ipToBigInt(c.ip) & mask, c.family);
}
export function broadcastOf(c) {
    const bits = c.family === 4 ? 32 : 128;
    const host = (1n << BigInt(bits - c.prefix)) - 1n;
    return bigIntToIp(ipToBigInt(networkOf(c)) | host, c.family);
}
export function cidrContains(c, ip) {
    if (familyOf(ip) !== c.family)
        return false;
    return networkOf({ ...c, ip }) === networkOf(c);
}
/** Canonical network form: `10.244.1.5/24` → `10.244.1.0/24`. */
export function canonicalCidr(text) {
    const c = parseCidr(text);
    return `${networkOf(c)}/${c.prefix}`;
}
