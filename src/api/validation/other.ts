// Rules for the smaller kinds: Namespace, Node, Endpoints, EndpointSlice, ConfigMap, Lease.
import { duplicate, forbidden, invalid, required, tooLong } from '../field-errors.js'
import {
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidIPv4,
  isValidIPv6,
  isValidPortNum,
  nonSpecialIP,
} from '../names.js'
import { PROTOCOLS, absent, asArray, asBool, asInt, asObj, asString, asStringMap, deepEqual, immutable, nonNegative, oneOf, type Errs, type Obj } from './common.js'
import { validateConditions } from './pod.js'

export function validateNamespace(ns: Obj, errs: Errs): void {
  const spec = asObj(ns.spec, 'spec', errs)
  if (spec) {
    asArray(spec.finalizers, 'spec.finalizers', errs).forEach((raw, i) => {
      const f = asString(raw, `spec.finalizers[${i}]`, errs)
      if (f !== undefined) for (const m of isQualifiedName(f)) errs.push(invalid('spec.finalizers', f, m))
    })
  }
  validateNamespaceStatus(ns, errs)
}

export function validateNamespaceStatus(ns: Obj, errs: Errs): void {
  const st = asObj(ns.status, 'status', errs)
  if (st) oneOf(asString(st.phase, 'status.phase', errs), 'status.phase', ['Active', 'Terminating'], errs)
}

const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'PreferNoSchedule']

export function validateNode(node: Obj, errs: Errs): void {
  const spec = asObj(node.spec, 'spec', errs)
  if (spec) {
    const cidr = asString(spec.podCIDR, 'spec.podCIDR', errs)
    if (cidr) for (const m of isValidCIDR(cidr)) errs.push(invalid('spec.podCIDR', cidr, m))
    const cidrs = asArray(spec.podCIDRs, 'spec.podCIDRs', errs)
    cidrs.forEach((raw, i) => {
      const c = asString(raw, `spec.podCIDRs[${i}]`, errs)
      if (c !== undefined) for (const m of isValidCIDR(c)) errs.push(invalid(`spec.podCIDRs[${i}]`, c, m))
    })
    if (cidr && cidrs.length > 0 && cidrs[0] !== cidr) errs.push(invalid('spec.podCIDRs', cidrs, 'first value must match `podCIDR`'))
    asBool(spec.unschedulable, 'spec.unschedulable', errs)
    const seen = new Set<string>()
    asArray(spec.taints, 'spec.taints', errs).forEach((raw, i) => {
      const p = `spec.taints[${i}]`
      const t = asObj(raw, p, errs)
      if (!t) return
      const key = asString(t.key, `${p}.key`, errs)
      if (!key) errs.push(required(`${p}.key`))
      else for (const m of isQualifiedName(key)) errs.push(invalid(`${p}.key`, key, m))
      const effect = asString(t.effect, `${p}.effect`, errs)
      if (!effect) errs.push(required(`${p}.effect`))
      else oneOf(effect, `${p}.effect`, TAINT_EFFECTS, errs)
      asString(t.value, `${p}.value`, errs)
      const k = `${key}/${effect}`
      if (seen.has(k)) errs.push(duplicate(p, { key, effect }))
      seen.add(k)
    })
  }
  validateNodeStatus(node, errs)
}

export function validateNodeStatus(node: Obj, errs: Errs): void {
  const st = asObj(node.status, 'status', errs)
  if (!st) return
  validateConditions(st.conditions, 'status.conditions', errs)
  asArray(st.addresses, 'status.addresses', errs).forEach((raw, i) => {
    const a = asObj(raw, `status.addresses[${i}]`, errs)
    if (!a) return
    oneOf(asString(a.type, `status.addresses[${i}].type`, errs), `status.addresses[${i}].type`, ['ExternalDNS', 'ExternalIP', 'Hostname', 'InternalDNS', 'InternalIP'], errs)
    const addr = asString(a.address, `status.addresses[${i}].address`, errs)
    if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && addr !== undefined)
      for (const m of isValidIP(addr)) errs.push(invalid(`status.addresses[${i}].address`, addr, m))
  })
  for (const f of ['capacity', 'allocatable']) asStringMapOrNumbers(st[f], `status.${f}`, errs)
}

function asStringMapOrNumbers(v: unknown, path: string, errs: Errs): void {
  const o = asObj(v, path, errs)
  if (!o) return
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string' && typeof x !== 'number') errs.push(invalid(`${path}[${k}]`, x, 'must be a quantity'))
}

