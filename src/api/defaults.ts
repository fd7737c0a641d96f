// Defaulting as kube-apiserver applies it before validation (pkg/apis/*/v1/defaults.go).
// Mutates in place and is idempotent: defaulting a defaulted object changes nothing.
// Metadata (uid, creationTimestamp, generation, resourceVersion) is the apiserver's job, not this.
import type { ResourceInfo } from './resources.js'
import { externallyAccessible } from './service.js'
import type {
  Container,
  Deployment,
  EndpointSlice,
  Endpoints,
  KubeObject,
  Namespace,
  Pod,
  PodSpec,
  Probe,
  ReplicaSet,
  Service,
  Node,
  Job,
  CronJob,
  Secret,
  NetworkPolicy,
  DaemonSet,
  StatefulSet,
} from './types.js'

type Obj = Record<string, unknown>
// Not a type guard on purpose: typed fields keep their declared types after the check.
const isObj = <T>(v: T | undefined | null): v is T => v !== null && typeof v === 'object' && !Array.isArray(v)

/** SetDefaults_Subject: a User or Group subject without apiGroup is RBAC's, a ServiceAccount's is core. */
function defaultBindingSubjects(obj: KubeObject): void {
  const subjects = (obj as Obj).subjects
  if (!Array.isArray(subjects)) return
  for (const s of subjects as unknown[]) {
    if (!isObj(s as Obj) || (s as Obj).apiGroup !== undefined && (s as Obj).apiGroup !== '') continue
    const kind = (s as Obj).kind
    if (kind === 'User' || kind === 'Group') (s as Obj).apiGroup = 'rbac.authorization.k8s.io'
    else if (kind === 'ServiceAccount') (s as Obj).apiGroup = ''
  }
}

export function applyDefaults(r: ResourceInfo, obj: KubeObject): void {
  if (!isObj(obj)) return
  // A missing metadata becomes {}; a malformed one is left for validation to report.
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {}
  switch (`${r.group}/${r.kind}`) {
    case '/Pod':
      defaultPod(obj as Pod)
      break
    case '/Service':
      defaultService(obj as Service)
      break
    case '/Namespace':
      defaultNamespace(obj as Namespace)
      break
    case '/Node':
      defaultNode(obj as Node)
      break
    case '/Endpoints':
      defaultEndpoints(obj as Endpoints)
      break
    case 'apps/Deployment':
      defaultDeployment(obj as Deployment)
      break
    case 'apps/ReplicaSet':
      defaultReplicaSet(obj as ReplicaSet)
      break
    case 'apps/DaemonSet':
      defaultDaemonSet(obj as DaemonSet)
      break
    case 'discovery.k8s.io/EndpointSlice':
      defaultEndpointSlice(obj as EndpointSlice)
      break
    case 'batch/Job':
      defaultJob(obj as Job)
      break
    case 'batch/CronJob':
      defaultCronJob(obj as CronJob)
      break
    case '/Secret':
      defaultSecret(obj as Secret)
      break
    case 'networking.k8s.io/NetworkPolicy':
      defaultNetworkPolicy(obj as NetworkPolicy)
      break
    case 'apps/StatefulSet':
      defaultStatefulSet(obj as StatefulSet)
      break
    case 'rbac.authorization.k8s.io/RoleBinding':
    case 'rbac.authorization.k8s.io/ClusterRoleBinding':
      defaultBindingSubjects(obj)
      break
    // Storage (issue #11)
    case '/PersistentVolume':
      defaultPersistentVolume(obj)
      break
    case '/PersistentVolumeClaim':
      defaultPersistentVolumeClaim(obj)
      break
    case 'storage.k8s.io/StorageClass':
      defaultStorageClass(obj)
      break
    default:
      break
  }
}

/**
 * Type Opaque when unset; `stringData` (write-only) is merged into `data` as base64, winning over
 * data on the same key, and dropped — the conversion kube-apiserver does on every write.
 * A malformed stringData (a non-string value) is left for validation to report.
 */
