// FakeNet: an in-memory model of links, addresses, routes and sysctls per network namespace
// behind the same NetOps interface as Rtnl / IpOps, so code that is handed its NetOps (the
// CNI plugin) can run its whole story without root — the way FakeNft sits beside NftExec.
// It keeps the kernel's rules where callers depend on them:
// - a veth is a pair: deleting either end, or the namespace one end lives in, removes both;
// - a link takes its addresses and routes with it; a bridge's ports are detached when it goes;
// - an address on an up link brings its connected route (main table, scope link); the
//   local table (and so lo's 127.0.0.1/8) is not modelled;
// - a bridge created without a MAC takes the lowest MAC of its ports (the kernel recomputes
//   the bridge id on every port change), so a caller must read it after attaching ports;
// - a route needs its device up (ENETDOWN) and, unless onlink, a gateway inside a connected
//   prefix of that device (ENETUNREACH); the same (table, dst, metric) twice is EEXIST
//   unless replacing;
// - failures are NetErrors with the errno names the real layer reports.
// Faults: a FaultPlan counts every operation (opening a handle included) and can make the
// n-th one from now fail once, so a test can break each step of a multi-step story in turn.
import { NetError } from './errors.js'
import { canonicalCidr, cidrContains, familyOf, parseCidr, type Family } from './ip.js'
import { resolveNetns } from './netns.js'
import { lifetimeOf, type AddressInfo, type AddressOptions, type BridgeSpec, type LinkChange, type LinkInfo, type NetOps, type RouteInfo, type RouteScope, type RouteSpec, type VethSpec } from './types.js'

/** Counts operations across every fake that shares it; fails the chosen one. */
export class FaultPlan {
  /** operations counted so far */
  count = 0
  /** `op object` of every counted operation, in order */
  readonly log: string[] = []
  private due?: { at: number; code: string }

  /** Make the n-th operation from now (1 = the next one) fail once with errno `code`. */
  failAt(n: number, code = 'EIO'): void {
    this.due = { at: this.count + n, code }
  }

  /** Count one operation; throws the planned fault when it is this one's turn. */
  step(op: string, object: string): void {
    this.count++
    this.log.push(`${op} ${object}`)
    if (this.due?.at !== this.count) return
    const { code } = this.due
    this.due = undefined
    throw new NetError(op, object, code, 'injected fault')
  }
}

interface FakeLink extends LinkInfo {
  mac: string
  /** a bridge whose MAC was given keeps it; otherwise it follows its ports */
  macFixed: boolean
  hairpin: boolean
  peer?: { ns: FakeNs; link: FakeLink }
}

interface FakeRoute {
  dst: string
  family: Family
  via?: string
  dev?: string
  onlink: boolean
  scope: RouteScope
  table: number
  metric?: number
  src?: string
}

const SYSCTL_DEFAULTS: Readonly<Record<string, string>> = {
  'net.ipv4.ip_forward': '0',
  'net.ipv6.conf.all.forwarding': '0',
  // measured: 1 in a new namespace on this kernel (br_netfilter built in)
  'net.bridge.bridge-nf-call-iptables': '1',
}

const RT_MAIN = 254
const PROTO_KERNEL = 2
const PROTO_BOOT = 3
const RTN_UNICAST = 1

class FakeNs {
  readonly links = new Map<string, FakeLink>()
  readonly addrs: { dev: string; cidr: string; validLft?: number }[] = []
  readonly routes: FakeRoute[] = []
  readonly sysctls = new Map(Object.entries(SYSCTL_DEFAULTS))
  private nextIndex = 1

  constructor() {
    this.links.set('lo', { index: this.nextIndex++, name: 'lo', mtu: 65536, up: true, promisc: false, mac: '00:00:00:00:00:00', macFixed: true, hairpin: false })
  }

  newIndex(): number {
    return this.nextIndex++
  }

  byIndex(index: number): FakeLink | undefined {
    return [...this.links.values()].find((l) => l.index === index)
  }

