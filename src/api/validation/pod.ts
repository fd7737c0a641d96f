// Pod and PodSpec rules (pkg/apis/core/validation ValidatePodSpec and ValidatePodUpdate).
import { duplicate, forbidden, invalid, notFound, notSupported, required } from '../field-errors.js'
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidIP, isValidPortName, isValidPortNum } from '../names.js'
import { isValidQuantity, parseQuantity } from '../quantity.js'
import {
  PROTOCOLS,
  absent,
  asArray,
  asBool,
  asInt,
  asObj,
  asString,
  deepEqual,
  isObj,
  nonNegative,
  oneOf,
  validateLabels,
  validatePortNumOrName,
  type Errs,
  type Obj,
} from './common.js'

const RESTART_POLICIES = ['Always', 'Never', 'OnFailure']
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never']
const TERMINATION_MESSAGE_POLICIES = ['FallbackToLogsOnError', 'File']
const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'PreferNoSchedule']
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/

export interface PodSpecOptions {
  /** Inside a Deployment/ReplicaSet template: restartPolicy must be Always, no activeDeadlineSeconds. */
  template?: boolean
  /** Inside a Job template: restartPolicy must be OnFailure or Never (activeDeadlineSeconds allowed). */
  jobTemplate?: boolean
}

export function validatePodSpec(specIn: unknown, path: string, errs: Errs, opts: PodSpecOptions = {}): void {
  const spec = asObj(specIn, path, errs)
  if (!spec) {
    errs.push(required(`${path}.containers`))
    return
  }
  const volumes = validateVolumes(spec.volumes, `${path}.volumes`, errs)
  const names = new Set<string>()
  const containers = asArray(spec.containers, `${path}.containers`, errs)
  if (containers.length === 0) errs.push(required(`${path}.containers`))
  containers.forEach((c, i) => validateContainer(c, `${path}.containers[${i}]`, volumes, names, errs))
  asArray(spec.initContainers, `${path}.initContainers`, errs).forEach((c, i) =>
    validateContainer(c, `${path}.initContainers[${i}]`, volumes, names, errs),
  )

  const restart = asString(spec.restartPolicy, `${path}.restartPolicy`, errs)
  if (opts.jobTemplate) {
    if (restart !== 'OnFailure' && restart !== 'Never') errs.push(notSupported(`${path}.restartPolicy`, restart ?? '', ['OnFailure', 'Never']))
  } else if (opts.template) {
    if (restart !== undefined && restart !== 'Always') errs.push(notSupported(`${path}.restartPolicy`, restart, ['Always']))
  } else oneOf(restart, `${path}.restartPolicy`, RESTART_POLICIES, errs)

  const dns = asString(spec.dnsPolicy, `${path}.dnsPolicy`, errs)
  oneOf(dns, `${path}.dnsPolicy`, DNS_POLICIES, errs)
  if (dns === 'None' && absent(spec.dnsConfig)) errs.push(required(`${path}.dnsConfig`, 'must provide `dnsConfig` when `dnsPolicy` is None'))
  validateDNSConfig(spec.dnsConfig, `${path}.dnsConfig`, errs)

  asInt(spec.terminationGracePeriodSeconds, `${path}.terminationGracePeriodSeconds`, errs)
  const ads = asInt(spec.activeDeadlineSeconds, `${path}.activeDeadlineSeconds`, errs)
  if (ads !== undefined) {
    if (opts.template) errs.push(forbidden(`${path}.activeDeadlineSeconds`, 'activeDeadlineSeconds in ReplicaSet is not Supported'))
    else if (ads < 1 || ads > 2147483647) errs.push(invalid(`${path}.activeDeadlineSeconds`, ads, 'must be between 1 and 2147483647, inclusive'))
  }
  validateLabels(spec.nodeSelector, `${path}.nodeSelector`, errs)
  const nodeName = asString(spec.nodeName, `${path}.nodeName`, errs)
  if (nodeName) for (const m of isDNS1123Subdomain(nodeName)) errs.push(invalid(`${path}.nodeName`, nodeName, m))
  for (const f of ['hostname', 'subdomain']) {
    const v = asString(spec[f], `${path}.${f}`, errs)
    if (v) for (const m of isDNS1123Label(v)) errs.push(invalid(`${path}.${f}`, v, m))
  }
  const sched = asString(spec.schedulerName, `${path}.schedulerName`, errs)
  if (sched !== undefined) for (const m of isDNS1123Subdomain(sched)) errs.push(invalid(`${path}.schedulerName`, sched, m))
  const sa = asString(spec.serviceAccountName, `${path}.serviceAccountName`, errs)
  if (sa) for (const m of isDNS1123Subdomain(sa)) errs.push(invalid(`${path}.serviceAccountName`, sa, m))
  const hostNetwork = asBool(spec.hostNetwork, `${path}.hostNetwork`, errs)
  asBool(spec.enableServiceLinks, `${path}.enableServiceLinks`, errs)
  asObj(spec.securityContext, `${path}.securityContext`, errs)
  asObj(spec.affinity, `${path}.affinity`, errs)
  asInt(spec.priority, `${path}.priority`, errs)
  validateTolerations(spec.tolerations, `${path}.tolerations`, errs)
  if (hostNetwork) {
    containers.forEach((c, i) => {
      if (!isObj(c) || !Array.isArray(c.ports)) return
      c.ports.forEach((p, j) => {
        if (isObj(p) && p.hostPort !== undefined && p.hostPort !== p.containerPort)
          errs.push(invalid(`${path}.containers[${i}].ports[${j}].containerPort`, p.containerPort, 'must match `hostPort` when `hostNetwork` is true'))
      })
    })
  }
}

