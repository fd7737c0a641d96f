// The network configuration flannel keeps at <prefix>/config, parsed and completed with the
// defaults flannel computes (pkg/subnet/config.go semantics, our own code):
//   SubnetLen  24, or half the network when the network is /24 or smaller;
//   SubnetMin  the second subnet (the first one's network address would collide with the
//              cluster network's own address, e.g. 10.5.0.0 for 10.5.0.0/16);
//   SubnetMax  the last subnet of the network.
import { formatIp4Net, intToIp4, ip4AlignedTo, ip4BlockSize, ip4NetContains, ip4ToInt, parseIp4Net, type Ip4Net } from '../net/ip.js'

export type BackendType = 'vxlan' | 'host-gw'

export interface BackendConfig {
  type: BackendType
  vni: number
  port: number
  directRouting: boolean
}

export interface NetworkConfig {
  network: Ip4Net
  subnetLen: number
  subnetMin: number
  subnetMax: number
  backend: BackendConfig
}

export const DEFAULT_PREFIX = '/coreos.com/network'
export const DEFAULT_VNI = 1
export const DEFAULT_VXLAN_PORT = 8472

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function num(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ConfigError(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`)
  return v
}

function str(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string') throw new ConfigError(`${what} must be a string, got ${JSON.stringify(v)}`)
  return v
}

/** Parse flannel's JSON (as stored in etcd) and fill in the defaults. */
export function parseNetworkConfig(json: string, backendOverride?: BackendType): NetworkConfig {
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(json) as Record<string, unknown>
  } catch (err) {
    throw new ConfigError(`network config is not JSON: ${(err as Error).message}`)
  }
  if (typeof raw !== 'object' || raw === null) throw new ConfigError('network config must be a JSON object')
  const netStr = str(raw.Network, 'Network')
  if (!netStr) throw new ConfigError('network config has no "Network"')
  let network: Ip4Net
  try {
    network = parseIp4Net(netStr, true)
  } catch (err) {
    throw new ConfigError(`Network: ${(err as Error).message}`)
  }
  let subnetLen = num(raw.SubnetLen, 'SubnetLen') ?? 0
  if (subnetLen === 0) subnetLen = network.prefix < 24 ? 24 : network.prefix + 1
  if (subnetLen < network.prefix) throw new ConfigError(`SubnetLen /${subnetLen} is larger than Network ${formatIp4Net(network)}`)
  if (subnetLen > 30) throw new ConfigError(`SubnetLen must be /30 or shorter, got /${subnetLen}`)
  const step = ip4BlockSize(subnetLen)
  const range = (name: string, v: string | undefined, dflt: number): number => {
    if (v === undefined) return dflt
    let ip: number
    try {
      ip = ip4ToInt(v)
    } catch (err) {
      throw new ConfigError(`${name}: ${(err as Error).message}`)
    }
    if (!ip4NetContains(network, ip)) throw new ConfigError(`${name} ${v} is not inside Network ${formatIp4Net(network)}`)
    if (ip4AlignedTo(ip, subnetLen) !== ip) throw new ConfigError(`${name} ${v} is not aligned to SubnetLen /${subnetLen}`)
    return ip
  }
  const subnetMin = range('SubnetMin', str(raw.SubnetMin, 'SubnetMin'), network.ip + step)
  const subnetMax = range('SubnetMax', str(raw.SubnetMax, 'SubnetMax'), network.ip + ip4BlockSize(network.prefix) - step)
  if (subnetMin > subnetMax) throw new ConfigError(`SubnetMin ${intToIp4(subnetMin)} is above SubnetMax ${intToIp4(subnetMax)}`)
  const b = (raw.Backend ?? {}) as Record<string, unknown>
  if (typeof b !== 'object' || b === null) throw new ConfigError('Backend must be an object')
  const type = (backendOverride ?? str(b.Type, 'Backend.Type') ?? 'vxlan') as string
  if (type !== 'vxlan' && type !== 'host-gw') throw new ConfigError(`Backend.Type "${type}" is not supported (vxlan, host-gw)`)
  const vni = num(b.VNI, 'Backend.VNI') ?? DEFAULT_VNI
  if (vni < 1 || vni > 0xffffff) throw new ConfigError(`Backend.VNI must be 1..16777215, got ${vni}`)
  const port = num(b.Port, 'Backend.Port') ?? DEFAULT_VXLAN_PORT
  if (port < 1 || port > 65535) throw new ConfigError(`Backend.Port must be 1..65535, got ${port}`)
  if (b.DirectRouting !== undefined && typeof b.DirectRouting !== 'boolean') throw new ConfigError('Backend.DirectRouting must be a boolean')
  return { network, subnetLen, subnetMin, subnetMax, backend: { type, vni, port, directRouting: b.DirectRouting === true } }
}

/** Number of subnets between SubnetMin and SubnetMax inclusive. */
export function subnetCount(cfg: NetworkConfig): number {
  return (cfg.subnetMax - cfg.subnetMin) / ip4BlockSize(cfg.subnetLen) + 1
}
