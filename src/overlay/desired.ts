// Desired kernel state for the overlay, and its diff against what the kernel has. Pure.
//
// VXLAN recipe per remote lease (flannel's, and the reason for each piece):
//   1. permanent ARP  <remote subnet network addr> → <remote VtepMAC> on flannel.<VNI>
//      (the route's gateway is that address; with a static entry no ARP ever goes out)
//   2. FDB            <remote VtepMAC> → dst <remote PublicIP>  (AF_BRIDGE, NTF_SELF)
//      (tells the VXLAN device which underlay host owns that inner MAC; learning is off)
//   3. onlink route   <remote subnet> via <remote subnet network addr> dev flannel.<VNI>
//      (onlink: the gateway is not inside any on-link prefix of the device, which only has a /32)
// Added in that order so a packet that matches the new route finds its ARP and FDB entries;
// removed in the reverse order. DirectRouting, and the host-gw backend, use one plain route
// via the remote PublicIP instead, which only works when that address is on our own L2 subnet.
import type { BackendConfig } from './config.js'
import { formatIp4Net, intToIp4, ip4NetContains, ip4NetContainsNet, ip4ToInt, parseIp4Net, type Ip4Net } from '../net/ip.js'
import type { Lease } from './lease.js'

export interface RouteEntry {
  dst: string // a.b.c.d/len
  via: string
  dev: string
  onlink: boolean
}
export interface NeighEntry {
  ip: string
  mac: string
  dev: string
}
export interface FdbEntry {
  mac: string
  dst: string
  dev: string
}
export interface KernelState {
  routes: RouteEntry[]
  neighs: NeighEntry[]
  fdb: FdbEntry[]
}

export interface DesiredInput {
  backend: BackendConfig
  own: Lease
  remotes: readonly Lease[]
  /** flannel.<VNI> */
  vxlanDev: string
  /** The underlay interface and the on-link subnet of its address (for DirectRouting/host-gw). */
  underlayDev: string
  underlayNet: Ip4Net
}

export interface Desired extends KernelState {
  /** Leases that cannot be programmed, with the reason (shown in logs and metrics). */
  skipped: { subnet: string; reason: string }[]
}

export function vxlanDevName(vni: number): string {
  return `flannel.${vni}`
}

export function desiredState(inp: DesiredInput): Desired {
  const out: Desired = { routes: [], neighs: [], fdb: [], skipped: [] }
  const seen = new Set<number>()
  for (const l of inp.remotes) {
    const dst = formatIp4Net(l.subnet)
    if (l.subnet.ip === inp.own.subnet.ip || l.publicIP === inp.own.publicIP) continue
    if (seen.has(l.subnet.ip)) continue
    seen.add(l.subnet.ip)
    const sameL2 = ip4NetContains(inp.underlayNet, ip4ToInt(l.publicIP))
    if (inp.backend.type === 'host-gw') {
      if (!sameL2) {
        out.skipped.push({ subnet: dst, reason: `host-gw: ${l.publicIP} is not on ${formatIp4Net(inp.underlayNet)}` })
        continue
      }
      out.routes.push({ dst, via: l.publicIP, dev: inp.underlayDev, onlink: false })
      continue
    }
    if (l.backendType !== 'vxlan' || !l.vtepMAC) {
      out.skipped.push({ subnet: dst, reason: `lease backend is ${l.backendType}, not vxlan` })
      continue
    }
    if (inp.backend.directRouting && sameL2) {
      out.routes.push({ dst, via: l.publicIP, dev: inp.underlayDev, onlink: false })
      continue
    }
    const gw = intToIp4(l.subnet.ip)
    out.neighs.push({ ip: gw, mac: l.vtepMAC, dev: inp.vxlanDev })
    out.fdb.push({ mac: l.vtepMAC, dst: l.publicIP, dev: inp.vxlanDev })
    out.routes.push({ dst, via: gw, dev: inp.vxlanDev, onlink: true })
  }
  return out
}

export interface KindDiff<T> {
  /** Missing or different: to be written with replace semantics. */
  put: T[]
  /** Present but not wanted (or duplicates). */
  del: T[]
}
export interface StateDiff {
  routes: KindDiff<RouteEntry>
  neighs: KindDiff<NeighEntry>
  fdb: KindDiff<FdbEntry>
}

