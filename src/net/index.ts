// src/net: the one typed layer for kernel networking. See README.md in this folder.
import { IpOps } from './ipops.js'
import { canSetns } from './netns.js'
import { openRtnl } from './rtnl.js'
import type { NetOps } from './types.js'

export * from './errors.js'
export * from './ip.js'
export * from './types.js'
export * from './netns.js'
export * from './sysctl.js'
export { Rtnl, openRtnl, encodeAttrs, encodeLinkInfo, FlagsNew, FlagsGet, AF_INET, AF_INET6, AF_BRIDGE, RT_TABLE_MAIN, RTNH_F_ONLINK } from './rtnl.js'
export type { RtMessage, RtLinkAttrs } from './rtnl.js'
export { IpOps } from './ipops.js'
export { watchLinks, type LinkEvent } from './events.js'

/**
 * Typed kernel operations inside `netns` (name or path; undefined = this process's namespace):
 * a netlink socket opened inside it when possible, else `ip` commands (no setns addon).
 */
export function openNetOps(netns?: string): NetOps {
  if (!netns || canSetns()) return openRtnl(netns)
  return new IpOps(netns)
}