  macOf(l: FakeLink): string {
    if (l.kind !== 'bridge' || l.macFixed) return l.mac
    const ports = [...this.links.values()].filter((p) => p.master === l.index).map((p) => p.mac)
    return ports.length ? ports.sort()[0]! : l.mac
  }

  info(l: FakeLink): LinkInfo {
    const out: LinkInfo = { index: l.index, name: l.name, mtu: l.mtu, up: l.up, promisc: l.promisc, mac: this.macOf(l) }
    if (l.kind) out.kind = l.kind
    if (l.master !== undefined) out.master = l.master
    return out
  }

  /** Remove a link with what hangs off it; a veth takes its peer along. */
  remove(l: FakeLink): void {
    if (!this.links.delete(l.name)) return
    for (let i = this.addrs.length - 1; i >= 0; i--) if (this.addrs[i]!.dev === l.name) this.addrs.splice(i, 1)
    for (let i = this.routes.length - 1; i >= 0; i--) if (this.routes[i]!.dev === l.name) this.routes.splice(i, 1)
    for (const p of this.links.values()) {
      if (p.master === l.index) {
        p.master = undefined
        p.hairpin = false
      }
    }
    if (l.peer) {
      const { ns, link } = l.peer
      link.peer = undefined
      ns.remove(link)
    }
  }

  connectedRoutes(): (FakeRoute & { src: string })[] {
    const out: (FakeRoute & { src: string })[] = []
    for (const a of this.addrs) {
      if (!this.links.get(a.dev)?.up) continue
      const c = parseCidr(a.cidr)
      out.push({ dst: canonicalCidr(a.cidr), family: c.family, dev: a.dev, onlink: false, scope: 'link', table: RT_MAIN, src: c.ip })
    }
    return out
  }
}

/** What a test reads back: one namespace, in plain data. */
export interface FakeNsState {
  links: { name: string; kind?: string; mtu: number; up: boolean; promisc: boolean; mac: string; master?: string; hairpin: boolean; peer?: string }[]
  addresses: { dev: string; cidr: string }[]
  /** main table, connected routes included */
  routes: { dst: string; via?: string; dev?: string }[]
  sysctls: Record<string, string>
}

const SELF = '(self)'

export class FakeNet {
  private readonly spaces = new Map<string, FakeNs>([[SELF, new FakeNs()]])
  private macs = 0
  private handles = 0

  /** The namespace this process is in (ref undefined) always exists. */
  constructor(readonly faults: FaultPlan = new FaultPlan()) {}

  private key(ref: string | undefined): string {
    return ref === undefined ? SELF : resolveNetns(ref)
  }

  /** `ref` is a name or a path, as for the real layer */
  private space(ref: string | undefined): FakeNs | undefined {
    return this.spaces.get(this.key(ref))
  }

  addNetns(ref: string): void {
    if (this.spaces.has(this.key(ref))) throw new Error(`fake netns ${ref} already exists`)
    this.spaces.set(this.key(ref), new FakeNs())
  }

  /** Like `ip netns del` of the last reference: its links go, veth peers elsewhere with them. */
  deleteNetns(ref: string): void {
    const ns = this.space(ref)
    if (!ns) return
    for (const l of [...ns.links.values()]) ns.remove(l)
    this.spaces.delete(this.key(ref))
  }

  netnsExists(ref: string): boolean {
    return this.spaces.has(this.key(ref))
  }

  /** A NetOps inside `ref` (undefined = this process's namespace); counted as an operation. */
  openNetOps(ref?: string): NetOps {
    const object = ref === undefined ? 'current netns' : resolveNetns(ref)
    this.faults.step('open netlink', object)
    const ns = this.space(ref)
    if (!ns) throw new NetError('open netns', object, 'ENOENT')
    this.handles++
    const env: OpsEnv = {
      faults: this.faults,
      space: (r) => this.space(r),
      newMac: () => this.newMac(),
      closed: () => this.handles--,
    }
    return new FakeNetOps(env, ns, ref)
  }

  /** handles opened and not closed yet: a caller that leaks one shows up here */
  get openHandles(): number {
    return this.handles
  }

