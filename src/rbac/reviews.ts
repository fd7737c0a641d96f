// The review kinds, answered and never stored: SubjectAccessReview (any user, for those allowed to
// create it), LocalSubjectAccessReview (one namespace), SelfSubjectAccessReview (`kubectl auth
// can-i`), SelfSubjectRulesReview (`can-i --list`) and authentication's SelfSubjectReview
// (`kubectl auth whoami`). Validation texts are upstream's.
import type { PolicyRule } from '../api/types.js'
import type { UserInfo } from '../apiserver/auth.js'
import type { Attributes, Authorizer } from '../apiserver/authorizer.js'
import { invalid, required, type FieldError } from '../api/field-errors.js'
import * as E from '../apiserver/errors.js'
import type { RbacAuthorizer } from './authorizer.js'
import { nodeNameOf } from './node.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

export type ReviewKind = 'SubjectAccessReview' | 'LocalSubjectAccessReview' | 'SelfSubjectAccessReview' | 'SelfSubjectRulesReview' | 'SelfSubjectReview'

function checkKind(body: unknown, kind: string, apiVersion: string): Obj {
  if (!isObj(body)) throw E.badRequest(`the object provided is unrecognized (must be of type ${kind})`)
  if (body.kind !== undefined && body.kind !== kind) throw E.badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${kind})`)
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion)
    throw E.badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`)
  return body
}

function attributesOf(spec: Obj, user: UserInfo): Attributes | FieldError[] {
  const ra = spec.resourceAttributes
  const na = spec.nonResourceAttributes
  if (isObj(ra) && isObj(na)) return [invalid('spec.nonResourceAttributes', na, 'cannot be specified in combination with resourceAttributes')]
  if (isObj(ra))
    return {
      user,
      verb: str(ra.verb),
      resourceRequest: true,
      path: '',
      namespace: str(ra.namespace),
      apiGroup: str(ra.group),
      apiVersion: str(ra.version),
      resource: str(ra.resource),
      subresource: str(ra.subresource),
      name: str(ra.name),
    }
  if (isObj(na)) return { user, verb: str(na.verb), resourceRequest: false, path: str(na.path), namespace: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', name: '' }
  return [required('spec.resourceAttributes', 'one of resourceAttributes or nonResourceAttributes')]
}

function extraOf(v: unknown): Record<string, string[]> | undefined {
  if (!isObj(v)) return undefined
  const out: Record<string, string[]> = {}
  for (const [k, vs] of Object.entries(v)) if (Array.isArray(vs)) out[k] = vs.filter((x): x is string => typeof x === 'string')
  return out
}

export class Reviews {
  constructor(
    private readonly authz: Authorizer,
    private readonly rbac: RbacAuthorizer | undefined,
  ) {}

  async answer(kind: ReviewKind, apiVersion: string, body: unknown, requestor: UserInfo, namespace: string): Promise<Obj> {
    const o = checkKind(body, kind, apiVersion)
    const spec = isObj(o.spec) ? o.spec : {}
    const meta = isObj(o.metadata) ? o.metadata : {}
    const out: Obj = { kind, apiVersion, metadata: { ...meta, creationTimestamp: null } }
    const gk = apiVersion.split('/')[0]!
    const reject = (errs: FieldError[]): never => {
      throw E.invalid(kind, gk, str(meta.name), errs as never)
    }
    switch (kind) {
      case 'SelfSubjectReview':
        out.status = { userInfo: { username: requestor.name, ...(requestor.uid ? { uid: requestor.uid } : {}), groups: requestor.groups, ...(requestor.extra ? { extra: requestor.extra } : {}) } }
        return out
      case 'SelfSubjectRulesReview': {
        const ns = str(spec.namespace)
        out.spec = { ...spec }
        out.status = this.rules(requestor, ns)
        return out
      }
      case 'SelfSubjectAccessReview': {
        const a = attributesOf(spec, requestor)
        if (Array.isArray(a)) return reject(a)
        out.spec = spec
        out.status = await this.decide(a)
        return out
      }
      case 'SubjectAccessReview':
      case 'LocalSubjectAccessReview': {
        const user = str(spec.user)
        const groups = Array.isArray(spec.groups) ? spec.groups.filter((g): g is string => typeof g === 'string') : []
        const errs: FieldError[] = []
        if (!user && groups.length === 0) errs.push(invalid('spec.user', user, 'at least one of user or group must be specified'))
        const extra = extraOf(spec.extra)
        const subject: UserInfo = { name: user, uid: str(spec.uid), groups, ...(extra ? { extra } : {}) }
        const a = attributesOf(spec, subject)
        if (Array.isArray(a)) errs.push(...a)
        else if (kind === 'LocalSubjectAccessReview') {
          if (!a.resourceRequest) errs.push(invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'))
          else if (a.namespace !== namespace) errs.push(invalid('spec.resourceAttributes.namespace', a.namespace, 'must match metadata.namespace'))
        }
        if (errs.length || Array.isArray(a)) return reject(errs)
        out.spec = spec
        out.status = await this.decide(a)
        return out
      }
    }
  }

  private async decide(a: Attributes): Promise<Obj> {
    const r = await this.authz.authorize(a)
    // SubjectAccessReview says why when RBAC allowed it (`RBAC: allowed by ClusterRoleBinding …`).
    const reason = r.decision === 'allow' && !r.reason && this.rbac ? this.rbac.explain(a).reason : r.reason
    return { allowed: r.decision === 'allow', ...(r.decision === 'deny' ? { denied: true } : {}), ...(reason ? { reason } : {}) }
  }

  private rules(u: UserInfo, namespace: string): Obj {
    const rules: readonly PolicyRule[] = this.rbac ? this.rbac.rulesFor(u, namespace) : [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }]
    const resourceRules = rules
      .filter((r) => !(r.nonResourceURLs ?? []).length)
      .map((r) => ({ verbs: r.verbs, ...(r.apiGroups ? { apiGroups: r.apiGroups } : {}), ...(r.resources ? { resources: r.resources } : {}), ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }))
    const nonResourceRules = rules.filter((r) => (r.nonResourceURLs ?? []).length).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs }))
    const status: Obj = { resourceRules, nonResourceRules, incomplete: false }
    // The node authorizer cannot list what it would allow (upstream says the same).
    if (nodeNameOf(u)) {
      status.incomplete = true
      status.evaluationError = 'node authorizer does not support user rule resolution'
    }
    return status
  }
}
