// IpOps: NetOps through the `ip` program, for a namespace this process cannot enter itself
// (setns addon not built). Each call is one `ip` process (~2–4 ms); `-j` output is parsed
// into the same typed shapes the netlink path returns.
import { NetError } from './errors.js'
import { parseCidr, type Family } from './ip.js'
import { readSysctl, writeSysctl } from './sysctl.js'
import type { RunResult } from '../util/exec.js'
import { resolveNetns, runIn } from './netns.js'
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
} from './types.js'

interface IpJsonLink {
  ifindex: number
  ifname: string
  mtu: number
  flags: string[]
  address?: string
  master?: string
  linkinfo?: { info_kind?: string }
}
interface IpJsonAddr {
  ifindex: number
  addr_info: { family: string; local: string; prefixlen: number; valid_life_time?: number }[]
}
interface IpJsonRoute {
  dst: string
  gateway?: string
  dev?: string
  flags?: string[]
  scope?: string
  table?: string
  protocol?: string
  type?: string
  prefsrc?: string
  metric?: number
}

/** rtm_type by the name `ip -j` prints (only for non-unicast routes), as the netlink path reports it. */
const RTN_TYPE: Record<string, number> = { unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8, throw: 9, nat: 10 }

/** Map `ip`'s stderr to an errno name so callers can branch like on the netlink path. */
function errnoFromIp(stderr: string): string {
  const s = stderr.toLowerCase()
  if (s.includes('file exists') || s.includes('already assigned')) return 'EEXIST'
  if (s.includes('cannot find device') || s.includes('no such device')) return 'ENODEV'
  if (s.includes('no such process')) return 'ESRCH'
  // iproute2 prints the kernel's extack text instead of strerror for these
  if (s.includes('network is unreachable') || s.includes('invalid gateway')) return 'ENETUNREACH'
  if (s.includes('cannot assign requested address') || s.includes('address not found')) return 'EADDRNOTAVAIL'
  if (s.includes('invalid argument')) return 'EINVAL'
  if (s.includes('operation not permitted')) return 'EPERM'
  if (s.includes('no such file')) return 'ENOENT'
  return 'EIO'
}

export class IpOps implements NetOps {
  constructor(readonly netns: string | undefined) {}

  private ip(args: string[]): Promise<RunResult> {
    return runIn(this.netns, 'ip', args, { allowFailure: true })
  }

  private async must(op: string, object: string, args: string[], ok: string[] = []): Promise<RunResult> {
    const r = await this.ip(args)
    if (r.code !== 0) {
      const code = errnoFromIp(r.stderr)
      if (ok.includes(code)) return r
      throw new NetError(op, object + (this.netns ? ` (netns ${this.netns})` : ''), code, r.stderr.trim())
    }
    return r
  }

  async listLinks(): Promise<LinkInfo[]> {
    const r = await this.must('list', 'links', ['-j', '-d', 'link', 'show'])
    const links = JSON.parse(r.stdout || '[]') as IpJsonLink[]
    const byName = new Map(links.map((l) => [l.ifname, l.ifindex]))
    return links.map((l) => {
      const info: LinkInfo = {
        index: l.ifindex,
        name: l.ifname,
        mtu: l.mtu,
        up: l.flags.includes('UP'),
        promisc: l.flags.includes('PROMISC'),
      }
      if (l.address) info.mac = l.address
      if (l.master) info.master = byName.get(l.master) ?? 0
      if (l.linkinfo?.info_kind) info.kind = l.linkinfo.info_kind
      return info
    })
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    return (await this.listLinks()).find((l) => l.name === name)
  }

  async createBridge(spec: BridgeSpec): Promise<void> {
    const args = ['link', 'add', spec.name]
    if (spec.mtu) args.push('mtu', String(spec.mtu))
    if (spec.mac) args.push('address', spec.mac)
    await this.must('create bridge', spec.name, [...args, 'type', 'bridge'])
  }

  async createVeth(spec: VethSpec): Promise<void> {
    const args = ['link', 'add', spec.name]
    if (spec.mtu) args.push('mtu', String(spec.mtu))
    if (spec.mac) args.push('address', spec.mac)
    args.push('type', 'veth', 'peer', 'name', spec.peerName)
    if (spec.mtu) args.push('mtu', String(spec.mtu))
    if (spec.peerMac) args.push('address', spec.peerMac)
    if (spec.peerNetns) args.push('netns', resolveNetns(spec.peerNetns))
    await this.must('create veth', `${spec.name} peer ${spec.peerName}`, args)
  }

  async setLink(name: string, c: LinkChange): Promise<void> {
    const args = ['link', 'set', 'dev', name]
    if (c.mtu !== undefined) args.push('mtu', String(c.mtu))
    if (c.mac !== undefined) args.push('address', c.mac)
    if (c.master !== undefined) args.push(...(c.master === null ? ['nomaster'] : ['master', String(c.master)]))
    if (c.promisc !== undefined) args.push('promisc', c.promisc ? 'on' : 'off')
    if (c.up !== undefined) args.push(c.up ? 'up' : 'down')
    await this.must('set link', args.slice(3).join(' '), args)
  }

