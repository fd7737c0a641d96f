// networking.k8s.io/v1 Ingress and IngressClass rules (pkg/apis/networking/validation): hosts
// (DNS names, `*.` wildcards, never IPs), paths per pathType, backends (service xor resource, port
// name xor number), TLS hosts and Secret names, the class name; IngressClass controller as a
// domain-prefixed path, parameters by scope. Field paths and wording are upstream's.
import { forbidden, invalid, notSupported, required, tooLong } from '../field-errors.js'
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isValidIP, isValidPortName, isValidPortNum, isWildcardDNS1123Subdomain, parseIP } from '../names.js'
import { ANNOTATION_INGRESS_CLASS, PATH_TYPES } from '../ingress.js'
import { absent, asArray, asObj, asString, immutable, isObj, type Errs, type Obj } from './common.js'

const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F']
const INVALID_PATH_SUFFIXES = ['/..', '/.']
const MAX_LEN_CONTROLLER = 250
const HTTP_PATH = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"

function validateHost(host: string, p: string, errs: Errs): void {
  if (host.includes('*')) for (const m of isWildcardDNS1123Subdomain(host)) errs.push(invalid(p, host, m))
  else for (const m of isDNS1123Subdomain(host)) errs.push(invalid(p, host, m))
}

/** pathvalidation.IsValidPathSegmentName: what may stand in one URL path segment. */
function pathSegmentProblems(v: string): string[] {
  if (v === '.' || v === '..') return [`may not be '${v}'`]
  const out: string[] = []
  for (const c of ['/', '%']) if (v.includes(c)) out.push(`may not contain '${c}'`)
  return out
}

function validateTypedRef(ref: Obj, p: string, errs: Errs): void {
  const group = asString(ref.apiGroup, `${p}.apiGroup`, errs)
  if (group !== undefined) for (const m of isDNS1123Subdomain(group)) errs.push(invalid(`${p}.apiGroup`, group, m))
  for (const k of ['kind', 'name'] as const) {
    const v = asString(ref[k], `${p}.${k}`, errs)
    if (!v) errs.push(required(`${p}.${k}`, `${k} is required`))
    else for (const m of pathSegmentProblems(v)) errs.push(invalid(`${p}.${k}`, v, m))
  }
}

function validateBackend(raw: unknown, p: string, errs: Errs): void {
  const b = asObj(raw, p, errs) ?? {}
  const resource = asObj(b.resource, `${p}.resource`, errs)
  const service = asObj(b.service, `${p}.service`, errs)
  if (resource && service) {
    errs.push(invalid(p, '', 'cannot set both resource and service backends'))
    return
  }
  if (resource) return validateTypedRef(resource, `${p}.resource`, errs)
  if (!service) {
    errs.push(invalid(p, '', 'resource or service backend is required'))
    return
  }
  const name = asString(service.name, `${p}.service.name`, errs)
  if (!name) errs.push(required(`${p}.service.name`))
  else for (const m of isDNS1035Label(name)) errs.push(invalid(`${p}.service.name`, name, m))
  const port = asObj(service.port, `${p}.service.port`, errs) ?? {}
  const portName = asString(port.name, `${p}.service.port.name`, errs) ?? ''
  const num = port.number
  const portNumber = typeof num === 'number' ? num : 0
  if (!absent(num) && typeof num !== 'number') errs.push(invalid(`${p}.service.port.number`, num, 'must be of type integer'))
  if (portName && portNumber !== 0) errs.push(invalid(p, '', 'cannot set both port name & port number'))
  else if (portName) for (const m of isValidPortName(portName)) errs.push(invalid(`${p}.service.port.name`, portName, m))
  else if (portNumber !== 0) for (const m of isValidPortNum(portNumber)) errs.push(invalid(`${p}.service.port.number`, portNumber, m))
  else errs.push(required(p, 'port name or number is required'))
}