  private newMac(): string {
    this.macs++
    return `02:fa:ce:00:${((this.macs >> 8) & 255).toString(16).padStart(2, '0')}:${(this.macs & 255).toString(16).padStart(2, '0')}`
  }

  /** Plain-data view of one namespace, for `t.same` in tests. */
  state(ref?: string): FakeNsState {
    const ns = this.space(ref)
    if (!ns) throw new Error(`fake netns ${ref ?? SELF} does not exist`)
    const nameOfNs = (other: FakeNs): string => [...this.spaces].find(([, v]) => v === other)?.[0] ?? '?'
    const links = [...ns.links.values()]
      .sort((a, b) => a.index - b.index)
      .map((l) => ({
        name: l.name,
        ...(l.kind ? { kind: l.kind } : {}),
        mtu: l.mtu,
        up: l.up,
        promisc: l.promisc,
        mac: ns.macOf(l),
        ...(l.master !== undefined ? { master: ns.byIndex(l.master)?.name ?? '?' } : {}),
        hairpin: l.hairpin,
        ...(l.peer ? { peer: `${nameOfNs(l.peer.ns)}:${l.peer.link.name}` } : {}),
      }))
    const routes = [...ns.connectedRoutes(), ...ns.routes.filter((r) => r.table === RT_MAIN)].map((r) => ({
      dst: r.dst,
      ...(r.via ? { via: r.via } : {}),
      ...(r.dev ? { dev: r.dev } : {}),
    }))
    return { links, addresses: ns.addrs.map((a) => ({ ...a })), routes, sysctls: Object.fromEntries(ns.sysctls) }
  }
}

