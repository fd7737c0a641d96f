// Kubernetes API object shapes, as JSON on the wire. Field names and nesting follow
// k8s.io/api so that real manifests apply unchanged. Only what netkube serves is declared;
// unknown fields are preserved by the apiserver as they arrive (Kubernetes would prune them).

// ---------- meta/v1 ----------
export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

export interface ManagedFieldsEntry {
  manager?: string
  operation?: string
  apiVersion?: string
  time?: string
  fieldsType?: string
  fieldsV1?: unknown
  subresource?: string
}

export interface ObjectMeta {
  name?: string
  generateName?: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: OwnerReference[]
  finalizers?: string[]
  managedFields?: ManagedFieldsEntry[]
}

export interface ListMeta {
  resourceVersion?: string
  continue?: string
  remainingItemCount?: number
}

export interface TypeMeta {
  apiVersion?: string
  kind?: string
}

/** Any top-level API object. */
export interface KubeObject extends TypeMeta {
  metadata: ObjectMeta
  [extra: string]: unknown
}

export interface KubeList<T extends KubeObject = KubeObject> extends TypeMeta {
  metadata: ListMeta
  items: T[]
}

export interface StatusCause {
  reason?: string
  message?: string
  field?: string
}

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  uid?: string
  causes?: StatusCause[]
  retryAfterSeconds?: number
}

export interface Status extends TypeMeta {
  metadata: ListMeta
  status: 'Success' | 'Failure'
  message?: string
  reason?: string
  details?: StatusDetails
  code: number
}

export interface LabelSelectorRequirement {
  key: string
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'
  values?: string[]
}

export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: LabelSelectorRequirement[]
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'

export interface WatchEvent<T = KubeObject> {
  type: WatchEventType
  object: T
}

export interface TableColumnDefinition {
  name: string
  type: string
  format: string
  description: string
  priority: number
}

export interface TableRow {
  cells: unknown[]
  object?: unknown
}

export interface Table extends TypeMeta {
  metadata: ListMeta
  columnDefinitions: TableColumnDefinition[]
  rows: TableRow[]
}

export interface Condition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason?: string
  message?: string
  lastTransitionTime?: string
  lastHeartbeatTime?: string
  lastProbeTime?: string | null
  lastUpdateTime?: string
  observedGeneration?: number
}

export type IntOrString = number | string

// ---------- core/v1 ----------
export interface Namespace extends KubeObject {
  spec?: { finalizers?: string[] }
  status?: { phase?: 'Active' | 'Terminating' }
}

export interface Taint {
  key: string
  value?: string
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  timeAdded?: string
}

export interface Toleration {
  key?: string
  operator?: 'Exists' | 'Equal'
  value?: string
  effect?: '' | 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  tolerationSeconds?: number
}

export interface NodeAddress {
  type: 'InternalIP' | 'ExternalIP' | 'Hostname' | 'InternalDNS' | 'ExternalDNS'
  address: string
}

export type ResourceList = Record<string, string>

export interface NodeSpec {
  podCIDR?: string
  podCIDRs?: string[]
  unschedulable?: boolean
  taints?: Taint[]
  providerID?: string
}

export interface NodeStatus {
  capacity?: ResourceList
  allocatable?: ResourceList
  conditions?: Condition[]
  addresses?: NodeAddress[]
  daemonEndpoints?: { kubeletEndpoint?: { Port: number } }
  nodeInfo?: Record<string, string>
}

export interface Node extends KubeObject {
  spec?: NodeSpec
  status?: NodeStatus
}

export interface EnvVar {
  name: string
  value?: string
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string }
    configMapKeyRef?: { name: string; key: string; optional?: boolean }
    secretKeyRef?: { name: string; key: string; optional?: boolean }
  }
}

export interface EnvFromSource {
  prefix?: string
  configMapRef?: { name: string; optional?: boolean }
  secretRef?: { name: string; optional?: boolean }
}

export interface ContainerPort {
  name?: string
  containerPort: number
  hostPort?: number
  protocol?: 'TCP' | 'UDP' | 'SCTP'
  hostIP?: string
}

export interface HTTPGetAction {
  path?: string
  port: IntOrString
  host?: string
  scheme?: 'HTTP' | 'HTTPS'
  httpHeaders?: { name: string; value: string }[]
}