  async setHairpin(name: string, on: boolean): Promise<void> {
    await this.must('set hairpin', `${name} ${on ? 'on' : 'off'}`, ['link', 'set', 'dev', name, 'type', 'bridge_slave', 'hairpin', on ? 'on' : 'off'])
  }

  async deleteLink(name: string): Promise<boolean> {
    const r = await this.must('delete link', name, ['link', 'del', 'dev', name], ['ENODEV'])
    return r.code === 0
  }

  async addAddress(dev: string, cidr: string, opts: AddressOptions = {}): Promise<void> {
    const c = parseCidr(cidr)
    const lft = lifetimeOf(opts, cidr)
    const args = ['addr', lft !== undefined ? 'replace' : 'add', cidr, 'dev', dev]
    if (c.family === 4 && c.prefix < 31) args.push('broadcast', '+')
    if (lft !== undefined) args.push('valid_lft', String(lft), 'preferred_lft', String(lft))
    await this.must('add address', `${cidr} dev ${dev}`, args, ['EEXIST'])
  }

  async delAddress(dev: string, cidr: string): Promise<boolean> {
    const r = await this.must('delete address', `${cidr} dev ${dev}`, ['addr', 'del', cidr, 'dev', dev], ['EADDRNOTAVAIL', 'ENODEV'])
    return r.code === 0
  }

  async listAddresses(dev?: string): Promise<AddressInfo[]> {
    const r = await this.must('list', 'addresses', ['-j', 'addr', 'show', ...(dev ? ['dev', dev] : [])])
    const out: AddressInfo[] = []
    for (const l of JSON.parse(r.stdout || '[]') as IpJsonAddr[]) {
      for (const a of l.addr_info ?? []) {
        const info: AddressInfo = { index: l.ifindex, cidr: `${a.local}/${a.prefixlen}`, family: a.family === 'inet6' ? 6 : 4 }
        if (a.valid_life_time !== undefined && a.valid_life_time !== INFINITY_LIFE_TIME) info.validLft = a.valid_life_time
        out.push(info)
      }
    }
    return out
  }

  private routeArgs(r: RouteSpec): string[] {
    const args: string[] = [r.dst]
    if (r.via) args.push('via', r.via)
    if (r.dev) args.push('dev', r.dev)
    if (r.onlink) args.push('onlink')
    if (r.scope) args.push('scope', r.scope === 'universe' ? 'global' : r.scope)
    if (r.src) args.push('src', r.src)
    if (r.metric !== undefined) args.push('metric', String(r.metric))
    if (r.table) args.push('table', String(r.table))
    const fam = r.family ?? (r.dst === 'default' ? (r.via?.includes(':') ? 6 : 4) : parseCidr(r.dst).family)
    return [fam === 6 ? '-6' : '-4', 'route', ...args]
  }

  async addRoute(r: RouteSpec, opts: { replace?: boolean } = {}): Promise<void> {
    const args = this.routeArgs(r)
    args.splice(2, 0, opts.replace ? 'replace' : 'add')
    await this.must(opts.replace ? 'replace route' : 'add route', describeRoute(r), args)
  }

  async delRoute(r: RouteSpec): Promise<boolean> {
    const args = this.routeArgs(r)
    args.splice(2, 0, 'del')
    const res = await this.must('delete route', describeRoute(r), args, ['ESRCH', 'ENODEV'])
    return res.code === 0
  }

  async listRoutes(opts: { family?: Family; table?: number } = {}): Promise<RouteInfo[]> {
    const fams: Family[] = opts.family ? [opts.family] : [4, 6]
    const links = await this.listLinks()
    const out: RouteInfo[] = []
    for (const family of fams) {
      const r = await this.must('list', 'routes', ['-j', `-${family}`, 'route', 'show', 'table', String(opts.table ?? 254)])
      for (const x of JSON.parse(r.stdout || '[]') as IpJsonRoute[]) {
        const dst = x.dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : x.dst.includes('/') ? x.dst : `${x.dst}/${family === 4 ? 32 : 128}`
        const scope = x.scope === 'link' ? 'link' : x.scope === 'host' ? 'host' : 'universe'
        const info: RouteInfo = { dst, onlink: Boolean(x.flags?.includes('onlink')), scope, table: opts.table ?? 254, protocol: 0, type: RTN_TYPE[x.type ?? 'unicast'] ?? RTN_TYPE.unicast!, family }
        if (x.gateway) info.via = x.gateway
        if (x.dev) {
          info.dev = x.dev
          const l = links.find((k) => k.name === x.dev)
          if (l) info.index = l.index
        }
        if (x.prefsrc) info.src = x.prefsrc
        if (x.metric !== undefined) info.metric = x.metric
        out.push(info)
      }
    }
    return out
  }

  writeSysctl(key: string, value: string): Promise<void> {
    return writeSysctl(this.netns, key, value)
  }

  readSysctl(key: string): Promise<string> {
    return readSysctl(this.netns, key)
  }

  close(): void {}
}
