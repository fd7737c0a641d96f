// Scheduling decisions for one pod, after kube-scheduler's default plugins: filters
// (NodeUnschedulable, NodeName, TaintToleration, node readiness, NodeAffinity: nodeSelector and
// required terms in node-affinity.ts, NodeResourcesFit) each give the reason a node is rejected; scores (NodeResourcesLeastAllocated
// and spreading the pods of one owner) pick among the rest. Pure: nodes and pods come in,
// a node name or an explanation comes out.
import type { Node, Pod, Taint, Toleration } from '../api/types.js'
import { controllerRef, getCondition, isPodTerminal, parseQuantity } from '../controllers/apiutil.js'
import { volumeFilter, volumePreFilter, type VolumeView } from './volumebinding.js'
import { podMatchesNodeAffinity } from '../api/node-affinity.js'

export const DEFAULT_SCHEDULER = 'default-scheduler'
// Used for scoring only, as upstream does, so that request-less pods still spread by load.
const DEFAULT_MILLI_CPU = 100
const DEFAULT_MEMORY = 200 * 1024 * 1024
const SPREAD_WEIGHT = 2

export interface Resources {
  milliCPU: number
  memory: number
  pods: number
}

function q(v: string | undefined): number {
  if (v === undefined) return 0
  try {
    return parseQuantity(v)
  } catch {
    return 0
  }
}

/** Effective requests: max(sum of containers, largest init container), per resource. */
export function podRequests(pod: Pod): { milliCPU: number; memory: number } {
  let cpu = 0
  let mem = 0
  for (const c of pod.spec.containers ?? []) {
    cpu += Math.round(q(c.resources?.requests?.cpu) * 1000)
    mem += q(c.resources?.requests?.memory)
  }
  for (const c of pod.spec.initContainers ?? []) {
    cpu = Math.max(cpu, Math.round(q(c.resources?.requests?.cpu) * 1000))
    mem = Math.max(mem, q(c.resources?.requests?.memory))
  }
  return { milliCPU: cpu, memory: mem }
}

function nonZero(pod: Pod): { milliCPU: number; memory: number } {
  let cpu = 0
  let mem = 0
  for (const c of pod.spec.containers ?? []) {
    const r = c.resources?.requests ?? {}
    cpu += r.cpu !== undefined ? Math.round(q(r.cpu) * 1000) : DEFAULT_MILLI_CPU
    mem += r.memory !== undefined ? q(r.memory) : DEFAULT_MEMORY
  }
  return { milliCPU: cpu, memory: mem }
}

export function allocatable(node: Node): Resources {
  const a = node.status?.allocatable ?? node.status?.capacity ?? {}
  return {
    milliCPU: a.cpu !== undefined ? Math.round(q(a.cpu) * 1000) : 0,
    memory: q(a.memory),
    pods: a.pods !== undefined ? q(a.pods) : 110,
  }
}

export interface NodeInfo {
  node: Node
  alloc: Resources
  requested: { milliCPU: number; memory: number; pods: number }
  nonZeroRequested: { milliCPU: number; memory: number }
  /** Pods on the node per controller uid (for spreading). */
  byOwner: Map<string, number>
}

/** Aggregate the pods bound to each node (terminal pods free their resources). */
export function buildNodeInfos(nodes: Node[], pods: Pod[]): Map<string, NodeInfo> {
  const m = new Map<string, NodeInfo>()
  for (const n of nodes) {
    m.set(n.metadata.name!, { node: n, alloc: allocatable(n), requested: { milliCPU: 0, memory: 0, pods: 0 }, nonZeroRequested: { milliCPU: 0, memory: 0 }, byOwner: new Map() })
  }
  for (const p of pods) {
    const ni = p.spec.nodeName ? m.get(p.spec.nodeName) : undefined
    if (!ni || isPodTerminal(p)) continue
    const r = podRequests(p)
    const nz = nonZero(p)
    ni.requested.milliCPU += r.milliCPU
    ni.requested.memory += r.memory
    ni.requested.pods += 1
    ni.nonZeroRequested.milliCPU += nz.milliCPU
    ni.nonZeroRequested.memory += nz.memory
    const o = controllerRef(p)
    if (o) ni.byOwner.set(o.uid, (ni.byOwner.get(o.uid) ?? 0) + 1)
  }
  return m
}

export function tolerates(tols: Toleration[] | undefined, taint: Taint): boolean {
  return (tols ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false
    if (t.operator === 'Exists') return !t.key || t.key === taint.key
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '')
  })
}

