// The 403 bodies, worded as kube-apiserver's responsewriters.Forbidden: the resource (or path)
// the user cannot reach, scoped to a namespace or the cluster, then the authorizers' reasons.
import type { Attributes } from '../apiserver/authorizer.js'
import * as E from '../apiserver/errors.js'

export function forbiddenMessage(a: Attributes): string {
  const user = a.user.name
  if (!a.resourceRequest) return `User ${JSON.stringify(user)} cannot ${a.verb} path ${JSON.stringify(a.path)}`
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource
  if (a.namespace)
    return `User ${JSON.stringify(user)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} in the namespace ${JSON.stringify(a.namespace)}`
  return `User ${JSON.stringify(user)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} at the cluster scope`
}

/** `pods "x" is forbidden: User "u" cannot get resource "pods" …[: reason]`; `forbidden: …` for paths. */
export function forbidden(a: Attributes, reason: string): E.ApiError {
  const msg = reason ? `${forbiddenMessage(a)}: ${reason}` : forbiddenMessage(a)
  return E.forbidden({ group: a.resourceRequest ? a.apiGroup : '', resource: a.resourceRequest ? a.resource : '' }, a.resourceRequest ? a.name : '', msg)
}