function validatePath(raw: unknown, p: string, errs: Errs): void {
  const hp = asObj(raw, p, errs)
  if (!hp) return
  const pathType = asString(hp.pathType, `${p}.pathType`, errs)
  if (pathType === undefined) {
    errs.push(required(`${p}.pathType`, 'pathType must be specified'))
    return
  }
  const path = asString(hp.path, `${p}.path`, errs) ?? ''
  if (pathType === 'Exact' || pathType === 'Prefix') {
    if (!path.startsWith('/')) errs.push(invalid(`${p}.path`, path, 'must be an absolute path'))
    for (const seq of INVALID_PATH_SEQUENCES) if (path.includes(seq)) errs.push(invalid(`${p}.path`, path, `must not contain '${seq}'`))
    for (const suf of INVALID_PATH_SUFFIXES) if (path.endsWith(suf)) errs.push(invalid(`${p}.path`, path, `cannot end with '${suf}'`))
  } else if (pathType === 'ImplementationSpecific') {
    if (path !== '' && !path.startsWith('/')) errs.push(invalid(`${p}.path`, path, 'must be an absolute path'))
  } else errs.push(notSupported(`${p}.pathType`, pathType, PATH_TYPES))
  validateBackend(hp.backend, `${p}.backend`, errs)
}

function validateRules(rules: unknown[], p: string, errs: Errs): void {
  rules.forEach((raw, i) => {
    const rp = `${p}[${i}]`
    const rule = asObj(raw, rp, errs)
    if (!rule) return
    const host = asString(rule.host, `${rp}.host`, errs)
    if (host) {
      if (parseIP(host)) errs.push(invalid(`${rp}.host`, host, 'must be a DNS name, not an IP address'))
      validateHost(host, `${rp}.host`, errs)
    }
    const http = asObj(rule.http, `${rp}.http`, errs)
    if (!http) return
    const paths = asArray(http.paths, `${rp}.http.paths`, errs)
    if (paths.length === 0) errs.push(required(`${rp}.http.paths`))
    paths.forEach((hp, j) => validatePath(hp, `${rp}.http.paths[${j}]`, errs))
  })
}

function validateTLS(tls: unknown[], p: string, errs: Errs): void {
  tls.forEach((raw, i) => {
    const tp = `${p}[${i}]`
    const t = asObj(raw, tp, errs)
    if (!t) return
    asArray(t.hosts, `${tp}.hosts`, errs).forEach((h, j) => {
      const host = asString(h, `${tp}.hosts[${j}]`, errs)
      if (host !== undefined) validateHost(host, `${tp}.hosts[${j}]`, errs)
    })
    const secret = asString(t.secretName, `${tp}.secretName`, errs)
    if (secret) for (const m of isDNS1123Subdomain(secret)) errs.push(invalid(`${tp}.secretName`, secret, m))
  })
}

export function validateIngress(ing: Obj, errs: Errs): void {
  const spec = asObj(ing.spec, 'spec', errs) ?? {}
  const rules = asArray(spec.rules, 'spec.rules', errs)
  if (rules.length === 0 && absent(spec.defaultBackend)) errs.push(invalid('spec', null, 'either `defaultBackend` or `rules` must be specified'))
  if (!absent(spec.defaultBackend)) validateBackend(spec.defaultBackend, 'spec.defaultBackend', errs)
  validateRules(rules, 'spec.rules', errs)
  validateTLS(asArray(spec.tls, 'spec.tls', errs), 'spec.tls', errs)
  const cls = asString(spec.ingressClassName, 'spec.ingressClassName', errs)
  if (cls !== undefined) for (const m of isDNS1123Subdomain(cls)) errs.push(invalid('spec.ingressClassName', cls, m))
}

