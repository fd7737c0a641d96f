// metav1 Table rendering for `kubectl get` (Accept: application/json;as=Table;v=v1;g=meta.k8s.io),
// following kube-apiserver's printers (pkg/printers/internalversion): the same columns, the same
// cell text (pod STATUS reasons, `80:30080/TCP`, `<none>`, HumanDuration ages).
import type { ResourceInfo } from './resources.js'
import { groupVersion } from './resources.js'
import { formatLabelSelector } from './selectors.js'
import type {
  ConfigMap,
  ContainerStatus,
  Deployment,
  EndpointSlice,
  Endpoints,
  KubeObject,
  Lease,
  ControllerRevision,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
  ReplicaSet,
  StatefulSet,
  Service,
  Table,
  TableColumnDefinition,
  TableRow,
  Job,
  CronJob,
  Secret,
  ServiceAccount,
  CoreEvent,
  EventV1,
  DaemonSet,
} from './types.js'
import { eventFromV1 } from './events.js'
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from './types.js'
import { accessModesString, claimClass, isDefaultClass, volumeClass } from './storage.js'
import type { Ingress, IngressClass, IngressRule } from './ingress.js'
import type { RoleBinding } from './types.js'
import { csrCondition, type CertificateSigningRequest } from '../certificates/csr.js'

export interface TableOptions {
  now?: Date
  /** What each row's `object` carries; kube-apiserver's default is Metadata. */
  includeObject?: 'None' | 'Metadata' | 'Object'
}

const DOC = {
  name: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  age: 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
}

function col(name: string, type = 'string', priority = 0, description = '', format = ''): TableColumnDefinition {
  return { name, type, format, description, priority }
}
const nameCol = (): TableColumnDefinition => col('Name', 'string', 0, DOC.name, 'name')
const ageCol = (): TableColumnDefinition => col('Age', 'string', 0, DOC.age)

/** duration.HumanDuration: `5s`, `3m2s`, `15m`, `4h`, `2d3h`, `20d`, `2y45d`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 60 * 2) return `${seconds}s`
  const minutes = Math.trunc(seconds / 60)
  if (minutes < 10) {
    const s = seconds % 60
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`
  }
  if (minutes < 60 * 3) return `${minutes}m`
  const hours = Math.trunc(minutes / 60)
  if (hours < 8) {
    const m = minutes % 60
    return m === 0 ? `${hours}h` : `${hours}h${m}m`
  }
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) {
    const h = hours % 24
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365
    const y = Math.trunc(hours / 24 / 365)
    return dy === 0 ? `${y}y` : `${y}y${dy}d`
  }
  return `${Math.trunc(hours / 24 / 365)}y`
}

/** translateTimestampSince: `<unknown>` for a missing timestamp. */
export function age(ts: string | undefined, now: Date): string {
  if (!ts) return '<unknown>'
  const t = Date.parse(ts)
  if (!Number.isFinite(t)) return '<unknown>'
  return humanDuration(now.getTime() - t)
}

interface Printer {
  columns: TableColumnDefinition[]
  cells: (obj: KubeObject, now: Date) => unknown[]
}

const none = (s: string | undefined | null): string => (s ? s : '<none>')

function selectorString(sel: Record<string, string> | undefined): string {
  const keys = Object.keys(sel ?? {}).sort()
  if (keys.length === 0) return '<none>'
  return keys.map((k) => `${k}=${sel![k]}`).join(',')
}

function labelSelectorCell(ls: Deployment['spec']['selector'] | undefined): string {
  if (!ls) return '<none>'
  try {
    const s = formatLabelSelector(ls)
    return s === '' ? '<none>' : s
  } catch {
    return '<error>'
  }
}

// ---------- pods ----------

function hasPodReadyCondition(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

/** kubectl's pod STATUS column (printPod). */
export function podStatusReason(pod: Pod): string {
  const st = pod.status ?? {}
  let reason: string = st.reason || st.phase || ''
  const initStatuses = st.initContainerStatuses ?? []
  const nInit = pod.spec?.initContainers?.length ?? 0
  let initializing = false
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]!
    const term = c.state?.terminated
    const wait = c.state?.waiting
    if (term && term.exitCode === 0) continue
    if (term) {
      if (!term.reason) reason = term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode}`
      else reason = `Init:${term.reason}`
    } else if (wait?.reason && wait.reason !== 'PodInitializing') {
      reason = `Init:${wait.reason}`
    } else {
      reason = `Init:${i}/${nInit}`
    }
    initializing = true
    break
  }
  if (!initializing) {
    let hasRunning = false
    const statuses = st.containerStatuses ?? []
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!
      const term = c.state?.terminated
      const wait = c.state?.waiting
      if (wait?.reason) reason = wait.reason
      else if (term?.reason) reason = term.reason
      else if (term) reason = term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode}`
      else if (c.ready && c.state?.running) hasRunning = true
    }
    if (reason === 'Completed' && hasRunning) reason = hasPodReadyCondition(pod) ? 'Running' : 'NotReady'
  }
  if (pod.metadata.deletionTimestamp && st.reason === 'NodeLost') reason = 'Unknown'
  else if (pod.metadata.deletionTimestamp) reason = 'Terminating'
  return reason
}

