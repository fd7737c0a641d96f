// The typed vocabulary of src/net: what callers pass in and get back. Plain data, no kernel.
import { NetError } from './errors.js'
import type { Family } from './ip.js'

export interface LinkInfo {
  index: number
  name: string
  /** IFLA_INFO_KIND: bridge, veth, vxlan, … (undefined for plain devices like lo) */
  kind?: string
  mtu: number
  /** administratively up (IFF_UP) */
  up: boolean
  promisc: boolean
  /** MAC as `aa:bb:cc:dd:ee:ff` */
  mac?: string
  /** ifindex of the master (bridge) this link is enslaved to */
  master?: number
}

export interface AddressInfo {
  index: number
  /** `10.244.1.5/24` */
  cidr: string
  family: Family
  /** Seconds the kernel keeps it (valid_lft); undefined: forever (a permanent address). */
  validLft?: number
}

export interface AddressOptions {
  /**
   * valid_lft = preferred_lft in whole seconds (≥ 1): the kernel removes the address by itself
   * once it is not added again within that time. With it, adding an existing address replaces
   * it (a refresh that restarts the lifetime) instead of leaving it as it is.
   */
  lifetimeS?: number
}

/** The kernel's "forever" for an address lifetime (ifa_valid). */
export const INFINITY_LIFE_TIME = 0xffffffff

/** The lifetime to ask the kernel for (undefined: permanent); the kernel refuses 0 (EINVAL). */
export function lifetimeOf(o: AddressOptions, cidr: string): number | undefined {
  if (o.lifetimeS === undefined) return undefined
  if (!Number.isInteger(o.lifetimeS) || o.lifetimeS < 1 || o.lifetimeS >= INFINITY_LIFE_TIME) throw new NetError('add address', `${cidr} valid_lft ${o.lifetimeS}`, 'EINVAL')
  return o.lifetimeS
}

export type RouteScope = 'universe' | 'link' | 'host'

/** A route to add, replace or delete. `dst` is a CIDR or `default`. */
export interface RouteSpec {
  dst: string
  via?: string
  dev?: string
  /** RTNH_F_ONLINK: the gateway is reachable on `dev` even without a matching prefix */
  onlink?: boolean
  scope?: RouteScope
  src?: string
  /** routing table, default main (254) */
  table?: number
  metric?: number
  /** needed only for `default` when it cannot be inferred from `via` */
  family?: Family
}

export interface RouteInfo {
  /** CIDR, `0.0.0.0/0` / `::/0` for the default route */
  dst: string
  via?: string
  dev?: string
  index?: number
  onlink: boolean
  scope: RouteScope | number
  table: number
  protocol: number
  type: number
  src?: string
  metric?: number
  family: Family
}

export interface LinkChange {
  up?: boolean
  mtu?: number
  /** bridge name or ifindex; null detaches */
  master?: string | number | null
  promisc?: boolean
  mac?: string
}

export interface BridgeSpec {
  name: string
  mtu?: number
  mac?: string
}

export interface VethSpec {
  /** host-side name */
  name: string
  /** peer name, e.g. CNI_IFNAME (`eth0`) */
  peerName: string
  /** namespace (name or path) the peer is created in directly — no move needed */
  peerNetns?: string
  mtu?: number
  mac?: string
  peerMac?: string
}

/**
 * Every typed kernel operation a component needs, against one network namespace.
 * Two implementations: `Rtnl` (a netlink socket opened inside the namespace) and `IpOps`
 * (`ip -batch`/`ip -j`, the fallback when this process cannot setns).
 */
export interface NetOps {
  /** namespace reference (name or path); undefined = the process's own namespace */
  readonly netns: string | undefined
  listLinks(): Promise<LinkInfo[]>
  getLink(name: string): Promise<LinkInfo | undefined>
  createBridge(spec: BridgeSpec): Promise<void>
  createVeth(spec: VethSpec): Promise<void>
  setLink(name: string, change: LinkChange): Promise<void>
  /** bridge port hairpin mode (IFLA_BRPORT_MODE): lets a pod reach itself via a service VIP */
  setHairpin(name: string, on: boolean): Promise<void>
  /** false when the link did not exist */
  deleteLink(name: string): Promise<boolean>
  /** EEXIST is success: ensure semantics (with a lifetime: replace, so the lifetime restarts) */
  addAddress(dev: string, cidr: string, opts?: AddressOptions): Promise<void>
  delAddress(dev: string, cidr: string): Promise<boolean>
  listAddresses(dev?: string): Promise<AddressInfo[]>
  addRoute(route: RouteSpec, opts?: { replace?: boolean }): Promise<void>
  /** false when the route did not exist */
  delRoute(route: RouteSpec): Promise<boolean>
  listRoutes(opts?: { family?: Family; table?: number }): Promise<RouteInfo[]>
  /** `net.ipv4.ip_forward` or `net/ipv4/ip_forward`, inside this namespace */
  writeSysctl(key: string, value: string): Promise<void>
  readSysctl(key: string): Promise<string>
  close(): void
}

export function describeRoute(r: RouteSpec): string {
  return [r.dst, r.via && `via ${r.via}`, r.dev && `dev ${r.dev}`, r.onlink && 'onlink', r.table && r.table !== 254 && `table ${r.table}`]
    .filter(Boolean)
    .join(' ')
}

export function macToString(b: Buffer | Uint8Array | undefined): string | undefined {
  if (!b || b.length !== 6) return undefined
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

export function macToBuffer(mac: string): Buffer {
  const parts = mac.split(':')
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`invalid MAC address "${mac}"`)
  return Buffer.from(parts.map((p) => parseInt(p, 16)))
}
