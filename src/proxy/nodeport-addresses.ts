// --nodeport-addresses (upstream kube-proxy): which local addresses NodePorts answer on.
// Unset (or a CIDR covering everything, 0.0.0.0/0): every local address (nft `fib daddr type
// local`, iptables `-m addrtype --dst-type LOCAL`). `primary`: the node's primary IPs (its
// Node's InternalIPs / --node-ip). CIDRs: the node's interface addresses inside them (read
// from the node's namespace at every full sync). Loopback is never one: DNAT from 127/8
// would need route_localnet. Pure; the address listing is the caller's.
import { cidrContains, isIp4, parseCidr, type Cidr } from '../net/ip.js'

export type NodePortAddresses = { kind: 'all' } | { kind: 'primary' } | { kind: 'cidrs'; cidrs: Cidr[] }

const LOOPBACK = parseCidr('127.0.0.0/8')

/** Parse the flag's values (comma-split); errors in upstream's validation wording. */
export function parseNodePortAddresses(values: readonly string[]): { value: NodePortAddresses; errors: string[] } {
  const errors: string[] = []
  const cidrs: Cidr[] = []
  values.forEach((v, i) => {
    const field = `nodePortAddresses[${i}]`
    if (v === 'primary') {
      if (i !== 0 || values.length !== 1) errors.push(`${field}: Invalid value: "${v}": can't use both 'primary' and CIDRs`)
      return
    }
    try {
      const c = parseCidr(v)
      cidrs.push(c)
    } catch {
      errors.push(`${field}: Invalid value: "${v}": must be a valid CIDR`)
    }
  })
  if (values.length === 1 && values[0] === 'primary') return { value: { kind: 'primary' }, errors }
  const v4 = cidrs.filter((c) => c.family === 4)
  // upstream's MatchAll: a zero-prefix CIDR of the family is "every local address"
  if (!cidrs.length || v4.some((c) => c.prefix === 0)) return { value: { kind: 'all' }, errors }
  return { value: { kind: 'cidrs', cidrs: v4 }, errors }
}

/** The IPv4 addresses NodePorts answer on, sorted; undefined = every local address. */
export function nodePortIPs(spec: NodePortAddresses, primary: readonly string[], local: readonly string[]): string[] | undefined {
  if (spec.kind === 'all') return undefined
  const pool = spec.kind === 'primary' ? primary : local.filter((ip) => spec.cidrs.some((c) => cidrContains(c, ip)))
  return [...new Set(pool.filter((ip) => isIp4(ip) && !cidrContains(LOOPBACK, ip)))].sort()
}
