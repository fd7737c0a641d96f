// Per-resource rules for what the server owns in an object, mirroring the "strategies" of
// kube-apiserver's registry: system metadata on create, which part a main update vs a
// status update may change, and when metadata.generation moves. Pure functions.
import { randomUUID } from 'node:crypto'
import type { ResourceInfo } from '../api/resources.js'
import type { Job, KubeObject, ObjectMeta, Service } from '../api/types.js'
import { LABEL_JOB_CONTROLLER_UID, LABEL_JOB_NAME, LABEL_LEGACY_JOB_CONTROLLER_UID, LABEL_LEGACY_JOB_NAME } from '../api/types.js'
import { deepEqual } from '../api/equal.js'
import { dropTypeDependentFields } from './service-strategy.js'
import { prepareCsrApproval, prepareCsrStatus, prepareCsrUpdate } from '../certificates/csr.js'

const isCsr = (r: Pick<ResourceInfo, 'group' | 'kind'>): boolean => r.group === 'certificates.k8s.io' && r.kind === 'CertificateSigningRequest'

export function hasStatusSubresource(r: ResourceInfo): boolean {
  return r.subresources.includes('status')
}

export function nowRfc3339(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

/** `generateName` + 5 random characters, from the alphabet Kubernetes uses (no vowels). */
export function generateName(base: string): string {
  let s = ''
  for (let i = 0; i < 5; i++) s += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)]
  return base.slice(0, 63 - 5) + s
}

/**
 * How `metadata.generation` moves for a kind, as its upstream REST strategy decides
 * (PrepareForCreate sets 1, PrepareForUpdate bumps it). Generation counts changes of the
 * desired state a controller acts on, so it never moves for status writes or for
 * labels/annotations — except where upstream says otherwise:
 * - `none`: upstream never sets it (ConfigMap, Service, Pod before 1.33, …): absent.
 * - `spec`: 1 on create, +1 when `spec` changes (the workloads, NetworkPolicy).
 * - `spec+annotations`: Deployment — its annotations are copied onto its ReplicaSets, so a
 *   user's annotation change is a change of desired state. (The controller's own
 *   `deployment.kubernetes.io/revision` goes through `/status`, which never bumps.)
 * - `content+labels`: EndpointSlice — no spec/status split: any non-metadata change, or a
 *   label change (the labels say which Service a slice belongs to).
 */
export type GenerationRule = 'none' | 'spec' | 'spec+annotations' | 'content+labels'

/**
 * One decision per kind ("group/Kind", '' for core). Kinds other helpers are adding are
 * listed ahead of time; test/apiserver/generation.test.ts fails for a served kind missing here.
 */
export const GENERATION_RULES: Readonly<Record<string, GenerationRule>> = {
  '/Namespace': 'none',
  '/Node': 'none',
  '/Pod': 'none', // 1.33 adds pod generation; netkube serves 1.31
  '/Service': 'none',
  '/Endpoints': 'none',
  '/ConfigMap': 'none',
  '/Secret': 'none',
  '/ServiceAccount': 'none',
  '/Event': 'none',
  'events.k8s.io/Event': 'none',
  '/PersistentVolume': 'none',
  '/PersistentVolumeClaim': 'none',
  'storage.k8s.io/StorageClass': 'none',
  'coordination.k8s.io/Lease': 'none',
  'apps/ControllerRevision': 'none',
  'apps/Deployment': 'spec+annotations',
  'apps/ReplicaSet': 'spec',
  'apps/StatefulSet': 'spec',
  'apps/DaemonSet': 'spec',
  'batch/Job': 'spec',
  'batch/CronJob': 'spec',
  'networking.k8s.io/NetworkPolicy': 'spec',
  'networking.k8s.io/Ingress': 'spec',
  'networking.k8s.io/IngressClass': 'spec',
  'discovery.k8s.io/EndpointSlice': 'content+labels',
  // RBAC objects carry no generation upstream (their strategies never set it).
  'rbac.authorization.k8s.io/Role': 'none',
  'rbac.authorization.k8s.io/ClusterRole': 'none',
  'rbac.authorization.k8s.io/RoleBinding': 'none',
  'rbac.authorization.k8s.io/ClusterRoleBinding': 'none',
  // The CSR strategy never sets generation either.
  'certificates.k8s.io/CertificateSigningRequest': 'none',
}

