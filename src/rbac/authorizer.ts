// Authorization — what each identity may do (issue #15).
//
// Design note. A request is described once, from its URL, as upstream's authorizer.Attributes
// (request-info.ts). A chain of authorizers (`--authorization-mode`, default `Node,RBAC`) is
// asked in order; the first `allow` or `deny` wins, `noOpinion` asks the next, and when all
// pass the request is 403 with upstream's exact wording (forbidden.ts), the reasons of the
// authorizers appended. `AlwaysAllow` is kept for benchmarks and tests that ask for it.
//
// - RBAC (this file): rules from Roles/ClusterRoles bound to the user, read from a PolicyIndex
//   (policy.ts, pure) rebuilt from in-memory mirrors of etcd (mirror.ts) when any RBAC object
//   changes. `system:masters` is allowed everything before any rule is read, as upstream's
//   privileged group. A deny is re-checked once after the mirrors caught up with etcd, so a
//   client that just created a RoleBinding is not refused on the mirror's lag.
// - Node (node.ts): `system:node:<name>` in `system:nodes` reads only the Secrets, ConfigMaps,
//   PVCs and PVs of pods bound to it (a graph kept from watches of pods and claims), its own
//   Lease, plus upstream's static node rules; NodeRestriction admission (node-restriction.ts)
//   narrows writes to its own Node and pods.
// - Escalation prevention (escalation.ts), the bootstrap policy (bootstrap-policy.ts) and its
//   aggregation controller (aggregation.ts), reviews (reviews.ts), impersonation
//   (impersonation.ts) and the fastify hook (hooks.ts) complete the picture.
import { etcdListPrefix, findResource } from '../api/resources.js'
import type { ClusterRole, PolicyRule, Role, RoleBinding } from '../api/types.js'
import type { UserInfo } from '../apiserver/auth.js'
import type { Attributes, AuthorizationResult, Authorizer } from '../apiserver/authorizer.js'
import type { EtcdStore } from '../storage/store.js'
import { StoreMirror } from './mirror.js'
import { PolicyIndex } from './policy.js'
import { ruleAllows } from './rules.js'

export const SYSTEM_MASTERS = 'system:masters'

const G = 'rbac.authorization.k8s.io'
const RBAC = {
  clusterroles: findResource(G, 'v1', 'clusterroles')!,
  roles: findResource(G, 'v1', 'roles')!,
  clusterrolebindings: findResource(G, 'v1', 'clusterrolebindings')!,
  rolebindings: findResource(G, 'v1', 'rolebindings')!,
}

/** The RBAC objects as the apiserver sees them, kept current from etcd. */
export class RbacState {
  private index: PolicyIndex | undefined
  private readonly mirrors: StoreMirror[]
  readonly clusterRoles: StoreMirror<ClusterRole>
  readonly roles: StoreMirror<Role>
  readonly clusterRoleBindings: StoreMirror<RoleBinding>
  readonly roleBindings: StoreMirror<RoleBinding>
  private readonly listeners: (() => void)[] = []

  constructor(private readonly store: EtcdStore) {
    const changed = (): void => {
      this.index = undefined
      for (const l of this.listeners) l()
    }
    this.clusterRoles = new StoreMirror(store, etcdListPrefix(RBAC.clusterroles), changed)
    this.roles = new StoreMirror(store, etcdListPrefix(RBAC.roles), changed)
    this.clusterRoleBindings = new StoreMirror(store, etcdListPrefix(RBAC.clusterrolebindings), changed)
    this.roleBindings = new StoreMirror(store, etcdListPrefix(RBAC.rolebindings), changed)
    this.mirrors = [this.clusterRoles, this.roles, this.clusterRoleBindings, this.roleBindings]
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn)
  }

  async start(): Promise<void> {
    await Promise.all(this.mirrors.map((m) => m.start()))
  }

  stop(): void {
    for (const m of this.mirrors) m.stop()
  }

  /** Waits until every mirror has seen etcd's current revision (read-your-writes for a retry). */
  async catchUp(): Promise<void> {
    const rev = await this.store.currentRevision()
    await Promise.all(this.mirrors.map((m) => m.waitFor(rev)))
  }

  policy(): PolicyIndex {
    this.index ??= new PolicyIndex({
      clusterRoles: this.clusterRoles.items.values(),
      roles: this.roles.items.values(),
      clusterRoleBindings: this.clusterRoleBindings.items.values(),
      roleBindings: this.roleBindings.items.values(),
    })
    return this.index
  }
}

export function isPrivileged(u: UserInfo): boolean {
  return u.groups.includes(SYSTEM_MASTERS)
}

export class RbacAuthorizer implements Authorizer {
  constructor(private readonly state: RbacState) {}

  private decide(a: Attributes): AuthorizationResult | undefined {
    const p = this.state.policy()
    const ns = a.resourceRequest ? a.namespace : ''
    for (const src of p.sources(a.user, ns)) {
      for (const rule of src.rules) if (ruleAllows(a, rule)) return { decision: 'allow', reason: `RBAC: allowed by ${src.binding}` }
    }
    return undefined
  }

  async authorize(a: Attributes): Promise<AuthorizationResult> {
    if (isPrivileged(a.user)) return { decision: 'allow', reason: '' }
    if (this.allowedFast(a)) return { decision: 'allow', reason: '' }
    await this.state.catchUp()
    return this.decide(a) ?? { decision: 'noOpinion', reason: '' }
  }

  /** The hot path: the cached rule list of (user, namespace), no reason text built. */
  allowedFast(a: Attributes): boolean {
    const rules = this.state.policy().rulesFor(a.user, a.resourceRequest ? a.namespace : '')
    for (const r of rules) if (ruleAllows(a, r)) return true
    return false
  }

  /** Why it is allowed (SubjectAccessReview's reason). */
  explain(a: Attributes): AuthorizationResult {
    if (isPrivileged(a.user)) return { decision: 'allow', reason: '' }
    return this.decide(a) ?? { decision: 'noOpinion', reason: '' }
  }

  rulesFor(u: UserInfo, namespace: string): readonly PolicyRule[] {
    return this.state.policy().rulesFor(u, namespace)
  }
}

/** The chain: the first allow/deny wins; reasons of those without an opinion are collected. */
export class UnionAuthorizer implements Authorizer {
  constructor(readonly members: Authorizer[]) {}

  async authorize(a: Attributes): Promise<AuthorizationResult> {
    const reasons: string[] = []
    for (const m of this.members) {
      const r = await m.authorize(a)
      if (r.decision !== 'noOpinion') return r
      if (r.reason) reasons.push(r.reason)
    }
    return { decision: 'noOpinion', reason: reasons.join(', ') }
  }
}
