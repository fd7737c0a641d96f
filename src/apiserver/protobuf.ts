// Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
// kubectl 1.32+ sends its typed `create` commands (create namespace/configmap/deployment/
// service) as protobuf with no JSON fallback, so netkube decodes the kinds those commands
// produce. Responses stay JSON (the same clients accept it).
//
// Wire format: the 4-byte magic "k8s\0", then runtime.Unknown{typeMeta=1{apiVersion=1,
// kind=2}, raw=2, contentEncoding=3, contentType=4}; `raw` is the object message. Field
// numbers follow k8s.io/api's generated.proto. Go's gogo-protobuf writes every non-pointer
// field even when empty ("" / 0 / false / empty message), where JSON would omit it; such
// zero values are dropped here unless the Go field is a pointer (`ptr`), whose zero is
// meaningful (replicas: 0).

type Scalar = 'string' | 'int' | 'bool' | 'bytes' | 'time' | 'intstr' | 'quantity'
interface Field {
  name: string
  type: Scalar | Schema | { map: 'string' | 'bytes' | 'quantity' }
  repeated?: boolean
  ptr?: boolean
  /** An embedded Go struct (`json:",inline"`): its fields land in the parent object. */
  inline?: boolean
}
type Schema = Record<number, Field>

const f = (name: string, type: Field['type'], opts: { repeated?: boolean; ptr?: boolean; inline?: boolean } = {}): Field => ({ name, type, ...opts })