export const kindKey = (r: Pick<ResourceInfo, 'group' | 'kind'>): string => `${r.group}/${r.kind}`

/** The kind's rule; a kind nobody decided on behaves like most upstream kinds of its shape. */
export function generationRule(r: ResourceInfo): GenerationRule {
  return GENERATION_RULES[kindKey(r)] ?? (hasStatusSubresource(r) ? 'spec' : 'none')
}

/** The part of an object whose change moves generation under `rule`. */
function generationPart(rule: GenerationRule, obj: KubeObject): unknown {
  const o = obj as KubeObject & { spec?: unknown }
  switch (rule) {
    case 'none':
      return undefined
    case 'spec':
      return o.spec
    case 'spec+annotations':
      return { spec: o.spec, annotations: obj.metadata.annotations ?? {} }
    case 'content+labels': {
      const { metadata, apiVersion: _a, kind: _k, ...rest } = obj
      return { rest, labels: metadata.labels ?? {} }
    }
  }
}

/**
 * Moves generation on a main-resource update, after defaulting (a PUT that omits defaulted
 * fields is no change), as upstream compares the decoded, defaulted objects.
 */
export function updateGeneration(r: ResourceInfo, next: KubeObject, old: KubeObject): void {
  const rule = generationRule(r)
  if (rule === 'none') return
  if (!deepEqual(generationPart(rule, next), generationPart(rule, old))) next.metadata.generation = (old.metadata.generation ?? 0) + 1
}

export { deepEqual }

/** System fields on create; status starts empty for resources whose status a controller owns. */
export function prepareForCreate(r: ResourceInfo, obj: KubeObject, now: Date): void {
  const m = obj.metadata
  m.uid = randomUUID()
  m.creationTimestamp = nowRfc3339(now)
  if (generationRule(r) === 'none') delete m.generation
  else m.generation = 1
  delete m.resourceVersion
  delete m.deletionTimestamp
  delete m.deletionGracePeriodSeconds
  delete m.managedFields
  if (!r.namespaced) delete m.namespace
  if (r.group === 'batch' && r.kind === 'Job') generateJobSelector(obj as Job)
  if (r.group === 'apps' && r.kind === 'DaemonSet') daemonSetTemplateGeneration(obj)
  if (hasStatusSubresource(r)) {
    switch (r.kind) {
      case 'Node':
        break // the kubelet registers its node with its status
      case 'Namespace':
        obj.status = { phase: 'Active' }
        break
      case 'Pod':
        obj.status = { phase: 'Pending' }
        break
      case 'PersistentVolume':
      case 'PersistentVolumeClaim':
        obj.status = { phase: 'Pending' }
        break
      case 'Service':
        obj.status = { loadBalancer: {} }
        break
      default:
        obj.status = {}
    }
  }
}

/**
 * The Job strategy's generateSelector: unless `manualSelector`, the pods are labelled with the
 * Job's uid and name (new and legacy keys) and the selector matches the uid. Labels the user
 * set are left for validation to judge.
 */
export function generateJobSelector(job: Job): void {
  const spec = job.spec as Job['spec'] | undefined
  if (spec === null || typeof spec !== 'object' || spec.manualSelector === true) return
  const tpl = spec.template as Job['spec']['template'] | undefined
  if (tpl === null || typeof tpl !== 'object') return
  tpl.metadata ??= {}
  if (tpl.metadata === null || typeof tpl.metadata !== 'object') return
  const labels = (tpl.metadata.labels ??= {})
  if (labels === null || typeof labels !== 'object') return
  const uid = job.metadata.uid!
  const name = job.metadata.name ?? ''
  for (const k of [LABEL_LEGACY_JOB_NAME, LABEL_JOB_NAME]) labels[k] ??= name
  for (const k of [LABEL_LEGACY_JOB_CONTROLLER_UID, LABEL_JOB_CONTROLLER_UID]) labels[k] ??= uid
  spec.selector ??= {}
  if (spec.selector === null || typeof spec.selector !== 'object') return
  const ml = (spec.selector.matchLabels ??= {})
  if (ml !== null && typeof ml === 'object') ml[LABEL_JOB_CONTROLLER_UID] ??= uid
}

