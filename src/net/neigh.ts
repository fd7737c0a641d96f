// IPv4 neighbour (ARP) entries over rtnetlink. The overlay writes PERMANENT entries: the
// kernel never probes, ages or garbage-collects them, so an ARP request never has to cross the
// VXLAN device (where nobody would answer it: learning is off and there is no flooding).
import nl from 'netlink'
import { NetError, errnoOf, isErrno } from './errors.js'
import { bufferToIp, ipToBuffer } from './ip.js'
import { AF_INET, FlagsNew, macToString, type Rtnl } from './rtnl.js'
import { macToBuffer } from './rtnl.js'

export interface NeighInfo {
  ip: string
  mac?: string
  dev: string
  permanent: boolean
}

/** `names` (ifindex → name) saves a link dump when the caller already has one. */
export async function listNeighbors(rt: Rtnl, dev?: string, names?: Map<number, string>): Promise<NeighInfo[]> {
  names ??= new Map((await rt.listLinks()).map((l) => [l.index, l.name]))
  const msgs = await rt.call('list', 'neighbours', () => rt.sock.getNeighbors({ family: AF_INET }))
  const out: NeighInfo[] = []
  for (const m of msgs) {
    if (m.data.family !== AF_INET || !m.attrs.dst) continue
    const name = names.get(m.data.ifindex ?? 0) ?? ''
    if (dev && name !== dev) continue
    const n: NeighInfo = { ip: bufferToIp(m.attrs.dst), dev: name, permanent: Boolean(m.data.state?.permanent) }
    const mac = macToString(m.attrs.lladdr)
    if (mac) n.mac = mac
    out.push(n)
  }
  return out
}

/** `ip neigh replace IP lladdr MAC dev DEV nud permanent` */
export async function replaceNeighbor(rt: Rtnl, n: { ip: string; mac: string; dev: string }): Promise<void> {
  const ifindex = await rt.indexOf(n.dev, 'replace neighbour')
  const data: nl.rt.Neighbor = { family: AF_INET, ifindex, state: { permanent: true } }
  await rt.call('replace neighbour', `${n.ip} lladdr ${n.mac} dev ${n.dev}`, () =>
    rt.sock.newNeighbor(data, { dst: ipToBuffer(n.ip), lladdr: macToBuffer(n.mac) }, { flags: FlagsNew.CREATE | FlagsNew.REPLACE }),
  )
}

/** false when there was nothing to delete */
export async function deleteNeighbor(rt: Rtnl, n: { ip: string; dev: string }): Promise<boolean> {
  const ifindex = await rt.indexOf(n.dev, 'delete neighbour')
  try {
    await rt.sock.delNeighbor({ family: AF_INET, ifindex }, { dst: ipToBuffer(n.ip) })
    return true
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ESRCH', 'ENODEV')) return false
    throw new NetError('delete neighbour', `${n.ip} dev ${n.dev}`, errnoOf(err))
  }
}