function defaultSecret(s: Secret): void {
  if (s.type === undefined || s.type === '') s.type = 'Opaque'
  const sd = s.stringData as unknown
  if (sd === undefined || sd === null) {
    delete s.stringData
    return
  }
  if (!isObj(sd as Obj) || Object.values(sd as Obj).some((v) => typeof v !== 'string')) return
  if (s.data !== undefined && s.data !== null && !isObj(s.data)) return
  s.data ??= {}
  for (const [k, v] of Object.entries(sd as Record<string, string>)) s.data[k] = Buffer.from(v, 'utf8').toString('base64')
  delete s.stringData
}

function defaultPod(pod: Pod): void {
  if (!isObj(pod.spec)) return
  const spec = pod.spec
  defaultPodSpec(spec)
  // These three are Pod-only in k8s (SetDefaults_Pod), so they never appear in templates.
  spec.enableServiceLinks ??= true
  for (const c of [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])]) {
    if (!isObj(c)) continue
    // Requests default to limits when only limits are given.
    const res = c.resources
    if (isObj(res) && isObj(res.limits) && (res.requests === undefined || isObj(res.requests))) {
      res.requests ??= {}
      for (const [k, v] of Object.entries(res.limits)) res.requests[k] ??= v
    }
    // hostNetwork pods publish their container ports on the host.
    if (spec.hostNetwork && Array.isArray(c.ports)) for (const p of c.ports) if (isObj(p) && !p.hostPort) p.hostPort = p.containerPort
  }
  // kube-apiserver copies podIP into podIPs (and hostIP into hostIPs) for old clients.
  const st = pod.status
  if (isObj(st)) {
    if (st.podIP && (!st.podIPs || st.podIPs.length === 0)) st.podIPs = [{ ip: st.podIP }]
    if (st.hostIP && (!st.hostIPs || st.hostIPs.length === 0)) st.hostIPs = [{ ip: st.hostIP }]
  }
}

/** Pod spec defaults, shared by Pods and the templates of Deployments and ReplicaSets. */
export function defaultPodSpec(spec: PodSpec): void {
  spec.restartPolicy ??= 'Always'
  spec.dnsPolicy ??= 'ClusterFirst'
  spec.terminationGracePeriodSeconds ??= 30
  spec.schedulerName ??= 'default-scheduler'
  spec.securityContext ??= {}
  // serviceAccountName is set by admission on pod create (src/apiserver/admission.ts), never in templates.
  if (Array.isArray(spec.containers)) for (const c of spec.containers) if (isObj(c)) defaultContainer(c)
  if (Array.isArray(spec.initContainers)) for (const c of spec.initContainers) if (isObj(c)) defaultContainer(c)
  if (Array.isArray(spec.volumes)) {
    for (const v of spec.volumes) {
      if (!isObj(v)) continue
      // A volume with no source is an emptyDir, as in k8s.
      const sources = Object.keys(v).filter((k) => k !== 'name')
      if (sources.length === 0) v.emptyDir = {}
      if (isObj(v.configMap)) (v.configMap as Obj).defaultMode ??= 0o644
      if (isObj(v.secret)) (v.secret as Obj).defaultMode ??= 0o644
      if (isObj(v.hostPath)) (v.hostPath as Obj).type ??= ''
    }
  }
  if (Array.isArray(spec.tolerations)) {
    for (const t of spec.tolerations) if (isObj(t) && t.operator === undefined && t.key !== undefined) t.operator = 'Equal'
  }
}

/** `:latest` or no tag (and no digest) → Always, else IfNotPresent. */
export function defaultPullPolicy(image: string | undefined): 'Always' | 'IfNotPresent' {
  if (!image) return 'IfNotPresent'
  if (image.includes('@')) return 'IfNotPresent'
  const lastSlash = image.lastIndexOf('/')
  const tail = image.slice(lastSlash + 1)
  const colon = tail.lastIndexOf(':')
  if (colon < 0) return 'Always'
  return tail.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent'
}

