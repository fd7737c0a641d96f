// Validation as kube-apiserver does it: each function returns field errors (empty = valid) that the
// apiserver turns into a 422 Invalid Status (see formatFieldErrors / toStatusCauses).
// Call order in the apiserver, as in k8s: applyDefaults → validateCreate / validateUpdate.
// The per-kind rules live in ./validation/*.ts; this module only dispatches.
import type { FieldError } from './field-errors.js'
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain } from './names.js'
import type { ResourceInfo } from './resources.js'
import type { KubeObject } from './types.js'
import {
  validateControllerRevision,
  validateControllerRevisionUpdate,
  validateDeployment,
  validateReplicaSet,
  validateSelectorUpdate,
  validateWorkloadStatus,
} from './validation/apps.js'
import { isObj, type Errs, type Obj } from './validation/common.js'
import { validateObjectMeta, validateObjectMetaUpdate, type NameFn } from './validation/meta.js'
import {
  validateConfigMap,
  validateConfigMapUpdate,
  validateEndpointSlice,
  validateEndpointSliceUpdate,
  validateEndpoints,
  validateLease,
  validateNamespace,
  validateNamespaceStatus,
  validateNode,
  validateNodeStatus,
  validateNodeUpdate,
} from './validation/other.js'
import { validateNetworkPolicy } from './validation/networking.js'
import { validateIngressClass, validateIngressClassUpdate, validateIngressCreate, validateIngress, validateIngressStatus } from './validation/ingress.js'
import { validatePod, validatePodStatus, validatePodUpdate } from './validation/pod.js'
import { validateService, validateServiceStatus, validateServiceUpdate } from './validation/service.js'
import { validateCronJob, validateCronJobStatus, validateJob, validateJobStatus, validateJobUpdate } from './validation/batch.js'
import { validateEvent, validateEventUpdate, validateSecret, validateSecretUpdate, validateServiceAccount } from './validation/coreapi.js'
import {
  validatePersistentVolume,
  validatePersistentVolumeClaim,
  validatePersistentVolumeClaimStatus,
  validatePersistentVolumeClaimUpdate,
  validatePersistentVolumeStatus,
  validatePersistentVolumeUpdate,
  validateStorageClass,
  validateStorageClassUpdate,
} from './validation/storage.js'
import { validateDaemonSet, validateDaemonSetStatus, validateDaemonSetUpdate } from './validation/daemonset.js'
import { validateStatefulSet, validateStatefulSetStatus, validateStatefulSetUpdate } from './validation/statefulset.js'
import { anyName, validateCertificateSigningRequest, validateCertificateSigningRequestUpdate } from './validation/certificates.js'
import { isValidPathSegmentName, validateBinding as validateRbacBinding, validateBindingUpdate, validateRole } from './validation/rbac.js'

export { validateLabelSelector } from './validation/apps.js'
export { validatePodSpec } from './validation/pod.js'

const kindOf = (r: ResourceInfo): string => `${r.group}/${r.kind}`

/** The name rule per kind: Namespaces are DNS-1123 labels, Services DNS-1035 labels, the rest subdomains. */
export function nameValidator(r: ResourceInfo): NameFn {
  switch (kindOf(r)) {
    case '/Namespace':
      return isDNS1123Label
    case '/Service':
      return isDNS1035Label
    case 'rbac.authorization.k8s.io/Role':
    case 'rbac.authorization.k8s.io/ClusterRole':
    case 'rbac.authorization.k8s.io/RoleBinding':
    case 'rbac.authorization.k8s.io/ClusterRoleBinding':
      return isValidPathSegmentName
    case 'certificates.k8s.io/CertificateSigningRequest':
      return anyName
    default:
      return isDNS1123Subdomain
  }
}

