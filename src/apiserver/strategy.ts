// Per-resource rules for what the server owns in an object, mirroring the "strategies" of
// kube-apiserver's registry: system metadata on create, which part a main update vs a
// status update may change, and when metadata.generation moves. Pure functions.
import { randomUUID } from 'node:crypto'
import type { ResourceInfo } from '../api/resources.js'
import type { Job, KubeObject, ObjectMeta, Service } from '../api/types.js'
import { LABEL_JOB_CONTROLLER_UID, LABEL_JOB_NAME, LABEL_LEGACY_JOB_CONTROLLER_UID, LABEL_LEGACY_JOB_NAME } from '../api/types.js'
import { deepEqual } from '../api/equal.js'
import { dropTypeDependentFields } from './service-strategy.js'

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

/** What the content of an object is without server-owned parts: drives generation. */
function specPart(r: ResourceInfo, obj: KubeObject): unknown {
  const { metadata, status: _s, apiVersion: _a, kind: _k, ...rest } = obj
  // Deployment annotations are copied onto ReplicaSets, so kube bumps generation for them too.
  if (r.kind === 'Deployment') return { rest, annotations: metadata.annotations ?? {} }
  return rest
}

export { deepEqual }

/** System fields on create; status starts empty for resources whose status a controller owns. */
export function prepareForCreate(r: ResourceInfo, obj: KubeObject, now: Date): void {
  const m = obj.metadata
  m.uid = randomUUID()
  m.creationTimestamp = nowRfc3339(now)
  m.generation = 1
  delete m.resourceVersion
  delete m.deletionTimestamp
  delete m.deletionGracePeriodSeconds
  delete m.managedFields
  if (!r.namespaced) delete m.namespace
  if (r.group === 'batch' && r.kind === 'Job') generateJobSelector(obj as Job)
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
  next.generation = old.generation
  next.namespace = old.namespace
  if (old.deletionTimestamp) next.deletionTimestamp = old.deletionTimestamp
  else delete next.deletionTimestamp
  if (old.deletionGracePeriodSeconds !== undefined) next.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds
  else delete next.deletionGracePeriodSeconds
  if (next.namespace === undefined) delete next.namespace
  delete next.managedFields
}

export function prepareForUpdate(r: ResourceInfo, next: KubeObject, old: KubeObject): void {
  carrySystemMeta(next.metadata, old.metadata)
  if (hasStatusSubresource(r)) {
    if (old.status === undefined) delete next.status
    else next.status = structuredClone(old.status)
  }
  // A Service's type switch drops what the new type does not use (the allocator then releases it).
  if (r.group === '' && r.kind === 'Service') dropTypeDependentFields(next as Service, old as Service)
  if (!deepEqual(specPart(r, next), specPart(r, old))) next.metadata.generation = (old.metadata.generation ?? 0) + 1
}

/** A status update: only `status` moves (plus labels/annotations, as kube's status strategies allow nothing else). */
export function prepareForStatusUpdate(next: KubeObject, old: KubeObject): KubeObject {
  const out = structuredClone(old)
  if (next.status === undefined) delete out.status
  else out.status = next.status
  out.metadata.resourceVersion = next.metadata?.resourceVersion ?? old.metadata.resourceVersion
  return out
}