function defaultContainer(c: Container): void {
  c.imagePullPolicy ??= defaultPullPolicy(c.image)
  c.terminationMessagePath ??= '/dev/termination-log'
  c.terminationMessagePolicy ??= 'File'
  if (Array.isArray(c.ports)) for (const p of c.ports) if (isObj(p)) p.protocol ??= 'TCP'
  // ResourceRequirements is a struct in Go, so `resources: {}` always shows.
  if (!isObj(c.resources)) c.resources = {}
  for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    const p = c[key]
    if (isObj(p)) defaultProbe(p)
  }
  if (Array.isArray(c.env)) {
    for (const e of c.env) {
      const fr = isObj(e) && isObj(e.valueFrom) ? (e.valueFrom as Obj).fieldRef : undefined
      if (isObj(fr)) (fr as Obj).apiVersion ??= 'v1'
    }
  }
}

function defaultProbe(p: Probe): void {
  p.timeoutSeconds ??= 1
  p.periodSeconds ??= 10
  p.successThreshold ??= 1
  p.failureThreshold ??= 3
  if (isObj(p.httpGet) && p.httpGet) {
    p.httpGet.scheme ??= 'HTTP'
    p.httpGet.path ??= '/'
  }
}

function defaultService(svc: Service): void {
  if (!isObj(svc.spec)) return
  const s = svc.spec
  s.type ??= 'ClusterIP'
  s.sessionAffinity ??= 'None'
  // k8s drops sessionAffinityConfig for None and fills the 3-hour default for ClientIP.
  if (s.sessionAffinity === 'None') delete s.sessionAffinityConfig
  if (s.sessionAffinity === 'ClientIP' && typeof s.sessionAffinityConfig?.clientIP?.timeoutSeconds !== 'number') {
    s.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } }
  }
  if (Array.isArray(s.ports)) {
    for (const p of s.ports) {
      if (!isObj(p)) continue
      p.protocol ??= 'TCP'
      // targetPort 0 / "" means "same as port" in k8s too.
      if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port
    }
  }
  if (externallyAccessible(s)) s.externalTrafficPolicy ??= 'Cluster'
  if (s.type !== 'ExternalName') {
    s.internalTrafficPolicy ??= 'Cluster'
    // Single-stack IPv4 unless the client asked otherwise; the allocator fills clusterIP(s).
    s.ipFamilyPolicy ??= 'SingleStack'
    if (!s.ipFamilies || s.ipFamilies.length === 0) {
      const ip = s.clusterIPs?.[0] ?? s.clusterIP
      s.ipFamilies = [ip && ip !== 'None' && ip.includes(':') ? 'IPv6' : 'IPv4']
    }
    if (s.clusterIP && (!s.clusterIPs || s.clusterIPs.length === 0)) s.clusterIPs = [s.clusterIP]
    else if (!s.clusterIP && s.clusterIPs && s.clusterIPs.length > 0) s.clusterIP = s.clusterIPs[0]
  }
  if (s.type === 'LoadBalancer') (s as Obj).allocateLoadBalancerNodePorts ??= true
  svc.status ??= { loadBalancer: {} }
}

function defaultNamespace(ns: Namespace): void {
  ns.spec ??= {}
  if (isObj(ns.spec)) ns.spec.finalizers ??= ['kubernetes']
  ns.status ??= {}
  if (isObj(ns.status)) ns.status.phase ??= 'Active'
  // kube-apiserver labels every namespace with its own name.
  const name = isObj(ns.metadata) ? ns.metadata.name : undefined
  if (name && typeof name === 'string') {
    ns.metadata.labels ??= {}
    if (isObj(ns.metadata.labels)) ns.metadata.labels['kubernetes.io/metadata.name'] = name
  }
}

