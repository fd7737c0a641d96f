// subnet.env: the one definition of the file the overlay agent writes and the CNI plugin reads
// (flannel's format, so flannel's own CNI plugin could read ours and ours flannel's):
//
//   FLANNEL_NETWORK=10.244.0.0/16   the cluster network (a route to it goes via the bridge)
//   FLANNEL_SUBNET=10.244.1.1/24    this node's subnet, written as its first address (the bridge IP)
//   FLANNEL_MTU=1450                the pods' MTU (underlay minus the VXLAN overhead)
//   FLANNEL_IPMASQ=true             whether the agent masquerades (then the plugin must not)
//
// All four are required, as flannel's CNI plugin requires them; other keys (flannel's
// FLANNEL_IPV6_*) are ignored. Written atomically: a reader sees either the old or the new
// file, never half of one (temp file in the same directory, fsync, rename).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { cidrContains, formatCidr, parseCidr } from '../net/ip.js'

export interface SubnetEnv {
  network: string
  subnet: string
  mtu: number
  ipMasq: boolean
}

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env'

const KEYS = ['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ'] as const

/** A subnet.env that is there but cannot be used (missing or garbled fields). */
export class SubnetEnvError extends Error {
  override name = 'SubnetEnvError'
}

export function renderSubnetEnv(e: SubnetEnv): string {
  return `FLANNEL_NETWORK=${e.network}\nFLANNEL_SUBNET=${e.subnet}\nFLANNEL_MTU=${e.mtu}\nFLANNEL_IPMASQ=${e.ipMasq}\n`
}

/** KEY=VALUE lines (shell-style quotes and `#` comments tolerated) → a checked SubnetEnv. */
export function parseSubnetEnv(text: string, source = 'subnet.env'): SubnetEnv {
  const kv = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line)
    if (m) kv.set(m[1]!, m[2]!.replace(/^"(.*)"$/, '$1'))
  }
  const missing = KEYS.filter((k) => !kv.get(k))
  if (missing.length) throw new SubnetEnvError(`${source}: missing ${missing.join(', ')}`)
  const bad = (key: string, why: string) => new SubnetEnvError(`${source}: ${key}=${kv.get(key)} ${why}`)
  const cidr = (key: string) => {
    try {
      return parseCidr(kv.get(key)!)
    } catch {
      return undefined
    }
  }
  const network = cidr('FLANNEL_NETWORK')
  if (!network) throw bad('FLANNEL_NETWORK', 'is not a CIDR')
  const subnet = cidr('FLANNEL_SUBNET')
  if (!subnet) throw bad('FLANNEL_SUBNET', 'is not a CIDR')
  if (!cidrContains(network, subnet.ip)) throw bad('FLANNEL_SUBNET', `is not inside FLANNEL_NETWORK ${formatCidr(network)}`)
  const mtuText = kv.get('FLANNEL_MTU')!
  const mtu = Number(mtuText)
  // 68: the smallest MTU IPv4 allows (RFC 791)
  if (!/^\d+$/.test(mtuText) || mtu < 68 || mtu > 65535) throw bad('FLANNEL_MTU', 'is not an MTU (68-65535)')
  const masq = kv.get('FLANNEL_IPMASQ')
  if (masq !== 'true' && masq !== 'false') throw bad('FLANNEL_IPMASQ', 'is neither true nor false')
  return { network: formatCidr(network), subnet: formatCidr(subnet), mtu, ipMasq: masq === 'true' }
}

/** The node's subnet.env; undefined when there is none yet. Garbled → SubnetEnvError. */
export function readSubnetEnv(path: string): SubnetEnv | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return parseSubnetEnv(text, path)
}

/** Write atomically; what is written is first parsed back, so no reader ever gets a file it rejects. */
export function writeSubnetEnv(path: string, e: SubnetEnv): void {
  const text = renderSubnetEnv(e)
  parseSubnetEnv(text, path)
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true })
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`)
  const fd = openSync(tmp, 'w', 0o644)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}
