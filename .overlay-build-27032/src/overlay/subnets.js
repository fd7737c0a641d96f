import { containsCidr, formatCidr, formatIp, sizeOf } from './ipv4.js';
export class NoFreeSubnetError extends Error {
    name = 'NoFreeSubnetError';
}
export function isValidSubnet(cfg, s) {
    return s.prefix === cfg.subnetLen && containsCidr(cfg.network, s) && s.ip >= cfg.subnetMin && s.ip <= cfg.subnetMax;
}
export function freeSubnets(cfg, leases, limit = 100) {
    const taken = new Set(leases.map((l) => l.subnet.ip));
    const out = [];
    const step = sizeOf(cfg.subnetLen);
    for (let ip = cfg.subnetMin; ip <= cfg.subnetMax && out.length < limit; ip += step) {
        if (!taken.has(ip))
            out.push({ ip, prefix: cfg.subnetLen });
    }
    return out;
}
export function chooseSubnet(cfg, leases, publicIP, previous, random = Math.random) {
    const mine = leases.find((l) => l.publicIP === publicIP && isValidSubnet(cfg, l.subnet));
    if (mine)
        return { kind: 'reuse', lease: mine };
    if (previous && isValidSubnet(cfg, previous) && !leases.some((l) => l.subnet.ip === previous.ip)) {
        return { kind: 'new', subnet: previous };
    }
    const free = freeSubnets(cfg, leases);
    if (free.length === 0) {
        const n = (cfg.subnetMax - cfg.subnetMin) / sizeOf(cfg.subnetLen) + 1;
        throw new NoFreeSubnetError(`no free subnet in ${formatCidr(cfg.network)}: all ${n} /${cfg.subnetLen} subnets between ` +
            `${formatIp(cfg.subnetMin)} and ${formatIp(cfg.subnetMax)} are leased`);
    }
    return { kind: 'new', subnet: free[Math.floor(random() * free.length)] };
}