function defaultNode(node: Node): void {
  node.spec ??= {}
  node.status ??= {}
  const st = node.status
  if (isObj(st) && isObj(st.capacity) && !isObj(st.allocatable)) st.allocatable = { ...st.capacity }
  if (isObj(node.spec) && node.spec.podCIDR && (!node.spec.podCIDRs || node.spec.podCIDRs.length === 0)) node.spec.podCIDRs = [node.spec.podCIDR]
}

function defaultEndpoints(ep: Endpoints): void {
  if (!Array.isArray(ep.subsets)) return
  for (const ss of ep.subsets) if (isObj(ss) && Array.isArray(ss.ports)) for (const p of ss.ports) if (isObj(p)) p.protocol ??= 'TCP'
}

function defaultEndpointSlice(es: EndpointSlice): void {
  if (Array.isArray(es.ports))
    for (const p of es.ports) {
      if (!isObj(p)) continue
      p.name ??= ''
      p.protocol ??= 'TCP'
    }
  // endpoints is required in the schema; an absent list is an empty one.
  es.endpoints ??= []
  if (!Array.isArray(es.endpoints)) return
  for (const e of es.endpoints) {
    if (!isObj(e)) continue
    // conditions.ready nil is interpreted as "unknown" (treated as ready) by consumers; k8s keeps nil.
    e.conditions ??= {}
  }
}

// SetDefaults_NetworkPolicy / _NetworkPolicyPort: ports default to TCP; policyTypes is Ingress,
// plus Egress when egress rules are given. spec and podSelector are Go structs (absent = zero).
function defaultNetworkPolicy(np: NetworkPolicy): void {
  ;(np as { spec?: unknown }).spec ??= {}
  const spec = np.spec
  if (!isObj(spec)) return
  ;(spec as { podSelector?: unknown }).podSelector ??= {}
  for (const rules of [spec.ingress, spec.egress])
    if (Array.isArray(rules))
      for (const r of rules) if (isObj(r) && Array.isArray(r.ports)) for (const p of r.ports) if (isObj(p)) p.protocol ??= 'TCP'
  if (spec.policyTypes === undefined || spec.policyTypes === null || (Array.isArray(spec.policyTypes) && spec.policyTypes.length === 0)) {
    spec.policyTypes = ['Ingress']
    if (Array.isArray(spec.egress) && spec.egress.length > 0) spec.policyTypes.push('Egress')
  }
}

function defaultTemplate(spec: { template?: { metadata?: Obj; spec?: PodSpec } }): void {
  const tpl = spec.template
  if (!isObj(tpl)) return
  if (isObj(tpl.spec)) defaultPodSpec(tpl.spec)
}

function defaultDeployment(d: Deployment): void {
  if (!isObj(d.spec)) return
  const s = d.spec
  s.replicas ??= 1
  s.strategy ??= {}
  const st = s.strategy
  if (isObj(st)) {
    st.type ??= 'RollingUpdate'
    if (st.type === 'RollingUpdate') {
      st.rollingUpdate ??= {}
      if (isObj(st.rollingUpdate)) {
        st.rollingUpdate.maxUnavailable ??= '25%'
        st.rollingUpdate.maxSurge ??= '25%'
      }
    }
  }
  s.revisionHistoryLimit ??= 10
  s.progressDeadlineSeconds ??= 600
  defaultTemplate(s as unknown as { template?: { spec?: PodSpec } })
}

function defaultReplicaSet(rs: ReplicaSet): void {
  if (!isObj(rs.spec)) return
  rs.spec.replicas ??= 1
  defaultTemplate(rs.spec as unknown as { template?: { spec?: PodSpec } })
}

// ---------- apps/v1 DaemonSet (SetDefaults_DaemonSet) ----------

