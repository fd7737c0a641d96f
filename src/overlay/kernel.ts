// The overlay's kernel edge: everything it reads from or writes to the node's network
// namespace, through src/net (one rtnetlink socket opened in that namespace). No policy here:
// what to write comes from desired.ts/device.ts, this file only carries it out and reports.
import { deleteFdb, listFdb, replaceFdb } from '../net/fdb.js'
import { cidrContains, parseCidr, parseIp4Net, type Ip4Net } from '../net/ip.js'
import { deleteNeighbor, listNeighbors, replaceNeighbor } from '../net/neigh.js'
import { NftExec } from '../net/nft.js'
import { openRtnl, type Rtnl } from '../net/rtnl.js'
import { createVxlan, getVxlan } from '../net/vxlan.js'
import { fmtFdb, fmtNeigh, fmtRoute, type KernelState, type StateDiff } from './desired.js'
import { diffDevice, type DeviceDiff, type VxlanSpec } from './device.js'
import { overlayNftTransaction } from './nft.js'

export interface Underlay {
  dev: string
  ip: string
  /** the on-link subnet of that address (DirectRouting / host-gw reachability) */
  net: Ip4Net
  mtu: number
}

export interface ApplyResult {
  applied: string[]
  errors: string[]
}

export class OverlayKernel {
  readonly rt: Rtnl
  constructor(readonly netns?: string) {
    this.rt = openRtnl(netns)
  }

  /**
   * The underlay interface and address: the one holding --public-ip, else the first IPv4
   * address of --iface, else the interface of the default route.
   */
  async findUnderlay(opts: { iface?: string; publicIP?: string }): Promise<Underlay> {
    const addrs = (await this.rt.listAddresses()).filter((a) => a.family === 4)
    const links = await this.rt.listLinks()
    const nameOf = (i: number) => links.find((l) => l.index === i)?.name
    let pick = opts.publicIP ? addrs.find((a) => parseCidr(a.cidr).ip === opts.publicIP) : undefined
    if (opts.publicIP && !pick) throw new Error(`--public-ip ${opts.publicIP} is not an address of any interface here`)
    if (!pick && opts.iface) {
      pick = addrs.find((a) => nameOf(a.index) === opts.iface)
      if (!pick) throw new Error(`--iface ${opts.iface} has no IPv4 address`)
    }
    if (!pick) {
      const def = (await this.rt.listRoutes({ family: 4 })).find((r) => r.dst === '0.0.0.0/0' && r.dev)
      if (!def) throw new Error('no default route: pass --iface or --public-ip')
      pick = addrs.find((a) => nameOf(a.index) === def.dev)
      if (!pick) throw new Error(`default route interface ${def.dev} has no IPv4 address`)
    }
    if (opts.iface && nameOf(pick.index) !== opts.iface) throw new Error(`--public-ip ${opts.publicIP} is not on --iface ${opts.iface}`)
    const link = links.find((l) => l.index === pick!.index)!
    return { dev: link.name, ip: parseCidr(pick.cidr).ip, net: parseIp4Net(pick.cidr, true), mtu: link.mtu }
  }

  /** Create the VXLAN device, or fix it: in place when possible, recreate only on a real difference. */
  async ensureVxlan(want: VxlanSpec): Promise<{ action: 'kept' | 'created' | 'updated' | 'recreated'; diff?: DeviceDiff }> {
    const have = await getVxlan(this.rt, want.name)
    const diff = diffDevice(want, have)
    let action: 'kept' | 'created' | 'updated' | 'recreated' = 'kept'
    if (!diff || diff.recreate.length > 0) {
      if (diff) await this.rt.deleteLink(want.name)
      await createVxlan(this.rt, { ...want })
      await this.rt.setLink(want.name, { up: true })
      action = diff ? 'recreated' : 'created'
    } else if (diff.update.length > 0) {
      await this.rt.setLink(want.name, { mtu: want.mtu, mac: want.mac, up: true })
      action = 'updated'
    }
    return diff ? { action, diff } : { action }
  }

