// The one place for address and CIDR maths (pure, no kernel). ipaddr.js parses and formats;
// arithmetic is on bigint so one code path serves IPv4 and IPv6. Two views of the same maths:
//  - `Cidr` (either family, addresses as strings): IPAM, routes, netlink buffers, service ranges;
//  - `Ip4Net` (IPv4 as an unsigned 32-bit number): subnet stepping, where a lease is a number to
//    add a block size to and to use as a map key (flannel's ip.IP4Net does the same).
import ipaddr from 'ipaddr.js'

export type Family = 4 | 6

export interface Cidr {
  /** the address as written (may have host bits: `10.244.1.5/24`) */
  ip: string
  prefix: number
  family: Family
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 }

export function familyOf(ip: string): Family {
  return ipaddr.parse(ip).kind() === 'ipv6' ? 6 : 4
}

/** Dotted-quad IPv4 (no shorthand like `10.1`, no leading zeros) or IPv6. */
export function isIp(ip: string): boolean {
  return ip.includes(':') ? ipaddr.IPv6.isValid(ip) : isIp4(ip)
}

export function isIp4(ip: string): boolean {
  return parse4(ip) !== undefined
}

/**
 * Strict dotted quad → unsigned 32-bit number, undefined if `s` is not one. Hand-written
 * because the proxy validates and sorts every endpoint address on each sync, and ipaddr.js's
 * parse costs ~6x this loop; the result agrees with ipaddr.IPv4.isValidFourPartDecimal.
 */
function parse4(s: string): number | undefined {
  let n = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46 // a virtual '.' closes the last octet
    if (c === 46) {
      if (digits === 0 || octet > 255) return undefined
      n = n * 256 + octet
      octet = 0
      digits = 0
      if (i < s.length && ++dots > 3) return undefined
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return undefined // leading zero: "010" is octal elsewhere
      octet = octet * 10 + (c - 48)
      if (++digits > 3) return undefined
    } else {
      return undefined
    }
  }
  return dots === 3 ? n : undefined
}

export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/')
  if (slash < 0) throw new Error(`invalid CIDR "${text}": missing /prefix`)
  const ip = text.slice(0, slash)
  const prefixText = text.slice(slash + 1)
  if (!isIp(ip)) throw new Error(`invalid CIDR "${text}": bad address`)
  const family = familyOf(ip)
  const prefix = Number(prefixText)
  if (!/^\d{1,3}$/.test(prefixText) || prefix > BITS[family]) throw new Error(`invalid CIDR "${text}": bad prefix`)
  return { ip: normalizeIp(ip), prefix, family }
}

/** A CIDR that must name a network: host bits set (`10.5.1.7/24`) is an error, not a shorthand. */
export function parseNetwork(text: string): Cidr {
  const c = parseCidr(text)
  if (networkOf(c) !== c.ip) throw new Error(`invalid CIDR "${text}": host bits set`)
  return c
}

export function formatCidr(c: Cidr): string {
  return `${c.ip}/${c.prefix}`
}

export function normalizeIp(ip: string): string {
  return ipaddr.parse(ip).toString()
}

export function ipToBuffer(ip: string): Buffer {
  return Buffer.from(ipaddr.parse(ip).toByteArray())
}

export function bufferToIp(b: Buffer | Uint8Array): string {
  return ipaddr.fromByteArray(Array.from(b)).toString()
}

export function ipToBigInt(ip: string): bigint {
  let n = 0n
  for (const byte of ipaddr.parse(ip).toByteArray()) n = (n << 8n) | BigInt(byte)
  return n
}

export function bigIntToIp(n: bigint, family: Family): string {
  if (n < 0n || n >> BigInt(BITS[family]) !== 0n) throw new RangeError(`${n} is not an IPv${family} address`)
  const len = BITS[family] / 8
  const bytes: number[] = new Array(len)
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return ipaddr.fromByteArray(bytes).toString()
}

/** Order addresses numerically; IPv4 sorts before IPv6. */
export function compareIp(a: string, b: string): number {
  const x = parse4(a)
  const y = parse4(b)
  if (x !== undefined && y !== undefined) return x - y
  const fa = familyOf(a)
  const fb = familyOf(b)
  if (fa !== fb) return fa - fb
  const d = ipToBigInt(a) - ipToBigInt(b)
  return d < 0n ? -1 : d > 0n ? 1 : 0
}