function validateVolumes(v: unknown, path: string, errs: Errs): Set<string> {
  const names = new Set<string>()
  asArray(v, path, errs).forEach((raw, i) => {
    const p = `${path}[${i}]`
    const vol = asObj(raw, p, errs)
    if (!vol) return
    const name = asString(vol.name, `${p}.name`, errs)
    if (!name) errs.push(required(`${p}.name`))
    else {
      for (const m of isDNS1123Label(name)) errs.push(invalid(`${p}.name`, name, m))
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    }
    const sources = Object.keys(vol).filter((k) => k !== 'name' && !absent(vol[k]))
    if (sources.length > 1) errs.push(forbidden(`${p}.${sources[1]}`, 'may not specify more than 1 volume type'))
    const cm = asObj(vol.configMap, `${p}.configMap`, errs)
    if (cm) {
      const n = asString(cm.name, `${p}.configMap.name`, errs)
      if (!n) errs.push(required(`${p}.configMap.name`))
      validateProjection(cm, `${p}.configMap`, errs)
    }
    const sec = asObj(vol.secret, `${p}.secret`, errs)
    if (sec) {
      const n = asString(sec.secretName, `${p}.secret.secretName`, errs)
      if (!n) errs.push(required(`${p}.secret.secretName`))
      validateProjection(sec, `${p}.secret`, errs)
    }
    const hp = asObj(vol.hostPath, `${p}.hostPath`, errs)
    if (hp && !asString(hp.path, `${p}.hostPath.path`, errs)) errs.push(required(`${p}.hostPath.path`))
    const pvc = asObj(vol.persistentVolumeClaim, `${p}.persistentVolumeClaim`, errs)
    if (pvc && !asString(pvc.claimName, `${p}.persistentVolumeClaim.claimName`, errs)) errs.push(required(`${p}.persistentVolumeClaim.claimName`))
  })
  return names
}

const FILE_MODE_MSG = 'must be a number between 0 and 0777 (octal), both inclusive'

function validateFileMode(v: unknown, path: string, errs: Errs): void {
  const m = asInt(v, path, errs)
  if (m !== undefined && (m < 0 || m > 0o777)) errs.push(invalid(path, m, FILE_MODE_MSG))
}

/** validateLocalDescendingPath: relative, no `..` element, not starting with `..`. */
function validateLocalPath(v: string, path: string, errs: Errs): void {
  if (v.startsWith('/')) errs.push(invalid(path, v, 'must be a relative path'))
  if (v.split('/').includes('..')) errs.push(invalid(path, v, "must not contain '..'"))
  else if (v.startsWith('..')) errs.push(invalid(path, v, "must not start with '..'"))
}