function defaultDaemonSet(ds: DaemonSet): void {
  if (!isObj(ds.spec)) return
  const s = ds.spec
  s.updateStrategy ??= {}
  const st = s.updateStrategy
  if (isObj(st)) {
    st.type ??= 'RollingUpdate'
    if (st.type === 'RollingUpdate') {
      st.rollingUpdate ??= {}
      if (isObj(st.rollingUpdate)) {
        st.rollingUpdate.maxUnavailable ??= 1
        st.rollingUpdate.maxSurge ??= 0
      }
    }
  }
  s.revisionHistoryLimit ??= 10
  defaultTemplate(s as unknown as { template?: { spec?: PodSpec } })
}

// ---------- apps/v1 StatefulSet (SetDefaults_StatefulSet; MaxUnavailableStatefulSet is alpha upstream, so maxUnavailable is not defaulted) ----------

function defaultStatefulSet(sts: StatefulSet): void {
  const s = sts.spec
  if (!isObj(s)) return
  if (s.podManagementPolicy === undefined || s.podManagementPolicy === null || (s.podManagementPolicy as string) === '') s.podManagementPolicy = 'OrderedReady'
  s.updateStrategy ??= {}
  const us = s.updateStrategy
  if (isObj(us)) {
    if (us.type === undefined || us.type === null || (us.type as string) === '') {
      us.type = 'RollingUpdate'
      us.rollingUpdate ??= {}
    }
    if (us.type === 'RollingUpdate' && isObj(us.rollingUpdate)) us.rollingUpdate.partition ??= 0
  }
  s.persistentVolumeClaimRetentionPolicy ??= {}
  const rp = s.persistentVolumeClaimRetentionPolicy
  if (isObj(rp)) {
    if (!rp.whenDeleted) rp.whenDeleted = 'Retain'
    if (!rp.whenScaled) rp.whenScaled = 'Retain'
  }
  s.replicas ??= 1
  s.revisionHistoryLimit ??= 10
  // Claim templates are PersistentVolumeClaims and get that kind's defaults (as the v1 conversion does).
  if (Array.isArray(s.volumeClaimTemplates))
    for (const c of s.volumeClaimTemplates) {
      if (!isObj(c)) continue
      c.apiVersion ??= 'v1'
      c.kind ??= 'PersistentVolumeClaim'
      if (isObj(c.spec)) c.spec.volumeMode ??= 'Filesystem'
      c.status ??= { phase: 'Pending' }
    }
  defaultTemplate(s as unknown as { template?: { spec?: PodSpec } })
}

// ---------- batch/v1 (SetDefaults_Job, SetDefaults_CronJob) ----------

function defaultJob(job: Job): void {
  const s = job.spec
  if (!isObj(s)) return
  // Both unset: a non-parallel Job of one pod.
  if (s.completions === undefined && s.parallelism === undefined) {
    s.completions = 1
    s.parallelism = 1
  }
  s.parallelism ??= 1
  s.backoffLimit ??= 6
  s.completionMode ??= 'NonIndexed'
  s.suspend ??= false
  s.podReplacementPolicy ??= 'TerminatingOrFailed'
  const tplLabels = isObj(s.template) && isObj(s.template.metadata) ? s.template.metadata.labels : undefined
  if (isObj(job.metadata) && isObj(tplLabels) && Object.keys(job.metadata.labels ?? {}).length === 0) job.metadata.labels = { ...tplLabels }
  defaultTemplate(s as unknown as { template?: { spec?: PodSpec } })
}

function defaultCronJob(cj: CronJob): void {
  const s = cj.spec
  if (!isObj(s)) return
  s.concurrencyPolicy ??= 'Allow'
  s.suspend ??= false
  s.successfulJobsHistoryLimit ??= 3
  s.failedJobsHistoryLimit ??= 1
  // The job template's pod template gets pod defaults; the JobSpec itself is defaulted when a Job is made from it.
  if (isObj(s.jobTemplate) && isObj(s.jobTemplate.spec)) defaultTemplate(s.jobTemplate.spec as unknown as { template?: { spec?: PodSpec } })
}

