// The RBAC read model: which rules a user holds, cluster-wide and in a namespace, from the
// current Roles, ClusterRoles and bindings. Pure and rebuilt whole when any of them changes
// (they are few and change rarely); a GET asks `rulesFor`, which is two map lookups per
// user key plus a per-(user, namespace) cache, so authorization stays cheap on hot paths.
import type { ClusterRole, PolicyRule, RbacSubject, Role, RoleBinding } from '../api/types.js'
import type { UserInfo } from '../apiserver/auth.js'

export const SA_PREFIX = 'system:serviceaccount:'

export interface PolicyObjects {
  clusterRoles: Iterable<ClusterRole>
  roles: Iterable<Role>
  clusterRoleBindings: Iterable<RoleBinding>
  roleBindings: Iterable<RoleBinding>
}

/** `u:<name>` / `g:<group>`: the keys a subject is indexed by and a user is looked up by. */
function subjectKey(s: RbacSubject, bindingNamespace: string): string | undefined {
  switch (s?.kind) {
    case 'User':
      return `u:${s.name}`
    case 'Group':
      return `g:${s.name}`
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace
      return ns ? `u:${SA_PREFIX}${ns}:${s.name}` : undefined
    }
    default:
      return undefined
  }
}

export function userKeys(u: UserInfo): string[] {
  return [`u:${u.name}`, ...u.groups.map((g) => `g:${g}`)]
}

/** A rule together with the binding and role it came from (SelfSubjectRulesReview, reasons). */
export interface SourcedRules {
  binding: string
  role: string
  rules: readonly PolicyRule[]
}

const CACHE_LIMIT = 4096

export class PolicyIndex {
  private readonly clusterRoles = new Map<string, readonly PolicyRule[]>()
  private readonly roles = new Map<string, readonly PolicyRule[]>()
  /** subject key → the ClusterRoleBindings naming it */
  private readonly cluster = new Map<string, RoleBinding[]>()
  /** namespace → subject key → the RoleBindings naming it */
  private readonly namespaced = new Map<string, Map<string, RoleBinding[]>>()
  private readonly cache = new Map<string, readonly PolicyRule[]>()

  constructor(objs: PolicyObjects) {
    for (const r of objs.clusterRoles) this.clusterRoles.set(r.metadata.name!, Array.isArray(r.rules) ? r.rules : [])
    for (const r of objs.roles) this.roles.set(`${r.metadata.namespace}/${r.metadata.name}`, Array.isArray(r.rules) ? r.rules : [])
    for (const b of objs.clusterRoleBindings) {
      if (b.roleRef?.kind !== 'ClusterRole') continue
      for (const s of Array.isArray(b.subjects) ? b.subjects : []) push(this.cluster, subjectKey(s, ''), b)
    }
    for (const b of objs.roleBindings) {
      const ns = b.metadata.namespace ?? ''
      let m = this.namespaced.get(ns)
      if (!m) this.namespaced.set(ns, (m = new Map()))
      for (const s of Array.isArray(b.subjects) ? b.subjects : []) push(m, subjectKey(s, ns), b)
    }
  }

  /** GetRoleReferenceRules: a binding's role's rules (undefined when the role does not exist). */
  roleRefRules(ref: RoleBinding['roleRef'], namespace: string): readonly PolicyRule[] | undefined {
    if (ref?.kind === 'ClusterRole') return this.clusterRoles.get(ref.name)
    if (ref?.kind === 'Role') return this.roles.get(`${namespace}/${ref.name}`)
    return undefined
  }

  /** Every binding that applies to the user (cluster-wide, then in `namespace`), with its rules. */
  sources(u: UserInfo, namespace: string): SourcedRules[] {
    const out: SourcedRules[] = []
    const seen = new Set<RoleBinding>()
    const visit = (b: RoleBinding, ns: string, kind: string): void => {
      if (seen.has(b)) return
      seen.add(b)
      const rules = this.roleRefRules(b.roleRef, ns)
      const where = ns ? `RoleBinding "${b.metadata.name}/${ns}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${kind}` : `ClusterRoleBinding "${b.metadata.name}" of ClusterRole "${b.roleRef.name}" to ${kind}`
      if (rules) out.push({ binding: where, role: b.roleRef.name, rules })
    }
    const keys = userKeys(u)
    for (const k of keys) for (const b of this.cluster.get(k) ?? []) visit(b, '', subjectKind(k))
    const m = namespace ? this.namespaced.get(namespace) : undefined
    if (m) for (const k of keys) for (const b of m.get(k) ?? []) visit(b, namespace, subjectKind(k))
    return out
  }

  /** RulesFor: all rules the user holds in `namespace` ('' = cluster-wide only). */
  rulesFor(u: UserInfo, namespace: string): readonly PolicyRule[] {
    const key = `${namespace}\u0000${u.name}\u0000${u.groups.join('\u0000')}`
    const hit = this.cache.get(key)
    if (hit) return hit
    const rules = this.sources(u, namespace).flatMap((s) => s.rules)
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear()
    this.cache.set(key, rules)
    return rules
  }
}

function subjectKind(key: string): string {
  return key.startsWith('g:') ? `Group "${key.slice(2)}"` : key.startsWith(`u:${SA_PREFIX}`) ? `ServiceAccount "${key.slice(2 + SA_PREFIX.length).replace(':', '/')}"` : `User "${key.slice(2)}"`
}

function push<K, V>(m: Map<K, V[]>, k: K | undefined, v: V): void {
  if (k === undefined) return
  const list = m.get(k)
  if (list) list.push(v)
  else m.set(k, [v])
}
