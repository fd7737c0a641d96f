// src/net: the one typed layer for kernel networking. See README.md in this folder.
export * from './errors.js'
export * from './ip.js'
export * from './types.js'
export * from './netns.js'
export * from './sysctl.js'
export { Rtnl, openRtnl, encodeAttrs, encodeLinkInfo, FlagsNew, FlagsGet, AF_INET, AF_INET6, AF_BRIDGE, RT_TABLE_MAIN, RTNH_F_ONLINK } from './rtnl.js'
export type { RtMessage, RtLinkAttrs } from './rtnl.js'
export { IpOps } from './ipops.js'
export { watchLinks, type LinkEvent } from './events.js'

export { Netns, netnsHandle, openNetOps } from './door.js'
