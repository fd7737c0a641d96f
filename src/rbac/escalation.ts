// Escalation prevention (upstream's rbac/registry/*/policybased): a user may create or update a
// Role or ClusterRole only with rules they already hold (or with the `escalate` verb on it), and
// a binding only to a role whose rules they hold (or with `bind` on that role). `system:masters`
// is exempt. A ClusterRole with an aggregationRule needs full authority.
import type { ClusterRole, PolicyRule, RoleBinding } from '../api/types.js'
import type { AdmissionRequest, ValidatingAdmission } from '../apiserver/admission.js'
import type { Attributes, Authorizer } from '../apiserver/authorizer.js'
import { deepEqual } from '../api/equal.js'
import * as E from '../apiserver/errors.js'
import { isPrivileged, type RbacState } from './authorizer.js'
import { compactString, goQuoted, uncovered } from './rules.js'

const G = 'rbac.authorization.k8s.io'
const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
]

/** CompactRules + CompactString, sorted: one line per missing (group, resource, names) with its verbs. */
export function describeMissing(missing: readonly PolicyRule[]): string {
  const merged = new Map<string, PolicyRule>()
  const lines = new Set<string>()
  for (const r of missing) {
    if (r.resourceNames?.length || r.nonResourceURLs?.length) {
      lines.add(compactString(r))
      continue
    }
    const k = `${r.apiGroups?.[0]}\u0000${r.resources?.[0]}`
    const m = merged.get(k)
    if (m) m.verbs = [...new Set([...m.verbs, ...r.verbs])]
    else merged.set(k, { apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], verbs: [...r.verbs] })
  }
  for (const r of merged.values()) lines.add(compactString(r))
  return [...lines].sort().join('\n')
}

export function escalationMessage(user: AdmissionRequest['user'], missing: readonly PolicyRule[]): string {
  return `user ${JSON.stringify(user.name)} (groups=${goQuoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${describeMissing(missing)}`
}

export function escalationCheck(authz: Authorizer, state: RbacState): ValidatingAdmission {
  const can = async (a: AdmissionRequest, verb: string, resource: string, namespace: string, name: string): Promise<boolean> => {
    const attrs: Attributes = { user: a.user, verb, resourceRequest: true, path: '', namespace, apiGroup: G, apiVersion: 'v1', resource, subresource: '', name }
    return (await authz.authorize(attrs)).decision === 'allow'
  }
  return async (a) => {
    if (a.r.group !== G || a.op === 'delete' || !a.obj || isPrivileged(a.user)) return
    const refuse = (why: string): E.ApiError => E.forbidden({ group: G, resource: a.r.plural }, a.name, why)
    const ns = a.r.namespaced ? a.namespace : ''
    if (a.r.kind === 'Role' || a.r.kind === 'ClusterRole') {
      const role = a.obj as ClusterRole
      const old = a.old as ClusterRole | undefined
      if (old && deepEqual(role.rules, old.rules) && deepEqual(role.aggregationRule, old.aggregationRule)) return
      if (await can(a, 'escalate', a.r.plural, ns, a.name)) return
      await state.catchUp()
      if (role.aggregationRule && uncovered(state.policy().rulesFor(a.user, ''), FULL_AUTHORITY).length)
        throw refuse('must have cluster-admin privileges to use the aggregationRule')
      const missing = uncovered(state.policy().rulesFor(a.user, ns), Array.isArray(role.rules) ? role.rules : [])
      if (missing.length) throw refuse(escalationMessage(a.user, missing))
      return
    }
    if (a.r.kind === 'RoleBinding' || a.r.kind === 'ClusterRoleBinding') {
      const b = a.obj as RoleBinding
      const old = a.old as RoleBinding | undefined
      if (old && deepEqual(b.roleRef, old.roleRef) && deepEqual(b.subjects, old.subjects)) return
      const refResource = b.roleRef.kind === 'Role' ? 'roles' : 'clusterroles'
      if (await can(a, 'bind', refResource, ns, b.roleRef.name)) return
      await state.catchUp()
      const rules = state.policy().roleRefRules(b.roleRef, ns)
      if (!rules) throw E.notFound({ group: G, resource: refResource }, b.roleRef.name)
      const missing = uncovered(state.policy().rulesFor(a.user, ns), rules)
      if (missing.length) throw refuse(escalationMessage(a.user, missing))
    }
  }
}
