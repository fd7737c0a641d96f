// ClusterIP and NodePort allocation. Each allocated IP or port is one etcd key
// (/registry/ranges/serviceips/<ip>, /registry/ranges/servicenodeports/<port>) created in
// the SAME transaction as the Service, with a "key absent" compare: two concurrent creates
// can never both win an address, a failed create leaks nothing, a restart finds every
// allocation still in etcd, and deleting the Service deletes its keys in the same txn.
// kube-apiserver keeps a bitmap per range instead; one key per address trades a little
// space for transactions that never contend on a shared bitmap.
import type { Service, ServicePort } from '../api/types.js'
import { invalid as fieldInvalid, type FieldError } from '../api/field-errors.js'
import type { EtcdStore, SideEffects } from '../storage/store.js'
import { bigIntToIp, cidrContains, cidrSize, formatCidr, hostRange, ipToBigInt, isIp, networkOf, nthAddress, parseCidr, type Cidr } from '../net/ip.js'

export const IP_PREFIX = '/registry/ranges/serviceips/'
export const PORT_PREFIX = '/registry/ranges/servicenodeports/'

/** Parse the service CIDR (host bits are cleared: `10.96.5.7/24` is `10.96.5.0/24`). */
export function parseServiceCidr(text: string): Cidr {
  let c: Cidr
  try {
    c = parseCidr(text)
  } catch {
    throw new Error(`invalid service CIDR ${text}`)
  }
  if (c.family !== 4 || c.prefix < 8 || c.prefix > 30) throw new Error(`invalid service CIDR ${text}`)
  return { ...c, ip: networkOf(c) }
}

export class AllocationError extends Error {
  constructor(readonly errs: FieldError[]) {
    super(errs.map((e) => e.message).join('; '))
  }
}

export const NODE_PORT_MIN = 30000
export const NODE_PORT_MAX = 32767

function needsClusterIP(svc: Service): boolean {
  return svc.spec?.type !== 'ExternalName' && svc.spec?.clusterIP !== 'None'
}

function needsNodePorts(svc: Service): boolean {
  return svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer'
}

/** Node ports are picked for ports without one, unless a LoadBalancer says `allocateLoadBalancerNodePorts: false`. */
function picksNodePorts(svc: Service): boolean {
  return svc.spec?.type === 'NodePort' || (svc.spec?.type === 'LoadBalancer' && svc.spec.allocateLoadBalancerNodePorts !== false)
}

/** A LoadBalancer with `externalTrafficPolicy: Local` gets a healthCheckNodePort (from the node port range). */
function needsHealthCheckPort(svc: Service): boolean {
  return svc.spec?.type === 'LoadBalancer' && svc.spec.externalTrafficPolicy === 'Local'
}

/** The allocation keys a stored Service owns. */
export function allocationKeys(svc: Service): string[] {
  const keys: string[] = []
  const ip = svc.spec?.clusterIP
  if (ip && ip !== 'None' && svc.spec?.type !== 'ExternalName') keys.push(IP_PREFIX + ip)
  if (needsNodePorts(svc)) for (const p of svc.spec.ports ?? []) if (p?.nodePort) keys.push(PORT_PREFIX + p.nodePort)
  if (needsHealthCheckPort(svc) && svc.spec.healthCheckNodePort) keys.push(PORT_PREFIX + svc.spec.healthCheckNodePort)
  return keys
}

export class ServiceAllocator {
  readonly cidr: Cidr
  /** the addresses a Service may get: the range without its network and broadcast addresses */
  private readonly first: bigint
  private readonly last: bigint

  constructor(
    private store: EtcdStore,
    cidrText: string,
  ) {
    this.cidr = parseServiceCidr(cidrText)
    const hosts = hostRange(this.cidr)
    this.first = ipToBigInt(hosts.first)
    this.last = ipToBigInt(hosts.last)
  }

  private inRange(ip: string): boolean {
    if (!isIp(ip) || !cidrContains(this.cidr, ip)) return false
    const n = ipToBigInt(ip)
    return n >= this.first && n <= this.last
  }

