export function describeRoute(r) {
    return [r.dst, r.via && `via ${r.via}`, r.dev && `dev ${r.dev}`, r.onlink && 'onlink', r.table && r.table !== 254 && `table ${r.table}`]
        .filter(Boolean)
        .join(' ');
}
export function macToString(b) {
    if (!b || b.length !== 6)
        return undefined;
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
export function macToBuffer(mac) {
    const parts = mac.split(':');
    if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p)))
        throw new Error(`invalid MAC address "${mac}"`);
    return Buffer.from(parts.map((p) => parseInt(p, 16)));
}
