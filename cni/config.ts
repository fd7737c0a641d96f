// Network configuration: stdin JSON → a typed, validated BridgeConf (reference `bridge`
// plugin option names, host-local IPAM option names). Node-aware mode: with no subnet in
// the config, the node's subnet.env (written by the overlay agent) supplies subnet, MTU and
// masquerade, so one conflist serves every node — loaded lazily, because DEL/GC must work
// even when that file is gone.
import { CniCode, CniError } from './errors.js'
import { SUPPORTED_VERSIONS, type Attachment, type CniDns, type CniResult, type CniVersion } from './types.js'
import { normalizeResult } from './result.js'
import { cidrContains, compareIp, familyOf, hostRange, isIp, networkOf, parseCidr } from '../src/net/ip.js'
import { DEFAULT_SUBNET_FILE, readSubnetEnv, SubnetEnvError, type SubnetEnv } from '../src/overlay/subnetenv.js'

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks'
/** Abstract unix socket: scoped to the network namespace, so each node's agent has its own. */
export const DEFAULT_AGENT_SOCKET = '@netkube-cni'

export interface IpamRange {
  subnet: string
  rangeStart: string
  rangeEnd: string
  gateway: string
}

export interface IpamRoute {
  dst: string
  gw?: string
}

export interface IpamConf {
  /** range sets: one address is allocated from each set (dual stack = two sets) */
  ranges: IpamRange[][]
  routes: IpamRoute[]
  dataDir: string
}

export interface BridgeConf {
  cniVersion: CniVersion
  name: string
  type: string
  bridge: string
  isGateway: boolean
  isDefaultGateway: boolean
  ipMasq: boolean
  /** 0 = kernel default (1500) */
  mtu: number
  hairpinMode: boolean
  promiscMode: boolean
  ipam: IpamConf
  dns?: CniDns
  prevResult?: CniResult
  /** true when the subnet comes from subnet.env */
  nodeAware: boolean
  subnetFile: string
  agentSocket: string
  /** which options the config set explicitly (node-aware defaults do not override them) */
  explicit: Set<string>
  validAttachments?: Attachment[]
}

type Json = Record<string, unknown>

function invalid(msg: string): CniError {
  return new CniError(CniCode.INVALID_CONFIG, msg)
}

function bool(o: Json, key: string, dflt: boolean): boolean {
  const v = o[key]
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') throw invalid(`"${key}" must be a boolean`)
  return v
}

function str(o: Json, key: string, dflt?: string): string | undefined {
  const v = o[key]
  if (v === undefined || v === '') return dflt
  if (typeof v !== 'string') throw invalid(`"${key}" must be a string`)
  return v
}

/** stdin → JSON object (code 6 on failure). */
export function decodeStdin(stdin: string): Json {
  let v: unknown
  try {
    v = JSON.parse(stdin)
  } catch (err) {
    throw new CniError(CniCode.DECODE_FAILURE, 'failed to decode network configuration', (err as Error).message)
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CniError(CniCode.DECODE_FAILURE, 'network configuration must be a JSON object')
  return v as Json
}

export function checkVersion(v: unknown): CniVersion {
  if (typeof v !== 'string' || v === '') throw invalid('"cniVersion" is required')
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(CniCode.INCOMPATIBLE_VERSION, `incompatible CNI versions: config is "${v}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`)
  }
  return v as CniVersion
}

/** One host-local range with defaults filled in (first usable .. last usable, gateway = .1). */
export function parseRange(r: Json): IpamRange {
  const subnetText = str(r, 'subnet')
  if (!subnetText) throw invalid('IPAM range needs "subnet"')
  let c
  try {
    c = parseCidr(subnetText)
  } catch (err) {
    throw invalid((err as Error).message)
  }
  // host-local wants a gateway and at least one pod address besides it
  if (c.prefix > (c.family === 4 ? 30 : 126)) throw invalid(`subnet ${subnetText} is too small`)
  const { first, last } = hostRange(c)
  const subnet = `${networkOf(c)}/${c.prefix}`
  const pick = (key: string, dflt: string): string => {
    const v = str(r, key, dflt)!
    if (!isIp(v) || familyOf(v) !== c.family || !cidrContains(c, v)) throw invalid(`"${key}" ${v} is not inside subnet ${subnet}`)
    return v
  }
  const rangeStart = pick('rangeStart', first)
  const rangeEnd = pick('rangeEnd', last)
  if (compareIp(rangeStart, rangeEnd) > 0) throw invalid(`rangeStart ${rangeStart} is after rangeEnd ${rangeEnd}`)
  return { subnet, rangeStart, rangeEnd, gateway: pick('gateway', first) }
}

function parseRanges(ipam: Json): IpamRange[][] {
  if (ipam.ranges !== undefined) {
    if (!Array.isArray(ipam.ranges)) throw invalid('"ipam.ranges" must be an array of range sets')
    return ipam.ranges.map((set: unknown) => {
      if (!Array.isArray(set) || set.length === 0) throw invalid('each entry of "ipam.ranges" must be a non-empty array')
      return set.map((r: unknown) => {
        if (!r || typeof r !== 'object') throw invalid('IPAM range must be an object')
        return parseRange(r as Json)
      })
    })
  }
  if (ipam.subnet !== undefined) return [[parseRange(ipam)]]
  return []
}

