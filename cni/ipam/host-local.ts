// host-local IPAM, built in: lock → store → pure allocator, and the CNI result pieces
// (ips + routes) for what was allocated.
import type { BridgeConf } from '../config.js'
import type { CniIpConfig, CniRoute } from '../types.js'
import { allocate, releaseAttachment, releaseStale } from './allocator.js'
import { withLock } from './lock.js'
import { FileStore, type Allocation } from './store.js'
import { crashPoint } from '../crash.js'
import { parseCidr } from '../../src/net/ip.js'

export interface IpamResult {
  ips: (CniIpConfig & { subnet: string })[]
  routes: CniRoute[]
}

function storeFor(conf: BridgeConf): FileStore {
  return new FileStore(conf.ipam.dataDir, conf.name)
}

export async function ipamAdd(conf: BridgeConf, containerID: string, ifname: string): Promise<IpamResult> {
  const store = storeFor(conf)
  const got = await withLock(store.lockPath, () => {
    const a = allocate(store, conf.ipam.ranges, containerID, ifname)
    crashPoint('in-ipam-lock')
    return a
  })
  const ips = got.map((a) => ({
    address: `${a.ip}/${parseCidr(a.range.subnet).prefix}`,
    gateway: a.range.gateway,
    subnet: a.range.subnet,
  }))
  const routes: CniRoute[] = conf.ipam.routes.map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }))
  return { ips, routes }
}

export async function ipamDel(conf: BridgeConf, containerID: string, ifname: string): Promise<string[]> {
  const store = storeFor(conf)
  return withLock(store.lockPath, () => releaseAttachment(store, containerID, ifname))
}

export async function ipamGc(conf: BridgeConf, valid: { containerID: string; ifname: string }[]): Promise<Allocation[]> {
  const store = storeFor(conf)
  return withLock(store.lockPath, () => {
    store.sweepTemp()
    return releaseStale(store, valid)
  })
}

export function ipamHolds(conf: BridgeConf, containerID: string, ifname: string): string[] {
  return storeFor(conf)
    .list()
    .filter((a) => a.containerID === containerID && a.ifname === ifname)
    .map((a) => a.ip)
}
