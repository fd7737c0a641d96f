/** The alphabet Kubernetes uses for generated suffixes and hashes (no vowels, no look-alikes). */
export const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** FNV-1a 32-bit over a string: stable across processes and versions. */
export function fnv32a(s) {
    let h = 0x811c9dc5;
    const b = Buffer.from(s, 'utf8');
    for (const x of b) {
        h ^= x;
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
}
/** Encode a number with SAFE_ALPHABET (what pod-template-hash values look like). */
export function safeEncode(n) {
    let out = '';
    let x = n >>> 0;
    do {
        out += SAFE_ALPHABET[x % SAFE_ALPHABET.length];
        x = Math.floor(x / SAFE_ALPHABET.length);
    } while (x > 0);
    return out;
}
/** JSON with object keys sorted, so equal objects serialise identically. */
export function canonicalJSON(v) {
    if (v === null || typeof v !== 'object')
        return JSON.stringify(v) ?? 'null';
    if (Array.isArray(v))
        return `[${v.map(canonicalJSON).join(',')}]`;
    const o = v;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`).join(',')}}`;
}
export function creationMs(o) {
    const t = o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : NaN;
    return Number.isNaN(t) ? 0 : t;
}
export function isDeleting(o) {
    return !!o.metadata.deletionTimestamp;
}
export function deepClone(v) {
    return structuredClone(v);
}
