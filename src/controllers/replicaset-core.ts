// ReplicaSet reconcile core: from a ReplicaSet and the pods of its namespace (informer
// caches), compute what to do. No I/O: the shell (replicaset.ts) applies the actions.
//
// Mirrors kube-controller-manager's ReplicaSet controller: claim pods (adopt orphans that
// match the selector, release controlled pods that no longer match), count active pods
// (not terminal, not terminating), create or delete the difference, report status.
import type { KubeObject, LabelSelector, Pod, ReplicaSet, ReplicaSetStatus } from '../api/types.js'
import { controllerRef, isPodActive, isPodTerminal, labelSelectorMatches, podIsAvailable, podIsReady, getCondition } from './apiutil.js'
import { creationMs, isDeleting } from './util.js'

export type RSAction =
  | { kind: 'adopt'; pod: string }
  | { kind: 'release'; pod: string }
  | { kind: 'create'; count: number }
  | { kind: 'delete'; pods: string[] }
  | { kind: 'status'; status: ReplicaSetStatus }

export interface RSResult {
  actions: RSAction[]
  /** Ask to be called again after this long (pods becoming available after minReadySeconds). */
  requeueAfterMs?: number
}

export interface RSInput {
  rs: ReplicaSet
  /** Every pod of the ReplicaSet's namespace. */
  pods: Pod[]
  now: number
  /** False while earlier creates/deletes are not yet observed: then only status is reported. */
  expectationsSatisfied?: boolean
}

/** What claiming asks the shell to do (ControllerRefManager's adopt / release patches). */
export type ClaimAction = { kind: 'adopt'; pod: string } | { kind: 'release'; pod: string }

/**
 * upstream's ClaimPods, for every pod-owning controller: the pods `owner` owns after claiming,
 * plus the adopt/release actions that claiming implies. `adopted` is how an adopted pod looks
 * once the shell has patched it (the Job controller adds its tracking finalizer).
 */
export function claimPods(owner: KubeObject, selector: LabelSelector | undefined, pods: Pod[], adopted: (p: Pod) => Pod = (p) => p): { owned: Pod[]; actions: ClaimAction[] } {
  const owned: Pod[] = []
  const actions: ClaimAction[] = []
  const uid = owner.metadata.uid
  for (const p of pods) {
    const ref = controllerRef(p)
    const matches = !!selector && labelSelectorMatches(selector, p.metadata.labels)
    if (ref) {
      if (ref.uid !== uid) continue
      if (matches) owned.push(p)
      else if (!isDeleting(p)) actions.push({ kind: 'release', pod: p.metadata.name! })
      continue
    }
    // Orphans are adopted only by a live owner, and only if they are alive themselves.
    if (matches && !isDeleting(owner) && !isDeleting(p) && !isPodTerminal(p)) {
      owned.push(adopted(p))
      actions.push({ kind: 'adopt', pod: p.metadata.name! })
    }
  }
  return { owned, actions }
}

const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 }

function readySince(p: Pod): number {
  const c = getCondition(p.status?.conditions, 'Ready')
  return c?.status === 'True' && c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : 0
}

function restarts(p: Pod): number {
  return (p.status?.containerStatuses ?? []).reduce((a, c) => Math.max(a, c.restartCount ?? 0), 0)
}

/**
 * Kubernetes' deletion order (controller.ActivePods): negative = a should go before b.
 * unscheduled < scheduled; Pending < Unknown < Running; not ready < ready; ready for less
 * time first; more restarts first; newer before older.
 */
export function compareForDeletion(a: Pod, b: Pod): number {
  const sa = a.spec.nodeName ? 1 : 0
  const sb = b.spec.nodeName ? 1 : 0
  if (sa !== sb) return sa - sb
  const pa = phaseRank[a.status?.phase ?? 'Pending'] ?? 0
  const pb = phaseRank[b.status?.phase ?? 'Pending'] ?? 0
  if (pa !== pb) return pa - pb
  const ra = podIsReady(a) ? 1 : 0
  const rb = podIsReady(b) ? 1 : 0
  if (ra !== rb) return ra - rb
  if (ra && rb) {
    const ta = readySince(a)
    const tb = readySince(b)
    if (ta !== tb) return tb - ta
  }
  const xa = restarts(a)
  const xb = restarts(b)
  if (xa !== xb) return xb - xa
  const ca = creationMs(a)
  const cb = creationMs(b)
  if (ca !== cb) return cb - ca
  return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')
}

export function rsStatus(rs: ReplicaSet, owned: Pod[], now: number): { status: ReplicaSetStatus; requeueAfterMs?: number } {
  const active = owned.filter(isPodActive)
  const minReady = rs.spec.minReadySeconds ?? 0
  const tmplLabels = rs.spec.template?.metadata?.labels ?? {}
  let ready = 0
  let available = 0
  let fully = 0
  let requeue: number | undefined
  for (const p of active) {
    const l = p.metadata.labels ?? {}
    if (Object.entries(tmplLabels).every(([k, v]) => l[k] === v)) fully++
    if (podIsReady(p)) {
      ready++
      if (podIsAvailable(p, minReady, now)) available++
      else {
        const since = readySince(p)
        const wait = Math.max(0, since + minReady * 1000 - now) + 50
        requeue = requeue === undefined ? wait : Math.min(requeue, wait)
      }
    }
  }
  const status: ReplicaSetStatus = {
    replicas: active.length,
    fullyLabeledReplicas: fully,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.metadata.generation ?? 0,
  }
  if (rs.status?.conditions?.length) status.conditions = rs.status.conditions
  return requeue === undefined ? { status } : { status, requeueAfterMs: requeue }
}

export function reconcileReplicaSet(input: RSInput): RSResult {
  const { rs, pods, now } = input
  const { owned, actions: claimed } = claimPods(rs, rs.spec.selector, pods)
  const actions: RSAction[] = claimed
  if (!isDeleting(rs) && input.expectationsSatisfied !== false) {
    const active = owned.filter(isPodActive)
    const want = rs.spec.replicas ?? 1
    const diff = active.length - want
    if (diff < 0) actions.push({ kind: 'create', count: -diff })
    else if (diff > 0) {
      const victims = [...active].sort(compareForDeletion).slice(0, diff)
      actions.push({ kind: 'delete', pods: victims.map((p) => p.metadata.name!) })
    }
  }
  const { status, requeueAfterMs } = rsStatus(rs, owned, now)
  if (!sameRSStatus(rs.status, status)) actions.push({ kind: 'status', status })
  return requeueAfterMs === undefined ? { actions } : { actions, requeueAfterMs }
}

function sameRSStatus(a: ReplicaSetStatus | undefined, b: ReplicaSetStatus): boolean {
  if (!a) return false
  return (
    a.replicas === b.replicas &&
    (a.fullyLabeledReplicas ?? 0) === b.fullyLabeledReplicas &&
    (a.readyReplicas ?? 0) === b.readyReplicas &&
    (a.availableReplicas ?? 0) === b.availableReplicas &&
    (a.observedGeneration ?? 0) === b.observedGeneration
  )
}