/** items / defaultMode / optional of configMap and secret volumes (validateKeyToPath). */
function validateProjection(src: Obj, path: string, errs: Errs): void {
  validateFileMode(src.defaultMode, `${path}.defaultMode`, errs)
  asBool(src.optional, `${path}.optional`, errs)
  asArray(src.items, `${path}.items`, errs).forEach((raw, i) => {
    const p = `${path}.items[${i}]`
    const it = asObj(raw, p, errs)
    if (!it) return
    const key = asString(it.key, `${p}.key`, errs)
    if (!key) errs.push(required(`${p}.key`))
    const ip = asString(it.path, `${p}.path`, errs)
    if (!ip) errs.push(required(`${p}.path`))
    else validateLocalPath(ip, `${p}.path`, errs)
    validateFileMode(it.mode, `${p}.mode`, errs)
  })
}

function validateContainer(raw: unknown, path: string, volumes: Set<string>, names: Set<string>, errs: Errs): void {
  const c = asObj(raw, path, errs)
  if (!c) return
  const name = asString(c.name, `${path}.name`, errs)
  if (!name) errs.push(required(`${path}.name`))
  else {
    for (const m of isDNS1123Label(name)) errs.push(invalid(`${path}.name`, name, m))
    if (names.has(name)) errs.push(duplicate(`${path}.name`, name))
    names.add(name)
  }
  const image = asString(c.image, `${path}.image`, errs)
  if (!image) errs.push(required(`${path}.image`))
  else if (image.trim() !== image) errs.push(invalid(`${path}.image`, image, 'must not have leading or trailing whitespace'))
  for (const f of ['command', 'args']) asArray(c[f], `${path}.${f}`, errs).forEach((s, i) => asString(s, `${path}.${f}[${i}]`, errs))
  asString(c.workingDir, `${path}.workingDir`, errs)
  oneOf(asString(c.imagePullPolicy, `${path}.imagePullPolicy`, errs), `${path}.imagePullPolicy`, PULL_POLICIES, errs)
  oneOf(
    asString(c.terminationMessagePolicy, `${path}.terminationMessagePolicy`, errs),
    `${path}.terminationMessagePolicy`,
    TERMINATION_MESSAGE_POLICIES,
    errs,
  )
  validateContainerPorts(c.ports, `${path}.ports`, errs)
  validateEnv(c.env, `${path}.env`, errs)
  validateVolumeMounts(c.volumeMounts, `${path}.volumeMounts`, volumes, errs)
  validateResources(c.resources, `${path}.resources`, errs)
  validateProbe(c.livenessProbe, `${path}.livenessProbe`, true, errs)
  validateProbe(c.readinessProbe, `${path}.readinessProbe`, false, errs)
  validateProbe(c.startupProbe, `${path}.startupProbe`, true, errs)
}

function validateContainerPorts(v: unknown, path: string, errs: Errs): void {
  const names = new Set<string>()
  asArray(v, path, errs).forEach((raw, i) => {
    const p = `${path}[${i}]`
    const port = asObj(raw, p, errs)
    if (!port) return
    const name = asString(port.name, `${p}.name`, errs)
    if (name) {
      for (const m of isValidPortName(name)) errs.push(invalid(`${p}.name`, name, m))
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name))
      names.add(name)
    }
    const cp = port.containerPort
    if (absent(cp) || cp === 0) errs.push(required(`${p}.containerPort`))
    else for (const m of isValidPortNum(cp)) errs.push(invalid(`${p}.containerPort`, cp, m))
    const hp = port.hostPort
    if (!absent(hp) && hp !== 0) for (const m of isValidPortNum(hp)) errs.push(invalid(`${p}.hostPort`, hp, m))
    const proto = asString(port.protocol, `${p}.protocol`, errs)
    if (proto === undefined) errs.push(required(`${p}.protocol`))
    else oneOf(proto, `${p}.protocol`, PROTOCOLS, errs)
    const hostIP = asString(port.hostIP, `${p}.hostIP`, errs)
    if (hostIP) for (const m of isValidIP(hostIP)) errs.push(invalid(`${p}.hostIP`, hostIP, m))
  })
}