function validateSpec(r: ResourceInfo, obj: Obj, errs: Errs): void {
  switch (kindOf(r)) {
    case '/Pod':
      validatePod(obj, errs)
      break
    case '/Service':
      validateService(obj, errs)
      break
    case '/Namespace':
      validateNamespace(obj, errs)
      break
    case '/Node':
      validateNode(obj, errs)
      break
    case '/Endpoints':
      validateEndpoints(obj, errs)
      break
    case '/ConfigMap':
      validateConfigMap(obj, errs)
      break
    case 'apps/Deployment':
      validateDeployment(r, obj, errs)
      break
    case 'apps/ReplicaSet':
      validateReplicaSet(r, obj, errs)
      break
    case 'apps/ControllerRevision':
      validateControllerRevision(obj, errs)
      break
    case 'discovery.k8s.io/EndpointSlice':
      validateEndpointSlice(obj, errs)
      break
    case 'coordination.k8s.io/Lease':
      validateLease(obj, errs)
      break
    case 'batch/Job':
      validateJob(r, obj, errs)
      break
    case 'batch/CronJob':
      validateCronJob(r, obj, errs)
      break
    // Secret, ServiceAccount, Event (issue #11); events.k8s.io objects arrive in core/v1 form.
    case '/Secret':
      validateSecret(obj, errs)
      break
    case '/ServiceAccount':
      validateServiceAccount(obj, errs)
      break
    case '/Event':
      validateEvent(obj, 'v1', errs)
      break
    case 'events.k8s.io/Event':
      validateEvent(obj, 'events.k8s.io/v1', errs)
      break
    case 'networking.k8s.io/NetworkPolicy':
      validateNetworkPolicy(obj, errs)
      break
    // Storage (issue #11)
    case '/PersistentVolume':
      validatePersistentVolume(obj, errs)
      break
    case '/PersistentVolumeClaim':
      validatePersistentVolumeClaim(obj, errs)
      break
    case 'storage.k8s.io/StorageClass':
      validateStorageClass(obj, errs)
      break
    case 'networking.k8s.io/Ingress':
      validateIngress(obj, errs)
      break
    case 'networking.k8s.io/IngressClass':
      validateIngressClass(obj, errs)
      break
    case 'apps/DaemonSet':
      validateDaemonSet(r, obj, errs)
      break
    case 'apps/StatefulSet':
      validateStatefulSet(r, obj, errs)
      break
    case 'rbac.authorization.k8s.io/Role':
    case 'rbac.authorization.k8s.io/ClusterRole':
      validateRole(obj, r.namespaced, errs)
      break
    case 'rbac.authorization.k8s.io/RoleBinding':
    case 'rbac.authorization.k8s.io/ClusterRoleBinding':
      validateRbacBinding(obj, r.namespaced, errs)
      break
    default:
      break
  }
}

/** The rules shared by create and update. */
function validateObject(r: ResourceInfo, obj: KubeObject): FieldError[] {
  const errs: Errs = []
  if (!isObj(obj)) return [{ type: 'FieldValueTypeInvalid', field: '', value: obj, message: 'Invalid value: the object must be a JSON object' }]
  validateObjectMeta(r, obj.metadata, nameValidator(r), errs)
  validateSpec(r, obj, errs)
  return errs
}

export function validateCreate(r: ResourceInfo, obj: KubeObject): FieldError[] {
  const errs = validateObject(r, obj)
  // Rules upstream applies on create only (an update keeps what was accepted before).
  if (isObj(obj) && kindOf(r) === 'networking.k8s.io/Ingress') validateIngressCreate(obj, errs)
  // A CSR's rules depend on the stored object (upstream tolerates faults already stored): per path.
  if (isObj(obj) && kindOf(r) === 'certificates.k8s.io/CertificateSigningRequest') validateCertificateSigningRequest(obj, errs)
  return errs
}

/** validateCreate's rules plus what may not change between old and new. */
export function validateUpdate(r: ResourceInfo, obj: KubeObject, old: KubeObject): FieldError[] {
  const errs = validateObject(r, obj)
  if (!isObj(obj) || !isObj(old)) return errs
  validateObjectMetaUpdate(obj.metadata, old.metadata, errs)
  switch (kindOf(r)) {
    case '/Pod':
      validatePodUpdate(obj, old, errs)
      break
    case '/Service':
      validateServiceUpdate(obj, old, errs)
      break
    case '/ConfigMap':
      validateConfigMapUpdate(obj, old, errs)
      break
    case 'apps/Deployment':
    case 'apps/ReplicaSet':
      validateSelectorUpdate(obj, old, errs)
      break
    case 'apps/ControllerRevision':
      validateControllerRevisionUpdate(obj, old, errs)
      break
    case 'discovery.k8s.io/EndpointSlice':
      validateEndpointSliceUpdate(obj, old, errs)
      break
    case '/Node':
      validateNodeUpdate(obj, old, errs)
      break
    case 'batch/Job':
      validateJobUpdate(obj, old, errs)
      break
    case '/Secret':
      validateSecretUpdate(obj, old, errs)
      break
    case 'networking.k8s.io/IngressClass':
      validateIngressClassUpdate(obj, old, errs)
      break
    case '/Event':
      validateEventUpdate(obj, old, 'v1', errs)
      break
    case 'events.k8s.io/Event':
      validateEventUpdate(obj, old, 'events.k8s.io/v1', errs)
      break
    // Storage (issue #11)
    case '/PersistentVolume':
      validatePersistentVolumeUpdate(obj, old, errs)
      break
    case '/PersistentVolumeClaim':
      validatePersistentVolumeClaimUpdate(obj, old, errs)
      break
    case 'storage.k8s.io/StorageClass':
      validateStorageClassUpdate(obj, old, errs)
      break
    case 'apps/DaemonSet':
      validateDaemonSetUpdate(obj, old, errs)
      break
    case 'apps/StatefulSet':
      validateStatefulSetUpdate(obj, old, errs)
      break
    case 'rbac.authorization.k8s.io/RoleBinding':
    case 'rbac.authorization.k8s.io/ClusterRoleBinding':
      validateBindingUpdate(obj, old, errs)
      break
    case 'certificates.k8s.io/CertificateSigningRequest':
      validateCertificateSigningRequestUpdate(obj, old, 'main', errs)
      break
    default:
      break
  }
  return errs
}