export interface Probe {
  exec?: { command?: string[] }
  httpGet?: HTTPGetAction
  tcpSocket?: { port: IntOrString; host?: string }
  initialDelaySeconds?: number
  timeoutSeconds?: number
  periodSeconds?: number
  successThreshold?: number
  failureThreshold?: number
  terminationGracePeriodSeconds?: number
}

export interface VolumeMount {
  name: string
  mountPath: string
  readOnly?: boolean
  subPath?: string
}

export interface Container {
  name: string
  image?: string
  command?: string[]
  args?: string[]
  workingDir?: string
  ports?: ContainerPort[]
  env?: EnvVar[]
  envFrom?: EnvFromSource[]
  resources?: { requests?: ResourceList; limits?: ResourceList }
  volumeMounts?: VolumeMount[]
  livenessProbe?: Probe
  readinessProbe?: Probe
  startupProbe?: Probe
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never'
  terminationMessagePath?: string
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError'
  /** Keep a stdin open for attach; `stdinOnce` closes it when the first attached client detaches. */
  stdin?: boolean
  stdinOnce?: boolean
  /** Give the container a terminal (its stdin/stdout/stderr); needs stdin to be useful, as upstream. */
  tty?: boolean
  /** Only on init containers: `Always` makes it a sidecar (KEP-753). */
  restartPolicy?: 'Always'
}

export interface KeyToPath {
  key: string
  path: string
  mode?: number
}

export interface Volume {
  name: string
  emptyDir?: { medium?: string; sizeLimit?: string }
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number }
  secret?: { secretName?: string; items?: KeyToPath[]; optional?: boolean; defaultMode?: number }
  hostPath?: { path: string; type?: string }
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean }
}

export interface PodSpec {
  containers: Container[]
  initContainers?: Container[]
  volumes?: Volume[]
  restartPolicy?: 'Always' | 'OnFailure' | 'Never'
  terminationGracePeriodSeconds?: number
  activeDeadlineSeconds?: number
  dnsPolicy?: 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None'
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] }
  nodeSelector?: Record<string, string>
  nodeName?: string
  hostNetwork?: boolean
  hostname?: string
  subdomain?: string
  /** The kernel hostname is the pod's FQDN (needs subdomain). */
  setHostnameAsFQDN?: boolean
  schedulerName?: string
  tolerations?: Toleration[]
  priority?: number
  serviceAccountName?: string
  enableServiceLinks?: boolean
  securityContext?: Record<string, unknown>
  affinity?: Record<string, unknown>
}

export interface ContainerStateWaiting { reason?: string; message?: string }
export interface ContainerStateRunning { startedAt?: string }
export interface ContainerStateTerminated {
  exitCode: number
  signal?: number
  reason?: string
  message?: string
  startedAt?: string
  finishedAt?: string
  containerID?: string
}

export interface ContainerState {
  waiting?: ContainerStateWaiting
  running?: ContainerStateRunning
  terminated?: ContainerStateTerminated
}

export interface ContainerStatus {
  name: string
  state?: ContainerState
  lastState?: ContainerState
  ready: boolean
  started?: boolean
  restartCount: number
  image: string
  imageID: string
  containerID?: string
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown'

export interface PodStatus {
  phase?: PodPhase
  conditions?: Condition[]
  message?: string
  reason?: string
  hostIP?: string
  hostIPs?: { ip: string }[]
  podIP?: string
  podIPs?: { ip: string }[]
  startTime?: string
  containerStatuses?: ContainerStatus[]
  initContainerStatuses?: ContainerStatus[]
  qosClass?: string
}

export interface Pod extends KubeObject {
  spec: PodSpec
  status?: PodStatus
}

export interface PodTemplateSpec {
  metadata?: ObjectMeta
  spec: PodSpec
}

export interface Binding extends KubeObject {
  target: { kind?: string; name: string; apiVersion?: string; namespace?: string }
}

export interface ServicePort {
  name?: string
  protocol?: 'TCP' | 'UDP' | 'SCTP'
  port: number
  targetPort?: IntOrString
  nodePort?: number
  appProtocol?: string
}

export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName'
  selector?: Record<string, string>
  ports?: ServicePort[]
  clusterIP?: string
  clusterIPs?: string[]
  externalIPs?: string[]
  externalName?: string
  sessionAffinity?: 'None' | 'ClientIP'
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } }
  externalTrafficPolicy?: 'Cluster' | 'Local'
  internalTrafficPolicy?: 'Cluster' | 'Local'
  /** KEP-4444: `PreferClose` (= `PreferSameZone`) or `PreferSameNode`; the EndpointSlice controller hints endpoints for it. */
  trafficDistribution?: string
  publishNotReadyAddresses?: boolean
  ipFamilies?: ('IPv4' | 'IPv6')[]
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack'
  healthCheckNodePort?: number
  loadBalancerIP?: string
  loadBalancerClass?: string
  loadBalancerSourceRanges?: string[]
  allocateLoadBalancerNodePorts?: boolean
}