function sysctlKey(key: string): string {
  return key.replace(/\//g, '.')
}

function checkName(op: string, name: string, where: string): void {
  if (!name || name.length > 15 || /[/:\s]/.test(name)) throw new NetError(op, name + where, 'EINVAL')
}

/** What a handle needs from the FakeNet that opened it. */
interface OpsEnv {
  faults: FaultPlan
  space(ref: string): FakeNs | undefined
  newMac(): string
  closed(): void
}

class FakeNetOps implements NetOps {
  private closed = false

  constructor(
    private readonly net: OpsEnv,
    private readonly ns: FakeNs,
    readonly netns: string | undefined,
  ) {}

  private get where(): string {
    return this.netns ? ` (netns ${this.netns})` : ''
  }

  /** Every call: refuse after close, count it, maybe fail it. */
  private step(op: string, object: string): void {
    if (this.closed) throw new Error(`fake NetOps: ${op} ${object} after close`)
    this.net.faults.step(op, object + this.where)
  }

  private need(op: string, name: string): FakeLink {
    const l = this.ns.links.get(name)
    if (!l) throw new NetError(op, name + this.where, 'ENODEV')
    return l
  }

  async listLinks(): Promise<LinkInfo[]> {
    this.step('list', 'links')
    return [...this.ns.links.values()].sort((a, b) => a.index - b.index).map((l) => this.ns.info(l))
  }

  async getLink(name: string): Promise<LinkInfo | undefined> {
    this.step('get link', name)
    const l = this.ns.links.get(name)
    return l && this.ns.info(l)
  }

  private addLink(ns: FakeNs, name: string, props: Partial<FakeLink>, op: string): FakeLink {
    if (ns.links.has(name)) throw new NetError(op, name + this.where, 'EEXIST')
    const l: FakeLink = { index: ns.newIndex(), name, mtu: 1500, up: false, promisc: false, mac: this.net.newMac(), macFixed: false, hairpin: false, ...props }
    ns.links.set(name, l)
    return l
  }

  async createBridge(spec: BridgeSpec): Promise<void> {
    this.step('create bridge', spec.name)
    checkName('create bridge', spec.name, this.where)
    this.addLink(this.ns, spec.name, { kind: 'bridge', ...(spec.mtu ? { mtu: spec.mtu } : {}), ...(spec.mac ? { mac: spec.mac, macFixed: true } : {}) }, 'create bridge')
  }

  async createVeth(spec: VethSpec): Promise<void> {
    const op = 'create veth'
    this.step(op, `${spec.name} peer ${spec.peerName}`)
    checkName(op, spec.name, this.where)
    checkName(op, spec.peerName, this.where)
    const peerNs = spec.peerNetns === undefined ? this.ns : this.net.space(spec.peerNetns)
    if (!peerNs) throw new NetError('open netns', resolveNetns(spec.peerNetns!), 'ENOENT')
    // both names are checked before either end exists: the kernel creates the pair or nothing
    if (this.ns.links.has(spec.name)) throw new NetError(op, spec.name + this.where, 'EEXIST')
    if (peerNs.links.has(spec.peerName) || (peerNs === this.ns && spec.peerName === spec.name)) {
      throw new NetError(op, `${spec.peerName} (peer)${this.where}`, 'EEXIST')
    }
    const mtu = spec.mtu ? { mtu: spec.mtu } : {}
    const host = this.addLink(this.ns, spec.name, { kind: 'veth', ...mtu, ...(spec.mac ? { mac: spec.mac } : {}) }, op)
    const peer = this.addLink(peerNs, spec.peerName, { kind: 'veth', ...mtu, ...(spec.peerMac ? { mac: spec.peerMac } : {}) }, op)
    host.peer = { ns: peerNs, link: peer }
    peer.peer = { ns: this.ns, link: host }
  }

  async setLink(name: string, c: LinkChange): Promise<void> {
    this.step('set link', name)
    const l = this.need('set link', name)
    let master: FakeLink | undefined
    if (c.master !== undefined && c.master !== null) {
      master = typeof c.master === 'number' ? this.ns.byIndex(c.master) : this.ns.links.get(c.master)
      if (!master) throw new NetError('set link', `${name} master ${c.master}${this.where}`, 'ENODEV')
      if (master.kind !== 'bridge') throw new NetError('set link', `${name} master ${c.master}${this.where}`, 'EOPNOTSUPP')
    }
    if (c.mtu !== undefined) l.mtu = c.mtu
    if (c.mac !== undefined) {
      l.mac = c.mac
      l.macFixed = true
    }
    if (c.master === null) {
      l.master = undefined
      l.hairpin = false
    } else if (master) {
      l.master = master.index
    }
    if (c.promisc !== undefined) l.promisc = c.promisc
    if (c.up !== undefined) l.up = c.up
  }

  async setHairpin(name: string, on: boolean): Promise<void> {
    this.step('set hairpin', `${name} ${on ? 'on' : 'off'}`)
    const l = this.need('set hairpin', name)
    // IFLA_PROTINFO only means something on a bridge port
    if (l.master === undefined) throw new NetError('set hairpin', name + this.where, 'EOPNOTSUPP')
    l.hairpin = on
  }

  async deleteLink(name: string): Promise<boolean> {
    this.step('delete link', name)
    const l = this.ns.links.get(name)
    if (!l) return false
    this.ns.remove(l)
    return true
  }

  async addAddress(dev: string, cidr: string, opts: AddressOptions = {}): Promise<void> {
    this.step('add address', `${cidr} dev ${dev}`)
    this.need('add address', dev)
    parseCidr(cidr)
    // the lifetime is recorded, not counted down: a fake has no kernel timer
    const validLft = lifetimeOf(opts, cidr)
    const have = this.ns.addrs.find((a) => a.dev === dev && a.cidr === cidr)
    if (!have) this.ns.addrs.push({ dev, cidr, ...(validLft !== undefined ? { validLft } : {}) })
    else if (validLft !== undefined) have.validLft = validLft
  }

  async delAddress(dev: string, cidr: string): Promise<boolean> {
    this.step('delete address', `${cidr} dev ${dev}`)
    const i = this.ns.addrs.findIndex((a) => a.dev === dev && a.cidr === cidr)
    if (i < 0) return false
    this.ns.addrs.splice(i, 1)
    return true
  }

  async listAddresses(dev?: string): Promise<AddressInfo[]> {
    this.step('list', `addresses${dev ? ` dev ${dev}` : ''}`)
    if (dev) this.need('list addresses', dev)
    return this.ns.addrs
      .filter((a) => !dev || a.dev === dev)
      .map((a) => ({ index: this.ns.links.get(a.dev)!.index, cidr: a.cidr, family: parseCidr(a.cidr).family, ...(a.validLft !== undefined ? { validLft: a.validLft } : {}) }))
  }

  private toRoute(r: RouteSpec): FakeRoute {
    const family: Family = r.dst === 'default' ? (r.family ?? (r.via ? familyOf(r.via) : 4)) : parseCidr(r.dst).family
    const dst = r.dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : canonicalCidr(r.dst)
    const out: FakeRoute = { dst, family, onlink: Boolean(r.onlink), scope: r.scope ?? (r.via ? 'universe' : 'link'), table: r.table ?? RT_MAIN }
    if (r.via) out.via = r.via
    if (r.dev) out.dev = r.dev
    if (r.metric !== undefined) out.metric = r.metric
    if (r.src) out.src = r.src
    return out
  }

  async addRoute(r: RouteSpec, opts: { replace?: boolean } = {}): Promise<void> {
    const op = opts.replace ? 'replace route' : 'add route'
    const object = `${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`
    this.step(op, object)
    const want = this.toRoute(r)
    const fail = (code: string): never => {
      throw new NetError(op, object + this.where, code)
    }
    const dev = want.dev ? this.ns.links.get(want.dev) : undefined
    if (want.dev && !dev) fail('ENODEV')
    if (dev && !dev.up) fail('ENETDOWN')
    if (want.via && !want.onlink) {
      const reach = this.ns.connectedRoutes().some((c) => (!want.dev || c.dev === want.dev) && cidrContains(parseCidr(c.dst), want.via!))
      if (!reach) fail('ENETUNREACH')
    }
    if (!want.dev && !want.via) fail('EINVAL')
    const same = this.ns.routes.findIndex((x) => x.table === want.table && x.dst === want.dst && x.metric === want.metric)
    if (same >= 0 && !opts.replace) fail('EEXIST')
    if (same >= 0) this.ns.routes[same] = want
    else this.ns.routes.push(want)
  }

  async delRoute(r: RouteSpec): Promise<boolean> {
    this.step('delete route', r.dst)
    const want = this.toRoute(r)
    const i = this.ns.routes.findIndex(
      (x) => x.table === want.table && x.dst === want.dst && (!want.via || x.via === want.via) && (!want.dev || x.dev === want.dev),
    )
    if (i < 0) return false
    this.ns.routes.splice(i, 1)
    return true
  }

  async listRoutes(opts: { family?: Family; table?: number } = {}): Promise<RouteInfo[]> {
    this.step('list', 'routes')
    const table = opts.table ?? RT_MAIN
    const all = [
      ...(table === RT_MAIN ? this.ns.connectedRoutes().map((r) => ({ r, protocol: PROTO_KERNEL })) : []),
      ...this.ns.routes.filter((r) => r.table === table).map((r) => ({ r, protocol: PROTO_BOOT })),
    ]
    return all
      .filter(({ r }) => !opts.family || r.family === opts.family)
      .map(({ r, protocol }) => {
        const info: RouteInfo = { dst: r.dst, onlink: r.onlink, scope: r.scope, table: r.table, protocol, type: RTN_UNICAST, family: r.family }
        if (r.via) info.via = r.via
        if (r.dev) {
          info.dev = r.dev
          info.index = this.ns.links.get(r.dev)!.index
        }
        if (r.src) info.src = r.src
        if (r.metric !== undefined) info.metric = r.metric
        return info
      })
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    const k = sysctlKey(key)
    this.step('write sysctl', `${k}=${value}`)
    if (!this.ns.sysctls.has(k)) throw new NetError('write sysctl', k + this.where, 'ENOENT')
    this.ns.sysctls.set(k, value)
  }

  async readSysctl(key: string): Promise<string> {
    const k = sysctlKey(key)
    this.step('read sysctl', k)
    const v = this.ns.sysctls.get(k)
    if (v === undefined) throw new NetError('read sysctl', k + this.where, 'ENOENT')
    return v
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.net.closed()
  }
}