/** Create only: the legacy annotation, when set with ingressClassName, must agree with it. */
export function validateIngressCreate(ing: Obj, errs: Errs): void {
  const meta = isObj(ing.metadata) ? ing.metadata : {}
  const ann = isObj(meta.annotations) ? meta.annotations[ANNOTATION_INGRESS_CLASS] : undefined
  const cls = isObj(ing.spec) ? ing.spec.ingressClassName : undefined
  if (typeof ann === 'string' && typeof cls === 'string' && ann !== cls)
    errs.push(invalid(`annotations.${ANNOTATION_INGRESS_CLASS}`, ann, 'must match `ingressClassName` when both are specified'))
}

export function validateIngressStatus(ing: Obj, errs: Errs): void {
  const status = asObj(ing.status, 'status', errs) ?? {}
  const lb = asObj(status.loadBalancer, 'status.loadBalancer', errs) ?? {}
  asArray(lb.ingress, 'status.loadBalancer.ingress', errs).forEach((raw, i) => {
    const p = `status.loadBalancer.ingress[${i}]`
    const e = asObj(raw, p, errs)
    if (!e) return
    const ip = asString(e.ip, `${p}.ip`, errs)
    if (ip) for (const m of isValidIP(ip)) errs.push(invalid(`${p}.ip`, ip, m))
    const hostname = asString(e.hostname, `${p}.hostname`, errs)
    if (hostname) {
      for (const m of isDNS1123Subdomain(hostname)) errs.push(invalid(`${p}.hostname`, hostname, m))
      if (parseIP(hostname)) errs.push(invalid(`${p}.hostname`, hostname, 'must be a DNS name, not an IP address'))
    }
  })
}

/** validation.IsDomainPrefixedPath: `acme.io/foo`. */
function validateDomainPrefixedPath(v: string | undefined, p: string, errs: Errs): void {
  if (!v) {
    errs.push(required(p))
    return
  }
  const i = v.indexOf('/')
  if (i <= 0 || i === v.length - 1) {
    errs.push(invalid(p, v, 'must be a domain-prefixed path (such as "acme.io/foo")'))
    return
  }
  const host = v.slice(0, i)
  for (const m of isDNS1123Subdomain(host)) errs.push(invalid(p, host, m))
  const path = v.slice(i + 1)
  if (!new RegExp(`^${HTTP_PATH}$`).test(path)) errs.push(invalid(p, path, `must be a valid path (regex used for validation is '${HTTP_PATH}')`))
}

export function validateIngressClass(ic: Obj, errs: Errs): void {
  const spec = asObj(ic.spec, 'spec', errs) ?? {}
  const controller = asString(spec.controller, 'spec.controller', errs)
  if (controller !== undefined && controller.length > MAX_LEN_CONTROLLER) errs.push(tooLong('spec.controller', '', MAX_LEN_CONTROLLER))
  validateDomainPrefixedPath(controller, 'spec.controller', errs)
  const params = asObj(spec.parameters, 'spec.parameters', errs)
  if (!params) return
  validateTypedRef(params, 'spec.parameters', errs)
  const scope = asString(params.scope, 'spec.parameters.scope', errs)
  const ns = asString(params.namespace, 'spec.parameters.namespace', errs)
  if (scope === undefined) {
    errs.push(required('spec.parameters.scope'))
    return
  }
  if (scope !== 'Cluster' && scope !== 'Namespace') {
    errs.push(notSupported('spec.parameters.scope', scope, ['Cluster', 'Namespace']))
    return
  }
  if (scope === 'Namespace') {
    if (ns === undefined) errs.push(required('spec.parameters.namespace', "`parameters.scope` is set to 'Namespace'"))
    else for (const m of isDNS1123Label(ns)) errs.push(invalid('spec.parameters.namespace', ns, m))
  }
  if (scope === 'Cluster' && ns !== undefined) errs.push(forbidden('spec.parameters.namespace', "`parameters.scope` is set to 'Cluster'"))
}

export function validateIngressClassUpdate(ic: Obj, old: Obj, errs: Errs): void {
  const spec = isObj(ic.spec) ? ic.spec : {}
  const oldSpec = isObj(old.spec) ? old.spec : {}
  immutable(spec.controller, oldSpec.controller, 'spec.controller', errs)
}