/** `status.loadBalancer.ingress[]`; `ipMode` (1.30+): VIP = traffic to the IP is delivered to the node as is. */
export interface LoadBalancerIngress {
  ip?: string
  hostname?: string
  ipMode?: 'VIP' | 'Proxy'
}

export interface Service extends KubeObject {
  spec: ServiceSpec
  status?: { loadBalancer?: { ingress?: LoadBalancerIngress[] }; conditions?: Condition[] }
}

export interface EndpointAddress {
  ip: string
  hostname?: string
  nodeName?: string
  targetRef?: ObjectReference
}

export interface EndpointPort {
  name?: string
  port: number
  protocol?: 'TCP' | 'UDP' | 'SCTP'
  appProtocol?: string
}

export interface EndpointSubset {
  addresses?: EndpointAddress[]
  notReadyAddresses?: EndpointAddress[]
  ports?: EndpointPort[]
}

export interface Endpoints extends KubeObject {
  subsets?: EndpointSubset[]
}

export interface ObjectReference {
  kind?: string
  namespace?: string
  name?: string
  uid?: string
  apiVersion?: string
  resourceVersion?: string
  fieldPath?: string
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>
  binaryData?: Record<string, string>
  immutable?: boolean
}

// ---------- core/v1 Secret, ServiceAccount, Event (issue #11) ----------
export interface Secret extends KubeObject {
  type?: string
  /** base64 values. */
  data?: Record<string, string>
  /** Write-only plain values, merged into data by the apiserver. */
  stringData?: Record<string, string>
  immutable?: boolean
}

export interface ServiceAccount extends KubeObject {
  secrets?: ObjectReference[]
  imagePullSecrets?: { name: string }[]
  automountServiceAccountToken?: boolean
}

export interface EventSource {
  component?: string
  host?: string
}

export interface EventSeries {
  count?: number
  lastObservedTime?: string
}

/** core/v1 Event: the storage form of both Event views. */
export interface CoreEvent extends KubeObject {
  involvedObject: ObjectReference
  reason?: string
  message?: string
  source?: EventSource
  firstTimestamp?: string | null
  lastTimestamp?: string | null
  count?: number
  type?: string
  /** MicroTime (RFC 3339 with microseconds). */
  eventTime?: string | null
  series?: EventSeries
  action?: string
  related?: ObjectReference
  reportingComponent?: string
  reportingInstance?: string
}

/** events.k8s.io/v1 Event. */
export interface EventV1 extends KubeObject {
  eventTime?: string | null
  series?: EventSeries
  reportingController?: string
  reportingInstance?: string
  action?: string
  reason?: string
  regarding?: ObjectReference
  related?: ObjectReference
  note?: string
  type?: string
  deprecatedSource?: EventSource
  deprecatedFirstTimestamp?: string | null
  deprecatedLastTimestamp?: string | null
  deprecatedCount?: number
}

// ---------- apps/v1 ----------
export interface RollingUpdateDeployment {
  maxUnavailable?: IntOrString
  maxSurge?: IntOrString
}

export interface DeploymentSpec {
  replicas?: number
  selector: LabelSelector
  template: PodTemplateSpec
  strategy?: { type?: 'RollingUpdate' | 'Recreate'; rollingUpdate?: RollingUpdateDeployment }
  minReadySeconds?: number
  revisionHistoryLimit?: number
  paused?: boolean
  progressDeadlineSeconds?: number
}

export interface DeploymentStatus {
  observedGeneration?: number
  replicas?: number
  updatedReplicas?: number
  readyReplicas?: number
  availableReplicas?: number
  unavailableReplicas?: number
  conditions?: Condition[]
  collisionCount?: number
}

export interface Deployment extends KubeObject {
  spec: DeploymentSpec
  status?: DeploymentStatus
}

export interface ReplicaSetSpec {
  replicas?: number
  minReadySeconds?: number
  selector: LabelSelector
  template?: PodTemplateSpec
}

