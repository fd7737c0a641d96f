// networking.k8s.io/v1 NetworkPolicy rules (pkg/apis/networking/validation): selectors, peers,
// ports (numeric or named, endPort ranges), ipBlock CIDRs with `except` strictly inside, and
// policyTypes. The field paths and wording are upstream's.
import { forbidden, invalid, notSupported, required, typeInvalid } from '../field-errors.js'
import { isValidCIDR, isValidPortName, isValidPortNum } from '../names.js'
import { cidrContainsCidr, parseCidr } from '../../net/ip.js'
import { absent, asArray, asInt, asObj, asString, PROTOCOLS, type Errs } from './common.js'
import { validateLabelSelector } from './apps.js'
import type { Obj } from './common.js'

const POLICY_TYPES = ['Ingress', 'Egress']

function validatePort(raw: unknown, p: string, errs: Errs): void {
  const port = asObj(raw, p, errs)
  if (!port) return
  const proto = asString(port.protocol, `${p}.protocol`, errs)
  if (proto !== undefined && !(PROTOCOLS as readonly string[]).includes(proto)) errs.push(notSupported(`${p}.protocol`, proto, ['TCP', 'UDP', 'SCTP']))
  const end = asInt(port.endPort, `${p}.endPort`, errs)
  const v = port.port
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) {
      errs.push(typeInvalid(`${p}.port`, v, 'must be an integer or a string'))
      return
    }
    for (const m of isValidPortNum(v)) errs.push(invalid(`${p}.port`, v, m))
    if (end !== undefined) {
      // Upstream reports the start port as the value here.
      if (end < v) errs.push(invalid(`${p}.endPort`, v, 'must be greater than or equal to `port`'))
      for (const m of isValidPortNum(end)) errs.push(invalid(`${p}.endPort`, end, m))
    }
  } else if (typeof v === 'string') {
    if (end !== undefined) errs.push(invalid(`${p}.endPort`, end, 'may not be specified when `port` is non-numeric'))
    for (const m of isValidPortName(v)) errs.push(invalid(`${p}.port`, v, m))
  } else if (absent(v)) {
    if (end !== undefined) errs.push(invalid(`${p}.endPort`, end, 'may not be specified when `port` is not specified'))
  } else errs.push(typeInvalid(`${p}.port`, v, 'must be an integer or a string'))
}

function validateIPBlock(raw: unknown, p: string, errs: Errs): void {
  const ipb = asObj(raw, p, errs)
  if (!ipb) return
  const cidr = asString(ipb.cidr, `${p}.cidr`, errs)
  const excepts = asArray(ipb.except, `${p}.except`, errs)
  if (!cidr) {
    errs.push(required(`${p}.cidr`))
    return
  }
  const bad = isValidCIDR(cidr)
  for (const m of bad) errs.push(invalid(`${p}.cidr`, cidr, m))
  if (bad.length) return
  const outer = parseCidr(cidr)
  excepts.forEach((x, i) => {
    const ep = `${p}.except[${i}]`
    const s = asString(x, ep, errs)
    if (s === undefined) return
    const msgs = isValidCIDR(s)
    for (const m of msgs) errs.push(invalid(ep, s, m))
    if (msgs.length) return
    const inner = parseCidr(s)
    // strictly inside: contained and a longer prefix
    if (inner.family !== outer.family || !cidrContainsCidr(outer, inner) || inner.prefix <= outer.prefix) errs.push(invalid(ep, s, 'must be a strict subset of `cidr`'))
  })
}

function validatePeer(raw: unknown, p: string, errs: Errs): void {
  const peer = asObj(raw, p, errs)
  if (!peer) return
  let n = 0
  if (!absent(peer.podSelector)) {
    n++
    validateLabelSelector(peer.podSelector, `${p}.podSelector`, errs)
  }
  if (!absent(peer.namespaceSelector)) {
    n++
    validateLabelSelector(peer.namespaceSelector, `${p}.namespaceSelector`, errs)
  }
  if (!absent(peer.ipBlock)) {
    n++
    validateIPBlock(peer.ipBlock, `${p}.ipBlock`, errs)
  }
  if (n === 0) errs.push(required(p, 'must specify a peer'))
  else if (n > 1 && !absent(peer.ipBlock)) errs.push(forbidden(p, 'may not specify both ipBlock and another peer'))
}

function validateRules(v: unknown, path: string, peersField: 'from' | 'to', errs: Errs): void {
  asArray(v, path, errs).forEach((raw, i) => {
    const rp = `${path}[${i}]`
    const rule = asObj(raw, rp, errs)
    if (!rule) return
    asArray(rule.ports, `${rp}.ports`, errs).forEach((port, j) => validatePort(port, `${rp}.ports[${j}]`, errs))
    asArray(rule[peersField], `${rp}.${peersField}`, errs).forEach((peer, j) => validatePeer(peer, `${rp}.${peersField}[${j}]`, errs))
  })
}

export function validateNetworkPolicy(np: Obj, errs: Errs): void {
  const spec = asObj(np.spec, 'spec', errs)
  if (!spec) return
  if (!absent(spec.podSelector)) validateLabelSelector(spec.podSelector, 'spec.podSelector', errs)
  validateRules(spec.ingress, 'spec.ingress', 'from', errs)
  validateRules(spec.egress, 'spec.egress', 'to', errs)
  const types = asArray(spec.policyTypes, 'spec.policyTypes', errs)
  if (types.length > POLICY_TYPES.length) {
    errs.push(invalid('spec.policyTypes', types, 'may not specify more than two policyTypes'))
    return
  }
  types.forEach((t, i) => {
    const s = asString(t, `spec.policyTypes[${i}]`, errs)
    if (s !== undefined && !POLICY_TYPES.includes(s)) errs.push(notSupported(`spec.policyTypes[${i}]`, s, POLICY_TYPES))
  })
}
