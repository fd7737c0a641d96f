// Rtnl: a typed wrapper around netlink@0.3.0's RtNetlinkSocket, opened inside one network
// namespace. It implements NetOps (links, addresses, routes, sysctls) and exposes the raw
// socket + `request()` for layers built on top (src/net/vxlan.ts, neigh.ts, fdb.ts).
//
// Kernel facts this file relies on:
// - A netlink socket acts on the namespace it was created in, whatever thread uses it later.
// - A veth peer can be created directly inside another namespace by putting IFLA_NET_NS_FD
//   into the peer's attributes (~2 ms), instead of creating it here and moving it (~21 ms).
// - Bridge port options (hairpin) are RTM_SETLINK with family AF_BRIDGE and a *nested*
//   IFLA_PROTINFO; without NLA_F_NESTED the kernel reads it as the legacy STP state byte.
import nl from 'netlink'
import type { RtNetlinkSocket, rt as RtNs, ifla as IflaNs } from 'netlink'
import { closeSync } from 'node:fs'
import { NetError, errnoOf, isErrno, kernelCall } from './errors.js'
import { broadcastOf, bufferToIp, familyOf, ipToBuffer, parseCidr, type Family } from './ip.js'
import { inNetnsSync, openNetnsFd } from './netns.js'
import { readSysctl, writeSysctl } from './sysctl.js'
import {
  describeRoute,
  INFINITY_LIFE_TIME,
  lifetimeOf,
  type AddressInfo,
  type AddressOptions,
  type BridgeSpec,
  type LinkChange,
  type LinkInfo,
  type NetOps,
  type RouteInfo,
  type RouteSpec,
  type VethSpec,
  macToBuffer,
  macToString,
} from './types.js'

export { macToBuffer, macToString }

const { createRtNetlink, ifla, AttrStream, FlagsNew, FlagsGet } = nl

export type RtMessage = RtNs.Message
export type RtLinkAttrs = IflaNs.LinkAttrs
export const AF_INET = 2
export const AF_BRIDGE = 7
export const AF_INET6 = 10
export const RT_TABLE_MAIN = 254
/** rtm_flags RTNH_F_ONLINK (not named by netlink@0.3.0's RouteFlags) */
export const RTNH_F_ONLINK = 4
const IFLA_PROTINFO = 12
const IFLA_BRPORT_MODE = 4
const NLA_F_NESTED = 0x8000

/** Flatten netlink's StreamData (buffers or a writer function) into one Buffer. */
export function encodeAttrs(data: Parameters<InstanceType<typeof AttrStream>['emit']>[0]): Buffer {
  const s = new AttrStream()
  s.emit(data)
  return Buffer.concat(s.bufs)
}

/** IFLA_LINKINFO payload: `{kind, data}` (e.g. kind 'vxlan', data = encodeAttrs(ifla.formatVxlan(…))). */
export function encodeLinkInfo(kind: string, data?: Buffer): Buffer {
  return encodeAttrs(ifla.formatInfo(data ? { kind, data } : { kind }))
}

const SCOPES: Record<string, number> = { universe: 0, link: 253, host: 254 }
function scopeName(n: number): RouteInfo['scope'] {
  return n === 0 ? 'universe' : n === 253 ? 'link' : n === 254 ? 'host' : n
}

function toLinkInfo(m: RtNs.LinkMessage): LinkInfo {
  const a = m.attrs
  const info: LinkInfo = {
    index: m.data.index ?? 0,
    name: a.ifname ?? '',
    mtu: a.mtu ?? 0,
    up: Boolean(m.data.flags?.up),
    promisc: Boolean(m.data.flags?.promisc),
  }
  const mac = macToString(a.address)
  if (mac) info.mac = mac
  if (a.master) info.master = a.master
  if (a.linkinfo) {
    try {
      const kind = ifla.parseInfo(a.linkinfo).kind
      if (kind) info.kind = kind
    } catch {
      // unknown info layout: leave kind out
    }
  }
  return info
}

export class Rtnl implements NetOps {
  constructor(
    /** the underlying netlink@0.3.0 socket, for raw requests and event subscriptions */
    readonly sock: RtNetlinkSocket,
    readonly netns: string | undefined,
  ) {}

  private where(): string {
    return this.netns ? ` (netns ${this.netns})` : ''
  }

  /** Raw request (for vxlan/neigh/fdb layers): resolves to the parsed reply messages. */
  request(type: RtNs.MessageType, data: Uint8Array | Uint8Array[], flags = 0): Promise<RtMessage[]> {
    return this.sock.request(type, data, { flags })
  }

