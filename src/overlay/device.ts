// The VXLAN device we want, and how an existing one differs. Pure.
// Identity attributes (VNI, local address, port, underlay link, learning) can only be set at
// creation, so a difference there means delete + create; MTU and MAC can be changed in place.
// Recreating is avoided otherwise: it flushes every neighbour/FDB entry and drops traffic.
import { createHash } from 'node:crypto'
import type { VxlanLinkSpec } from '../net/vxlan.js'

/** The device the overlay wants: the kernel-layer spec with its MAC always chosen. */
export interface VxlanSpec extends VxlanLinkSpec {
  mac: string
}

export interface ObservedVxlan {
  kind: string
  vni?: number
  local?: string
  port?: number
  learning?: boolean
  mtu?: number
  link?: string
  mac?: string
  up?: boolean
}

export interface DeviceDiff {
  recreate: string[]
  update: string[]
}

/** VXLAN adds 50 bytes on IPv4: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50

/**
 * A stable, locally administered unicast MAC for the VTEP, derived from (PublicIP, VNI), so a
 * recreated device keeps the MAC the other nodes have in their ARP/FDB entries.
 */
export function vtepMac(publicIP: string, vni: number): string {
  const h = createHash('sha256').update(`netkube-vtep ${publicIP} ${vni}`).digest()
  const b = [0x0e, h[0]!, h[1]!, h[2]!, h[3]!, h[4]!]
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':')
}

export function diffDevice(want: VxlanSpec, have: ObservedVxlan | undefined): DeviceDiff | undefined {
  if (!have) return undefined
  const recreate: string[] = []
  const update: string[] = []
  const cmp = (list: string[], what: string, w: unknown, h: unknown) => {
    if (w !== h) list.push(`${what}: have ${JSON.stringify(h)}, want ${JSON.stringify(w)}`)
  }
  cmp(recreate, 'kind', 'vxlan', have.kind)
  if (have.kind === 'vxlan') {
    cmp(recreate, 'vni', want.vni, have.vni)
    cmp(recreate, 'local', want.local, have.local)
    cmp(recreate, 'port', want.port, have.port)
    cmp(recreate, 'learning', want.learning, have.learning)
    cmp(recreate, 'link', want.link, have.link)
  }
  cmp(update, 'mtu', want.mtu, have.mtu)
  cmp(update, 'mac', want.mac, have.mac?.toLowerCase())
  cmp(update, 'up', true, have.up)
  return { recreate, update }
}