/** Why `node` cannot take `pod` (empty: it can). Stops at the first failing filter, as upstream. */
export function filterNode(pod: Pod, ni: NodeInfo, volumes?: VolumeView): string[] {
  const node = ni.node
  if (node.spec?.unschedulable && !tolerates(pod.spec.tolerations, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) {
    return ['node(s) were unschedulable']
  }
  if (pod.spec.nodeName && pod.spec.nodeName !== node.metadata.name) return ["node(s) didn't match the requested node name"]
  for (const t of node.spec?.taints ?? []) {
    if (t.effect !== 'NoSchedule' && t.effect !== 'NoExecute') continue
    if (!tolerates(pod.spec.tolerations, t)) return [`node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`]
  }
  if (getCondition(node.status?.conditions, 'Ready')?.status !== 'True') return ['node(s) were not ready']
  if (!podMatchesNodeAffinity(pod, node)) return ["node(s) didn't match Pod's node affinity/selector"]
  const reasons: string[] = []
  if (ni.requested.pods + 1 > ni.alloc.pods) reasons.push('Too many pods')
  const r = podRequests(pod)
  if (r.milliCPU > 0 && ni.requested.milliCPU + r.milliCPU > ni.alloc.milliCPU) reasons.push('Insufficient cpu')
  if (r.memory > 0 && ni.requested.memory + r.memory > ni.alloc.memory) reasons.push('Insufficient memory')
  if (reasons.length > 0 || !volumes) return reasons
  // VolumeBinding runs after NodeResourcesFit, as in upstream's default plugin order.
  const v = volumeFilter(pod, node, volumes)
  return v ? [v] : []
}

function leastAllocated(pod: Pod, ni: NodeInfo): number {
  const nz = nonZero(pod)
  const part = (req: number, cap: number) => (cap <= 0 || req > cap ? 0 : ((cap - req) * 100) / cap)
  return (part(ni.nonZeroRequested.milliCPU + nz.milliCPU, ni.alloc.milliCPU) + part(ni.nonZeroRequested.memory + nz.memory, ni.alloc.memory)) / 2
}

export type ScheduleResult =
  | { ok: true; node: string; scores: Record<string, number> }
  | { ok: false; message: string; reasons: Record<string, number> }

export function schedulePod(pod: Pod, infos: Map<string, NodeInfo>, rng: () => number = Math.random, volumes?: VolumeView): ScheduleResult {
  const all = [...infos.values()]
  if (all.length === 0) return { ok: false, message: 'no nodes available to schedule pods', reasons: {} }
  // A PreFilter failure applies to every node: upstream names it once, without a count.
  const pre = volumes ? volumePreFilter(pod, volumes) : undefined
  if (pre) return { ok: false, message: `0/${all.length} nodes are available: ${pre}.`, reasons: { [pre]: all.length } }
  const feasible: NodeInfo[] = []
  const reasons: Record<string, number> = {}
  for (const ni of all) {
    const why = filterNode(pod, ni, volumes)
    if (why.length === 0) feasible.push(ni)
    else for (const w of why) reasons[w] = (reasons[w] ?? 0) + 1
  }
  if (feasible.length === 0) {
    const parts = Object.entries(reasons).map(([r, n]) => `${n} ${r}`).sort()
    return { ok: false, message: `0/${all.length} nodes are available: ${parts.join(', ')}.`, reasons }
  }
  const owner = controllerRef(pod)?.uid
  const counts = feasible.map((ni) => (owner ? ni.byOwner.get(owner) ?? 0 : 0))
  const maxCount = Math.max(0, ...counts)
  const scores: Record<string, number> = {}
  let best: string[] = []
  let bestScore = -Infinity
  feasible.forEach((ni, i) => {
    const spread = maxCount === 0 ? 100 : (100 * (maxCount - counts[i]!)) / maxCount
    const s = Math.round(leastAllocated(pod, ni) + SPREAD_WEIGHT * spread)
    const name = ni.node.metadata.name!
    scores[name] = s
    if (s > bestScore) {
      bestScore = s
      best = [name]
    } else if (s === bestScore) best.push(name)
  })
  return { ok: true, node: best[Math.floor(rng() * best.length) % best.length]!, scores }
}

/** Record a pod as placed (the scheduler's "assume" before the informer sees the binding). */
export function assumePod(infos: Map<string, NodeInfo>, pod: Pod, node: string): void {
  const ni = infos.get(node)
  if (!ni) return
  const r = podRequests(pod)
  const nz = nonZero(pod)
  ni.requested.milliCPU += r.milliCPU
  ni.requested.memory += r.memory
  ni.requested.pods += 1
  ni.nonZeroRequested.milliCPU += nz.milliCPU
  ni.nonZeroRequested.memory += nz.memory
  const o = controllerRef(pod)
  if (o) ni.byOwner.set(o.uid, (ni.byOwner.get(o.uid) ?? 0) + 1)
}
