// Result shapes per spec version. netkube keeps results in the 1.x shape; this renders them
// for the config's cniVersion and reads a prevResult written in any supported version.
//   0.3.0 / 0.3.1 / 0.4.0: ips[] carry "version": "4" | "6"
//   1.0.0: no "version"; routes are {dst, gw}
//   1.1.0: routes may carry mtu/advmss/priority/table/scope; interfaces may carry mtu
import { parseCidr } from '../src/net/ip.js'
import type { CniResult, CniRoute, CniIpConfig, CniInterface } from './types.js'

type Json = Record<string, unknown>

export function normalizeResult(v: unknown, cniVersion: string): CniResult {
  if (!v || typeof v !== 'object') throw new Error('prevResult must be an object')
  const o = v as Json
  const out: CniResult = { cniVersion: typeof o.cniVersion === 'string' ? o.cniVersion : cniVersion }
  if (Array.isArray(o.interfaces)) out.interfaces = o.interfaces.map((i) => ({ ...(i as CniInterface) }))
  if (Array.isArray(o.ips)) {
    out.ips = o.ips.map((raw) => {
      const ip = raw as Json
      if (typeof ip.address !== 'string') throw new Error('prevResult ip without address')
      const x: CniIpConfig = { address: ip.address }
      if (typeof ip.gateway === 'string') x.gateway = ip.gateway
      if (typeof ip.interface === 'number') x.interface = ip.interface
      return x
    })
  }
  if (Array.isArray(o.routes)) out.routes = o.routes.map((r) => ({ ...(r as CniRoute) }))
  if (o.dns && typeof o.dns === 'object') out.dns = { ...(o.dns as object) }
  return out
}

export function renderResult(r: CniResult, cniVersion: string): Json {
  const legacy = cniVersion.startsWith('0.')
  const v11 = cniVersion === '1.1.0'
  const out: Json = { cniVersion }
  if (r.interfaces) {
    out.interfaces = r.interfaces.map((i) => {
      const x: Json = { name: i.name }
      if (i.mac) x.mac = i.mac
      if (v11 && i.mtu) x.mtu = i.mtu
      if (i.sandbox) x.sandbox = i.sandbox
      return x
    })
  }
  if (r.ips) {
    out.ips = r.ips.map((ip) => {
      const x: Json = {}
      if (legacy) x.version = String(parseCidr(ip.address).family)
      x.address = ip.address
      if (ip.gateway) x.gateway = ip.gateway
      if (ip.interface !== undefined) x.interface = ip.interface
      return x
    })
  }
  if (r.routes) {
    out.routes = r.routes.map((rt) => {
      if (v11) return { ...rt }
      const x: Json = { dst: rt.dst }
      if (rt.gw) x.gw = rt.gw
      return x
    })
  }
  out.dns = r.dns ?? {}
  return out
}
