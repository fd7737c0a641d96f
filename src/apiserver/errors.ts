// The apiserver's one error catalogue. Every failure leaves the server as a metav1.Status
// worded the way kube-apiserver words it (k8s.io/apimachinery/pkg/api/errors), because
// kubectl prints `Error from server (<reason>): <message>` from exactly these fields and
// clients branch on `reason`.
import type { Status } from '../api/types.js'
import { formatFieldErrors, toStatusCauses, type FieldError } from '../api/field-errors.js'

export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'Gone'
  | 'Expired'
  | 'MethodNotAllowed'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'NotAcceptable'
  | 'Unauthorized'
  | 'Forbidden'
  | 'InternalError'
  | 'Timeout'
  | 'ServiceUnavailable'

/** group/resource as kube-apiserver prints it: `pods`, `deployments.apps`. */
export interface GroupResource {
  group: string
  resource: string
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource
}

export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? 'error')
  }
  get code(): number {
    return this.status.code
  }
  get reason(): string {
    return this.status.reason ?? ''
  }
}

function make(code: number, reason: StatusReason, message: string, details?: Status['details']): ApiError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }
  if (details) status.details = details
  return new ApiError(status)
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return make(404, 'NotFound', `${qualified(gr)} "${name}" not found`, { name, group: gr.group, kind: gr.resource })
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return make(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, { name, group: gr.group, kind: gr.resource })
}

/** A server-side apply refused because other managers hold the fields (NewApplyConflict). */
export function applyConflict(causes: { message: string; field: string }[], message: string): ApiError {
  return make(409, 'Conflict', message, { causes: causes.map((c) => ({ type: 'FieldManagerConflict', ...c })) })
}

export function conflict(gr: GroupResource, name: string, why: string): ApiError {
  return make(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, {
    name,
    group: gr.group,
    kind: gr.resource,
  })
}

export const STALE_OBJECT = 'the object has been modified; please apply your changes to the latest version and try again'

/** 422 with one cause per field error; `kind` is the qualified Kind (`Service`, `Deployment.apps`). */
export function invalid(kind: string, group: string, name: string, errs: FieldError[]): ApiError {
  const qualifiedKind = group ? `${kind}.${group}` : kind
  return make(422, 'Invalid', formatFieldErrors(qualifiedKind, name, errs), { name, group, kind, causes: toStatusCauses(errs) })
}

export function badRequest(message: string): ApiError {
  return make(400, 'BadRequest', message)
}

export function gone(message: string): ApiError {
  return make(410, 'Gone', message)
}

/** What a watch or list from a compacted revision gets (reason Expired, code 410). */
export function expired(message: string): ApiError {
  return make(410, 'Expired', message)
}

export function methodNotAllowed(message = 'the server does not allow this method on the requested resource'): ApiError {
  return make(405, 'MethodNotAllowed', message)
}

export function tooLarge(message = 'Request entity too large: limit is 3145728'): ApiError {
  return make(413, 'RequestEntityTooLarge', message)
}

export function unsupportedMediaType(contentType: string): ApiError {
  return make(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`)
}

export function notAcceptable(): ApiError {
  return make(406, 'NotAcceptable', 'only the following media types are accepted: application/json')
}

export function unauthorized(): ApiError {
  return make(401, 'Unauthorized', 'Unauthorized')
}

export function forbidden(gr: GroupResource, name: string, why: string): ApiError {
  // NewForbidden with no resource (a non-resource path) says just `forbidden: …`.
  if (!gr.resource && !name) return make(403, 'Forbidden', `forbidden: ${why}`, { name, group: gr.group, kind: gr.resource })
  const subject = name ? `${qualified(gr)} "${name}"` : qualified(gr)
  return make(403, 'Forbidden', `${subject} is forbidden: ${why}`, { name, group: gr.group, kind: gr.resource })
}

export function internal(message: string): ApiError {
  return make(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] })
}

export function timeout(message: string): ApiError {
  return make(504, 'Timeout', message)
}

export function serviceUnavailable(message: string): ApiError {
  return make(503, 'ServiceUnavailable', message)
}

/** The "resource not found" answer for a path no resource serves (kube-apiserver's 404 page). */
export function pathNotFound(): ApiError {
  return make(404, 'NotFound', 'the server could not find the requested resource', {})
}

export function successStatus(details?: Status['details']): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 }
  if (details) s.details = details
  return s
}

/** A patch that does not apply (kube answers 422 with the patch library's message). */
export function invalidPatch(message: string): ApiError {
  return make(422, 'Invalid', message)
}