function validateEndpointAddress(raw: unknown, p: string, errs: Errs): void {
  const a = asObj(raw, p, errs)
  if (!a) return
  const ip = asString(a.ip, `${p}.ip`, errs)
  if (!ip) errs.push(required(`${p}.ip`))
  else {
    const msgs = isValidIP(ip)
    for (const m of msgs) errs.push(invalid(`${p}.ip`, ip, m))
    if (msgs.length === 0) for (const m of nonSpecialIP(ip)) errs.push(invalid(`${p}.ip`, ip, m))
  }
  const host = asString(a.hostname, `${p}.hostname`, errs)
  if (host) for (const m of isDNS1123Label(host)) errs.push(invalid(`${p}.hostname`, host, m))
  const node = asString(a.nodeName, `${p}.nodeName`, errs)
  if (node) for (const m of isDNS1123Subdomain(node)) errs.push(invalid(`${p}.nodeName`, node, m))
  asObj(a.targetRef, `${p}.targetRef`, errs)
}

function validateEndpointPorts(v: unknown, path: string, requireNames: boolean, errs: Errs): void {
  const ports = asArray(v, path, errs)
  const names = new Set<string>()
  ports.forEach((raw, i) => {
    const p = `${path}[${i}]`
    const port = asObj(raw, p, errs)
    if (!port) return
    const name = asString(port.name, `${p}.name`, errs)
    if (requireNames && ports.length > 1 && !name) errs.push(required(`${p}.name`))
    if (name) {
      for (const m of isDNS1123Label(name)) errs.push(invalid(`${p}.name`, name, m))
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    } else if (!requireNames) {
      if (names.has('')) errs.push(duplicate(`${p}.name`, ''))
      names.add('')
    }
    if (!absent(port.port) || requireNames) for (const m of isValidPortNum(port.port)) errs.push(invalid(`${p}.port`, port.port ?? 0, m))
    const proto = asString(port.protocol, `${p}.protocol`, errs)
    if (proto === undefined) {
      if (requireNames) errs.push(required(`${p}.protocol`))
    } else oneOf(proto, `${p}.protocol`, PROTOCOLS, errs)
    asString(port.appProtocol, `${p}.appProtocol`, errs)
  })
}

export function validateEndpoints(ep: Obj, errs: Errs): void {
  asArray(ep.subsets, 'subsets', errs).forEach((raw, i) => {
    const p = `subsets[${i}]`
    const ss = asObj(raw, p, errs)
    if (!ss) return
    const addrs = asArray(ss.addresses, `${p}.addresses`, errs)
    const notReady = asArray(ss.notReadyAddresses, `${p}.notReadyAddresses`, errs)
    if (addrs.length === 0 && notReady.length === 0)
      errs.push(required(`${p}`, 'must specify `addresses` or `notReadyAddresses`'))
    addrs.forEach((a, j) => validateEndpointAddress(a, `${p}.addresses[${j}]`, errs))
    notReady.forEach((a, j) => validateEndpointAddress(a, `${p}.notReadyAddresses[${j}]`, errs))
    validateEndpointPorts(ss.ports, `${p}.ports`, true, errs)
  })
}

const MAX_SLICE_ENDPOINTS = 1000
const MAX_SLICE_ADDRESSES = 100
const MAX_SLICE_PORTS = 20000

export function validateEndpointSlice(es: Obj, errs: Errs): void {
  const at = asString(es.addressType, 'addressType', errs)
  if (!at) errs.push(required('addressType'))
  else oneOf(at, 'addressType', ['FQDN', 'IPv4', 'IPv6'], errs)
  const eps = asArray(es.endpoints, 'endpoints', errs)
  if (eps.length > MAX_SLICE_ENDPOINTS) errs.push({ type: 'FieldValueTooLong', field: 'endpoints', message: `Too many: ${eps.length}: must have at most ${MAX_SLICE_ENDPOINTS} items` })
  eps.forEach((raw, i) => {
    const p = `endpoints[${i}]`
    const e = asObj(raw, p, errs)
    if (!e) return
    const addrs = asArray(e.addresses, `${p}.addresses`, errs)
    if (addrs.length === 0) errs.push(required(`${p}.addresses`, 'must contain at least 1 address'))
    else if (addrs.length > MAX_SLICE_ADDRESSES)
      errs.push({ type: 'FieldValueTooLong', field: `${p}.addresses`, message: `Too many: ${addrs.length}: must have at most ${MAX_SLICE_ADDRESSES} items` })
    addrs.forEach((a, j) => {
      const ap = `${p}.addresses[${j}]`
      const s = asString(a, ap, errs)
      if (s === undefined) return
      const msgs = at === 'IPv4' ? isValidIPv4(s) : at === 'IPv6' ? isValidIPv6(s) : at === 'FQDN' ? isDNS1123Subdomain(s) : []
      for (const m of msgs) errs.push(invalid(ap, s, m))
      if (msgs.length === 0 && at !== 'FQDN') for (const m of nonSpecialIP(s)) errs.push(invalid(ap, s, m))
    })
    const cond = asObj(e.conditions, `${p}.conditions`, errs)
    if (cond) for (const f of ['ready', 'serving', 'terminating']) asBool(cond[f], `${p}.conditions.${f}`, errs)
    const host = asString(e.hostname, `${p}.hostname`, errs)
    if (host) for (const m of isDNS1123Label(host)) errs.push(invalid(`${p}.hostname`, host, m))
    const node = asString(e.nodeName, `${p}.nodeName`, errs)
    if (node) for (const m of isDNS1123Subdomain(node)) errs.push(invalid(`${p}.nodeName`, node, m))
    asObj(e.targetRef, `${p}.targetRef`, errs)
    asString(e.zone, `${p}.zone`, errs)
  })
  const ports = asArray(es.ports, 'ports', errs)
  if (ports.length > MAX_SLICE_PORTS) errs.push({ type: 'FieldValueTooLong', field: 'ports', message: `Too many: ${ports.length}: must have at most ${MAX_SLICE_PORTS} items` })
  validateEndpointPorts(es.ports, 'ports', false, errs)
}