/** Carry server-owned metadata over from the stored object on a main-resource update. */
function carrySystemMeta(next: ObjectMeta, old: ObjectMeta): void {
  next.uid = old.uid
  next.creationTimestamp = old.creationTimestamp
  if (old.generation !== undefined) next.generation = old.generation
  else delete next.generation
  next.namespace = old.namespace
  if (old.deletionTimestamp) next.deletionTimestamp = old.deletionTimestamp
  else delete next.deletionTimestamp
  if (old.deletionGracePeriodSeconds !== undefined) next.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds
  else delete next.deletionGracePeriodSeconds
  if (next.namespace === undefined) delete next.namespace
  delete next.managedFields
}

/**
 * A main-resource update: system metadata and status come from the stored object (a status
 * subresource owns status), and a Service's type switch drops what the new type does not use.
 * Generation moves later, in updateGeneration, once the object is defaulted.
 */
export function prepareForUpdate(r: ResourceInfo, next: KubeObject, old: KubeObject): void {
  carrySystemMeta(next.metadata, old.metadata)
  if (hasStatusSubresource(r)) {
    if (old.status === undefined) delete next.status
    else next.status = structuredClone(old.status)
  }
  if (r.group === '' && r.kind === 'Service') dropTypeDependentFields(next as Service, old as Service)
  if (r.group === 'apps' && r.kind === 'DaemonSet') daemonSetTemplateGeneration(next, old)
  if (isCsr(r)) prepareCsrUpdate(next, old)
}

/**
 * apps/v1 keeps the DaemonSet's internal `spec.templateGeneration` in this annotation (the
 * conversion's storage): 1 on create, +1 whenever the template changes; clients cannot move it.
 */
export const ANNOTATION_DS_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation'

function daemonSetTemplateGeneration(next: KubeObject, old?: KubeObject): void {
  const tpl = (o: KubeObject) => (o.spec !== null && typeof o.spec === 'object' ? (o.spec as { template?: unknown }).template : undefined)
  const before = old ? Number(old.metadata.annotations?.[ANNOTATION_DS_TEMPLATE_GENERATION] ?? 0) || 0 : 0
  const gen = !old ? 1 : deepEqual(tpl(next), tpl(old)) ? Math.max(before, 1) : before + 1
  const a = next.metadata.annotations
  next.metadata.annotations = { ...(a !== null && typeof a === 'object' ? a : {}), [ANNOTATION_DS_TEMPLATE_GENERATION]: String(gen) }
}

/**
 * Which metadata a status write may change. Upstream's status strategies reset only `spec`,
 * so labels and annotations go through (controllers record state there: the Deployment
 * controller's revision annotation); Deployment's status strategy also resets labels.
 */
function statusWritableMeta(r: ResourceInfo): ('labels' | 'annotations')[] {
  return kindKey(r) === 'apps/Deployment' ? ['annotations'] : ['labels', 'annotations']
}

/** A status update: `status` and the metadata above move; spec, system fields and generation stay. */
export function prepareForStatusUpdate(r: ResourceInfo, next: KubeObject, old: KubeObject, sub: 'status' | 'approval' = 'status'): KubeObject {
  const out = structuredClone(old)
  if (next.status === undefined) delete out.status
  else out.status = next.status
  // A CSR's `/approval` keeps the certificate, `/status` the approval; both stamp condition times.
  if (isCsr(r)) (sub === 'approval' ? prepareCsrApproval : prepareCsrStatus)(out, old, nowRfc3339())
  const meta = next.metadata !== null && typeof next.metadata === 'object' ? next.metadata : {}
  for (const k of statusWritableMeta(r)) {
    if (meta[k] === undefined) delete out.metadata[k]
    else out.metadata[k] = structuredClone(meta[k]) as Record<string, string>
  }
  out.metadata.resourceVersion = next.metadata?.resourceVersion ?? old.metadata.resourceVersion
  return out
}
