// A node's lease as flannel stores it: key <prefix>/subnets/<a.b.c.d>-<len>, value
// {"PublicIP","BackendType","BackendData":{"VNI","VtepMAC"}}. Encoding only, no I/O.
import { formatIp4Net, intToIp4, ip4ToInt, parseIp4Net, type Ip4Net } from '../net/ip.js'
import type { BackendType } from './config.js'

export interface LeaseAttrs {
  publicIP: string
  backendType: BackendType
  /** Only for vxlan. */
  vni?: number
  vtepMAC?: string
}

export interface Lease extends LeaseAttrs {
  subnet: Ip4Net
  /** etcd bookkeeping, present on leases read from etcd. */
  modRevision?: string
  etcdLease?: string
}

export function subnetsPrefix(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/subnets/`
}

export function leaseKey(prefix: string, subnet: Ip4Net): string {
  return `${subnetsPrefix(prefix)}${intToIp4(subnet.ip)}-${subnet.prefix}`
}

/** The subnet a key names, or undefined for keys that are not leases. */
export function subnetFromKey(prefix: string, key: string): Ip4Net | undefined {
  const base = subnetsPrefix(prefix)
  if (!key.startsWith(base)) return undefined
  const m = /^(\d+\.\d+\.\d+\.\d+)-(\d+)$/.exec(key.slice(base.length))
  if (!m) return undefined
  try {
    return parseIp4Net(`${m[1]}/${m[2]}`)
  } catch {
    return undefined
  }
}

export function encodeLease(a: LeaseAttrs): string {
  const v: Record<string, unknown> = { PublicIP: a.publicIP, BackendType: a.backendType }
  if (a.backendType === 'vxlan') v.BackendData = { VNI: a.vni, VtepMAC: a.vtepMAC }
  return JSON.stringify(v)
}

/** Decode a lease value; throws with the reason on anything malformed. */
export function decodeLease(subnet: Ip4Net, value: string): Lease {
  const v = JSON.parse(value) as { PublicIP?: unknown; BackendType?: unknown; BackendData?: { VNI?: unknown; VtepMAC?: unknown } }
  if (typeof v.PublicIP !== 'string') throw new Error(`lease ${formatIp4Net(subnet)}: no PublicIP`)
  ip4ToInt(v.PublicIP)
  const backendType = v.BackendType === 'host-gw' ? 'host-gw' : v.BackendType === 'vxlan' ? 'vxlan' : undefined
  if (!backendType) throw new Error(`lease ${formatIp4Net(subnet)}: unknown BackendType ${JSON.stringify(v.BackendType)}`)
  const lease: Lease = { subnet, publicIP: v.PublicIP, backendType }
  if (backendType === 'vxlan') {
    const mac = v.BackendData?.VtepMAC
    if (typeof mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac)) throw new Error(`lease ${formatIp4Net(subnet)}: bad VtepMAC ${JSON.stringify(mac)}`)
    lease.vtepMAC = mac.toLowerCase()
    lease.vni = typeof v.BackendData?.VNI === 'number' ? v.BackendData.VNI : 1
  }
  return lease
}

// flannel's kube subnet manager publishes each node's lease on its Node as annotations with
// these names; netkube's agent writes the same ones (from its etcd lease) so API clients — the
// live map (src/ui) — see VTEPs and public IPs without access to etcd.
export const FLANNEL_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com/'
export const ANNOTATION_BACKEND_TYPE = `${FLANNEL_ANNOTATION_PREFIX}backend-type`
export const ANNOTATION_BACKEND_DATA = `${FLANNEL_ANNOTATION_PREFIX}backend-data`
export const ANNOTATION_PUBLIC_IP = `${FLANNEL_ANNOTATION_PREFIX}public-ip`

/** The Node annotations that publish a lease (flannel's names and JSON). */
export function leaseAnnotations(a: LeaseAttrs): Record<string, string> {
  const out: Record<string, string> = { [ANNOTATION_BACKEND_TYPE]: a.backendType, [ANNOTATION_PUBLIC_IP]: a.publicIP }
  out[ANNOTATION_BACKEND_DATA] = a.backendType === 'vxlan' ? JSON.stringify({ VNI: a.vni ?? 1, VtepMAC: a.vtepMAC }) : 'null'
  return out
}

/** A lease read back from Node annotations, or undefined when the node publishes none (or garbage). */
export function leaseFromAnnotations(ann: Record<string, string> | undefined): LeaseAttrs | undefined {
  const type = ann?.[ANNOTATION_BACKEND_TYPE]
  const publicIP = ann?.[ANNOTATION_PUBLIC_IP]
  if ((type !== 'vxlan' && type !== 'host-gw') || !publicIP) return undefined
  if (type === 'host-gw') return { backendType: type, publicIP }
  try {
    const d = JSON.parse(ann?.[ANNOTATION_BACKEND_DATA] ?? '') as { VNI?: unknown; VtepMAC?: unknown }
    return {
      backendType: type,
      publicIP,
      vni: typeof d.VNI === 'number' ? d.VNI : 1,
      ...(typeof d.VtepMAC === 'string' ? { vtepMAC: d.VtepMAC.toLowerCase() } : {}),
    }
  } catch {
    return { backendType: type, publicIP }
  }
}
