// The authorization contract, as upstream's authorizer.Attributes / Decision: routes describe a
// request in these terms, an Authorizer (RBAC, the node authorizer, a chain of them) decides.
// Only the shapes live here; the allow-all default keeps today's behaviour until RBAC is wired.
import type { UserInfo } from './auth.js'

export interface Attributes {
  user: UserInfo
  /** get, list, watch, create, update, patch, delete, deletecollection; or a lower-case HTTP verb for non-resource paths. */
  verb: string
  resourceRequest: boolean
  /** For non-resource requests: the URL path. */
  path: string
  namespace: string
  apiGroup: string
  apiVersion: string
  resource: string
  subresource: string
  name: string
}

export type Decision = 'allow' | 'deny' | 'noOpinion'

export interface AuthorizationResult {
  decision: Decision
  /** Why, in words: ends up in the 403 body and in SubjectAccessReview status.reason. */
  reason: string
}

export interface Authorizer {
  authorize(a: Attributes): AuthorizationResult | Promise<AuthorizationResult>
}

export const alwaysAllow: Authorizer = { authorize: () => ({ decision: 'allow', reason: '' }) }