export interface ReplicaSetStatus {
  replicas: number
  fullyLabeledReplicas?: number
  readyReplicas?: number
  availableReplicas?: number
  observedGeneration?: number
  conditions?: Condition[]
}

export interface ReplicaSet extends KubeObject {
  spec: ReplicaSetSpec
  status?: ReplicaSetStatus
}

/** autoscaling/v1 Scale, served by the scale subresource. */
export interface Scale extends KubeObject {
  spec: { replicas?: number }
  status?: { replicas: number; selector?: string }
}

// ---------- discovery.k8s.io/v1 ----------
export interface EndpointConditions {
  ready?: boolean
  serving?: boolean
  terminating?: boolean
}

export interface Endpoint {
  addresses: string[]
  conditions?: EndpointConditions
  hostname?: string
  targetRef?: ObjectReference
  nodeName?: string
  zone?: string
  /** Where this endpoint should be consumed (topology-aware routing, KEP-2433/4444). */
  hints?: EndpointHints
}

export interface EndpointHints {
  forZones?: { name: string }[]
  forNodes?: { name: string }[]
}

export interface EndpointSlice extends KubeObject {
  addressType: 'IPv4' | 'IPv6' | 'FQDN'
  endpoints: Endpoint[]
  ports?: EndpointPort[]
}

// ---------- apps/v1 ControllerRevision ----------
/** An immutable snapshot of a StatefulSet's or DaemonSet's template (their rollout history). */
export interface ControllerRevision extends KubeObject {
  /** The snapshot: a strategic-merge patch that restores the owner's template. Immutable. */
  data?: unknown
  revision: number
}

// ---------- coordination.k8s.io/v1 ----------
export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string
    leaseDurationSeconds?: number
    acquireTime?: string
    renewTime?: string
    leaseTransitions?: number
  }
}

// ---------- networking.k8s.io/v1 ----------
export type PolicyType = 'Ingress' | 'Egress'

export interface IPBlock {
  cidr: string
  except?: string[]
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector
  namespaceSelector?: LabelSelector
  ipBlock?: IPBlock
}

export interface NetworkPolicyPort {
  /** Defaulted to TCP. */
  protocol?: 'TCP' | 'UDP' | 'SCTP'
  /** A number or a named container port of the destination pod. */
  port?: IntOrString
  /** Last port of a range starting at `port` (numeric `port` only). */
  endPort?: number
}

export interface NetworkPolicyIngressRule {
  ports?: NetworkPolicyPort[]
  from?: NetworkPolicyPeer[]
}

export interface NetworkPolicyEgressRule {
  ports?: NetworkPolicyPort[]
  to?: NetworkPolicyPeer[]
}

export interface NetworkPolicySpec {
  podSelector: LabelSelector
  ingress?: NetworkPolicyIngressRule[]
  egress?: NetworkPolicyEgressRule[]
  policyTypes?: PolicyType[]
}

export interface NetworkPolicy extends KubeObject {
  spec: NetworkPolicySpec
}

// Well-known label and annotation keys.
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name'
/** The Node label topology hints are matched against (well-known label). */
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone'
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by'
export const LABEL_POD_TEMPLATE_HASH = 'pod-template-hash'
export const LABEL_HOSTNAME = 'kubernetes.io/hostname'
export const ANNOTATION_REVISION = 'deployment.kubernetes.io/revision'
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable'
export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready'

// ---------- batch/v1 ----------
export interface JobCondition extends Condition {
  type: 'Complete' | 'Failed' | 'Suspended' | 'FailureTarget' | 'SuccessCriteriaMet' | string
}

export interface JobSpec {
  parallelism?: number
  completions?: number
  activeDeadlineSeconds?: number
  backoffLimit?: number
  selector?: LabelSelector
  manualSelector?: boolean
  template: PodTemplateSpec
  ttlSecondsAfterFinished?: number
  completionMode?: 'NonIndexed' | 'Indexed'
  suspend?: boolean
  podReplacementPolicy?: 'TerminatingOrFailed' | 'Failed'
}

export interface JobStatus {
  conditions?: JobCondition[]
  startTime?: string
  completionTime?: string
  active?: number
  succeeded?: number
  failed?: number
  terminating?: number
  ready?: number
  completedIndexes?: string
  uncountedTerminatedPods?: { succeeded?: string[]; failed?: string[] }
}

