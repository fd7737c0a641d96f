// CNI wire types. Internally netkube works with the 1.x result shape; result.ts renders it
// for the config's cniVersion.

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number]

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS'

/** What the runtime gave us: the CNI_* environment, parsed, plus the config on stdin. */
export interface CniRequest {
  command: CniCommand
  containerId: string
  netns: string
  ifname: string
  args: string
  path: string
  /** raw stdin */
  stdin: string
}

export interface CniInterface {
  name: string
  mac?: string
  mtu?: number
  /** netns path for interfaces inside the container */
  sandbox?: string
}

export interface CniIpConfig {
  /** CIDR: `10.244.1.5/24` */
  address: string
  gateway?: string
  /** index into `interfaces` */
  interface?: number
}

export interface CniRoute {
  dst: string
  gw?: string
  mtu?: number
  advmss?: number
  priority?: number
  table?: number
  scope?: number
}

export interface CniDns {
  nameservers?: string[]
  domain?: string
  search?: string[]
  options?: string[]
}

/** The result in 1.x shape (ips without `version`). */
export interface CniResult {
  cniVersion: string
  interfaces?: CniInterface[]
  ips?: CniIpConfig[]
  routes?: CniRoute[]
  dns?: CniDns
}

export interface Attachment {
  containerID: string
  ifname: string
}
