import { invalid as fieldInvalid } from '../api/field-errors.js';
export const IP_PREFIX = '/registry/ranges/serviceips/';
export const PORT_PREFIX = '/registry/ranges/servicenodeports/';
export function ipToInt(ip) {
    const p = ip.split('.');
    if (p.length !== 4)
        return NaN;
    let n = 0;
    for (const s of p) {
        if (!/^\d{1,3}$/.test(s))
            return NaN;
        const v = Number(s);
        if (v > 255)
            return NaN;
        n = n * 256 + v;
    }
    return n;
}
export function intToIp(n) {
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
export function parseCidr(text) {
    const [ip, bits] = text.split('/');
    const b = Number(bits);
    const n = ipToInt(ip ?? '');
    if (Number.isNaN(n) || !(b >= 8 && b <= 30))
        throw new Error(`invalid service CIDR ${text}`);
    const size = 2 ** (32 - b);
    return { base: n - (n % size), size, text };
}
/** The n-th address of the range (1 = the `kubernetes` service, 10 = cluster DNS). */
export function nthIP(c, n) {
    return intToIp(c.base + n);
}
export class AllocationError extends Error {
    errs;
    constructor(errs) {
        super(errs.map((e) => e.message).join('; '));
        this.errs = errs;
    }
}
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;
function needsClusterIP(svc) {
    return svc.spec?.type !== 'ExternalName' && svc.spec?.clusterIP !== 'None';
}
function needsNodePorts(svc) {
    return svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer';
}
/** The allocation keys a stored Service owns. */
export function allocationKeys(svc) {
    const keys = [];
    const ip = svc.spec?.clusterIP;
    if (ip && ip !== 'None' && svc.spec?.type !== 'ExternalName')
        keys.push(IP_PREFIX + ip);
    if (needsNodePorts(svc))
        for (const p of svc.spec.ports ?? [])
            if (p?.nodePort)
                keys.push(PORT_PREFIX + p.nodePort);
    return keys;
}
export class ServiceAllocator {
    store;
    cidr;
    constructor(store, cidrText) {
        this.store = store;
        this.cidr = parseCidr(cidrText);
    }
    inRange(ip) {
        const n = ipToInt(ip);
        return !Number.isNaN(n) && n > this.cidr.base && n < this.cidr.base + this.cidr.size - 1;
    }
    async taken(key) {
        return (await this.store.keys(key)).some((k) => k === key);
    }
    /**
     * Fill in the Service's clusterIP / nodePorts (requested values are checked, missing ones
     * picked at random) and return the keys the create/update transaction must claim.
     * `old` is the stored Service on update. Throws AllocationError (→ 422) for a requested
     * value that is taken or out of range.
     */
    async allocate(svc, old) {
        const create = {};
        const del = [];
        const owner = JSON.stringify({ namespace: svc.metadata.namespace, name: svc.metadata.name });
        if (!svc.spec || typeof svc.spec !== 'object')
            svc.spec = {};
        const spec = svc.spec;
        // Validation rejects malformed ports; never trip over one here regardless.
        if (spec.ports !== undefined && !Array.isArray(spec.ports))
            throw new AllocationError([fieldInvalid('spec.ports', spec.ports, 'must be a list')]);
        if (spec.ports?.some((p) => p === null || typeof p !== 'object'))
            throw new AllocationError([fieldInvalid('spec.ports', null, 'must be a list of objects')]);
        const errs = [];
        const oldIP = old && needsClusterIP(old) ? old.spec.clusterIP : undefined;
        if (needsClusterIP(svc)) {
            const want = spec.clusterIP || spec.clusterIPs?.[0] || '';
            if (oldIP && (!want || want === oldIP)) {
                spec.clusterIP = oldIP;
            }
            else if (want) {
                if (!this.inRange(want)) {
                    errs.push(fieldInvalid('spec.clusterIPs', [want], `failed to allocate IP ${want}: provided IP (${want}) is not in the valid range. The range of valid IPs is ${this.cidr.text}`));
                }
                else if (await this.taken(IP_PREFIX + want)) {
                    errs.push(fieldInvalid('spec.clusterIPs', [want], `failed to allocate IP ${want}: provided IP is already allocated`));
                }
                else {
                    create[IP_PREFIX + want] = owner;
                    spec.clusterIP = want;
                }
            }
            else {
                const ip = await this.pickIP();
                create[IP_PREFIX + ip] = owner;
                spec.clusterIP = ip;
            }
            if (spec.clusterIP) {
                spec.clusterIPs = [spec.clusterIP];
                spec.ipFamilies = spec.ipFamilies ?? ['IPv4'];
                spec.ipFamilyPolicy = spec.ipFamilyPolicy ?? 'SingleStack';
            }
        }
        else if (spec.type === 'ExternalName') {
            delete spec.clusterIP;
            delete spec.clusterIPs;
        }
        else {
            spec.clusterIPs = ['None'];
        }
        if (oldIP && spec.clusterIP !== oldIP)
            del.push(IP_PREFIX + oldIP);
        const oldPorts = new Set();
        if (old && needsNodePorts(old))
            for (const p of old.spec.ports ?? [])
                if (p?.nodePort)
                    oldPorts.add(p.nodePort);
        const keep = new Set();
        if (needsNodePorts(svc)) {
            const ports = spec.ports ?? [];
            // Carry over the node port of a port that existed before and asked for none.
            if (old) {
                for (const p of ports) {
                    if (p.nodePort)
                        continue;
                    const prev = old.spec.ports?.find((o) => o?.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
                    if (prev?.nodePort && needsNodePorts(old))
                        p.nodePort = prev.nodePort;
                }
            }
            const claimed = new Set();
            for (const [i, p] of ports.entries()) {
                if (!p.nodePort)
                    continue;
                if (oldPorts.has(p.nodePort)) {
                    keep.add(p.nodePort);
                    continue;
                }
                if (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) {
                    errs.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`));
                }
                else if (claimed.has(p.nodePort) || (await this.taken(PORT_PREFIX + p.nodePort))) {
                    errs.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, 'provided port is already allocated'));
                }
                else {
                    claimed.add(p.nodePort);
                    create[PORT_PREFIX + p.nodePort] = owner;
                }
            }
            for (const p of ports) {
                if (p.nodePort)
                    continue;
                const port = await this.pickPort(claimed);
                claimed.add(port);
                create[PORT_PREFIX + port] = owner;
                p.nodePort = port;
            }
        }
        else {
            for (const p of spec.ports ?? [])
                delete p.nodePort;
        }
        for (const p of oldPorts)
            if (!keep.has(p))
                del.push(PORT_PREFIX + p);
        if (errs.length)
            throw new AllocationError(errs);
        return { create, delete: del };
    }
    async pickIP() {
        const used = new Set((await this.store.keys(IP_PREFIX)).map((k) => k.slice(IP_PREFIX.length)));
        const first = this.cidr.base + 1;
        const last = this.cidr.base + this.cidr.size - 2;
        const reserved = new Set([nthIP(this.cidr, 1), nthIP(this.cidr, 10)]);
        const span = last - first + 1;
        // Random probing keeps concurrent creates from all racing for the same lowest free address.
        for (let i = 0; i < 64; i++) {
            const ip = intToIp(first + Math.floor(Math.random() * span));
            if (!used.has(ip) && !reserved.has(ip))
                return ip;
        }
        for (let n = first; n <= last; n++) {
            const ip = intToIp(n);
            if (!used.has(ip) && !reserved.has(ip))
                return ip;
        }
        throw new AllocationError([fieldInvalid('spec.clusterIPs', [], `failed to allocate a serviceIP: range is full`)]);
    }
    async pickPort(claimed) {
        const used = new Set((await this.store.keys(PORT_PREFIX)).map((k) => Number(k.slice(PORT_PREFIX.length))));
        const span = NODE_PORT_MAX - NODE_PORT_MIN + 1;
        for (let i = 0; i < 64; i++) {
            const p = NODE_PORT_MIN + Math.floor(Math.random() * span);
            if (!used.has(p) && !claimed.has(p))
                return p;
        }
        for (let p = NODE_PORT_MIN; p <= NODE_PORT_MAX; p++)
            if (!used.has(p) && !claimed.has(p))
                return p;
        throw new AllocationError([fieldInvalid('spec.ports', [], 'failed to allocate a nodePort: range is full')]);
    }
}
