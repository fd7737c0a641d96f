// Subnet allocation policy, pure: which subnet should this node take, given what is leased.
// Like flannel: a node that already holds a lease (same PublicIP) keeps it; otherwise a
// previously used subnet (from the old subnet.env) if still free; otherwise a random one
// among the first 100 free subnets between SubnetMin and SubnetMax — random so that agents
// starting together rarely collide (the etcd transaction still decides who wins).
import type { NetworkConfig } from './config.js'
import { formatIp4Net, intToIp4, ip4BlockSize, ip4NetContainsNet, type Ip4Net } from '../net/ip.js'
import type { Lease } from './lease.js'

export class NoFreeSubnetError extends Error {
  override name = 'NoFreeSubnetError'
}

export type Choice =
  | { kind: 'reuse'; lease: Lease }
  | { kind: 'new'; subnet: Ip4Net }

export function isValidSubnet(cfg: NetworkConfig, s: Ip4Net): boolean {
  return s.prefix === cfg.subnetLen && ip4NetContainsNet(cfg.network, s) && s.ip >= cfg.subnetMin && s.ip <= cfg.subnetMax
}

export function freeSubnets(cfg: NetworkConfig, leases: readonly Lease[], limit = 100): Ip4Net[] {
  const taken = new Set(leases.map((l) => l.subnet.ip))
  const out: Ip4Net[] = []
  const step = ip4BlockSize(cfg.subnetLen)
  for (let ip = cfg.subnetMin; ip <= cfg.subnetMax && out.length < limit; ip += step) {
    if (!taken.has(ip)) out.push({ ip, prefix: cfg.subnetLen })
  }
  return out
}

export function chooseSubnet(
  cfg: NetworkConfig,
  leases: readonly Lease[],
  publicIP: string,
  previous?: Ip4Net,
  random: () => number = Math.random,
): Choice {
  const mine = leases.find((l) => l.publicIP === publicIP && isValidSubnet(cfg, l.subnet))
  if (mine) return { kind: 'reuse', lease: mine }
  if (previous && isValidSubnet(cfg, previous) && !leases.some((l) => l.subnet.ip === previous.ip)) {
    return { kind: 'new', subnet: previous }
  }
  const free = freeSubnets(cfg, leases)
  if (free.length === 0) {
    const n = (cfg.subnetMax - cfg.subnetMin) / ip4BlockSize(cfg.subnetLen) + 1
    throw new NoFreeSubnetError(
      `no free subnet in ${formatIp4Net(cfg.network)}: all ${n} /${cfg.subnetLen} subnets between ` +
        `${intToIp4(cfg.subnetMin)} and ${intToIp4(cfg.subnetMax)} are leased`,
    )
  }
  return { kind: 'new', subnet: free[Math.floor(random() * free.length)]! }
}