  private async taken(key: string): Promise<boolean> {
    return (await this.store.keys(key)).some((k) => k === key)
  }

  /**
   * Fill in the Service's clusterIP / nodePorts (requested values are checked, missing ones
   * picked at random) and return the keys the create/update transaction must claim.
   * `old` is the stored Service on update. Throws AllocationError (→ 422) for a requested
   * value that is taken or out of range.
   */
  async allocate(svc: Service, old?: Service): Promise<SideEffects> {
    const create: Record<string, string> = {}
    const del: string[] = []
    const owner = JSON.stringify({ namespace: svc.metadata.namespace, name: svc.metadata.name })
    if (!svc.spec || typeof svc.spec !== 'object') svc.spec = {}
    const spec = svc.spec
    // Validation rejects malformed ports; never trip over one here regardless.
    if (spec.ports !== undefined && !Array.isArray(spec.ports)) throw new AllocationError([fieldInvalid('spec.ports', spec.ports, 'must be a list')])
    if (spec.ports?.some((p) => p === null || typeof p !== 'object')) throw new AllocationError([fieldInvalid('spec.ports', null, 'must be a list of objects')])
    const errs: FieldError[] = []

    const oldIP = old && needsClusterIP(old) ? old.spec.clusterIP : undefined
    if (needsClusterIP(svc)) {
      const want = spec.clusterIP || spec.clusterIPs?.[0] || ''
      if (oldIP && (!want || want === oldIP)) {
        spec.clusterIP = oldIP
      } else if (want) {
        if (!this.inRange(want)) {
          errs.push(fieldInvalid('spec.clusterIPs', [want], `failed to allocate IP ${want}: provided IP (${want}) is not in the valid range. The range of valid IPs is ${formatCidr(this.cidr)}`))
        } else if (await this.taken(IP_PREFIX + want)) {
          errs.push(fieldInvalid('spec.clusterIPs', [want], `failed to allocate IP ${want}: provided IP is already allocated`))
        } else {
          create[IP_PREFIX + want] = owner
          spec.clusterIP = want
        }
      } else {
        const ip = await this.pickIP()
        create[IP_PREFIX + ip] = owner
        spec.clusterIP = ip
      }
      if (spec.clusterIP) {
        spec.clusterIPs = [spec.clusterIP]
        spec.ipFamilies = spec.ipFamilies ?? ['IPv4']
        spec.ipFamilyPolicy = spec.ipFamilyPolicy ?? 'SingleStack'
      }
    } else if (spec.type === 'ExternalName') {
      delete spec.clusterIP
      delete spec.clusterIPs
    } else {
      spec.clusterIPs = ['None']
    }
    if (oldIP && spec.clusterIP !== oldIP) del.push(IP_PREFIX + oldIP)

    const oldPorts = new Set<number>()
    if (old && needsNodePorts(old)) for (const p of old.spec.ports ?? []) if (p?.nodePort) oldPorts.add(p.nodePort)
    const keep = new Set<number>()
    if (needsNodePorts(svc)) {
      const ports: ServicePort[] = spec.ports ?? []
      // Carry over the node port of a port that existed before and asked for none.
      if (old) {
        for (const p of ports) {
          if (p.nodePort) continue
          const prev = old.spec.ports?.find((o) => o?.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'))
          if (prev?.nodePort && needsNodePorts(old)) p.nodePort = prev.nodePort
        }
      }
      const claimed = new Set<number>()
      for (const [i, p] of ports.entries()) {
        if (!p.nodePort) continue
        if (oldPorts.has(p.nodePort)) {
          keep.add(p.nodePort)
          continue
        }
        if (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) {
          errs.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`))
        } else if (claimed.has(p.nodePort) || (await this.taken(PORT_PREFIX + p.nodePort))) {
          errs.push(fieldInvalid(`spec.ports[${i}].nodePort`, p.nodePort, 'provided port is already allocated'))
        } else {
          claimed.add(p.nodePort)
          create[PORT_PREFIX + p.nodePort] = owner
        }
      }
      for (const p of ports) {
        if (p.nodePort || !picksNodePorts(svc)) continue
        const port = await this.pickPort(claimed)
        claimed.add(port)
        create[PORT_PREFIX + port] = owner
        p.nodePort = port
      }
    } else {
      for (const p of spec.ports ?? []) delete p.nodePort
    }
    for (const p of oldPorts) if (!keep.has(p)) del.push(PORT_PREFIX + p)

    // healthCheckNodePort: kept across updates, a requested one checked, else picked.
    const oldHc = old && needsHealthCheckPort(old) ? old.spec.healthCheckNodePort : undefined
    if (needsHealthCheckPort(svc)) {
      const want = spec.healthCheckNodePort || oldHc
      if (want && want === oldHc) spec.healthCheckNodePort = want
      else if (want) {
        if (want < NODE_PORT_MIN || want > NODE_PORT_MAX)
          errs.push(fieldInvalid('spec.healthCheckNodePort', want, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`))
        else if (keep.has(want) || create[PORT_PREFIX + want] !== undefined || (await this.taken(PORT_PREFIX + want)))
          errs.push(fieldInvalid('spec.healthCheckNodePort', want, 'provided port is already allocated'))
        else create[PORT_PREFIX + want] = owner
      } else {
        const claimed = new Set([...Object.keys(create), ...[...keep].map((p) => PORT_PREFIX + p)].filter((k) => k.startsWith(PORT_PREFIX)).map((k) => Number(k.slice(PORT_PREFIX.length))))
        const port = await this.pickPort(claimed)
        create[PORT_PREFIX + port] = owner
        spec.healthCheckNodePort = port
      }
    } else if (spec.healthCheckNodePort === 0) delete spec.healthCheckNodePort
    if (oldHc && spec.healthCheckNodePort !== oldHc) del.push(PORT_PREFIX + oldHc)
    if (errs.length) throw new AllocationError(errs)
    return { create, delete: del }
  }

