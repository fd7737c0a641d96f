// Reading a listed route table the way the kernel reads it (pure: no kernel here).
import { cidrContains, familyOf, parseCidr } from './ip.js'
import type { RouteInfo } from './types.js'

/**
 * The route the kernel would pick for `ip` out of one table, as `ip route get` does for the
 * main table: the longest matching prefix, then the lowest metric. Policy rules and the local
 * table are not modelled (callers ask about addresses that are on no interface).
 */
export function routeFor(routes: readonly RouteInfo[], ip: string): RouteInfo | undefined {
  const fam = familyOf(ip)
  let best: { r: RouteInfo; prefix: number } | undefined
  for (const r of routes) {
    if (r.family !== fam) continue
    const c = parseCidr(r.dst)
    if (!cidrContains(c, ip)) continue
    const better = !best || c.prefix > best.prefix || (c.prefix === best.prefix && (r.metric ?? 0) < (best.r.metric ?? 0))
    if (better) best = { r, prefix: c.prefix }
  }
  return best?.r
}