function restartsCell(statuses: ContainerStatus[], now: Date): string {
  let restarts = 0
  let last: number | undefined
  for (const c of statuses) {
    restarts += c.restartCount ?? 0
    const fin = c.lastState?.terminated?.finishedAt
    if (c.restartCount > 0 && fin) {
      const t = Date.parse(fin)
      if (Number.isFinite(t) && (last === undefined || t > last)) last = t
    }
  }
  return last !== undefined && restarts > 0 ? `${restarts} (${humanDuration(now.getTime() - last)} ago)` : String(restarts)
}

const podPrinter: Printer = {
  columns: [
    nameCol(),
    col('Ready', 'string', 0, 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 0, 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'string', 0, 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ageCol(),
    col('IP', 'string', 1, 'podIP is the IP address allocated to the pod.'),
    col('Node', 'string', 1, 'NodeName indicates in which node this pod is scheduled.'),
    col('Nominated Node', 'string', 1, 'nominatedNodeName is set only when this pod preempts other pods on the node.'),
    col('Readiness Gates', 'string', 1, 'If specified, all readiness gates will be evaluated for pod readiness.'),
  ],
  cells(obj, now) {
    const pod = obj as Pod
    const st = pod.status ?? {}
    const total = pod.spec?.containers?.length ?? 0
    const statuses = st.containerStatuses ?? []
    const ready = statuses.filter((c) => c.ready && c.state?.running).length
    const initStatuses = st.initContainerStatuses ?? []
    const gates = (pod.spec as { readinessGates?: { conditionType: string }[] } | undefined)?.readinessGates ?? []
    let gatesCell = '<none>'
    if (gates.length > 0) {
      const trueGates = gates.filter((g) => (st.conditions ?? []).some((c) => c.type === g.conditionType && c.status === 'True')).length
      gatesCell = `${trueGates}/${gates.length}`
    }
    return [
      pod.metadata.name ?? '',
      `${ready}/${total}`,
      podStatusReason(pod),
      // While initializing, kubectl counts init container restarts; afterwards only the app containers'.
      restartsCell(podStatusReason(pod).startsWith('Init:') ? initStatuses : statuses, now),
      age(pod.metadata.creationTimestamp, now),
      none(st.podIP),
      none(pod.spec?.nodeName),
      none((st as { nominatedNodeName?: string }).nominatedNodeName),
      gatesCell,
    ]
  },
}

// ---------- services ----------

function serviceExternalIP(svc: Service): string {
  const s = svc.spec ?? {}
  const ext = s.externalIPs ?? []
  switch (s.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length > 0 ? ext.join(',') : '<none>'
    case 'LoadBalancer': {
      const ing = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean)
      const all = [...ing, ...ext]
      return all.length > 0 ? all.join(',') : '<pending>'
    }
    case 'ExternalName':
      return s.externalName ?? '<none>'
    default:
      return '<unknown>'
  }
}

function servicePorts(svc: Service): string {
  const ports = svc.spec?.ports ?? []
  if (ports.length === 0) return '<none>'
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',')
}

const servicePrinter: Printer = {
  columns: [
    nameCol(),
    col('Type', 'string', 0, 'type determines how the Service is exposed.'),
    col('Cluster-IP', 'string', 0, 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col('External-IP', 'string', 0, 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    col('Port(s)', 'string', 0, 'The list of ports that are exposed by this service.'),
    ageCol(),
    col('Selector', 'string', 1, 'Route service traffic to pods with label keys and values matching this selector.'),
  ],
  cells(obj, now) {
    const svc = obj as Service
    const s = svc.spec ?? {}
    return [
      svc.metadata.name ?? '',
      s.type ?? 'ClusterIP',
      none(s.clusterIPs?.join(',') || s.clusterIP),
      serviceExternalIP(svc),
      servicePorts(svc),
      age(svc.metadata.creationTimestamp, now),
      selectorString(s.selector),
    ]
  },
}

// ---------- apps ----------

function containersAndImages(tpl: { spec?: { containers?: { name: string; image?: string }[] } } | undefined): [string, string] {
  const cs = tpl?.spec?.containers ?? []
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image ?? '').join(',')]
}

