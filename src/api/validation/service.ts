// Service rules (ValidateService / ValidateServiceUpdate). NodePort range and ClusterIP range
// checks belong to the allocators, which know the configured ranges.
import { duplicate, forbidden, invalid, required } from '../field-errors.js'
import { externallyAccessible } from '../service.js'
import type { ServiceSpec } from '../types.js'
import { isDNS1123Label, isDNS1123Subdomain, isValidCIDR, isValidIP, isValidPortNum, isValidPortName, parseIP } from '../names.js'
import {
  PROTOCOLS,
  absent,
  asArray,
  asBool,
  asInt,
  asObj,
  asString,
  isObj,
  oneOf,
  validateLabels,
  type Errs,
  type Obj,
} from './common.js'

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort']

export function validateService(svc: Obj, errs: Errs): void {
  const spec = asObj(svc.spec, 'spec', errs)
  if (!spec) {
    errs.push(required('spec'))
    return
  }
  const type = asString(spec.type, 'spec.type', errs) ?? 'ClusterIP'
  const clusterIP = asString(spec.clusterIP, 'spec.clusterIP', errs) ?? ''
  const clusterIPs = asArray(spec.clusterIPs, 'spec.clusterIPs', errs)
  const headless = clusterIP === 'None'

  if (type === 'ExternalName') {
    const en = asString(spec.externalName, 'spec.externalName', errs)
    if (!en) errs.push(required('spec.externalName'))
    else for (const m of isDNS1123Subdomain(en.replace(/\.$/, ''))) errs.push(invalid('spec.externalName', en, m))
    if (clusterIP !== '') errs.push(forbidden('spec.clusterIP', 'may not be set for ExternalName services'))
  } else {
    // clusterIP: '' (to be allocated), 'None' (headless) or an IP; clusterIPs[0] must agree.
    if (clusterIP !== '' && !headless) for (const m of isValidIP(clusterIP)) errs.push(invalid('spec.clusterIPs[0]', clusterIP, m))
    clusterIPs.forEach((raw, i) => {
      const ip = asString(raw, `spec.clusterIPs[${i}]`, errs)
      if (ip === undefined || ip === 'None' || (i === 0 && ip === clusterIP)) return
      for (const m of isValidIP(ip)) errs.push(invalid(`spec.clusterIPs[${i}]`, ip, m))
    })
    if (clusterIPs.length > 0 && clusterIP !== '' && clusterIPs[0] !== clusterIP)
      errs.push(invalid('spec.clusterIPs', clusterIPs, 'first value must match `clusterIP`'))
    if (headless && (type === 'NodePort' || type === 'LoadBalancer'))
      errs.push(invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`))
    if (clusterIPs.length > 2) errs.push(invalid('spec.clusterIPs', clusterIPs, 'may only hold up to 2 values'))
    if (clusterIPs.length === 2) {
      const a = typeof clusterIPs[0] === 'string' ? parseIP(clusterIPs[0]) : undefined
      const b = typeof clusterIPs[1] === 'string' ? parseIP(clusterIPs[1]) : undefined
      if (a && b && a.kind() === b.kind()) errs.push(invalid('spec.clusterIPs', clusterIPs, 'may specify no more than one IP for each IP family'))
    }
  }

  const ports = asArray(spec.ports, 'spec.ports', errs)
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'))
  const names = new Set<string>()
  const keys = new Set<string>()
  const nodePorts = new Set<string>()
  ports.forEach((raw, i) => {
    const p = `spec.ports[${i}]`
    const port = asObj(raw, p, errs)
    if (!port) return
    const name = asString(port.name, `${p}.name`, errs)
    if (ports.length > 1 && !name) errs.push(required(`${p}.name`))
    if (name) {
      for (const m of isDNS1123Label(name)) errs.push(invalid(`${p}.name`, name, m))
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    }
    const proto = asString(port.protocol, `${p}.protocol`, errs)
    if (proto === undefined) errs.push(required(`${p}.protocol`))
    else oneOf(proto, `${p}.protocol`, PROTOCOLS, errs)
    const num = port.port
    for (const m of isValidPortNum(num)) errs.push(invalid(`${p}.port`, num ?? 0, m))
    const key = `${String(num)}/${proto ?? ''}`
    if (keys.has(key)) errs.push(duplicate(p, { port: num, protocol: proto }))
    keys.add(key)
    const tp = port.targetPort
    if (typeof tp === 'number') {
      if (tp !== 0) for (const m of isValidPortNum(tp)) errs.push(invalid(`${p}.targetPort`, tp, m))
    } else if (typeof tp === 'string') {
      if (tp !== '') for (const m of isValidPortName(tp)) errs.push(invalid(`${p}.targetPort`, tp, m))
    } else if (!absent(tp)) errs.push(invalid(`${p}.targetPort`, tp, 'must be an integer or a string'))
    const np = asInt(port.nodePort, `${p}.nodePort`, errs)
    if (np !== undefined && np !== 0) {
      if (type === 'ClusterIP' || type === 'ExternalName') errs.push(forbidden(`${p}.nodePort`, `may not be used when \`type\` is '${type}'`))
      for (const m of isValidPortNum(np)) errs.push(invalid(`${p}.nodePort`, np, m))
      const npKey = `${np}/${proto ?? ''}`
      if (nodePorts.has(npKey)) errs.push(duplicate(`${p}.nodePort`, np))
      nodePorts.add(npKey)
    }
    asString(port.appProtocol, `${p}.appProtocol`, errs)
  })

  validateLabels(spec.selector, 'spec.selector', errs)

  const affinity = asString(spec.sessionAffinity, 'spec.sessionAffinity', errs)
  oneOf(affinity, 'spec.sessionAffinity', ['ClientIP', 'None'], errs)
  const sac = asObj(spec.sessionAffinityConfig, 'spec.sessionAffinityConfig', errs)
  if (affinity === 'ClientIP') {
    const cip = sac ? asObj(sac.clientIP, 'spec.sessionAffinityConfig.clientIP', errs) : undefined
    const t = cip ? asInt(cip.timeoutSeconds, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', errs) : undefined
    if (t !== undefined && (t <= 0 || t > 86400))
      errs.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', t, 'must be greater than 0 and less than 86400'))
  } else if (sac && isObj(sac.clientIP)) {
    errs.push(invalid('spec.sessionAffinityConfig', sac, `must not be set when session affinity is ${affinity ?? 'None'}`))
  }

  asArray(spec.externalIPs, 'spec.externalIPs', errs).forEach((raw, i) => {
    const ip = asString(raw, `spec.externalIPs[${i}]`, errs)
    if (ip !== undefined) for (const m of isValidIP(ip)) errs.push(invalid(`spec.externalIPs[${i}]`, ip, m))
  })

  const etp = asString(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', errs)
  if (etp !== undefined && etp !== '') {
    if (!externallyAccessible(spec as ServiceSpec))
      errs.push(invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'))
    else oneOf(etp, 'spec.externalTrafficPolicy', ['Cluster', 'Local'], errs)
  }
  validateSourceRanges(svc, spec, type, errs)
  // Fields of a load balancer (upstream's ValidateService / validateLoadBalancerClassField).
  if (asBool(spec.allocateLoadBalancerNodePorts, 'spec.allocateLoadBalancerNodePorts', errs) !== undefined && type !== 'LoadBalancer')
    errs.push(forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"))
  if (asString(spec.loadBalancerClass, 'spec.loadBalancerClass', errs) !== undefined && type !== 'LoadBalancer')
    errs.push(forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"))
  oneOf(asString(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', errs), 'spec.internalTrafficPolicy', ['Cluster', 'Local'], errs)
  // KEP-4444 with PreferSameTrafficDistribution locked on (1.35): upstream's order
  oneOf(asString(spec.trafficDistribution, 'spec.trafficDistribution', errs), 'spec.trafficDistribution', ['PreferClose', 'PreferSameZone', 'PreferSameNode'], errs)
  oneOf(asString(spec.ipFamilyPolicy, 'spec.ipFamilyPolicy', errs), 'spec.ipFamilyPolicy', ['PreferDualStack', 'RequireDualStack', 'SingleStack'], errs)
  const fams = asArray(spec.ipFamilies, 'spec.ipFamilies', errs)
  const seenFam = new Set<string>()
  fams.forEach((raw, i) => {
    const f = asString(raw, `spec.ipFamilies[${i}]`, errs)
    if (f === undefined) return
    oneOf(f, `spec.ipFamilies[${i}]`, ['IPv4', 'IPv6'], errs)
    if (seenFam.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, f))
    seenFam.add(f)
  })
  asBool(spec.publishNotReadyAddresses, 'spec.publishNotReadyAddresses', errs)
  const hc = asInt(spec.healthCheckNodePort, 'spec.healthCheckNodePort', errs)
  if (hc !== undefined && hc !== 0 && !(type === 'LoadBalancer' && etp === 'Local'))
    errs.push(invalid('spec.healthCheckNodePort', hc, 'may only be set when `type` is \'LoadBalancer\' and `externalTrafficPolicy` is \'Local\''))
  // Last, as in k8s: the type check follows the port checks in the message order.
  oneOf(type, 'spec.type', TYPES, errs)
}

/** The cloud-era annotation the field replaced; upstream still validates it when the field is empty. */
export const SOURCE_RANGES_ANNOTATION = 'service.beta.kubernetes.io/load-balancer-source-ranges'

/**
 * `spec.loadBalancerSourceRanges` (each a CIDR; upstream's field path keeps the Go name's
 * capital L) or, when it is empty, the annotation (comma-separated CIDRs). Both only on a
 * LoadBalancer. Values may be space-padded (a historical accident upstream keeps allowing).
 */
function validateSourceRanges(svc: Obj, spec: Obj, type: string, errs: Errs): void {
  const ranges = asArray(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges', errs)
  if (ranges.length > 0) {
    const path = 'spec.LoadBalancerSourceRanges'
    if (type !== 'LoadBalancer') errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
    ranges.forEach((raw, i) => {
      const v = asString(raw, `${path}[${i}]`, errs)
      if (v !== undefined) for (const m of isValidCIDR(v.trim())) errs.push(invalid(`${path}[${i}]`, v.trim(), m))
    })
    return
  }
  const md = isObj(svc.metadata) ? svc.metadata : undefined
  const ann = md && isObj(md.annotations) ? md.annotations[SOURCE_RANGES_ANNOTATION] : undefined
  if (typeof ann !== 'string') return
  const path = `metadata.annotations[${SOURCE_RANGES_ANNOTATION}]`
  if (type !== 'LoadBalancer') errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
  if (ann.trim() === '') return
  for (const part of ann.trim().split(',')) for (const m of isValidCIDR(part.trim())) errs.push(invalid(path, part.trim(), m))
}

/** clusterIP is immutable once set, except when switching to or from ExternalName. */
export function validateServiceUpdate(svc: Obj, old: Obj, errs: Errs): void {
  const spec = svc.spec
  const oldSpec = old.spec
  if (!isObj(spec) || !isObj(oldSpec)) return
  const type = spec.type ?? 'ClusterIP'
  const oldType = oldSpec.type ?? 'ClusterIP'
  if (type === 'ExternalName' || oldType === 'ExternalName') return
  const oldIP = typeof oldSpec.clusterIP === 'string' ? oldSpec.clusterIP : ''
  const newIP = typeof spec.clusterIP === 'string' ? spec.clusterIP : ''
  if (oldIP !== '' && newIP !== oldIP) errs.push(invalid('spec.clusterIP', newIP, 'field is immutable'))
  const oldIPs = Array.isArray(oldSpec.clusterIPs) ? oldSpec.clusterIPs : []
  const newIPs = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : []
  // The primary family's IP cannot change; a secondary may be added or removed (dual-stack upgrade).
  if (oldIPs.length > 0 && newIPs.length > 0 && oldIPs[0] !== newIPs[0] && newIP === oldIP)
    errs.push(invalid('spec.clusterIPs[0]', newIPs[0], 'may not change once set'))
}

export function validateServiceStatus(svc: Obj, errs: Errs): void {
  const st = asObj(svc.status, 'status', errs)
  const lb = st ? asObj(st.loadBalancer, 'status.loadBalancer', errs) : undefined
  if (!lb) return
  asArray(lb.ingress, 'status.loadBalancer.ingress', errs).forEach((raw, i) => {
    const ing = asObj(raw, `status.loadBalancer.ingress[${i}]`, errs)
    if (!ing) return
    const ip = asString(ing.ip, `status.loadBalancer.ingress[${i}].ip`, errs)
    if (ip) for (const m of isValidIP(ip)) errs.push(invalid(`status.loadBalancer.ingress[${i}].ip`, ip, m))
    const host = asString(ing.hostname, `status.loadBalancer.ingress[${i}].hostname`, errs)
    if (host) for (const m of isDNS1123Subdomain(host)) errs.push(invalid(`status.loadBalancer.ingress[${i}].hostname`, host, m))
  })
}