/**
 * Update-time carry-over that k8s does in its REST strategies before validation, so that a PUT of
 * a manifest without server-assigned fields (`kubectl replace`, apply of a Service) keeps them:
 * Service clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy and nodePorts (matched by port+protocol)
 * and healthCheckNodePort. Mutates `obj`; call after applyDefaults(obj), before validateUpdate.
 */
export function preserveOnUpdate(r: ResourceInfo, obj: KubeObject, old: KubeObject): void {
  if (r.group !== '' || r.kind !== 'Service') return
  const s = (obj as Service).spec
  const o = (old as Service).spec
  if (!isObj(s) || !isObj(o)) return
  const type = s.type ?? 'ClusterIP'
  const oldType = o.type ?? 'ClusterIP'
  if (type !== 'ExternalName' && oldType !== 'ExternalName') {
    if (!s.clusterIP && o.clusterIP) {
      s.clusterIP = o.clusterIP
      s.clusterIPs = o.clusterIPs ? [...o.clusterIPs] : [o.clusterIP]
      if (o.ipFamilies) s.ipFamilies = [...o.ipFamilies]
      if (o.ipFamilyPolicy) s.ipFamilyPolicy = o.ipFamilyPolicy
    } else if (s.clusterIP && s.clusterIP === o.clusterIP && (!s.clusterIPs || s.clusterIPs.length === 0) && o.clusterIPs) {
      s.clusterIPs = [...o.clusterIPs]
    }
  }
  if ((type === 'NodePort' || type === 'LoadBalancer') && Array.isArray(s.ports) && Array.isArray(o.ports)) {
    for (const p of s.ports) {
      if (!isObj(p) || p.nodePort) continue
      const prev = o.ports.find((q) => isObj(q) && q.port === p.port && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'))
      if (prev?.nodePort) p.nodePort = prev.nodePort
    }
  }
  if (type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local' && !s.healthCheckNodePort && o.healthCheckNodePort)
    s.healthCheckNodePort = o.healthCheckNodePort
}

// ---------- storage (issue #11): SetDefaults_PersistentVolume / …Claim / StorageClass ----------

function defaultPersistentVolume(pv: KubeObject): void {
  const spec = (pv as { spec?: unknown }).spec
  if (!isObj(spec as Obj)) return
  const sp = spec as Obj
  if (sp.persistentVolumeReclaimPolicy === undefined || sp.persistentVolumeReclaimPolicy === '') sp.persistentVolumeReclaimPolicy = 'Retain'
  sp.volumeMode ??= 'Filesystem'
  if (isObj(sp.hostPath as Obj)) (sp.hostPath as Obj).type ??= ''
  const st = (pv as { status?: unknown }).status
  if (isObj(st as Obj) && ((st as Obj).phase === undefined || (st as Obj).phase === '')) (st as Obj).phase = 'Pending'
}

function defaultPersistentVolumeClaim(pvc: KubeObject): void {
  const spec = (pvc as { spec?: unknown }).spec
  if (isObj(spec as Obj)) (spec as Obj).volumeMode ??= 'Filesystem'
  const st = (pvc as { status?: unknown }).status
  if (isObj(st as Obj) && ((st as Obj).phase === undefined || (st as Obj).phase === '')) (st as Obj).phase = 'Pending'
}

function defaultStorageClass(sc: KubeObject): void {
  const o = sc as unknown as Obj
  if (o.reclaimPolicy === undefined || o.reclaimPolicy === null || o.reclaimPolicy === '') o.reclaimPolicy = 'Delete'
  if (o.volumeBindingMode === undefined || o.volumeBindingMode === null || o.volumeBindingMode === '') o.volumeBindingMode = 'Immediate'
}
