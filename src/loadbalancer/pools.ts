// Address pools: parsed from `--load-balancer-pools` and the kube-system ConfigMap
// `netkube-lb-pools` (data: pool name → comma-separated ranges). A range is `A-B`, a CIDR or
// one address (IPv4). A CIDR of /30 or wider leaves out its network and broadcast addresses:
// on an L2 segment a node answering ARP for the broadcast address would break the segment.
import { ip4BlockSize, ip4ToInt, intToIp4, isIp4, parseIp4Net } from '../net/ip.js'

export interface IpRange {
  /** inclusive, as 32-bit integers */
  first: number
  last: number
}

export interface Pool {
  name: string
  ranges: IpRange[]
}

export const POOLS_CONFIGMAP = 'netkube-lb-pools'
export const POOLS_NAMESPACE = 'kube-system'

function parseRange(text: string): IpRange {
  const t = text.trim()
  const dash = t.indexOf('-')
  if (dash > 0) {
    const a = t.slice(0, dash).trim()
    const b = t.slice(dash + 1).trim()
    if (!isIp4(a) || !isIp4(b)) throw new Error(`invalid range "${t}": want FIRST-LAST IPv4 addresses`)
    const r = { first: ip4ToInt(a), last: ip4ToInt(b) }
    if (r.first > r.last) throw new Error(`invalid range "${t}": ${a} is after ${b}`)
    return r
  }
  if (t.includes('/')) {
    let net
    try {
      net = parseIp4Net(t)
    } catch {
      throw new Error(`invalid CIDR "${t}"`)
    }
    const size = ip4BlockSize(net.prefix)
    const base = net.ip >>> 0
    return net.prefix <= 30 ? { first: base + 1, last: base + size - 2 } : { first: base, last: base + size - 1 }
  }
  if (!isIp4(t)) throw new Error(`invalid address "${t}"`)
  return { first: ip4ToInt(t), last: ip4ToInt(t) }
}

export function parsePool(name: string, ranges: string): Pool {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new Error(`invalid pool name "${name}": lowercase letters, digits and '-'`)
  const rs = ranges.split(',').map((r) => r.trim()).filter(Boolean)
  if (rs.length === 0) throw new Error(`pool "${name}" has no ranges`)
  return { name, ranges: rs.map(parseRange) }
}

/** `name=RANGES[;name=RANGES…]` (the server flag). */
export function parsePoolsFlag(text: string): Pool[] {
  const out: Pool[] = []
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=')
    if (eq <= 0) throw new Error(`--load-balancer-pools: "${part}" is not NAME=RANGES`)
    out.push(parsePool(part.slice(0, eq).trim(), part.slice(eq + 1)))
  }
  return out
}

/**
 * Flag pools, then the ConfigMap's (a ConfigMap pool of the same name replaces the flag's).
 * A malformed ConfigMap entry is reported and skipped: the other pools keep working.
 */
export function mergePools(flag: Pool[], data: Record<string, string> | undefined): { pools: Pool[]; errors: string[] } {
  const byName = new Map(flag.map((p) => [p.name, p]))
  const errors: string[] = []
  for (const [name, ranges] of Object.entries(data ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    try {
      byName.set(name, parsePool(name, ranges))
    } catch (err) {
      errors.push((err as Error).message)
    }
  }
  return { pools: [...byName.values()], errors }
}

export function poolOf(pools: readonly Pool[], ip: string): Pool | undefined {
  if (!isIp4(ip)) return undefined
  const n = ip4ToInt(ip)
  return pools.find((p) => p.ranges.some((r) => n >= r.first && n <= r.last))
}

/** Lowest free address of the pool, or undefined when it is full. */
export function firstFree(pool: Pool, used: (ip: string) => boolean): string | undefined {
  for (const r of pool.ranges)
    for (let n = r.first; n <= r.last; n++) {
      const ip = intToIp4(n)
      if (!used(ip)) return ip
    }
  return undefined
}

export function describePool(p: Pool): string {
  return `${p.name}=${p.ranges.map((r) => (r.first === r.last ? intToIp4(r.first) : `${intToIp4(r.first)}-${intToIp4(r.last)}`)).join(',')}`
}