const deploymentPrinter: Printer = {
  columns: [
    nameCol(),
    col('Ready', 'string', 0, 'Number of the pod with ready state'),
    col('Up-to-date', 'integer', 0, 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    col('Available', 'integer', 0, 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    ageCol(),
    col('Containers', 'string', 1, 'Names of each container in the template.'),
    col('Images', 'string', 1, 'Images referenced by each container in the template.'),
    col('Selector', 'string', 1, 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.'),
  ],
  cells(obj, now) {
    const d = obj as Deployment
    const [names, images] = containersAndImages(d.spec?.template)
    return [
      d.metadata.name ?? '',
      `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
      d.status?.updatedReplicas ?? 0,
      d.status?.availableReplicas ?? 0,
      age(d.metadata.creationTimestamp, now),
      names,
      images,
      labelSelectorCell(d.spec?.selector),
    ]
  },
}

const replicaSetPrinter: Printer = {
  columns: [
    nameCol(),
    col('Desired', 'integer', 0, 'Replicas is the number of desired replicas.'),
    col('Current', 'integer', 0, 'Replicas is the most recently observed number of replicas.'),
    col('Ready', 'integer', 0, 'The number of ready replicas for this replica set.'),
    ageCol(),
    col('Containers', 'string', 1, 'Names of each container in the template.'),
    col('Images', 'string', 1, 'Images referenced by each container in the template.'),
    col('Selector', 'string', 1, 'Selector is a label query over pods that should match the replica count.'),
  ],
  cells(obj, now) {
    const rs = obj as ReplicaSet
    const [names, images] = containersAndImages(rs.spec?.template)
    return [
      rs.metadata.name ?? '',
      rs.spec?.replicas ?? 0,
      rs.status?.replicas ?? 0,
      rs.status?.readyReplicas ?? 0,
      age(rs.metadata.creationTimestamp, now),
      names,
      images,
      labelSelectorCell(rs.spec?.selector),
    ]
  },
}

// ---------- apps/v1 DaemonSet ----------

const daemonSetPrinter: Printer = {
  columns: [
    nameCol(),
    col('Desired', 'integer', 0, 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
    col('Current', 'integer', 0, 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
    col('Ready', 'integer', 0, 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.'),
    col('Up-to-date', 'integer', 0, 'The total number of nodes that are running updated daemon pod'),
    col('Available', 'integer', 0, 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    col('Node Selector', 'string', 0, "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
    ageCol(),
    col('Containers', 'string', 1, 'Names of each container in the template.'),
    col('Images', 'string', 1, 'Images referenced by each container in the template.'),
    col('Selector', 'string', 1, 'A label query over pods that are managed by the daemon set. Must match in order to be controlled.'),
  ],
  cells(obj, now) {
    const ds = obj as DaemonSet
    const [names, images] = containersAndImages(ds.spec?.template)
    const st = ds.status
    return [
      ds.metadata.name ?? '',
      st?.desiredNumberScheduled ?? 0,
      st?.currentNumberScheduled ?? 0,
      st?.numberReady ?? 0,
      st?.updatedNumberScheduled ?? 0,
      st?.numberAvailable ?? 0,
      selectorString(ds.spec?.template?.spec?.nodeSelector),
      age(ds.metadata.creationTimestamp, now),
      names,
      images,
      labelSelectorCell(ds.spec?.selector),
    ]
  },
}

// apps/v1 StatefulSet (kube-apiserver's printer: NAME READY AGE, wide CONTAINERS IMAGES)
const statefulSetPrinter: Printer = {
  columns: [
    nameCol(),
    col('Ready', 'string', 0, 'Number of the pod with ready state'),
    ageCol(),
    col('Containers', 'string', 1, 'Names of each container in the template.'),
    col('Images', 'string', 1, 'Images referenced by each container in the template.'),
  ],
  cells(obj, now) {
    const s = obj as StatefulSet
    const [names, images] = containersAndImages(s.spec?.template)
    return [s.metadata.name ?? '', `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}`, age(s.metadata.creationTimestamp, now), names, images]
  },
}

// ---------- batch ----------

const jobPrinter: Printer = {
  columns: [
    nameCol(),
    col('Status', 'string', 0, 'Status of the job.'),
    col('Completions', 'string', 0, 'The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.'),
    col('Duration', 'string', 0, 'Time required to complete the job.'),
    ageCol(),
    col('Containers', 'string', 1, 'Names of each container in the template.'),
    col('Images', 'string', 1, 'Images referenced by each container in the template.'),
    col('Selector', 'string', 1, 'A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors'),
  ],
  cells(obj, now) {
    const j = obj as Job
    const st = j.status ?? {}
    const succeeded = st.succeeded ?? 0
    let completions: string
    if (j.spec?.completions !== undefined && j.spec.completions !== null) completions = `${succeeded}/${j.spec.completions}`
    else completions = (j.spec?.parallelism ?? 0) > 1 ? `${succeeded}/1 of ${j.spec!.parallelism}` : `${succeeded}/1`
    let dur = ''
    if (st.startTime) dur = humanDuration((st.completionTime ? Date.parse(st.completionTime) : now.getTime()) - Date.parse(st.startTime))
    const has = (t: string): boolean => (st.conditions ?? []).some((c) => c.type === t && c.status === 'True')
    let status = 'Running'
    if (has('Complete')) status = 'Complete'
    else if (has('Failed')) status = 'Failed'
    else if (j.metadata.deletionTimestamp) status = 'Terminating'
    else if (has('Suspended')) status = 'Suspended'
    else if (has('FailureTarget')) status = 'FailureTarget'
    const [names, images] = containersAndImages(j.spec?.template)
    return [j.metadata.name ?? '', status, completions, dur, age(j.metadata.creationTimestamp, now), names, images, labelSelectorCell(j.spec?.selector)]
  },
}

const cronJobPrinter: Printer = {
  columns: [
    nameCol(),
    col('Schedule', 'string', 0, 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
    col('Timezone', 'string', 0, 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones'),
    col('Suspend', 'boolean', 0, 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.'),
    col('Active', 'integer', 0, 'A list of pointers to currently running jobs.'),
    col('Last Schedule', 'string', 0, 'Information when was the last time the job was successfully scheduled.'),
    ageCol(),
    col('Containers', 'string', 1, 'Names of each container in the template.'),
    col('Images', 'string', 1, 'Images referenced by each container in the template.'),
    col('Selector', 'string', 1, 'A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors'),
  ],
  cells(obj, now) {
    const cj = obj as CronJob
    const [names, images] = containersAndImages(cj.spec?.jobTemplate?.spec?.template)
    const suspend = cj.spec?.suspend
    return [
      cj.metadata.name ?? '',
      cj.spec?.schedule ?? '',
      cj.spec?.timeZone ?? '<none>',
      suspend === undefined || suspend === null ? '<unset>' : suspend ? 'True' : 'False',
      (cj.status?.active ?? []).length,
      cj.status?.lastScheduleTime ? age(cj.status.lastScheduleTime, now) : '<none>',
      age(cj.metadata.creationTimestamp, now),
      names,
      images,
      labelSelectorCell(cj.spec?.jobTemplate?.spec?.selector),
    ]
  },
}

// ---------- nodes ----------

function nodeStatus(node: Node): string {
  const conds = node.status?.conditions ?? []
  const ready = conds.find((c) => c.type === 'Ready')
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown']
  if (ready && ready.status === 'Unknown') parts[0] = 'NotReady'
  if (node.spec?.unschedulable) parts.push('SchedulingDisabled')
  return parts.join(',')
}

function nodeRoles(node: Node): string {
  const roles = new Set<string>()
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length)
      if (role) roles.add(role)
    } else if (k === 'kubernetes.io/role' && v) roles.add(v)
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',')
}

function nodeAddress(node: Node, type: string): string {
  return none(node.status?.addresses?.find((a) => a.type === type)?.address)
}

const nodePrinter: Printer = {
  columns: [
    nameCol(),
    col('Status', 'string', 0, 'The status of the node'),
    col('Roles', 'string', 0, 'The roles of the node'),
    ageCol(),
    col('Version', 'string', 0, 'Kubelet Version reported by the node.'),
    col('Internal-IP', 'string', 1, 'List of addresses reachable to the node. Queried from cloud provider, if available.'),
    col('External-IP', 'string', 1, 'List of addresses reachable to the node. Queried from cloud provider, if available.'),
    col('OS-Image', 'string', 1, 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
    col('Kernel-Version', 'string', 1, 'Kernel Version reported by the node from `uname -r` (e.g. 3.16.0-0.bpo.4-amd64).'),
    col('Container-Runtime', 'string', 1, 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).'),
  ],
  cells(obj, now) {
    const node = obj as Node
    const info = node.status?.nodeInfo ?? {}
    return [
      node.metadata.name ?? '',
      nodeStatus(node),
      nodeRoles(node),
      age(node.metadata.creationTimestamp, now),
      info.kubeletVersion ?? '',
      nodeAddress(node, 'InternalIP'),
      nodeAddress(node, 'ExternalIP'),
      info.osImage || '<unknown>',
      info.kernelVersion || '<unknown>',
      info.containerRuntimeVersion || '<unknown>',
    ]
  },
}

// ---------- the rest ----------

const namespacePrinter: Printer = {
  columns: [nameCol(), col('Status', 'string', 0, 'The status of the namespace'), ageCol()],
  cells: (obj, now) => [obj.metadata.name ?? '', (obj as Namespace).status?.phase ?? '', age(obj.metadata.creationTimestamp, now)],
}

/** formatEndpoints: `ip:port` pairs, at most 3, then ` + N more...`. */
export function formatEndpoints(ep: Endpoints): string {
  const subsets = ep.subsets ?? []
  if (subsets.length === 0) return '<none>'
  const list: string[] = []
  const max = 3
  let more = false
  let count = 0
  for (const ss of subsets) {
    const ports = ss.ports && ss.ports.length > 0 ? ss.ports : [undefined]
    for (const port of ports) {
      for (const a of ss.addresses ?? []) {
        if (list.length < max) list.push(port ? `${a.ip}:${port.port}` : a.ip)
        else more = true
        count++
      }
    }
  }
  let out = list.join(',')
  if (more) out += ` + ${count - max} more...`
  return out || '<none>'
}

const endpointsPrinter: Printer = {
  columns: [nameCol(), col('Endpoints', 'string', 0, 'Endpoints of the service'), ageCol()],
  cells: (obj, now) => [obj.metadata.name ?? '', formatEndpoints(obj as Endpoints), age(obj.metadata.creationTimestamp, now)],
}

function limited(items: string[], unset: string): string {
  if (items.length === 0) return unset
  const max = 3
  const shown = items.slice(0, max).join(',')
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown
}

const endpointSlicePrinter: Printer = {
  columns: [
    nameCol(),
    col('AddressType', 'string', 0, 'addressType specifies the type of address carried by this EndpointSlice.'),
    col('Ports', 'string', 0, 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
    col('Endpoints', 'string', 0, 'endpoints is a list of unique endpoints in this slice.'),
    ageCol(),
  ],
  cells(obj, now) {
    const es = obj as EndpointSlice
    const ports = (es.ports ?? []).map((p) => (p.port === undefined || p.port === null ? '<unset>' : String(p.port)))
    const addrs = (es.endpoints ?? []).flatMap((e) => e.addresses ?? [])
    return [es.metadata.name ?? '', es.addressType ?? '', limited(ports, '<unset>'), limited(addrs, '<unset>'), age(es.metadata.creationTimestamp, now)]
  },
}

const configMapPrinter: Printer = {
  columns: [nameCol(), col('Data', 'integer', 0, 'Data contains the configuration data.'), ageCol()],
  cells(obj, now) {
    const cm = obj as ConfigMap
    return [cm.metadata.name ?? '', Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, age(cm.metadata.creationTimestamp, now)]
  },
}

// ---------- apps/v1 ControllerRevision ----------

/** kubectl's `statefulset.apps/web` form of the controlling owner, `<none>` without one. */
function controllerName(obj: KubeObject): string {
  const ref = obj.metadata.ownerReferences?.find((o) => o.controller)
  if (!ref) return '<none>'
  const group = ref.apiVersion.includes('/') ? ref.apiVersion.slice(0, ref.apiVersion.indexOf('/')) : ''
  return `${ref.kind.toLowerCase()}${group ? `.${group}` : ''}/${ref.name}`
}

const controllerRevisionPrinter: Printer = {
  columns: [
    nameCol(),
    col('Controller', 'string', 0, 'Controller of the object'),
    col('Revision', 'integer', 0, 'Revision indicates the revision of the state represented by Data.'),
    ageCol(),
  ],
  cells: (obj, now) => [obj.metadata.name ?? '', controllerName(obj), (obj as ControllerRevision).revision ?? 0, age(obj.metadata.creationTimestamp, now)],
}

const leasePrinter: Printer = {
  columns: [nameCol(), col('Holder', 'string', 0, 'holderIdentity contains the identity of the holder of a current lease.'), ageCol()],
  cells: (obj, now) => [obj.metadata.name ?? '', (obj as Lease).spec?.holderIdentity ?? '', age(obj.metadata.creationTimestamp, now)],
}

// ---------- Secret, ServiceAccount, Event (issue #11) ----------

const secretPrinter: Printer = {
  columns: [nameCol(), col('Type', 'string', 0, 'Used to facilitate programmatic handling of secret data.'), col('Data', 'string', 0, 'Data contains the secret data.'), ageCol()],
  cells(obj, now) {
    const s = obj as Secret
    return [s.metadata.name ?? '', s.type ?? '', Object.keys(s.data ?? {}).length, age(s.metadata.creationTimestamp, now)]
  },
}

const serviceAccountPrinter: Printer = {
  columns: [nameCol(), col('Secrets', 'string', 0, 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), ageCol()],
  cells: (obj, now) => [obj.metadata.name ?? '', ((obj as ServiceAccount).secrets ?? []).length, age(obj.metadata.creationTimestamp, now)],
}

/** formatEventSource: component (or reportingController), then host (or reportingInstance). */
function eventSource(e: CoreEvent): string {
  const component = e.source?.component || e.reportingComponent || ''
  const host = e.source?.host || e.reportingInstance || ''
  if (!component) return ''
  return host ? `${component}, ${host}` : component
}

/** printEvent: LAST SEEN falls back to the first sighting, and a series overrides count and last time. */
export function eventCells(e: CoreEvent, now: Date): unknown[] {
  let first = age(e.firstTimestamp ?? undefined, now)
  if (!e.firstTimestamp) first = age(e.eventTime ?? undefined, now)
  let last = e.lastTimestamp ? age(e.lastTimestamp, now) : first
  let count = e.count ?? 0
  if (e.series) {
    last = age(e.series.lastObservedTime, now)
    count = e.series.count ?? 0
  } else if (count === 0) count = 1
  const inv = e.involvedObject ?? {}
  const target = inv.name ? `${(inv.kind ?? '').toLowerCase()}/${inv.name}` : (inv.kind ?? '').toLowerCase()
  return [last, e.type ?? '', e.reason ?? '', target, inv.fieldPath ?? '', eventSource(e), (e.message ?? '').trim(), first, count, e.metadata.name ?? '']
}

const eventPrinter: Printer = {
  columns: [
    col('Last Seen', 'string', 0, 'The time at which the most recent occurrence of this event was recorded.'),
    col('Type', 'string', 0, 'Type of this event (Normal, Warning), new types could be added in the future'),
    col('Reason', 'string', 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    col('Object', 'string', 0, 'The object that this event is about.'),
    col('Subobject', 'string', 1, 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].'),
    col('Source', 'string', 1, 'The component reporting this event. Should be a short machine understandable string.'),
    col('Message', 'string', 0, 'A human-readable description of the status of this operation.'),
    col('First Seen', 'string', 1, 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)'),
    col('Count', 'string', 1, 'The number of times this event has occurred.'),
    col('Name', 'string', 1, DOC.name, 'name'),
  ],
  cells: (obj, now) => eventCells(obj as CoreEvent, now),
}

/** events.k8s.io/v1 rows print the stored form, as kube-apiserver's printer does. */
const eventV1Printer: Printer = { columns: eventPrinter.columns, cells: (obj, now) => eventCells(eventFromV1(obj as EventV1), now) }

// NetworkPolicy: NAME POD-SELECTOR AGE (printNetworkPolicy); an empty selector prints <none>.
const networkPolicyPrinter: Printer = {
  columns: [
    nameCol(),
    col('Pod-Selector', 'string', 0, 'Selects the pods that this policy applies to. An empty selector selects all pods in the namespace.'),
    ageCol(),
  ],
  cells: (obj, now) => [obj.metadata.name ?? '', labelSelectorCell((obj as NetworkPolicy).spec?.podSelector ?? {}), age(obj.metadata.creationTimestamp, now)],
}

// ---------- PersistentVolume, PersistentVolumeClaim, StorageClass (issue #11) ----------
// printPersistentVolume / printPersistentVolumeClaim / printStorageClass of a 1.29+ server
// (VOLUMEATTRIBUTESCLASS always shown); the table is the server's, so kubectl 1.27 prints it too.

const pvPrinter: Printer = {
  columns: [
    nameCol(),
    col('Capacity', 'string', 0, 'capacity is the description of the persistent volume\'s resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity'),
    col('Access Modes', 'string', 0, 'accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes'),
    col('Reclaim Policy', 'string', 0, 'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming'),
    col('Status', 'string', 0, 'phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase'),
    col('Claim', 'string', 0, 'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding'),
    col('StorageClass', 'string', 0, 'StorageClass of the pv'),
    col('VolumeAttributesClass', 'string', 0, 'VolumeAttributesClass of the pv'),
    col('Reason', 'string', 0, 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.'),
    ageCol(),
    col('VolumeMode', 'string', 1, 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.'),
  ],
  cells(obj, now) {
    const pv = obj as PersistentVolume
    const spec = pv.spec ?? {}
    const ref = spec.claimRef ? `${spec.claimRef.namespace ?? ''}/${spec.claimRef.name ?? ''}` : ''
    const phase = pv.metadata.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? '')
    return [
      pv.metadata.name ?? '',
      spec.capacity?.storage ?? '0',
      accessModesString(spec.accessModes),
      spec.persistentVolumeReclaimPolicy ?? '',
      phase,
      ref,
      volumeClass(pv),
      spec.volumeAttributesClassName ?? '<unset>',
      pv.status?.reason ?? '',
      age(pv.metadata.creationTimestamp, now),
      spec.volumeMode ?? '<unset>',
    ]
  },
}

const pvcPrinter: Printer = {
  columns: [
    nameCol(),
    col('Status', 'string', 0, 'phase represents the current phase of PersistentVolumeClaim.'),
    col('Volume', 'string', 0, 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
    col('Capacity', 'string', 0, 'capacity represents the actual resources of the underlying volume.'),
    col('Access Modes', 'string', 0, 'accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1'),
    col('StorageClass', 'string', 0, 'StorageClass of the pvc'),
    col('VolumeAttributesClass', 'string', 0, 'VolumeAttributesClass of the pvc'),
    ageCol(),
    col('VolumeMode', 'string', 1, 'volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.'),
  ],
  cells(obj, now) {
    const pvc = obj as PersistentVolumeClaim
    const spec = pvc.spec ?? {}
    const phase = pvc.metadata.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? '')
    const bound = !!spec.volumeName
    return [
      pvc.metadata.name ?? '',
      phase,
      spec.volumeName ?? '',
      bound ? (pvc.status?.capacity?.storage ?? '0') : '',
      bound ? accessModesString(pvc.status?.accessModes) : '',
      claimClass(pvc),
      spec.volumeAttributesClassName ?? '<unset>',
      age(pvc.metadata.creationTimestamp, now),
      spec.volumeMode ?? '<unset>',
    ]
  },
}

const storageClassPrinter: Printer = {
  columns: [
    nameCol(),
    col('Provisioner', 'string', 0, 'provisioner indicates the type of the provisioner.'),
    col('ReclaimPolicy', 'string', 0, 'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.'),
    col('VolumeBindingMode', 'string', 0, 'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.'),
    col('AllowVolumeExpansion', 'string', 0, 'allowVolumeExpansion shows whether the storage class allow volume expand.'),
    ageCol(),
  ],
  cells(obj, now) {
    const sc = obj as StorageClass
    const name = (sc.metadata.name ?? '') + (isDefaultClass(sc) ? ' (default)' : '')
    return [name, sc.provisioner ?? '', sc.reclaimPolicy ?? 'Delete', sc.volumeBindingMode ?? 'Immediate', sc.allowVolumeExpansion ?? false, age(sc.metadata.creationTimestamp, now)]
  },
}

// Ingress: NAME CLASS HOSTS ADDRESS PORTS AGE (printIngress); IngressClass: NAME CONTROLLER PARAMETERS AGE.
function ingressHosts(rules: IngressRule[]): string {
  const max = 3
  const hosts: string[] = []
  let more = false
  for (const r of rules) {
    if (hosts.length === max) more = true
    if (!more && r.host) hosts.push(r.host)
  }
  if (hosts.length === 0) return '*'
  return more ? `${hosts.join(',')} + ${rules.length - max} more...` : hosts.join(',')
}

function ingressAddress(ing: Ingress): string {
  const s = (ing.status?.loadBalancer?.ingress ?? []).flatMap((i) => [i.ip, i.hostname].filter((x): x is string => !!x)).join(',')
  // loadBalancerWidth: the (non-wide) table cuts long lists, as the kube-apiserver printer does
  return s.length > 16 ? `${s.slice(0, 13)}...` : s
}

const ingressPrinter: Printer = {
  columns: [
    nameCol(),
    col('Class', 'string', 0, 'The name of the IngressClass resource that should be used to handle this Ingress.'),
    col('Hosts', 'string', 0, 'Hosts that incoming requests are matched against before the ingress rule'),
    col('Address', 'string', 0, 'Address is a list containing ingress points for the load-balancer'),
    col('Ports', 'string', 0, 'Ports of TLS configurations that open'),
    ageCol(),
  ],
  cells(obj, now) {
    const ing = obj as Ingress
    const spec = ing.spec ?? {}
    return [ing.metadata.name ?? '', spec.ingressClassName ?? '<none>', ingressHosts(spec.rules ?? []), ingressAddress(ing), (spec.tls ?? []).length > 0 ? '80, 443' : '80', age(ing.metadata.creationTimestamp, now)]
  },
}

const ingressClassPrinter: Printer = {
  columns: [
    nameCol(),
    col('Controller', 'string', 0, 'Controller that is responsible for handling this class'),
    col('Parameters', 'string', 0, 'A reference to a resource with additional parameters'),
    ageCol(),
  ],
  cells(obj, now) {
    const ic = obj as IngressClass
    const p = ic.spec?.parameters
    const params = p ? `${p.kind}${p.apiGroup ? `.${p.apiGroup}` : ''}/${p.name}` : '<none>'
    return [ic.metadata.name ?? '', ic.spec?.controller ?? '', params, age(ic.metadata.creationTimestamp, now)]
  },
}

/** Roles and ClusterRoles: upstream prints the creation time as RFC 3339, not an age. */
const rolePrinter: Printer = {
  columns: [nameCol(), col('Created At', 'date', 0, DOC.age)],
  cells: (obj) => [obj.metadata.name ?? '', obj.metadata.creationTimestamp ?? ''],
}

function bindingSubjects(b: RoleBinding, kind: string): string {
  const subjects = Array.isArray(b.subjects) ? b.subjects : []
  return subjects
    .filter((s) => s.kind === kind)
    .map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name))
    .join(', ')
}

const bindingPrinter: Printer = {
  columns: [
    nameCol(),
    col('Role', 'string', 0, 'RoleRef is the reference to the role the binding is granting.'),
    ageCol(),
    col('Users', 'string', 1, 'Users in the binding'),
    col('Groups', 'string', 1, 'Groups in the binding'),
    col('ServiceAccounts', 'string', 1, 'ServiceAccounts in the binding'),
  ],
  cells(obj, now) {
    const b = obj as RoleBinding
    const ref = b.roleRef ?? { kind: '', name: '', apiGroup: '' }
    return [b.metadata.name ?? '', `${ref.kind}/${ref.name}`, age(b.metadata.creationTimestamp, now), bindingSubjects(b, 'User'), bindingSubjects(b, 'Group'), bindingSubjects(b, 'ServiceAccount')]
  },
}

/** printCertificateSigningRequest: NAME, AGE, SIGNERNAME, REQUESTOR, REQUESTEDDURATION, CONDITION. */
const csrPrinter: Printer = {
  columns: [
    nameCol(),
    ageCol(),
    col('SignerName', 'string', 0, 'The name of the signer'),
    col('Requestor', 'string', 0, 'Name of the user that created the request'),
    col('RequestedDuration', 'string', 0, 'The requested duration of the certificate'),
    col('Condition', 'string', 0, 'The current condition of the request'),
  ],
  cells(obj, now) {
    const csr = obj as CertificateSigningRequest
    const exp = csr.spec?.expirationSeconds
    return [
      csr.metadata.name ?? '',
      age(csr.metadata.creationTimestamp, now),
      csr.spec?.signerName ?? '',
      csr.spec?.username ?? '',
      typeof exp === 'number' ? humanDuration(exp * 1000) : '<none>',
      csrCondition(csr),
    ]
  },
}

const defaultPrinter: Printer = {
  columns: [nameCol(), ageCol()],
  cells: (obj, now) => [obj.metadata.name ?? '', age(obj.metadata.creationTimestamp, now)],
}

const PRINTERS: Record<string, Printer> = {
  '/pods': podPrinter,
  '/services': servicePrinter,
  'apps/deployments': deploymentPrinter,
  'apps/replicasets': replicaSetPrinter,
  'apps/daemonsets': daemonSetPrinter,
  'apps/statefulsets': statefulSetPrinter,
  'apps/controllerrevisions': controllerRevisionPrinter,
  '/nodes': nodePrinter,
  '/namespaces': namespacePrinter,
  '/endpoints': endpointsPrinter,
  'discovery.k8s.io/endpointslices': endpointSlicePrinter,
  '/configmaps': configMapPrinter,
  'coordination.k8s.io/leases': leasePrinter,
  'batch/jobs': jobPrinter,
  'batch/cronjobs': cronJobPrinter,
  '/secrets': secretPrinter,
  '/serviceaccounts': serviceAccountPrinter,
  '/events': eventPrinter,
  'events.k8s.io/events': eventV1Printer,
  'networking.k8s.io/networkpolicies': networkPolicyPrinter,
  '/persistentvolumes': pvPrinter,
  '/persistentvolumeclaims': pvcPrinter,
  'storage.k8s.io/storageclasses': storageClassPrinter,
  'networking.k8s.io/ingresses': ingressPrinter,
  'networking.k8s.io/ingressclasses': ingressClassPrinter,
  'rbac.authorization.k8s.io/roles': rolePrinter,
  'rbac.authorization.k8s.io/clusterroles': rolePrinter,
  'rbac.authorization.k8s.io/rolebindings': bindingPrinter,
  'rbac.authorization.k8s.io/clusterrolebindings': bindingPrinter,
  'certificates.k8s.io/certificatesigningrequests': csrPrinter,
}

/** The column definitions for r (also used by clients printing tables locally). */
export function tableColumns(r: ResourceInfo): TableColumnDefinition[] {
  return (PRINTERS[`${r.group}/${r.plural}`] ?? defaultPrinter).columns.map((c) => ({ ...c }))
}

function rowObject(r: ResourceInfo, obj: KubeObject, mode: 'None' | 'Metadata' | 'Object'): unknown {
  if (mode === 'None') return undefined
  if (mode === 'Object') return { apiVersion: obj.apiVersion ?? groupVersion(r), kind: obj.kind ?? r.kind, ...obj }
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata }
}

export function toTable(r: ResourceInfo, objs: KubeObject[], opts: TableOptions = {}): Table {
  const printer = PRINTERS[`${r.group}/${r.plural}`] ?? defaultPrinter
  const now = opts.now ?? new Date()
  const mode = opts.includeObject ?? 'Metadata'
  const rows: TableRow[] = objs.map((o) => {
    let cells: unknown[]
    try {
      cells = printer.cells(o, now)
    } catch {
      // A malformed stored object must not break `kubectl get` for the whole list.
      const nameAt = Math.max(0, printer.columns.findIndex((c) => c.format === 'name'))
      cells = printer.columns.map((_, i) => (i === nameAt ? o.metadata?.name ?? '' : '<error>'))
    }
    const row: TableRow = { cells }
    const object = rowObject(r, o, mode)
    if (object !== undefined) row.object = object
    return row
  })
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {},
    columnDefinitions: printer.columns.map((c) => ({ ...c })),
    rows,
  }
}