function validateEnv(v: unknown, path: string, errs: Errs): void {
  asArray(v, path, errs).forEach((raw, i) => {
    const p = `${path}[${i}]`
    const e = asObj(raw, p, errs)
    if (!e) return
    const name = asString(e.name, `${p}.name`, errs)
    if (!name) errs.push(required(`${p}.name`))
    else if (!ENV_NAME.test(name))
      errs.push(
        invalid(
          `${p}.name`,
          name,
          "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
        ),
      )
    const value = asString(e.value, `${p}.value`, errs)
    const from = asObj(e.valueFrom, `${p}.valueFrom`, errs)
    if (from) {
      if (value) errs.push(invalid(`${p}.valueFrom`, '', 'may not be specified when `value` is not empty'))
      const sources = Object.keys(from).filter((k) => !absent(from[k]))
      if (sources.length === 0) errs.push(invalid(`${p}.valueFrom`, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'))
      else if (sources.length > 1)
        errs.push(invalid(`${p}.valueFrom`, '', 'may not have more than one field specified at a time'))
      const fr = asObj(from.fieldRef, `${p}.valueFrom.fieldRef`, errs)
      if (fr && !asString(fr.fieldPath, `${p}.valueFrom.fieldRef.fieldPath`, errs)) errs.push(required(`${p}.valueFrom.fieldRef.fieldPath`))
      const cm = asObj(from.configMapKeyRef, `${p}.valueFrom.configMapKeyRef`, errs)
      if (cm && !asString(cm.key, `${p}.valueFrom.configMapKeyRef.key`, errs)) errs.push(required(`${p}.valueFrom.configMapKeyRef.key`))
      const sk = asObj(from.secretKeyRef, `${p}.valueFrom.secretKeyRef`, errs)
      if (sk) {
        if (!asString(sk.name, `${p}.valueFrom.secretKeyRef.name`, errs)) errs.push(required(`${p}.valueFrom.secretKeyRef.name`))
        if (!asString(sk.key, `${p}.valueFrom.secretKeyRef.key`, errs)) errs.push(required(`${p}.valueFrom.secretKeyRef.key`))
      }
    }
  })
}

function validateVolumeMounts(v: unknown, path: string, volumes: Set<string>, errs: Errs): void {
  const paths = new Set<string>()
  asArray(v, path, errs).forEach((raw, i) => {
    const p = `${path}[${i}]`
    const m = asObj(raw, p, errs)
    if (!m) return
    const name = asString(m.name, `${p}.name`, errs)
    if (!name) errs.push(required(`${p}.name`))
    else if (!volumes.has(name)) errs.push(notFound(`${p}.name`, name))
    const mp = asString(m.mountPath, `${p}.mountPath`, errs)
    if (!mp) errs.push(required(`${p}.mountPath`))
    else {
      if (paths.has(mp)) errs.push(invalid(`${p}.mountPath`, mp, 'must be unique'))
      paths.add(mp)
    }
    asBool(m.readOnly, `${p}.readOnly`, errs)
  })
}

function validateResources(v: unknown, path: string, errs: Errs): void {
  const res = asObj(v, path, errs)
  if (!res) return
  const parsed: Record<'limits' | 'requests', Record<string, number>> = { limits: {}, requests: {} }
  for (const kind of ['limits', 'requests'] as const) {
    const list = asObj(res[kind], `${path}.${kind}`, errs)
    if (!list) continue
    for (const [k, q] of Object.entries(list)) {
      const p = `${path}.${kind}[${k}]`
      const s = typeof q === 'number' ? String(q) : q
      if (typeof s !== 'string' || !isValidQuantity(s)) {
        errs.push(invalid(p, q, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
        continue
      }
      const n = parseQuantity(s)
      if (n < 0) errs.push(invalid(p, q, 'must be greater than or equal to 0'))
      parsed[kind][k] = n
    }
  }
  for (const [k, req] of Object.entries(parsed.requests)) {
    const lim = parsed.limits[k]
    if (lim !== undefined && req > lim) {
      const reqs = (res.requests as Obj)[k]
      errs.push(invalid(`${path}.requests`, reqs, `must be less than or equal to ${k} limit of ${String((res.limits as Obj)[k])}`))
    }
  }
}

function validateProbe(v: unknown, path: string, successMustBeOne: boolean, errs: Errs): void {
  const probe = asObj(v, path, errs)
  if (!probe) return
  const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => !absent(probe[h]))
  if (handlers.length === 0) errs.push(required(path, 'must specify a handler type'))
  else if (handlers.length > 1) errs.push(forbidden(`${path}.${handlers[1]}`, 'may not specify more than 1 handler type'))
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    nonNegative(asInt(probe[f], `${path}.${f}`, errs), `${path}.${f}`, errs)
  }
  const st = probe.successThreshold
  if (successMustBeOne && typeof st === 'number' && st !== 1) errs.push(invalid(`${path}.successThreshold`, st, 'must be 1'))
  const http = asObj(probe.httpGet, `${path}.httpGet`, errs)
  if (http) {
    validatePortNumOrName(http.port, `${path}.httpGet.port`, errs)
    oneOf(asString(http.scheme, `${path}.httpGet.scheme`, errs), `${path}.httpGet.scheme`, ['HTTP', 'HTTPS'], errs)
  }
  const tcp = asObj(probe.tcpSocket, `${path}.tcpSocket`, errs)
  if (tcp) validatePortNumOrName(tcp.port, `${path}.tcpSocket.port`, errs)
  const exec = asObj(probe.exec, `${path}.exec`, errs)
  if (exec && asArray(exec.command, `${path}.exec.command`, errs).length === 0) errs.push(required(`${path}.exec.command`))
}

function validateDNSConfig(v: unknown, path: string, errs: Errs): void {
  const cfg = asObj(v, path, errs)
  if (!cfg) return
  asArray(cfg.nameservers, `${path}.nameservers`, errs).forEach((ns, i) => {
    const s = asString(ns, `${path}.nameservers[${i}]`, errs)
    if (s !== undefined) for (const m of isValidIP(s)) errs.push(invalid(`${path}.nameservers[${i}]`, s, m))
  })
  asArray(cfg.searches, `${path}.searches`, errs).forEach((d, i) => {
    const s = asString(d, `${path}.searches[${i}]`, errs)
    if (s !== undefined) for (const m of isDNS1123Subdomain(s.replace(/\.$/, ''))) errs.push(invalid(`${path}.searches[${i}]`, s, m))
  })
}

export function validateTolerations(v: unknown, path: string, errs: Errs): void {
  asArray(v, path, errs).forEach((raw, i) => {
    const p = `${path}[${i}]`
    const t = asObj(raw, p, errs)
    if (!t) return
    const key = asString(t.key, `${p}.key`, errs)
    if (key) for (const m of isQualifiedName(key)) errs.push(invalid(`${p}.key`, key, m))
    const op = asString(t.operator, `${p}.operator`, errs)
    const value = asString(t.value, `${p}.value`, errs)
    if (!key && op !== 'Exists')
      errs.push(invalid(`${p}.operator`, op ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
    if (op !== undefined && op !== '' && op !== 'Equal' && op !== 'Exists') errs.push(notSupported(`${p}.operator`, op, ['Equal', 'Exists']))
    if (op === 'Exists' && value) errs.push(invalid(`${p}.operator`, t, 'value must be empty when `operator` is \'Exists\''))
    const effect = asString(t.effect, `${p}.effect`, errs)
    if (effect) oneOf(effect, `${p}.effect`, TAINT_EFFECTS, errs)
    const secs = asInt(t.tolerationSeconds, `${p}.tolerationSeconds`, errs)
    if (secs !== undefined && effect !== 'NoExecute') errs.push(invalid(`${p}.effect`, effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"))
  })
}

/** Pod-level create rules: spec, plus status shape when a client creates a pod with status. */
export function validatePod(pod: Obj, errs: Errs): void {
  if (absent(pod.spec)) {
    errs.push(required('spec.containers'))
    return
  }
  validatePodSpec(pod.spec, 'spec', errs)
}

const MUTABLE_POD_FIELDS_MSG =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)'

/** ValidatePodUpdate: everything in spec is immutable except images, deadline and new tolerations. */
export function validatePodUpdate(pod: Obj, old: Obj, errs: Errs): void {
  const spec = pod.spec
  const oldSpec = old.spec
  if (!isObj(spec) || !isObj(oldSpec)) return

  // activeDeadlineSeconds may be set or lowered, never raised or removed.
  const ads = spec.activeDeadlineSeconds
  const oldAds = oldSpec.activeDeadlineSeconds
  if (typeof oldAds === 'number') {
    if (absent(ads)) errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'))
    else if (typeof ads === 'number' && ads > oldAds) errs.push(invalid('spec.activeDeadlineSeconds', ads, 'must be less than or equal to previous value'))
  }

  // Tolerations: the old ones must all remain (tolerationSeconds of NoExecute ones may change).
  const tols = Array.isArray(spec.tolerations) ? spec.tolerations : []
  const oldTols = Array.isArray(oldSpec.tolerations) ? oldSpec.tolerations : []
  for (const ot of oldTols) {
    const keep = tols.some((t) => {
      if (!isObj(t) || !isObj(ot)) return deepEqual(t, ot)
      const a = { ...t, tolerationSeconds: undefined }
      const b = { ...ot, tolerationSeconds: undefined }
      return deepEqual(a, b)
    })
    if (!keep) {
      errs.push(forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'))
      break
    }
  }

  // Everything else: copy the mutable fields from new into a copy of old and compare.
  const mutated: Obj = structuredClone(oldSpec)
  const copyImages = (key: 'containers' | 'initContainers'): void => {
    const n = spec[key]
    const o = mutated[key]
    if (!Array.isArray(n) || !Array.isArray(o) || n.length !== o.length) return
    o.forEach((c, i) => {
      const nc = n[i]
      if (isObj(c) && isObj(nc)) c.image = nc.image
    })
  }
  copyImages('containers')
  copyImages('initContainers')
  mutated.activeDeadlineSeconds = spec.activeDeadlineSeconds
  mutated.tolerations = spec.tolerations
  mutated.terminationGracePeriodSeconds = spec.terminationGracePeriodSeconds
  if (!deepEqual(mutated, spec)) errs.push(forbidden('spec', MUTABLE_POD_FIELDS_MSG))
}

const POD_PHASES = ['Failed', 'Pending', 'Running', 'Succeeded', 'Unknown']
const CONDITION_STATUSES = ['False', 'True', 'Unknown']

export function validatePodStatus(statusIn: unknown, errs: Errs): void {
  const st = asObj(statusIn, 'status', errs)
  if (!st) return
  oneOf(asString(st.phase, 'status.phase', errs), 'status.phase', POD_PHASES, errs)
  for (const f of ['podIP', 'hostIP']) {
    const ip = asString(st[f], `status.${f}`, errs)
    if (ip) for (const m of isValidIP(ip)) errs.push(invalid(`status.${f}`, ip, m))
  }
  for (const f of ['podIPs', 'hostIPs']) {
    const single = f === 'podIPs' ? st.podIP : st.hostIP
    const list = asArray(st[f], `status.${f}`, errs)
    const seen = new Set<string>()
    list.forEach((raw, i) => {
      const e = asObj(raw, `status.${f}[${i}]`, errs)
      const ip = e ? asString(e.ip, `status.${f}[${i}].ip`, errs) : undefined
      if (!ip) return
      for (const m of isValidIP(ip)) errs.push(invalid(`status.${f}[${i}].ip`, ip, m))
      if (seen.has(ip)) errs.push(duplicate(`status.${f}[${i}].ip`, ip))
      seen.add(ip)
    })
    if (list.length > 0 && typeof single === 'string' && single && isObj(list[0]) && list[0].ip !== single)
      errs.push(invalid(`status.${f}`, list, `must have the same IP as ${f === 'podIPs' ? 'podIP' : 'hostIP'} as its first element`))
  }
  validateConditions(st.conditions, 'status.conditions', errs)
  for (const f of ['containerStatuses', 'initContainerStatuses']) {
    asArray(st[f], `status.${f}`, errs).forEach((raw, i) => {
      const cs = asObj(raw, `status.${f}[${i}]`, errs)
      if (!cs) return
      nonNegative(asInt(cs.restartCount, `status.${f}[${i}].restartCount`, errs), `status.${f}[${i}].restartCount`, errs)
    })
  }
}

export function validateConditions(v: unknown, path: string, errs: Errs): void {
  asArray(v, path, errs).forEach((raw, i) => {
    const c = asObj(raw, `${path}[${i}]`, errs)
    if (!c) return
    if (!asString(c.type, `${path}[${i}].type`, errs)) errs.push(required(`${path}[${i}].type`))
    const s = asString(c.status, `${path}[${i}].status`, errs)
    if (s === undefined) errs.push(required(`${path}[${i}].status`))
    else oneOf(s, `${path}[${i}].status`, CONDITION_STATUSES, errs)
  })
}