export function validateEndpointSliceUpdate(es: Obj, old: Obj, errs: Errs): void {
  immutable(es.addressType, old.addressType, 'addressType', errs)
}

/** Total size of a ConfigMap's data, as MaxSecretSize. */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024

export function validateConfigMap(cm: Obj, errs: Errs): void {
  const data = asStringMap(cm.data, 'data', errs)
  const bin = asStringMap(cm.binaryData, 'binaryData', errs)
  let total = 0
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(invalid(`data[${k}]`, k, m))
    total += Buffer.byteLength(v)
  }
  for (const [k, v] of Object.entries(bin)) {
    for (const m of isConfigMapKey(k)) errs.push(invalid(`binaryData[${k}]`, k, m))
    if (Object.prototype.hasOwnProperty.call(data, k)) errs.push(duplicate(`data[${k}]`, k))
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) errs.push(invalid(`binaryData[${k}]`, '<binary>', 'must be base64-encoded'))
    total += Math.floor((v.length * 3) / 4)
  }
  if (total > CONFIGMAP_MAX_BYTES) errs.push(tooLong('', '', CONFIGMAP_MAX_BYTES))
  asBool(cm.immutable, 'immutable', errs)
}

export function validateConfigMapUpdate(cm: Obj, old: Obj, errs: Errs): void {
  if (old.immutable !== true) return
  if (cm.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'))
  if (!deepEqual(cm.data ?? {}, old.data ?? {})) errs.push(forbidden('data', 'field is immutable when `immutable` is set'))
  if (!deepEqual(cm.binaryData ?? {}, old.binaryData ?? {})) errs.push(forbidden('binaryData', 'field is immutable when `immutable` is set'))
}

/** metav1.MicroTime / Time: RFC 3339. */
function validTimestamp(v: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(v) && Number.isFinite(Date.parse(v))
}

export function validateLease(lease: Obj, errs: Errs): void {
  const spec = asObj(lease.spec, 'spec', errs)
  if (!spec) return
  asString(spec.holderIdentity, 'spec.holderIdentity', errs)
  const dur = asInt(spec.leaseDurationSeconds, 'spec.leaseDurationSeconds', errs)
  if (dur !== undefined && dur <= 0) errs.push(invalid('spec.leaseDurationSeconds', dur, 'must be greater than 0'))
  nonNegative(asInt(spec.leaseTransitions, 'spec.leaseTransitions', errs), 'spec.leaseTransitions', errs)
  for (const f of ['acquireTime', 'renewTime']) {
    const t = asString(spec[f], `spec.${f}`, errs)
    if (t !== undefined && !validTimestamp(t)) errs.push(invalid(`spec.${f}`, t, 'must be an RFC 3339 timestamp'))
  }
  const strategy = asString(spec.strategy, 'spec.strategy', errs)
  if (strategy !== undefined) oneOf(strategy, 'spec.strategy', ['OldestEmulationVersion'], errs)
}

/** A node's podCIDR(s) may be set once (by the IPAM controller or the kubelet), never changed. */
export function validateNodeUpdate(node: Obj, old: Obj, errs: Errs): void {
  const spec = asObj(node.spec, 'spec', [])
  const oldSpec = asObj(old.spec, 'spec', [])
  const oldCIDRs = Array.isArray(oldSpec?.podCIDRs) ? oldSpec!.podCIDRs : oldSpec?.podCIDR ? [oldSpec.podCIDR] : []
  const newCIDRs = Array.isArray(spec?.podCIDRs) ? spec!.podCIDRs : spec?.podCIDR ? [spec.podCIDR] : []
  if (oldCIDRs.length > 0 && !deepEqual(oldCIDRs, newCIDRs))
    errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'))
  const oldPid = oldSpec?.providerID
  if (typeof oldPid === 'string' && oldPid !== '' && spec?.providerID !== oldPid)
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'))
}