  /** Wrap any call so its failure reads `op object: ERRNO (netns X)`. */
  call<T>(op: string, object: string, fn: () => Promise<T>): Promise<T> {
    return kernelCall(op, object + this.where(), fn)
  }

  async listLinks(): Promise<LinkInfo[]> {
    const msgs = await this.call('list', 'links', () => this.sock.getLinks())
    return msgs.map(toLinkInfo)
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    try {
      const msgs = await this.sock.getLink({}, { ifname: name })
      return msgs[0] && toLinkInfo(msgs[0])
    } catch (err) {
      if (isErrno(err, 'ENODEV', 'ENOENT')) return undefined
      throw new NetError('get link', name + this.where(), errnoOf(err))
    }
  }

  /**
   * ifindex of a link; throws NetError(ENODEV) naming the operation that needed it.
   * Not cached: names are reused (deterministic veth names) and one socket may serve many
   * concurrent CNI requests, so a cached index could point at a different link.
   */
  async indexOf(name: string, op = 'find link'): Promise<number> {
    const l = await this.getLink(name)
    if (!l) throw new NetError(op, name + this.where(), 'ENODEV')
    return l.index
  }

  async createBridge(spec: BridgeSpec): Promise<void> {
    const attrs: RtLinkAttrs = { ifname: spec.name, linkinfo: encodeLinkInfo('bridge') }
    if (spec.mtu) attrs.mtu = spec.mtu
    if (spec.mac) attrs.address = macToBuffer(spec.mac)
    await this.call('create bridge', spec.name, () =>
      this.sock.newLink({}, attrs, { flags: FlagsNew.CREATE | FlagsNew.EXCL }),
    )
  }