function parseRoutes(v: unknown): IpamRoute[] {
  if (v === undefined) return []
  if (!Array.isArray(v)) throw invalid('"ipam.routes" must be an array')
  return v.map((r: unknown) => {
    const o = (r ?? {}) as Json
    const dst = str(o, 'dst')
    if (!dst) throw invalid('route needs "dst"')
    try {
      parseCidr(dst)
    } catch (err) {
      throw invalid((err as Error).message)
    }
    const gw = str(o, 'gw')
    if (gw !== undefined && !isIp(gw)) throw invalid(`route gw "${gw}" is not an IP address`)
    return gw ? { dst, gw } : { dst }
  })
}

function parseAttachments(v: unknown): Attachment[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw invalid('"cni.dev/valid-attachments" must be an array')
  return v.map((a: unknown) => {
    const o = (a ?? {}) as Json
    const containerID = str(o, 'containerID')
    const ifname = str(o, 'ifname')
    if (!containerID || !ifname) throw invalid('attachment needs "containerID" and "ifname"')
    return { containerID, ifname }
  })
}

/** Parse and validate the whole plugin config (no file access). */
export function parseConfig(stdin: string): BridgeConf {
  const o = decodeStdin(stdin)
  const cniVersion = checkVersion(o.cniVersion)
  const name = str(o, 'name')
  if (!name || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw invalid('"name" is required and must be alphanumeric (with _ . -)')
  const ipamRaw = (o.ipam ?? {}) as Json
  if (typeof ipamRaw !== 'object' || Array.isArray(ipamRaw)) throw invalid('"ipam" must be an object')
  const ipamType = str(ipamRaw, 'type', 'host-local')
  if (ipamType !== 'host-local') throw invalid(`IPAM type "${ipamType}" is not supported (netkube has host-local built in)`)
  const ranges = parseRanges(ipamRaw)
  const mtu = o.mtu === undefined ? 0 : o.mtu
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 0 || mtu > 65535) throw invalid('"mtu" must be an integer')
  const isDefaultGateway = bool(o, 'isDefaultGateway', false)
  const bridge = str(o, 'bridge', 'cni0')!
  if (bridge.length > 15) throw invalid(`bridge name "${bridge}" is longer than 15 characters`)
  const conf: BridgeConf = {
    cniVersion,
    name,
    type: str(o, 'type', 'netkube')!,
    bridge,
    // isDefaultGateway implies isGateway (as in the reference plugin)
    isGateway: bool(o, 'isGateway', false) || isDefaultGateway,
    isDefaultGateway,
    ipMasq: bool(o, 'ipMasq', false),
    mtu,
    hairpinMode: bool(o, 'hairpinMode', false),
    promiscMode: bool(o, 'promiscMode', false),
    ipam: { ranges, routes: parseRoutes(ipamRaw.routes), dataDir: str(ipamRaw, 'dataDir', DEFAULT_DATA_DIR)! },
    nodeAware: ranges.length === 0,
    subnetFile: str(o, 'subnetFile', DEFAULT_SUBNET_FILE)!,
    agentSocket: str(o, 'agentSocket', DEFAULT_AGENT_SOCKET)!,
    explicit: new Set(Object.keys(o)),
  }
  if (o.dns !== undefined) {
    if (typeof o.dns !== 'object' || o.dns === null) throw invalid('"dns" must be an object')
    conf.dns = o.dns as CniDns
  }
  if (o.prevResult !== undefined) {
    try {
      conf.prevResult = normalizeResult(o.prevResult, cniVersion)
    } catch (err) {
      throw new CniError(CniCode.DECODE_FAILURE, 'failed to decode prevResult', (err as Error).message)
    }
  }
  const att = parseAttachments(o['cni.dev/valid-attachments'] ?? o['cni.dev/attachments'])
  if (att) conf.validAttachments = att
  return conf
}

/** Read the node's subnet.env: a missing file is "not available" (50), as STATUS reports; a garbled one is a config error. */
export function loadSubnetEnv(path: string): SubnetEnv {
  let env: SubnetEnv | undefined
  try {
    env = readSubnetEnv(path)
  } catch (err) {
    if (err instanceof SubnetEnvError) throw invalid(err.message)
    throw new CniError(CniCode.NOT_AVAILABLE, `node subnet not available yet: ${path}`, (err as Error).message)
  }
  if (!env) throw new CniError(CniCode.NOT_AVAILABLE, `node subnet not available yet: ${path} is missing`)
  return env
}

/**
 * Fill a node-aware config from subnet.env (flannel's CNI plugin does the same): the node
 * subnet becomes the range (gateway = FLANNEL_SUBNET's address, the bridge IP), the cluster
 * network a route via that gateway, FLANNEL_MTU the MTU; the bridge is the pods' default
 * gateway; masquerade by the plugin only if the agent does not (FLANNEL_IPMASQ=false).
 * Options the config set explicitly win.
 */
export function applySubnetEnv(conf: BridgeConf, env: SubnetEnv): BridgeConf {
  const c = parseCidr(env.subnet)
  const range = parseRange({ subnet: env.subnet, gateway: c.ip })
  const out: BridgeConf = { ...conf, ipam: { ...conf.ipam, ranges: [[range]] } }
  if (!conf.ipam.routes.some((r) => r.dst === env.network)) {
    out.ipam.routes = [...conf.ipam.routes, { dst: env.network }]
  }
  if (!conf.explicit.has('mtu')) out.mtu = env.mtu
  if (!conf.explicit.has('isGateway')) out.isGateway = true
  if (!conf.explicit.has('isDefaultGateway')) {
    out.isDefaultGateway = true
    out.isGateway = true
  }
  if (!conf.explicit.has('ipMasq')) out.ipMasq = !env.ipMasq
  return out
}
