// The ClusterRole aggregation controller (upstream's clusterroleaggregation, a
// kube-controller-manager loop; netkube runs it in the apiserver, beside the RBAC mirrors it
// reads, so the aggregated `admin`/`edit`/`view` are right with or without controllers):
// a ClusterRole with an aggregationRule gets the union of the rules of the ClusterRoles its
// selectors match, in a stable order, rewritten only when that union changed.
import { findResource } from '../api/resources.js'
import { labelSelectorMatches } from '../api/selectors.js'
import type { ClusterRole, PolicyRule } from '../api/types.js'
import { deepEqual } from '../api/equal.js'
import type { Registry } from '../apiserver/registry.js'
import { logger } from '../util/log.js'
import { runEvery, type Periodic } from '../util/periodic.js'
import type { RbacState } from './authorizer.js'

const log = logger('rbac.aggregation')
const CLUSTER_ROLES = findResource('rbac.authorization.k8s.io', 'v1', 'clusterroles')!

/** Pure: the rules each aggregated ClusterRole should hold, for those whose rules differ. */
export function aggregationPlan(roles: readonly ClusterRole[]): { name: string; rules: PolicyRule[] }[] {
  const out: { name: string; rules: PolicyRule[] }[] = []
  const sorted = [...roles].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))
  for (const role of sorted) {
    const selectors = role.aggregationRule?.clusterRoleSelectors
    if (!Array.isArray(selectors)) continue
    const rules: PolicyRule[] = []
    const seen = new Set<string>()
    for (const sel of selectors) {
      for (const other of sorted) {
        if (other === role || !labelSelectorMatches(sel, other.metadata.labels)) continue
        for (const r of Array.isArray(other.rules) ? other.rules : []) {
          const k = JSON.stringify(r)
          if (seen.has(k)) continue
          seen.add(k)
          rules.push(r)
        }
      }
    }
    if (!deepEqual(rules, Array.isArray(role.rules) ? role.rules : [])) out.push({ name: role.metadata.name!, rules })
  }
  return out
}

export function startAggregation(reg: Registry, state: RbacState): Periodic {
  const sync = async (): Promise<void> => {
    for (const { name, rules } of aggregationPlan([...state.clusterRoles.items.values()])) {
      const cur = (await reg.get(CLUSTER_ROLES, undefined, name)) as ClusterRole
      await reg.update(CLUSTER_ROLES, undefined, name, { ...cur, rules }, { system: true, manager: 'clusterrole-aggregation-controller' })
      log.info({ name, rules: rules.length }, 'aggregated ClusterRole updated')
    }
  }
  const loop = runEvery('clusterrole-aggregation', 30_000, sync, log)
  state.onChange(() => void loop.kick())
  return loop
}
