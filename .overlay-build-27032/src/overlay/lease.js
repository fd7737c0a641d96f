// A node's lease as flannel stores it: key <prefix>/subnets/<a.b.c.d>-<len>, value
// {"PublicIP","BackendType","BackendData":{"VNI","VtepMAC"}}. Encoding only, no I/O.
import { formatCidr, formatIp, parseCidr, parseIp } from './ipv4.js';
export function subnetsPrefix(prefix) {
    return `${prefix.replace(/\/+$/, '')}/subnets/`;
}
export function leaseKey(prefix, subnet) {
    return `${subnetsPrefix(prefix)}${formatIp(subnet.ip)}-${subnet.prefix}`;
}
/** The subnet a key names, or undefined for keys that are not leases. */
export function subnetFromKey(prefix, key) {
    const base = subnetsPrefix(prefix);
    if (!key.startsWith(base))
        return undefined;
    const m = /^(\d+\.\d+\.\d+\.\d+)-(\d+)$/.exec(key.slice(base.length));
    if (!m)
        return undefined;
    try {
        return parseCidr(`${m[1]}/${m[2]}`);
    }
    catch {
        return undefined;
    }
}
export function encodeLease(a) {
    const v = { PublicIP: a.publicIP, BackendType: a.backendType };
    if (a.backendType === 'vxlan')
        v.BackendData = { VNI: a.vni, VtepMAC: a.vtepMAC };
    return JSON.stringify(v);
}
/** Decode a lease value; throws with the reason on anything malformed. */
export function decodeLease(subnet, value) {
    const v = JSON.parse(value);
    if (typeof v.PublicIP !== 'string')
        throw new Error(`lease ${formatCidr(subnet)}: no PublicIP`);
    parseIp(v.PublicIP);
    const backendType = v.BackendType === 'host-gw' ? 'host-gw' : v.BackendType === 'vxlan' ? 'vxlan' : undefined;
    if (!backendType)
        throw new Error(`lease ${formatCidr(subnet)}: unknown BackendType ${JSON.stringify(v.BackendType)}`);
    const lease = { subnet, publicIP: v.PublicIP, backendType };
    if (backendType === 'vxlan') {
        const mac = v.BackendData?.VtepMAC;
        if (typeof mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac))
            throw new Error(`lease ${formatCidr(subnet)}: bad VtepMAC ${JSON.stringify(mac)}`);
        lease.vtepMAC = mac.toLowerCase();
        lease.vni = typeof v.BackendData?.VNI === 'number' ? v.BackendData.VNI : 1;
    }
    return lease;
}