const OwnerReference: Schema = {
  1: f('kind', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: f('controller', 'bool', { ptr: true }),
  7: f('blockOwnerDeletion', 'bool', { ptr: true }),
}

const ObjectMeta: Schema = {
  1: f('name', 'string'),
  2: f('generateName', 'string'),
  3: f('namespace', 'string'),
  5: f('uid', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('generation', 'int'),
  8: f('creationTimestamp', 'time'),
  9: f('deletionTimestamp', 'time'),
  10: f('deletionGracePeriodSeconds', 'int', { ptr: true }),
  11: f('labels', { map: 'string' }),
  12: f('annotations', { map: 'string' }),
  13: f('ownerReferences', OwnerReference, { repeated: true }),
  14: f('finalizers', 'string', { repeated: true }),
}

const LabelSelector: Schema = {
  1: f('matchLabels', { map: 'string' }),
  2: f('matchExpressions', { 1: f('key', 'string'), 2: f('operator', 'string'), 3: f('values', 'string', { repeated: true }) }, { repeated: true }),
}

const ContainerPort: Schema = {
  1: f('name', 'string'),
  2: f('hostPort', 'int'),
  3: f('containerPort', 'int'),
  4: f('protocol', 'string'),
  5: f('hostIP', 'string'),
}

const Container: Schema = {
  1: f('name', 'string'),
  2: f('image', 'string'),
  3: f('command', 'string', { repeated: true }),
  4: f('args', 'string', { repeated: true }),
  5: f('workingDir', 'string'),
  6: f('ports', ContainerPort, { repeated: true }),
  7: f('env', { 1: f('name', 'string'), 2: f('value', 'string') }, { repeated: true }),
  8: f('resources', { 1: f('limits', { map: 'quantity' }), 2: f('requests', { map: 'quantity' }) }),
  9: f('volumeMounts', { 1: f('name', 'string'), 2: f('readOnly', 'bool'), 3: f('mountPath', 'string'), 4: f('subPath', 'string') }, { repeated: true }),
  13: f('terminationMessagePath', 'string'),
  14: f('imagePullPolicy', 'string'),
  16: f('stdin', 'bool'),
  17: f('stdinOnce', 'bool'),
  18: f('tty', 'bool'),
  20: f('terminationMessagePolicy', 'string'),
}

const Toleration: Schema = {
  1: f('key', 'string'),
  2: f('operator', 'string'),
  3: f('value', 'string'),
  4: f('effect', 'string'),
  5: f('tolerationSeconds', 'int', { ptr: true }),
}

const PodSpec: Schema = {
  2: f('containers', Container, { repeated: true }),
  3: f('restartPolicy', 'string'),
  4: f('terminationGracePeriodSeconds', 'int', { ptr: true }),
  5: f('activeDeadlineSeconds', 'int', { ptr: true }),
  6: f('dnsPolicy', 'string'),
  7: f('nodeSelector', { map: 'string' }),
  8: f('serviceAccountName', 'string'),
  10: f('nodeName', 'string'),
  11: f('hostNetwork', 'bool'),
  12: f('hostPID', 'bool'),
  13: f('hostIPC', 'bool'),
  16: f('hostname', 'string'),
  17: f('subdomain', 'string'),
  19: f('schedulerName', 'string'),
  20: f('initContainers', Container, { repeated: true }),
  22: f('tolerations', Toleration, { repeated: true }),
  24: f('priorityClassName', 'string'),
  25: f('priority', 'int', { ptr: true }),
  30: f('enableServiceLinks', 'bool', { ptr: true }),
}

const PodTemplateSpec: Schema = { 1: f('metadata', ObjectMeta), 2: f('spec', PodSpec) }

const DeploymentSpec: Schema = {
  1: f('replicas', 'int', { ptr: true }),
  2: f('selector', LabelSelector),
  3: f('template', PodTemplateSpec),
  4: f('strategy', { 1: f('type', 'string'), 2: f('rollingUpdate', { 1: f('maxUnavailable', 'intstr'), 2: f('maxSurge', 'intstr') }) }),
  5: f('minReadySeconds', 'int'),
  6: f('revisionHistoryLimit', 'int', { ptr: true }),
  7: f('paused', 'bool'),
  9: f('progressDeadlineSeconds', 'int', { ptr: true }),
}

const ServicePort: Schema = {
  1: f('name', 'string'),
  2: f('protocol', 'string'),
  3: f('port', 'int'),
  4: f('targetPort', 'intstr'),
  5: f('nodePort', 'int'),
  6: f('appProtocol', 'string', { ptr: true }),
}

const ServiceSpec: Schema = {
  1: f('ports', ServicePort, { repeated: true }),
  2: f('selector', { map: 'string' }),
  3: f('clusterIP', 'string'),
  4: f('type', 'string'),
  5: f('externalIPs', 'string', { repeated: true }),
  7: f('sessionAffinity', 'string'),
  8: f('loadBalancerIP', 'string'),
  9: f('loadBalancerSourceRanges', 'string', { repeated: true }),
  10: f('externalName', 'string'),
  11: f('externalTrafficPolicy', 'string'),
  12: f('healthCheckNodePort', 'int'),
  13: f('publishNotReadyAddresses', 'bool'),
  17: f('ipFamilyPolicy', 'string', { ptr: true }),
  18: f('clusterIPs', 'string', { repeated: true }),
  19: f('ipFamilies', 'string', { repeated: true }),
  20: f('allocateLoadBalancerNodePorts', 'bool', { ptr: true }),
  21: f('loadBalancerClass', 'string', { ptr: true }),
  22: f('internalTrafficPolicy', 'string', { ptr: true }),
  23: f('trafficDistribution', 'string', { ptr: true }),
}

// batch/v1 (`kubectl create job`, `create cronjob`, `create job --from=cronjob/x`).
const JobSpec: Schema = {
  1: f('parallelism', 'int', { ptr: true }),
  2: f('completions', 'int', { ptr: true }),
  3: f('activeDeadlineSeconds', 'int', { ptr: true }),
  4: f('selector', LabelSelector),
  5: f('manualSelector', 'bool', { ptr: true }),
  6: f('template', PodTemplateSpec),
  7: f('backoffLimit', 'int', { ptr: true }),
  8: f('ttlSecondsAfterFinished', 'int', { ptr: true }),
  9: f('completionMode', 'string', { ptr: true }),
  10: f('suspend', 'bool', { ptr: true }),
  14: f('podReplacementPolicy', 'string', { ptr: true }),
}

const CronJobSpec: Schema = {
  1: f('schedule', 'string'),
  2: f('startingDeadlineSeconds', 'int', { ptr: true }),
  3: f('concurrencyPolicy', 'string'),
  4: f('suspend', 'bool', { ptr: true }),
  5: f('jobTemplate', { 1: f('metadata', ObjectMeta), 2: f('spec', JobSpec) }),
  6: f('successfulJobsHistoryLimit', 'int', { ptr: true }),
  7: f('failedJobsHistoryLimit', 'int', { ptr: true }),
  8: f('timeZone', 'string', { ptr: true }),
}

// networking.k8s.io/v1 Ingress, from `kubectl create ingress` (issue #12)
const IngressBackend: Schema = {
  3: f('resource', { 1: f('apiGroup', 'string', { ptr: true }), 2: f('kind', 'string'), 3: f('name', 'string') }),
  4: f('service', { 1: f('name', 'string'), 2: f('port', { 1: f('name', 'string'), 2: f('number', 'int') }) }),
}
const IngressSpec: Schema = {
  1: f('defaultBackend', IngressBackend),
  2: f('tls', { 1: f('hosts', 'string', { repeated: true }), 2: f('secretName', 'string') }, { repeated: true }),
  3: f(
    'rules',
    {
      1: f('host', 'string'),
      2: f('ingressRuleValue', { 1: f('http', { 1: f('paths', { 1: f('path', 'string'), 2: f('backend', IngressBackend), 3: f('pathType', 'string', { ptr: true }) }, { repeated: true }) }) }, { inline: true }),
    },
    { repeated: true },
  ),
  4: f('ingressClassName', 'string', { ptr: true }),
}

// kubectl create role|clusterrole|rolebinding|clusterrolebinding, auth can-i, auth whoami (issue #15)
const PolicyRule: Schema = {
  1: f('verbs', 'string', { repeated: true }),
  2: f('apiGroups', 'string', { repeated: true }),
  3: f('resources', 'string', { repeated: true }),
  4: f('resourceNames', 'string', { repeated: true }),
  5: f('nonResourceURLs', 'string', { repeated: true }),
}
const RbacSubject: Schema = { 1: f('kind', 'string'), 2: f('apiGroup', 'string'), 3: f('name', 'string'), 4: f('namespace', 'string') }
const RoleRef: Schema = { 1: f('apiGroup', 'string'), 2: f('kind', 'string'), 3: f('name', 'string') }
const RoleBinding: Schema = { 1: f('metadata', ObjectMeta), 2: f('subjects', RbacSubject, { repeated: true }), 3: f('roleRef', RoleRef) }
const ResourceAttributes: Schema = {
  1: f('namespace', 'string'),
  2: f('verb', 'string'),
  3: f('group', 'string'),
  4: f('version', 'string'),
  5: f('resource', 'string'),
  6: f('subresource', 'string'),
  7: f('name', 'string'),
}
const NonResourceAttributes: Schema = { 1: f('path', 'string'), 2: f('verb', 'string') }
const SubjectAccessReview: Schema = {
  1: f('metadata', ObjectMeta),
  2: f('spec', {
    1: f('resourceAttributes', ResourceAttributes),
    2: f('nonResourceAttributes', NonResourceAttributes),
    3: f('user', 'string'),
    4: f('groups', 'string', { repeated: true }),
    6: f('uid', 'string'),
  }),
}

/** Object schemas by apiVersion/kind. Status is left out: the server resets it on create. */
const KINDS: Record<string, Schema> = {
  'v1/Namespace': { 1: f('metadata', ObjectMeta), 2: f('spec', { 1: f('finalizers', 'string', { repeated: true }) }) },
  'v1/ConfigMap': { 1: f('metadata', ObjectMeta), 2: f('data', { map: 'string' }), 3: f('binaryData', { map: 'bytes' }), 4: f('immutable', 'bool', { ptr: true }) },
  'v1/Service': { 1: f('metadata', ObjectMeta), 2: f('spec', ServiceSpec) },
  'v1/Pod': { 1: f('metadata', ObjectMeta), 2: f('spec', PodSpec) },
  'apps/v1/Deployment': { 1: f('metadata', ObjectMeta), 2: f('spec', DeploymentSpec) },
  // kubectl create secret generic|tls|docker-registry, create serviceaccount (issue #11)
  'v1/Secret': { 1: f('metadata', ObjectMeta), 2: f('data', { map: 'bytes' }), 3: f('type', 'string'), 4: f('stringData', { map: 'string' }), 5: f('immutable', 'bool', { ptr: true }) },
  'v1/ServiceAccount': {
    1: f('metadata', ObjectMeta),
    2: f('secrets', { 1: f('kind', 'string'), 2: f('namespace', 'string'), 3: f('name', 'string'), 4: f('uid', 'string'), 5: f('apiVersion', 'string'), 6: f('resourceVersion', 'string'), 7: f('fieldPath', 'string') }, { repeated: true }),
    3: f('imagePullSecrets', { 1: f('name', 'string') }, { repeated: true }),
    4: f('automountServiceAccountToken', 'bool', { ptr: true }),
  },
  'batch/v1/Job': { 1: f('metadata', ObjectMeta), 2: f('spec', JobSpec) },
  'batch/v1/CronJob': { 1: f('metadata', ObjectMeta), 2: f('spec', CronJobSpec) },
  'networking.k8s.io/v1/Ingress': { 1: f('metadata', ObjectMeta), 2: f('spec', IngressSpec) },
  'rbac.authorization.k8s.io/v1/Role': { 1: f('metadata', ObjectMeta), 2: f('rules', PolicyRule, { repeated: true }) },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    1: f('metadata', ObjectMeta),
    2: f('rules', PolicyRule, { repeated: true }),
    3: f('aggregationRule', { 1: f('clusterRoleSelectors', LabelSelector, { repeated: true }) }),
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': RoleBinding,
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: f('metadata', ObjectMeta),
    2: f('spec', { 1: f('resourceAttributes', ResourceAttributes), 2: f('nonResourceAttributes', NonResourceAttributes) }),
  },
  'authorization.k8s.io/v1/SubjectAccessReview': SubjectAccessReview,
  'authorization.k8s.io/v1/LocalSubjectAccessReview': SubjectAccessReview,
  'authorization.k8s.io/v1/SelfSubjectRulesReview': { 1: f('metadata', ObjectMeta), 2: f('spec', { 1: f('namespace', 'string') }) },
  'authentication.k8s.io/v1/SelfSubjectReview': { 1: f('metadata', ObjectMeta) },
  'authentication.k8s.io/v1beta1/SelfSubjectReview': { 1: f('metadata', ObjectMeta) },
  'authentication.k8s.io/v1alpha1/SelfSubjectReview': { 1: f('metadata', ObjectMeta) },
}

export class ProtobufError extends Error {
  override name = 'ProtobufError'
}

class Reader {
  i = 0
  constructor(readonly b: Buffer) {}
  done(): boolean {
    return this.i >= this.b.length
  }
  varint(): bigint {
    let x = 0n
    let shift = 0n
    for (;;) {
      if (this.i >= this.b.length) throw new ProtobufError('truncated varint')
      const c = this.b[this.i++]!
      x |= BigInt(c & 0x7f) << shift
      shift += 7n
      if (!(c & 0x80)) return x
      if (shift > 70n) throw new ProtobufError('varint too long')
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint())
    if (len < 0 || this.i + len > this.b.length) throw new ProtobufError('truncated field')
    const out = this.b.subarray(this.i, this.i + len)
    this.i += len
    return out
  }
  skip(wt: number): void {
    if (wt === 0) this.varint()
    else if (wt === 2) this.bytes()
    else if (wt === 1) this.i += 8
    else if (wt === 5) this.i += 4
    else throw new ProtobufError(`unsupported wire type ${wt}`)
    if (this.i > this.b.length) throw new ProtobufError('truncated field')
  }
}

function isZero(v: unknown): boolean {
  if (v === '' || v === 0 || v === false || v === undefined || v === null) return true
  if (Array.isArray(v)) return v.length === 0
  if (typeof v === 'object') return Object.keys(v as object).length === 0
  return false
}

function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function scalar(type: Scalar, wt: number, r: Reader): unknown {
  if (type === 'int') {
    if (wt !== 0) throw new ProtobufError('expected varint')
    return Number(BigInt.asIntN(64, r.varint()))
  }
  if (type === 'bool') {
    if (wt !== 0) throw new ProtobufError('expected varint')
    return r.varint() !== 0n
  }
  if (wt !== 2) throw new ProtobufError('expected length-delimited field')
  const buf = r.bytes()
  switch (type) {
    case 'string':
      return buf.toString('utf8')
    case 'bytes':
      return buf.toString('base64')
    case 'time': {
      const t = decodeMessage(buf, { 1: f('seconds', 'int'), 2: f('nanos', 'int') }) as { seconds?: number }
      return t.seconds ? rfc3339(t.seconds) : undefined
    }
    case 'quantity':
      return (decodeMessage(buf, { 1: f('string', 'string') }) as { string?: string }).string ?? ''
    case 'intstr': {
      const v = decodeMessage(buf, { 1: f('type', 'int'), 2: f('intVal', 'int'), 3: f('strVal', 'string') }) as { type?: number; intVal?: number; strVal?: string }
      return v.type === 1 ? v.strVal ?? '' : v.intVal ?? 0
    }
  }
}

function decodeMessage(buf: Buffer, schema: Schema): Record<string, unknown> {
  const r = new Reader(buf)
  const out: Record<string, unknown> = {}
  const ptrs = new Set<string>()
  while (!r.done()) {
    const tag = r.varint()
    const num = Number(tag >> 3n)
    const wt = Number(tag & 7n)
    const field = schema[num]
    if (!field) {
      r.skip(wt)
      continue
    }
    let value: unknown
    const t = field.type
    if (typeof t === 'string') value = scalar(t, wt, r)
    else if ('map' in t) {
      if (wt !== 2) throw new ProtobufError('expected map entry')
      const entry = decodeMessage(r.bytes(), { 1: f('key', 'string'), 2: f('value', t.map === 'string' ? 'string' : t.map) })
      const m = (out[field.name] ??= {}) as Record<string, unknown>
      m[String(entry.key ?? '')] = entry.value ?? ''
      continue
    } else {
      if (wt !== 2) throw new ProtobufError('expected message')
      value = decodeMessage(r.bytes(), t as Schema)
      if (field.inline) {
        Object.assign(out, value)
        continue
      }
    }
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(value ?? '')
    else {
      out[field.name] = value
      if (field.ptr) ptrs.add(field.name)
    }
  }
  for (const [k, v] of Object.entries(out)) {
    const fl = Object.values(schema).find((x) => x.name === k)
    // Pointer fields keep their zero; maps exist only when they have entries.
    if (ptrs.has(k) || (fl && typeof fl.type === 'object' && 'map' in fl.type)) continue
    if (isZero(v)) delete out[k]
  }
  return out
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00])

/** Decode a protobuf-encoded object into its JSON shape; throws ProtobufError for what it cannot read. */
export function decodeK8sProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new ProtobufError('missing the k8s protobuf magic number')
  const unknown = decodeMessage(body.subarray(4), {
    1: f('typeMeta', { 1: f('apiVersion', 'string'), 2: f('kind', 'string') }),
    2: f('raw', 'bytes'),
    4: f('contentType', 'string'),
  }) as { typeMeta?: { apiVersion?: string; kind?: string }; raw?: string }
  const apiVersion = unknown.typeMeta?.apiVersion ?? ''
  const kind = unknown.typeMeta?.kind ?? ''
  const schema = KINDS[`${apiVersion}/${kind}`]
  if (!schema) throw new ProtobufError(`no protobuf decoding for ${apiVersion}/${kind}; send JSON`)
  const obj = decodeMessage(Buffer.from(unknown.raw ?? '', 'base64'), schema)
  return { apiVersion, kind, metadata: {}, ...obj }
}