export interface Job extends KubeObject {
  spec: JobSpec
  status?: JobStatus
}

export interface JobTemplateSpec {
  metadata?: ObjectMeta
  spec: JobSpec
}

export interface CronJobSpec {
  schedule: string
  timeZone?: string
  startingDeadlineSeconds?: number
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace'
  suspend?: boolean
  jobTemplate: JobTemplateSpec
  successfulJobsHistoryLimit?: number
  failedJobsHistoryLimit?: number
}

export interface CronJobStatus {
  active?: ObjectReference[]
  lastScheduleTime?: string
  lastSuccessfulTime?: string
}

export interface CronJob extends KubeObject {
  spec: CronJobSpec
  status?: CronJobStatus
}

export const LABEL_JOB_CONTROLLER_UID = 'batch.kubernetes.io/controller-uid'
export const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name'
export const LABEL_LEGACY_JOB_CONTROLLER_UID = 'controller-uid'
export const LABEL_LEGACY_JOB_NAME = 'job-name'
export const ANNOTATION_JOB_COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index'
export const LABEL_JOB_COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index'
export const FINALIZER_JOB_TRACKING = 'batch.kubernetes.io/job-tracking'
export const ANNOTATION_CRONJOB_SCHEDULED_TIMESTAMP = 'batch.kubernetes.io/cronjob-scheduled-timestamp'

// ---------- PersistentVolume, PersistentVolumeClaim, StorageClass (issue #11, storage) ----------

export type PersistentVolumeAccessMode = 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod'

// Node selectors: a PersistentVolume's node affinity and a pod's required node affinity.
export interface NodeSelectorRequirement {
  key: string
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'
  values?: string[]
}

/** Terms are ORed; within a term, expressions (labels) and fields are ANDed. */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[]
  matchFields?: NodeSelectorRequirement[]
}

export interface PersistentVolumeSpec {
  capacity?: ResourceList
  accessModes?: PersistentVolumeAccessMode[]
  claimRef?: ObjectReference
  persistentVolumeReclaimPolicy?: 'Retain' | 'Delete' | 'Recycle'
  storageClassName?: string
  volumeMode?: 'Filesystem' | 'Block'
  nodeAffinity?: { required?: { nodeSelectorTerms: NodeSelectorTerm[] } }
  mountOptions?: string[]
  volumeAttributesClassName?: string
  hostPath?: { path: string; type?: string }
  local?: { path: string; fsType?: string }
}

export type PersistentVolumePhase = 'Pending' | 'Available' | 'Bound' | 'Released' | 'Failed'

export interface PersistentVolume extends KubeObject {
  spec: PersistentVolumeSpec
  status?: { phase?: PersistentVolumePhase; message?: string; reason?: string; lastPhaseTransitionTime?: string }
}

export interface PersistentVolumeClaimSpec {
  accessModes?: PersistentVolumeAccessMode[]
  selector?: LabelSelector
  resources?: { requests?: ResourceList; limits?: ResourceList }
  volumeName?: string
  storageClassName?: string | null
  volumeMode?: 'Filesystem' | 'Block'
  volumeAttributesClassName?: string
  dataSource?: ObjectReference
}

export type PersistentVolumeClaimPhase = 'Pending' | 'Bound' | 'Lost'

export interface PersistentVolumeClaimStatus {
  phase?: PersistentVolumeClaimPhase
  accessModes?: PersistentVolumeAccessMode[]
  capacity?: ResourceList
  conditions?: Condition[]
  currentVolumeAttributesClassName?: string
}

export interface PersistentVolumeClaim extends KubeObject {
  spec: PersistentVolumeClaimSpec
  status?: PersistentVolumeClaimStatus
}

export interface StorageClass extends KubeObject {
  provisioner: string
  parameters?: Record<string, string>
  reclaimPolicy?: 'Retain' | 'Delete'
  mountOptions?: string[]
  allowVolumeExpansion?: boolean
  volumeBindingMode?: 'Immediate' | 'WaitForFirstConsumer'
  allowedTopologies?: { matchLabelExpressions?: { key: string; values: string[] }[] }[]
}

