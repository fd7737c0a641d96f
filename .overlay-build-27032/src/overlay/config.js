// The network configuration flannel keeps at <prefix>/config, parsed and completed with the
// defaults flannel computes (pkg/subnet/config.go semantics, our own code):
//   SubnetLen  24, or half the network when the network is /24 or smaller;
//   SubnetMin  the second subnet (the first one's network address would collide with the
//              cluster network's own address, e.g. 10.5.0.0 for 10.5.0.0/16);
//   SubnetMax  the last subnet of the network.
import { contains, formatCidr, formatIp, maskOf, parseCidr, parseIp, sizeOf } from './ipv4.js';
export const DEFAULT_PREFIX = '/coreos.com/network';
export const DEFAULT_VNI = 1;
export const DEFAULT_VXLAN_PORT = 8472;
export class ConfigError extends Error {
    name = 'ConfigError';
}
function num(v, what) {
    if (v === undefined || v === null)
        return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        throw new ConfigError(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
}
function str(v, what) {
    if (v === undefined || v === null || v === '')
        return undefined;
    if (typeof v !== 'string')
        throw new ConfigError(`${what} must be a string, got ${JSON.stringify(v)}`);
    return v;
}
/** Parse flannel's JSON (as stored in etcd) and fill in the defaults. */
export function parseNetworkConfig(json, backendOverride) {
    let raw;
    try {
        raw = JSON.parse(json);
    }
    catch (err) {
        throw new ConfigError(`network config is not JSON: ${err.message}`);
    }
    if (typeof raw !== 'object' || raw === null)
        throw new ConfigError('network config must be a JSON object');
    const netStr = str(raw.Network, 'Network');
    if (!netStr)
        throw new ConfigError('network config has no "Network"');
    let network;
    try {
        network = parseCidr(netStr, true);
    }
    catch (err) {
        throw new ConfigError(`Network: ${err.message}`);
    }
    let subnetLen = num(raw.SubnetLen, 'SubnetLen') ?? 0;
    if (subnetLen === 0)
        subnetLen = network.prefix < 24 ? 24 : network.prefix + 1;
    if (subnetLen < network.prefix)
        throw new ConfigError(`SubnetLen /${subnetLen} is larger than Network ${formatCidr(network)}`);
    if (subnetLen > 30)
        throw new ConfigError(`SubnetLen must be /30 or shorter, got /${subnetLen}`);
    const step = sizeOf(subnetLen);
    const range = (name, v, dflt) => {
        if (v === undefined)
            return dflt;
        let ip;
        try {
            ip = parseIp(v);
        }
        catch (err) {
            throw new ConfigError(`${name}: ${err.message}`);
        }
        if (!contains(network, ip))
            throw new ConfigError(`${name} ${v} is not inside Network ${formatCidr(network)}`);
        if (((ip & maskOf(subnetLen)) >>> 0) !== ip)
            throw new ConfigError(`${name} ${v} is not aligned to SubnetLen /${subnetLen}`);
        return ip;
    };
    const subnetMin = range('SubnetMin', str(raw.SubnetMin, 'SubnetMin'), network.ip + step);
    const subnetMax = range('SubnetMax', str(raw.SubnetMax, 'SubnetMax'), network.ip + sizeOf(network.prefix) - step);
    if (subnetMin > subnetMax)
        throw new ConfigError(`SubnetMin ${formatIp(subnetMin)} is above SubnetMax ${formatIp(subnetMax)}`);
    const b = (raw.Backend ?? {});
    if (typeof b !== 'object' || b === null)
        throw new ConfigError('Backend must be an object');
    const type = (backendOverride ?? str(b.Type, 'Backend.Type') ?? 'vxlan');
    if (type !== 'vxlan' && type !== 'host-gw')
        throw new ConfigError(`Backend.Type "${type}" is not supported (vxlan, host-gw)`);
    const vni = num(b.VNI, 'Backend.VNI') ?? DEFAULT_VNI;
    if (vni < 1 || vni > 0xffffff)
        throw new ConfigError(`Backend.VNI must be 1..16777215, got ${vni}`);
    const port = num(b.Port, 'Backend.Port') ?? DEFAULT_VXLAN_PORT;
    if (port < 1 || port > 65535)
        throw new ConfigError(`Backend.Port must be 1..65535, got ${port}`);
    if (b.DirectRouting !== undefined && typeof b.DirectRouting !== 'boolean')
        throw new ConfigError('Backend.DirectRouting must be a boolean');
    return { network, subnetLen, subnetMin, subnetMax, backend: { type, vni, port, directRouting: b.DirectRouting === true } };
}
/** Number of subnets between SubnetMin and SubnetMax inclusive. */
export function subnetCount(cfg) {
    return (cfg.subnetMax - cfg.subnetMin) / sizeOf(cfg.subnetLen) + 1;
}
