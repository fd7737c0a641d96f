// Subnet allocation policy, pure: which subnet should this node take, given what is leased.
// Like flannel: a node that already holds a lease (same PublicIP) keeps it; otherwise a
// previously used subnet (from the old subnet.env) if still free; otherwise a random one
// among the first 100 free subnets between SubnetMin and SubnetMax — random so that agents
// starting together rarely collide (the etcd transaction still decides who wins).
import type { NetworkConfig } from './config.js'
import { type Cidr, containsCidr, formatCidr, formatIp, sizeOf } from './ipv4.js'
import type { Lease } from './lease.js'

export class NoFreeSubnetError extends Error {
  override name = 'NoFreeSubnetError'
}

export type Choice =
  | { kind: 'reuse'; lease: Lease }
  | { kind: 'new'; subnet: Cidr }

export function isValidSubnet(cfg: NetworkConfig, s: Cidr): boolean {
  return s.prefix === cfg.subnetLen && containsCidr(cfg.network, s) && s.ip >= cfg.subnetMin && s.ip <= cfg.subnetMax
}

export function freeSubnets(cfg: NetworkConfig, leases: readonly Lease[], limit = 100): Cidr[] {
  const taken = new Set(leases.map((l) => l.subnet.ip))
  const out: Cidr[] = []
  const step = sizeOf(cfg.subnetLen)
  for (let ip = cfg.subnetMin; ip <= cfg.subnetMax && out.length < limit; ip += step) {
    if (!taken.has(ip)) out.push({ ip, prefix: cfg.subnetLen })
  }
  return out
}

export function chooseSubnet(
  cfg: NetworkConfig,
  leases: readonly Lease[],
  publicIP: string,
  previous?: Cidr,
  random: () => number = Math.random,
): Choice {
  const mine = leases.find((l) => l.publicIP === publicIP && isValidSubnet(cfg, l.subnet))
  if (mine) return { kind: 'reuse', lease: mine }
  if (previous && isValidSubnet(cfg, previous) && !leases.some((l) => l.subnet.ip === previous.ip)) {
    return { kind: 'new', subnet: previous }
  }
  const free = freeSubnets(cfg, leases)
  if (free.length === 0) {
    const n = (cfg.subnetMax - cfg.subnetMin) / sizeOf(cfg.subnetLen) + 1
    throw new NoFreeSubnetError(
      `no free subnet in ${formatCidr(cfg.network)}: all ${n} /${cfg.subnetLen} subnets between ` +
        `${formatIp(cfg.subnetMin)} and ${formatIp(cfg.subnetMax)} are leased`,
    )
  }
  return { kind: 'new', subnet: free[Math.floor(random() * free.length)]! }
}