function hostMask(c: Cidr): bigint {
  return (1n << BigInt(BITS[c.family] - c.prefix)) - 1n
}

/** The network address of a CIDR (`10.244.1.5/24` → `10.244.1.0`). */
export function networkOf(c: Cidr): string {
  return bigIntToIp(ipToBigInt(c.ip) & ~hostMask(c), c.family)
}

/** The last address of the block (IPv4's broadcast; for IPv6 simply the highest address). */
export function broadcastOf(c: Cidr): string {
  return bigIntToIp(ipToBigInt(c.ip) | hostMask(c), c.family)
}

/** How many addresses the block holds (2^host bits). */
export function cidrSize(c: Cidr): bigint {
  return hostMask(c) + 1n
}

/** The n-th address of the block counted from its network address (`10.96.0.0/12`, 10 → `10.96.0.10`). */
export function nthAddress(c: Cidr, n: number | bigint): string {
  const i = BigInt(n)
  if (i < 0n || i > hostMask(c)) throw new RangeError(`${formatCidr(c)} has no address #${n}`)
  return bigIntToIp((ipToBigInt(c.ip) & ~hostMask(c)) + i, c.family)
}

/**
 * The addresses a host may hold. IPv4 leaves out the network and broadcast addresses, except
 * on /31 (RFC 3021 point-to-point: both are hosts) and /32; IPv6 has no broadcast, and leaves
 * out only the subnet-router anycast (the network address) except on /127 and /128.
 */
export function hostRange(c: Cidr): { first: string; last: string } {
  const hostBits = BITS[c.family] - c.prefix
  if (hostBits <= 1) return { first: networkOf(c), last: broadcastOf(c) }
  const last = c.family === 4 ? hostMask(c) - 1n : hostMask(c)
  return { first: nthAddress(c, 1), last: nthAddress(c, last) }
}

export function cidrContains(c: Cidr, ip: string): boolean {
  if (familyOf(ip) !== c.family) return false
  return networkOf({ ...c, ip }) === networkOf(c)
}

/** `inner` lies wholly inside `outer` (same family, at least as long a prefix). */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.ip)
}

/** Canonical network form: `10.244.1.5/24` → `10.244.1.0/24`. */
export function canonicalCidr(text: string): string {
  const c = parseCidr(text)
  return `${networkOf(c)}/${c.prefix}`
}

// ---- IPv4 as unsigned 32-bit numbers ----

export interface Ip4Net {
  /** network address as an unsigned 32-bit integer */
  ip: number
  prefix: number
}

export function ip4ToInt(ip: string): number {
  const n = parse4(ip)
  if (n === undefined) throw new Error(`invalid IPv4 address "${ip}"`)
  return n
}

export function intToIp4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${n} is not an IPv4 address`)
  // direct octets: NetworkPolicy renders every set element through here (bigint is ~10x slower)
  return `${Math.floor(n / 0x1000000)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** Addresses in a block of this prefix length (2^(32-prefix)). */
export function ip4BlockSize(prefix: number): number {
  return 2 ** (32 - prefix)
}

/** Parse an IPv4 network; host bits must be zero unless `loose` (then they are cleared). */
export function parseIp4Net(text: string, loose = false): Ip4Net {
  const c = loose ? parseCidr(text) : parseNetwork(text)
  if (c.family !== 4) throw new Error(`invalid CIDR "${text}": not IPv4`)
  return { ip: ip4ToInt(networkOf(c)), prefix: c.prefix }
}

export function formatIp4Net(n: Ip4Net): string {
  return `${intToIp4(n.ip)}/${n.prefix}`
}

/** The same network as a `Cidr`, for the string-side helpers. */
export function ip4NetToCidr(n: Ip4Net): Cidr {
  return { ip: intToIp4(n.ip), prefix: n.prefix, family: 4 }
}

/** `ip` (a number) lies inside `net`. */
export function ip4NetContains(net: Ip4Net, ip: number): boolean {
  return ip4AlignedTo(ip, net.prefix) === net.ip
}

export function ip4NetContainsNet(outer: Ip4Net, inner: Ip4Net): boolean {
  return inner.prefix >= outer.prefix && ip4NetContains(outer, inner.ip)
}

/** `ip` rounded down to a multiple of the block size of `prefix` (its network address). */
export function ip4AlignedTo(ip: number, prefix: number): number {
  const size = ip4BlockSize(prefix)
  return ip - (ip % size)
}
