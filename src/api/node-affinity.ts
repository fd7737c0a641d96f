// Required node affinity, as upstream's component-helpers nodeaffinity.RequiredNodeAffinity:
// a pod fits a node when its nodeSelector labels all match AND (if it has one) any of its
// requiredDuringSchedulingIgnoredDuringExecution terms matches. Within a term every label
// expression and every field expression must hold; a term with neither matches nothing.
// matchFields knows one field, `metadata.name` (what the DaemonSet controller pins pods with).
// Pure; shared by the scheduler's NodeAffinity filter and the DaemonSet controller.
import type { Node, NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm, Pod } from './types.js'

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const vals = r.values ?? []
  switch (r.operator) {
    case 'In':
      return value !== undefined && vals.includes(value)
    case 'NotIn':
      return value === undefined || !vals.includes(value)
    case 'Exists':
      return value !== undefined
    case 'DoesNotExist':
      return value === undefined
    case 'Gt':
    case 'Lt': {
      // One integer value compared with an integer label; anything else does not match.
      if (value === undefined || vals.length !== 1 || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(vals[0]!)) return false
      const a = Number(value)
      const b = Number(vals[0])
      return r.operator === 'Gt' ? a > b : a < b
    }
    default:
      return false
  }
}

const NODE_FIELDS: Record<string, (n: Node) => string | undefined> = { 'metadata.name': (n) => n.metadata.name }

export function nodeSelectorTermMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? []
  const fields = term.matchFields ?? []
  if (exprs.length === 0 && fields.length === 0) return false
  const labels = node.metadata.labels ?? {}
  for (const e of exprs) if (!requirementMatches(e, Object.prototype.hasOwnProperty.call(labels, e.key) ? labels[e.key] : undefined)) return false
  for (const f of fields) {
    const get = NODE_FIELDS[f.key]
    if (!get || !requirementMatches(f, get(node))) return false
  }
  return true
}

/** The pod's required node affinity, if it has one (spec.affinity is loosely typed in PodSpec). */
export function requiredNodeAffinity(pod: Pod): NodeSelectorTerm[] | undefined {
  const na = (pod.spec.affinity as { nodeAffinity?: NodeAffinity } | undefined)?.nodeAffinity
  return na?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms
}

/** nodeSelector and required node affinity both satisfied. */
export function podMatchesNodeAffinity(pod: Pod, node: Node): boolean {
  const labels = node.metadata.labels ?? {}
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) if (labels[k] !== v) return false
  const terms = requiredNodeAffinity(pod)
  if (terms === undefined) return true
  return terms.some((t) => nodeSelectorTermMatches(t, node))
}