  async createVeth(spec: VethSpec): Promise<void> {
    const peerAttrs: RtLinkAttrs = { ifname: spec.peerName }
    if (spec.mtu) peerAttrs.mtu = spec.mtu
    if (spec.peerMac) peerAttrs.address = macToBuffer(spec.peerMac)
    let fd: number | undefined
    if (spec.peerNetns) fd = openNetnsFd(spec.peerNetns)
    try {
      if (fd !== undefined) peerAttrs.netNsFd = fd
      // The peer is a full ifinfomsg + attributes, nested in IFLA_INFO_DATA/VETH_INFO_PEER.
      const peer = Buffer.concat([nl.rt.formatLink({}), encodeAttrs(ifla.formatLinkAttrs(peerAttrs))])
      const attrs: RtLinkAttrs = {
        ifname: spec.name,
        linkinfo: encodeLinkInfo('veth', encodeAttrs(ifla.formatVethInfo({ peer }))),
      }
      if (spec.mtu) attrs.mtu = spec.mtu
      if (spec.mac) attrs.address = macToBuffer(spec.mac)
      const peerWhere = spec.peerNetns ? ` in ${spec.peerNetns}` : ''
      await this.call('create veth', `${spec.name} peer ${spec.peerName}${peerWhere}`, () =>
        this.sock.newLink({}, attrs, { flags: FlagsNew.CREATE | FlagsNew.EXCL }),
      )
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }

  async setLink(name: string, change: LinkChange): Promise<void> {
    const index = await this.indexOf(name, 'set link')
    const data: RtNs.Link = { index }
    const attrs: RtLinkAttrs = {}
    const what: string[] = []
    if (change.up !== undefined || change.promisc !== undefined) {
      data.flags = {}
      data.change = {}
      if (change.up !== undefined) {
        if (change.up) data.flags.up = true
        data.change.up = true
        what.push(change.up ? 'up' : 'down')
      }
      if (change.promisc !== undefined) {
        if (change.promisc) data.flags.promisc = true
        data.change.promisc = true
        what.push(`promisc ${change.promisc ? 'on' : 'off'}`)
      }
    }
    if (change.mtu !== undefined) {
      attrs.mtu = change.mtu
      what.push(`mtu ${change.mtu}`)
    }
    if (change.mac !== undefined) {
      attrs.address = macToBuffer(change.mac)
      what.push(`address ${change.mac}`)
    }
    if (change.master !== undefined) {
      attrs.master =
        change.master === null ? 0 : typeof change.master === 'number' ? change.master : await this.indexOf(change.master, 'set master')
      what.push(change.master === null ? 'nomaster' : `master ${change.master}`)
    }
    await this.call('set link', `${name} ${what.join(' ')}`, () => this.sock.setLink(data, attrs))
  }

  async setHairpin(name: string, on: boolean): Promise<void> {
    const index = await this.indexOf(name, 'set hairpin')
    // IFLA_PROTINFO | NLA_F_NESTED { IFLA_BRPORT_MODE: u8 } — built by hand because
    // netlink@0.3.0's AttrStream masks the attribute type to 14 bits (drops NLA_F_NESTED).
    const inner = Buffer.from([5, 0, IFLA_BRPORT_MODE, 0, on ? 1 : 0, 0, 0, 0])
    const outer = Buffer.alloc(4)
    outer.writeUInt16LE(4 + inner.length, 0)
    outer.writeUInt16LE(IFLA_PROTINFO | NLA_F_NESTED, 2)
    const msg = [nl.rt.formatLink({ family: AF_BRIDGE, index }), outer, inner]
    await this.call('set hairpin', `${name} ${on ? 'on' : 'off'}`, () => this.request(nl.rt.MessageType.SETLINK, msg))
  }

  async deleteLink(name: string): Promise<boolean> {
    try {
      await this.sock.delLink({}, { ifname: name })
      return true
    } catch (err) {
      if (isErrno(err, 'ENODEV', 'ENOENT')) return false
      throw new NetError('delete link', name + this.where(), errnoOf(err))
    }
  }

  async addAddress(dev: string, cidr: string, opts: AddressOptions = {}): Promise<void> {
    const c = parseCidr(cidr)
    const index = await this.indexOf(dev, 'add address')
    const ip = ipToBuffer(c.ip)
    const attrs: RtNs.AddressAttrs = { local: ip, address: ip }
    if (c.family === 4 && c.prefix < 31) attrs.broadcast = ipToBuffer(broadcastOf(c))
    const lft = lifetimeOf(opts, cidr)
    // IFA_CACHEINFO with NLM_F_REPLACE: a new address, or the existing one's lifetime restarted
    if (lft !== undefined) attrs.cacheInfo = { ifaPrefered: lft, ifaValid: lft, cstamp: 0, tstamp: 0 }
    try {
      await this.sock.newAddress(
        { family: c.family === 4 ? AF_INET : AF_INET6, prefixlen: c.prefix, index },
        attrs,
        { flags: FlagsNew.CREATE | (lft !== undefined ? FlagsNew.REPLACE : FlagsNew.EXCL) },
      )
    } catch (err) {
      if (isErrno(err, 'EEXIST')) return
      throw new NetError('add address', `${cidr} dev ${dev}${this.where()}`, errnoOf(err))
    }
  }

  async delAddress(dev: string, cidr: string): Promise<boolean> {
    const c = parseCidr(cidr)
    const index = await this.indexOf(dev, 'delete address')
    try {
      await this.sock.delAddress(
        { family: c.family === 4 ? AF_INET : AF_INET6, prefixlen: c.prefix, index },
        { local: ipToBuffer(c.ip) },
      )
      return true
    } catch (err) {
      if (isErrno(err, 'EADDRNOTAVAIL', 'ENODEV', 'ENOENT')) return false
      throw new NetError('delete address', `${cidr} dev ${dev}${this.where()}`, errnoOf(err))
    }
  }

  async listAddresses(dev?: string): Promise<AddressInfo[]> {
    const index = dev ? await this.indexOf(dev, 'list addresses') : undefined
    const msgs = await this.call('list', `addresses${dev ? ` dev ${dev}` : ''}`, () => this.sock.getAddresses())
    const out: AddressInfo[] = []
    for (const m of msgs) {
      if (index !== undefined && m.data.index !== index) continue
      const raw = m.attrs.local ?? m.attrs.address
      if (!raw) continue
      const ip = bufferToIp(raw)
      const a: AddressInfo = { index: m.data.index ?? 0, cidr: `${ip}/${m.data.prefixlen ?? 0}`, family: m.data.family === AF_INET6 ? 6 : 4 }
      const valid = m.attrs.cacheInfo?.ifaValid
      if (valid !== undefined && valid !== INFINITY_LIFE_TIME) a.validLft = valid
      out.push(a)
    }
    return out
  }

  private async routeMessage(r: RouteSpec): Promise<[RtNs.Route, RtNs.RouteAttrs]> {
    const family: Family = r.dst === 'default' ? (r.family ?? (r.via ? familyOf(r.via) : 4)) : parseCidr(r.dst).family
    const data: RtNs.Route = {
      family: family === 4 ? AF_INET : AF_INET6,
      dstLen: r.dst === 'default' ? 0 : parseCidr(r.dst).prefix,
      table: r.table && r.table < 256 ? r.table : RT_TABLE_MAIN,
      protocol: 'BOOT',
      scope: SCOPES[r.scope ?? (r.via ? 'universe' : 'link')] ?? 0,
      type: 'UNICAST',
    }
    if (r.onlink) data.flags = { __unknown: RTNH_F_ONLINK }
    const attrs: RtNs.RouteAttrs = {}
    if (r.dst !== 'default') attrs.dst = ipToBuffer(parseCidr(r.dst).ip)
    if (r.via) attrs.gateway = ipToBuffer(r.via)
    if (r.dev) attrs.oif = await this.indexOf(r.dev, `route ${describeRoute(r)}`)
    if (r.src) attrs.prefsrc = ipToBuffer(r.src)
    if (r.metric !== undefined) attrs.priority = r.metric
    if (r.table && r.table >= 256) attrs.table = r.table
    return [data, attrs]
  }

  async addRoute(r: RouteSpec, opts: { replace?: boolean } = {}): Promise<void> {
    const [data, attrs] = await this.routeMessage(r)
    const flags = FlagsNew.CREATE | (opts.replace ? FlagsNew.REPLACE : FlagsNew.EXCL)
    await this.call(opts.replace ? 'replace route' : 'add route', describeRoute(r), () => this.sock.newRoute(data, attrs, { flags }))
  }

  async delRoute(r: RouteSpec): Promise<boolean> {
    const [data, attrs] = await this.routeMessage(r)
    // Let the kernel match any protocol/scope for the given prefix.
    data.protocol = undefined
    data.scope = 'NOWHERE'
    try {
      await this.sock.delRoute(data, attrs)
      return true
    } catch (err) {
      if (isErrno(err, 'ESRCH', 'ENOENT', 'ENODEV')) return false
      throw new NetError('delete route', describeRoute(r) + this.where(), errnoOf(err))
    }
  }

  async listRoutes(opts: { family?: Family; table?: number } = {}): Promise<RouteInfo[]> {
    const msgs = await this.call('list', 'routes', () =>
      this.sock.getRoutes(opts.family ? { family: opts.family === 4 ? AF_INET : AF_INET6 } : {}),
    )
    const names = new Map<number, string>()
    const needNames = msgs.some((m) => m.attrs.oif)
    if (needNames) for (const l of await this.listLinks()) names.set(l.index, l.name)
    const table = opts.table ?? RT_TABLE_MAIN
    const out: RouteInfo[] = []
    for (const m of msgs) {
      const t = m.attrs.table ?? m.data.table ?? 0
      if (t !== table) continue
      const family: Family = m.data.family === AF_INET6 ? 6 : 4
      const dstIp = m.attrs.dst ? bufferToIp(m.attrs.dst) : family === 4 ? '0.0.0.0' : '::'
      const info: RouteInfo = {
        dst: `${dstIp}/${m.data.dstLen ?? 0}`,
        onlink: ((m.data.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0,
        scope: scopeName(enumNum(nl.rt.RouteScope, m.data.scope)),
        table: t,
        protocol: enumNum(nl.rt.RouteProtocol, m.data.protocol),
        type: enumNum(nl.rt.RouteType, m.data.type),
        family,
      }
      if (m.attrs.gateway) info.via = bufferToIp(m.attrs.gateway)
      if (m.attrs.oif) {
        info.index = m.attrs.oif
        const n = names.get(m.attrs.oif)
        if (n) info.dev = n
      }
      if (m.attrs.prefsrc) info.src = bufferToIp(m.attrs.prefsrc)
      if (m.attrs.priority !== undefined) info.metric = m.attrs.priority
      out.push(info)
    }
    return out
  }

  writeSysctl(key: string, value: string): Promise<void> {
    return writeSysctl(this.netns, key, value)
  }

  readSysctl(key: string): Promise<string> {
    return readSysctl(this.netns, key)
  }

  close(): void {
    try {
      this.sock.socket.close()
    } catch {
      // already closed
    }
  }
}

/** netlink@0.3.0 parses known enum values to their names: map back to the number. */
function enumNum(e: object, v: number | string | undefined): number {
  if (typeof v === 'number') return v
  if (typeof v === 'string') {
    const n = (e as Record<string, unknown>)[v]
    if (typeof n === 'number') return n
  }
  return 0
}

/**
 * Open an rtnetlink socket inside `netns` (name under /run/netns or a path); undefined = the
 * namespace this process is in. Needs the setns addon for another namespace (see netns.ts).
 */
export function openRtnl(netns?: string): Rtnl {
  try {
    const sock = netns ? inNetnsSync(netns, () => createRtNetlink()) : createRtNetlink()
    return new Rtnl(sock, netns)
  } catch (err) {
    if (err instanceof NetError) throw err
    throw new NetError('open netlink', netns ?? 'current netns', errnoOf(err))
  }
}

export { FlagsGet, FlagsNew }