// Identity: what the kernel keys the entry by (one route per destination in the main table,
// one neighbour per (dev, ip), one FDB entry per (dev, mac)); the rest is the content.
const routeId = (r: RouteEntry) => r.dst
const neighId = (n: NeighEntry) => `${n.dev} ${n.ip}`
const fdbId = (f: FdbEntry) => `${f.dev} ${f.mac}`
const same = <T>(a: T, b: T) => JSON.stringify(a) === JSON.stringify(b)

function diffKind<T>(want: readonly T[], have: readonly T[], id: (x: T) => string): KindDiff<T> {
  const groups = new Map<string, T[]>()
  for (const h of have) groups.set(id(h), [...(groups.get(id(h)) ?? []), h])
  const put: T[] = []
  const del: T[] = []
  const wantedKeys = new Set<string>()
  for (const w of want) {
    const k = id(w)
    if (wantedKeys.has(k)) continue
    wantedKeys.add(k)
    const group = groups.get(k) ?? []
    const exact = group.findIndex((h) => same(norm(h), norm(w)))
    if (exact >= 0) {
      // already right; any other copy under the same key is stale
      del.push(...group.filter((_, i) => i !== exact))
    } else {
      // one wrong entry is overwritten in place (replace); several are cleared first
      if (group.length > 1) del.push(...group)
      put.push(w)
    }
  }
  for (const [k, group] of groups) if (!wantedKeys.has(k)) del.push(...group)
  return { put, del }
}

function norm<T>(x: T): T {
  const o = { ...(x as Record<string, unknown>) }
  for (const k of Object.keys(o)) if (typeof o[k] === 'string') o[k] = (o[k] as string).toLowerCase()
  return o as T
}

/** Diff desired against observed; observed must already be limited to entries we own. */
export function diffState(want: KernelState, have: KernelState): StateDiff {
  return {
    routes: diffKind(want.routes, have.routes, routeId),
    neighs: diffKind(want.neighs, have.neighs, neighId),
    fdb: diffKind(want.fdb, have.fdb, fdbId),
  }
}

export function isEmptyDiff(d: StateDiff): boolean {
  return [d.routes, d.neighs, d.fdb].every((k) => k.put.length === 0 && k.del.length === 0)
}

export function fmtRoute(r: RouteEntry): string {
  return `route ${r.dst} via ${r.via} dev ${r.dev}${r.onlink ? ' onlink' : ''}`
}
export function fmtNeigh(n: NeighEntry): string {
  return `neigh ${n.ip} lladdr ${n.mac} dev ${n.dev} permanent`
}
export function fmtFdb(f: FdbEntry): string {
  return `fdb ${f.mac} dst ${f.dst} dev ${f.dev} self permanent`
}

/** One line per change, in the order they are applied: deletions (route, neigh, fdb), then puts (neigh, fdb, route). */
export function formatDiff(d: StateDiff): string[] {
  return [
    ...d.routes.del.map((r) => `- ${fmtRoute(r)}`),
    ...d.neighs.del.map((n) => `- ${fmtNeigh(n)}`),
    ...d.fdb.del.map((f) => `- ${fmtFdb(f)}`),
    ...d.neighs.put.map((n) => `+ ${fmtNeigh(n)}`),
    ...d.fdb.put.map((f) => `+ ${fmtFdb(f)}`),
    ...d.routes.put.map((r) => `+ ${fmtRoute(r)}`),
  ]
}

/**
 * Which observed entries the overlay owns: routes to a destination inside the cluster network
 * other than our own subnet that go through a gateway (the kernel's own connected routes and
 * the CNI bridge route have none), neighbours and FDB entries on the VXLAN device.
 */
export function ownedObserved(all: KernelState, network: Ip4Net, own: Ip4Net, vxlanDev: string): KernelState {
  return {
    routes: all.routes.filter((r) => {
      if (!r.via) return false
      let dst: Ip4Net
      try {
        dst = parseIp4Net(r.dst, true)
      } catch {
        return false // not an IPv4 route: never one of ours
      }
      return ip4NetContainsNet(network, dst) && !(dst.ip === own.ip && dst.prefix === own.prefix)
    }),
    neighs: all.neighs.filter((n) => n.dev === vxlanDev),
    fdb: all.fdb.filter((f) => f.dev === vxlanDev),
  }
}