  private async pickIP(): Promise<string> {
    const used = new Set((await this.store.keys(IP_PREFIX)).map((k) => k.slice(IP_PREFIX.length)))
    // .1 is the `kubernetes` Service's, .10 cluster DNS's (when the range is that big)
    const reserved = new Set([1n, 10n].filter((n) => n < cidrSize(this.cidr)).map((n) => nthAddress(this.cidr, n)))
    const free = (n: bigint): string | undefined => {
      const ip = bigIntToIp(n, this.cidr.family)
      return used.has(ip) || reserved.has(ip) ? undefined : ip
    }
    const span = Number(this.last - this.first + 1n)
    // Random probing keeps concurrent creates from all racing for the same lowest free address.
    for (let i = 0; i < 64; i++) {
      const ip = free(this.first + BigInt(Math.floor(Math.random() * span)))
      if (ip) return ip
    }
    for (let n = this.first; n <= this.last; n++) {
      const ip = free(n)
      if (ip) return ip
    }
    throw new AllocationError([fieldInvalid('spec.clusterIPs', [], `failed to allocate a serviceIP: range is full`)])
  }

  private async pickPort(claimed: Set<number>): Promise<number> {
    const used = new Set((await this.store.keys(PORT_PREFIX)).map((k) => Number(k.slice(PORT_PREFIX.length))))
    const span = NODE_PORT_MAX - NODE_PORT_MIN + 1
    for (let i = 0; i < 64; i++) {
      const p = NODE_PORT_MIN + Math.floor(Math.random() * span)
      if (!used.has(p) && !claimed.has(p)) return p
    }
    for (let p = NODE_PORT_MIN; p <= NODE_PORT_MAX; p++) if (!used.has(p) && !claimed.has(p)) return p
    throw new AllocationError([fieldInvalid('spec.ports', [], 'failed to allocate a nodePort: range is full')])
  }
}