export const ANNOTATION_DEFAULT_STORAGE_CLASS = 'storageclass.kubernetes.io/is-default-class'
export const ANNOTATION_BETA_DEFAULT_STORAGE_CLASS = 'storageclass.beta.kubernetes.io/is-default-class'
export const ANNOTATION_BETA_STORAGE_CLASS = 'volume.beta.kubernetes.io/storage-class'
export const ANNOTATION_SELECTED_NODE = 'volume.kubernetes.io/selected-node'
export const ANNOTATION_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner'
export const ANNOTATION_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner'
export const ANNOTATION_PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by'
export const ANNOTATION_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed'
export const ANNOTATION_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller'
export const FINALIZER_PVC_PROTECTION = 'kubernetes.io/pvc-protection'
export const FINALIZER_PV_PROTECTION = 'kubernetes.io/pv-protection'
// ---------- apps/v1 DaemonSet (issue #11) ----------

export interface NodeSelector {
  nodeSelectorTerms: NodeSelectorTerm[]
}

/** The part of `spec.affinity` the scheduler and the DaemonSet controller read. */
export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector
  preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[]
}

export interface RollingUpdateDaemonSet {
  maxUnavailable?: IntOrString
  maxSurge?: IntOrString
}

export interface DaemonSetSpec {
  selector: LabelSelector
  template: PodTemplateSpec
  updateStrategy?: { type?: 'RollingUpdate' | 'OnDelete'; rollingUpdate?: RollingUpdateDaemonSet }
  minReadySeconds?: number
  revisionHistoryLimit?: number
}

export interface DaemonSetStatus {
  currentNumberScheduled: number
  numberMisscheduled: number
  desiredNumberScheduled: number
  numberReady: number
  observedGeneration?: number
  updatedNumberScheduled?: number
  numberAvailable?: number
  numberUnavailable?: number
  collisionCount?: number
  conditions?: Condition[]
}

// ---------- apps/v1 StatefulSet (issue #11) ----------
export type PodManagementPolicy = 'OrderedReady' | 'Parallel'
export type PVCRetentionPolicyType = 'Retain' | 'Delete'

export interface StatefulSetUpdateStrategy {
  type?: 'RollingUpdate' | 'OnDelete'
  rollingUpdate?: { partition?: number; maxUnavailable?: IntOrString }
}

export interface StatefulSetSpec {
  replicas?: number
  selector: LabelSelector
  template: PodTemplateSpec
  volumeClaimTemplates?: PersistentVolumeClaim[]
  serviceName?: string
  podManagementPolicy?: PodManagementPolicy
  updateStrategy?: StatefulSetUpdateStrategy
  revisionHistoryLimit?: number
  minReadySeconds?: number
  persistentVolumeClaimRetentionPolicy?: { whenDeleted?: PVCRetentionPolicyType; whenScaled?: PVCRetentionPolicyType }
  ordinals?: { start?: number }
}

export interface StatefulSetStatus {
  observedGeneration?: number
  replicas: number
  readyReplicas?: number
  currentReplicas?: number
  updatedReplicas?: number
  availableReplicas?: number
  currentRevision?: string
  updateRevision?: string
  collisionCount?: number
  conditions?: Condition[]
}

export interface DaemonSet extends KubeObject {
  spec: DaemonSetSpec
  status?: DaemonSetStatus
}

/** The DaemonSet controller's pod labels (apps.DefaultDaemonSetUniqueLabelKey, pod-template-generation). */
export const LABEL_CONTROLLER_REVISION_HASH = 'controller-revision-hash'
export const LABEL_POD_TEMPLATE_GENERATION = 'pod-template-generation'
export interface StatefulSet extends KubeObject {
  spec: StatefulSetSpec
  status?: StatefulSetStatus
}

export const LABEL_STS_POD_NAME = 'statefulset.kubernetes.io/pod-name'
export const LABEL_POD_INDEX = 'apps.kubernetes.io/pod-index'

// rbac.authorization.k8s.io/v1 (issue #15)
export interface PolicyRule {
  verbs: string[]
  apiGroups?: string[]
  resources?: string[]
  resourceNames?: string[]
  nonResourceURLs?: string[]
}

export interface AggregationRule {
  clusterRoleSelectors?: LabelSelector[]
}

export interface Role extends KubeObject {
  rules?: PolicyRule[]
}

export interface ClusterRole extends Role {
  aggregationRule?: AggregationRule
}

export interface RbacSubject {
  kind: string
  apiGroup?: string
  name: string
  namespace?: string
}

export interface RoleRef {
  apiGroup: string
  kind: string
  name: string
}

export interface RoleBinding extends KubeObject {
  subjects?: RbacSubject[]
  roleRef: RoleRef
}