/**
 * A write to the status subresource. The apiserver keeps the stored spec (copying old.spec into
 * obj) before calling this, as k8s status strategies do; here: metadata still valid and unchanged
 * identity, and the status itself well-formed.
 */
export function validateStatusUpdate(r: ResourceInfo, obj: KubeObject, old: KubeObject, sub: 'status' | 'approval' = 'status'): FieldError[] {
  const errs: Errs = []
  if (!isObj(obj)) return [{ type: 'FieldValueTypeInvalid', field: '', value: obj, message: 'Invalid value: the object must be a JSON object' }]
  validateObjectMeta(r, obj.metadata, nameValidator(r), errs)
  if (isObj(old)) validateObjectMetaUpdate(obj.metadata, old.metadata, errs)
  switch (kindOf(r)) {
    case '/Pod':
      validatePodStatus(obj.status, errs)
      break
    case '/Service':
      validateServiceStatus(obj, errs)
      break
    case '/Namespace':
      validateNamespaceStatus(obj, errs)
      break
    case '/Node':
      validateNodeStatus(obj, errs)
      break
    case 'apps/Deployment':
      validateWorkloadStatus('Deployment', obj, errs)
      break
    case 'apps/ReplicaSet':
      validateWorkloadStatus('ReplicaSet', obj, errs)
      break
    case 'batch/Job':
      validateJobStatus(obj, errs)
      break
    case 'batch/CronJob':
      validateCronJobStatus(obj, errs)
      break
    case '/PersistentVolume':
      validatePersistentVolumeStatus(obj, errs)
      break
    case '/PersistentVolumeClaim':
      validatePersistentVolumeClaimStatus(obj, errs)
      break
    case 'networking.k8s.io/Ingress':
      validateIngressStatus(obj, errs)
      break
    case 'apps/DaemonSet':
      validateDaemonSetStatus(obj, errs)
      break
    case 'apps/StatefulSet':
      validateStatefulSetStatus(obj, isObj(old) ? old : undefined, errs)
      break
    case 'certificates.k8s.io/CertificateSigningRequest':
      if (isObj(old)) validateCertificateSigningRequestUpdate(obj, old, sub, errs)
      break
    default:
      break
  }
  return errs
}

/** autoscaling/v1 Scale written to a `scale` subresource (kind in messages: `Scale.autoscaling`). */
export function validateScale(obj: unknown): FieldError[] {
  const errs: Errs = []
  if (!isObj(obj)) return [{ type: 'FieldValueTypeInvalid', field: '', value: obj, message: 'Invalid value: the object must be a JSON object' }]
  const spec = obj.spec
  if (spec !== undefined && spec !== null && !isObj(spec)) errs.push({ type: 'FieldValueTypeInvalid', field: 'spec', value: spec, message: 'Invalid value: must be of type object' })
  const replicas = isObj(spec) ? spec.replicas : undefined
  if (replicas !== undefined && replicas !== null) {
    if (typeof replicas !== 'number' || !Number.isInteger(replicas))
      errs.push({ type: 'FieldValueTypeInvalid', field: 'spec.replicas', value: replicas, message: `Invalid value: ${JSON.stringify(replicas)}: must be of type integer` })
    else if (replicas < 0) errs.push({ type: 'FieldValueInvalid', field: 'spec.replicas', value: replicas, message: `Invalid value: ${replicas}: must be greater than or equal to 0` })
  }
  return errs
}

/** core/v1 Binding posted to pods/<name>/binding (kind in messages: `Binding`). */
export function validateBinding(obj: unknown): FieldError[] {
  if (!isObj(obj)) return [{ type: 'FieldValueTypeInvalid', field: '', value: obj, message: 'Invalid value: the object must be a JSON object' }]
  const target = obj.target
  if (!isObj(target) || typeof target.name !== 'string' || target.name === '') return [{ type: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]
  const errs: Errs = []
  for (const m of isDNS1123Subdomain(target.name)) errs.push({ type: 'FieldValueInvalid', field: 'target.name', value: target.name, message: `Invalid value: ${JSON.stringify(target.name)}: ${m}` })
  // Only binding to a Node is supported, as in k8s.
  if (target.kind !== undefined && target.kind !== '' && target.kind !== 'Node')
    errs.push({ type: 'FieldValueNotSupported', field: 'target.kind', value: target.kind, message: `Unsupported value: ${JSON.stringify(target.kind)}: supported values: "Node"` })
  return errs
}
