// Node lifecycle decisions, after pkg/controller/nodelifecycle: a node is healthy while its
// kubelet heartbeats (the Lease in kube-node-lease, or its Ready condition's heartbeat).
// The controller remembers *when it observed* a heartbeat change (probe time, its own clock,
// so clock skew between nodes does not matter). Silent past the grace period → every node
// condition Unknown; Unknown/False Ready → NoSchedule + NoExecute taints; pods on a NoExecute
// node are marked not ready and evicted once their toleration (or the eviction timeout) ends.
import type { Condition, Lease, Node, Pod, Taint, Toleration } from '../api/types.js'
import { TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE } from '../api/types.js'
import { getCondition, isPodTerminal, podIsReady } from './apiutil.js'

export interface NodeHealth {
  /** When this controller last saw the heartbeat move (epoch ms, controller clock). */
  probeTimestamp: number
  leaseRenewTime?: string
  readyHeartbeat?: string
}

export interface NodeLifecycleConfig {
  gracePeriodMs: number
  podEvictionTimeoutMs: number
}

export type NodeAction =
  | { kind: 'nodeConditions'; conditions: Condition[] }
  | { kind: 'taints'; taints: Taint[] }
  | { kind: 'markPodNotReady'; namespace: string; name: string }
  | { kind: 'evictPod'; namespace: string; name: string }

/** Fold one observation into the node's health record. */
export function observeNode(prev: NodeHealth | undefined, node: Node, lease: Lease | undefined, now: number): NodeHealth {
  const renew = lease?.spec?.renewTime
  const hb = getCondition(node.status?.conditions, 'Ready')?.lastHeartbeatTime
  if (!prev) return { probeTimestamp: now, ...(renew ? { leaseRenewTime: renew } : {}), ...(hb ? { readyHeartbeat: hb } : {}) }
  const moved = (renew !== undefined && renew !== prev.leaseRenewTime) || (hb !== undefined && hb !== prev.readyHeartbeat)
  return { probeTimestamp: moved ? now : prev.probeTimestamp, ...(renew ? { leaseRenewTime: renew } : {}), ...(hb ? { readyHeartbeat: hb } : {}) }
}

const OWN_TAINTS = new Set([TAINT_NODE_UNREACHABLE, TAINT_NODE_NOT_READY])

function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false
  if (t.operator === 'Exists') return !t.key || t.key === taint.key
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '')
}

export interface NodeDecision {
  actions: NodeAction[]
  /** When to look again (an eviction or the grace period falls due). */
  requeueAfterMs?: number
}

export function decideNode(node: Node, health: NodeHealth, pods: Pod[], now: number, cfg: NodeLifecycleConfig): NodeDecision {
  const actions: NodeAction[] = []
  let requeue: number | undefined
  const due = (ms: number) => {
    const d = Math.max(0, ms) + 50
    requeue = requeue === undefined ? d : Math.min(requeue, d)
  }
  const ts = new Date(now).toISOString()
  let conds = node.status?.conditions ?? []
  const ready = getCondition(conds, 'Ready')
  const silentFor = now - health.probeTimestamp
  if (silentFor > cfg.gracePeriodMs) {
    if (ready?.status !== 'Unknown') {
      const never = !ready
      const unknown = (c: Condition): Condition => ({
        ...c,
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
        lastTransitionTime: ts,
      })
      conds = never
        ? [...conds, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastTransitionTime: ts, lastHeartbeatTime: ts }]
        : conds.map((c) => (c.status === 'Unknown' ? c : unknown(c)))
      actions.push({ kind: 'nodeConditions', conditions: conds })
    }
  } else {
    due(cfg.gracePeriodMs - silentFor)
  }

  // Taints follow the (possibly just updated) Ready condition.
  const readyNow = getCondition(conds, 'Ready')?.status
  const key = readyNow === 'Unknown' ? TAINT_NODE_UNREACHABLE : readyNow === 'False' ? TAINT_NODE_NOT_READY : undefined
  const existing = node.spec?.taints ?? []
  const keep = existing.filter((t) => !OWN_TAINTS.has(t.key) || (t.key === key && (t.effect === 'NoSchedule' || t.effect === 'NoExecute')))
  const want: Taint[] = [...keep]
  if (key) {
    for (const effect of ['NoSchedule', 'NoExecute'] as const) {
      if (!want.some((t) => t.key === key && t.effect === effect)) want.push({ key, effect, timeAdded: ts })
    }
  }
  const sig = (l: Taint[]) => l.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).sort().join(',')
  if (sig(want) !== sig(existing)) actions.push({ kind: 'taints', taints: want })

  const noExec = want.find((t) => t.key === key && t.effect === 'NoExecute')
  if (noExec) {
    const since = Date.parse(noExec.timeAdded ?? ts) || now
    for (const p of pods) {
      if (p.spec.nodeName !== node.metadata.name || isPodTerminal(p)) continue
      if (readyNow === 'Unknown' && podIsReady(p)) actions.push({ kind: 'markPodNotReady', namespace: p.metadata.namespace!, name: p.metadata.name! })
      if (p.metadata.deletionTimestamp) continue
      const tol = (p.spec.tolerations ?? []).find((t) => tolerates(t, noExec))
      if (tol && tol.tolerationSeconds === undefined) continue
      const allowMs = tol ? Math.max(0, tol.tolerationSeconds!) * 1000 : cfg.podEvictionTimeoutMs
      const at = since + allowMs
      if (now >= at) actions.push({ kind: 'evictPod', namespace: p.metadata.namespace!, name: p.metadata.name! })
      else due(at - now)
    }
  }
  return requeue === undefined ? { actions } : { actions, requeueAfterMs: requeue }
}

/**
 * Pod garbage collection for vanished nodes (upstream's PodGC): a pod bound to a node that no
 * longer exists can never be finished by a kubelet, so after a quarantine it is force-deleted.
 * `firstSeen` remembers when each orphan was first noticed (mutated: the caller keeps it).
 */
export function orphanedPods(pods: Pod[], nodeNames: Set<string>, firstSeen: Map<string, number>, now: number, quarantineMs: number): Pod[] {
  const out: Pod[] = []
  const still = new Set<string>()
  for (const p of pods) {
    const n = p.spec.nodeName
    if (!n || nodeNames.has(n)) continue
    const key = `${p.metadata.namespace}/${p.metadata.name}`
    still.add(key)
    const since = firstSeen.get(key) ?? now
    firstSeen.set(key, since)
    if (now - since >= quarantineMs) out.push(p)
  }
  for (const k of firstSeen.keys()) if (!still.has(k)) firstSeen.delete(k)
  return out
}