  /** Exactly `cidr` on `dev`: add it, remove any other IPv4 address (an old subnet's). */
  async ensureOnlyAddress(dev: string, cidr: string): Promise<void> {
    const index = await this.rt.indexOf(dev)
    const have = (await this.rt.listAddresses()).filter((a) => a.index === index && a.family === 4)
    for (const a of have) if (a.cidr !== cidr) await this.rt.delAddress(dev, a.cidr)
    if (!have.some((a) => a.cidr === cidr)) await this.rt.addAddress(dev, cidr)
  }

  async deleteLink(name: string): Promise<boolean> {
    return this.rt.deleteLink(name)
  }

  /** Routes, neighbours and FDB entries as the kernel has them (not yet filtered to ours). */
  async observe(vxlanDev: string, network: string): Promise<KernelState> {
    const net = parseCidr(network)
    const routes = (await this.rt.listRoutes({ family: 4 }))
      .filter((r) => r.dst !== '0.0.0.0/0' && cidrContains(net, parseCidr(r.dst).ip))
      .map((r) => ({ dst: r.dst, via: r.via ?? '', dev: r.dev ?? '', onlink: r.onlink }))
    const names = new Map((await this.rt.listLinks()).map((l) => [l.index, l.name]))
    const vx = [...names.values()].includes(vxlanDev)
    const neighs = vx
      ? (await listNeighbors(this.rt, vxlanDev, names)).filter((n) => n.permanent && n.mac).map((n) => ({ ip: n.ip, mac: n.mac!, dev: n.dev }))
      : []
    const fdb = vx
      ? (await listFdb(this.rt, vxlanDev, names)).filter((f) => f.self && f.dst).map((f) => ({ mac: f.mac, dst: f.dst!, dev: f.dev }))
      : []
    return { routes, neighs, fdb }
  }

  /**
   * Apply a diff: deletions first (route, then ARP, then FDB — the route stops new traffic
   * before its next hop disappears), then additions (ARP, FDB, route — the route goes last so
   * that a packet it attracts finds its next hop's MAC and VTEP). Each step is independent: a
   * failure is recorded and the rest goes on; the next reconcile retries.
   */
  async apply(d: StateDiff): Promise<ApplyResult> {
    const res: ApplyResult = { applied: [], errors: [] }
    const step = async (line: string, fn: () => Promise<unknown>) => {
      try {
        await fn()
        res.applied.push(line)
      } catch (err) {
        res.errors.push(`${line}: ${(err as Error).message}`)
      }
    }
    for (const r of d.routes.del) await step(`- ${fmtRoute(r)}`, () => this.rt.delRoute({ dst: r.dst, via: r.via, dev: r.dev }))
    for (const n of d.neighs.del) await step(`- ${fmtNeigh(n)}`, () => deleteNeighbor(this.rt, n))
    for (const f of d.fdb.del) await step(`- ${fmtFdb(f)}`, () => deleteFdb(this.rt, f))
    for (const n of d.neighs.put) await step(`+ ${fmtNeigh(n)}`, () => replaceNeighbor(this.rt, n))
    for (const f of d.fdb.put) await step(`+ ${fmtFdb(f)}`, () => replaceFdb(this.rt, f))
    for (const r of d.routes.put)
      await step(`+ ${fmtRoute(r)}`, () => this.rt.addRoute({ dst: r.dst, via: r.via, dev: r.dev, onlink: r.onlink }, { replace: true }))
    return res
  }

  /** ip_forward on and the overlay's nftables table, in this namespace only. */
  async ensureForwarding(network: string, ipMasq: boolean): Promise<void> {
    await this.rt.writeSysctl('net.ipv4.ip_forward', '1')
    await new NftExec(this.netns).apply(overlayNftTransaction(network, ipMasq))
  }

  close(): void {
    this.rt.close()
  }
}
