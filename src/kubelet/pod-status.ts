// Pure: the PodStatus the kubelet reports, from what it knows about the pod's sandbox and
// containers. Phase and conditions follow the kubelet's rules (pkg/kubelet/status).
import type { Condition, ContainerStatus, Pod, PodPhase, PodStatus } from '../api/types.js'

export interface ContainerView {
  status: ContainerStatus
  /** The container has terminated and will not be restarted. */
  finished: boolean
}

export interface PodView {
  pod: Pod
  hostIP: string
  podIP?: string
  sandboxReady: boolean
  containers: ContainerView[]
  /** One per spec.initContainers entry, in order. */
  initContainers?: ContainerView[]
  /** The kubelet refused the pod at admission (upstream's rejectPod): it fails with this reason. */
  rejected?: { reason: string; message: string }
  startTime: string
  /** Sandbox or image error shown as the containers' waiting reason. */
  message?: string
}

function cond(type: string, ok: boolean, prev: Condition[] | undefined, now: string, reason?: string, message?: string): Condition {
  const status = ok ? 'True' : 'False'
  const old = prev?.find((c) => c.type === type)
  const c: Condition = { type, status, lastProbeTime: null, lastTransitionTime: old && old.status === status ? old.lastTransitionTime! : now }
  if (!ok && reason) c.reason = reason
  if (!ok && message) c.message = message
  return c
}

/** Go's %s of a []string, as upstream's condition messages print container names. */
const names = (xs: string[]): string => `[${xs.join(' ')}]`

/** Init containers not (yet) successfully finished: upstream's "incomplete status". */
function incompleteInit(inits: ContainerView[]): string[] {
  return inits.filter((c) => c.status.state?.terminated?.exitCode !== 0).map((c) => c.status.name)
}

/**
 * The init containers' share of upstream's getPhase: a failure counts whether the container
 * shows it now (terminated) or as its last state while waiting to run again; a running one,
 * or one that never ran, keeps the pod Pending.
 */
function initProgress(inits: ContainerView[]): { pending: number; failed: number } {
  let pending = 0
  let failed = 0
  for (const { status: s } of inits) {
    if (s.state?.running) pending++
    else if (s.state?.terminated) failed += s.state.terminated.exitCode !== 0 ? 1 : 0
    else if (s.lastState?.terminated) failed += s.lastState.terminated.exitCode !== 0 ? 1 : 0
    else pending++
  }
  return { pending, failed }
}

export function podPhase(pod: Pod, containers: ContainerView[], inits: ContainerView[] = []): PodPhase {
  const statuses = containers.map((c) => c.status)
  if (statuses.length === 0) return 'Pending'
  const init = initProgress(inits)
  if (init.failed > 0 && pod.spec.restartPolicy === 'Never') return 'Failed'
  if (init.pending > 0 || init.failed > 0) return 'Pending'
  const running = statuses.filter((s) => s.state?.running).length
  const waiting = statuses.filter((s) => s.state?.waiting).length
  const terminated = statuses.filter((s) => s.state?.terminated)
  const succeeded = terminated.filter((s) => s.state!.terminated!.exitCode === 0).length
  const policy = pod.spec.restartPolicy ?? 'Always'
  // A container waiting to restart after having run counts as running, as in the kubelet.
  const restarting = statuses.filter((s) => s.state?.waiting && s.lastState?.terminated).length
  if (waiting - restarting > 0) return 'Pending'
  if (running + restarting > 0) return 'Running'
  if (terminated.length === statuses.length) {
    if (policy === 'Always') return 'Running'
    return succeeded === statuses.length ? 'Succeeded' : 'Failed'
  }
  return 'Pending'
}

export function computePodStatus(v: PodView, now: string): PodStatus {
  const prev = v.pod.status?.conditions
  if (v.rejected) {
    // upstream's rejectPod: the phase, reason and message, nothing of a sandbox that never was.
    return {
      phase: 'Failed',
      reason: v.rejected.reason,
      message: `Pod was rejected: ${v.rejected.message}`,
      conditions: [cond('PodScheduled', true, prev, now)],
      startTime: v.startTime,
      qosClass: 'BestEffort',
    }
  }
  const statuses = v.containers.map((c) => c.status)
  const inits = v.initContainers ?? []
  const phase = podPhase(v.pod, v.containers, inits)
  const allReady = statuses.length > 0 && statuses.every((s) => s.ready)
  const terminal = phase === 'Succeeded' || phase === 'Failed'
  const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady'
  const unready = terminal ? undefined : `containers with unready status: ${names(statuses.filter((s) => !s.ready).map((s) => s.name))}`
  const incomplete = incompleteInit(inits)
  const initialized = incomplete.length === 0 || phase === 'Succeeded'
  const status: PodStatus = {
    phase,
    conditions: [
      cond('PodReadyToStartContainers', v.sandboxReady, prev, now),
      cond('Initialized', initialized, prev, now, 'ContainersNotInitialized', `containers with incomplete status: ${names(incomplete)}`),
      cond('Ready', allReady && !terminal, prev, now, notReadyReason, unready),
      cond('ContainersReady', allReady && !terminal, prev, now, notReadyReason, unready),
      cond('PodScheduled', true, prev, now),
    ],
    hostIP: v.hostIP,
    hostIPs: [{ ip: v.hostIP }],
    startTime: v.startTime,
    ...(inits.length ? { initContainerStatuses: inits.map((c) => c.status) } : {}),
    containerStatuses: statuses,
    qosClass: 'BestEffort',
  }
  if (v.podIP) {
    status.podIP = v.podIP
    status.podIPs = [{ ip: v.podIP }]
  }
  if (v.message) status.message = v.message
  return status
}

/** What a status write is compared by: everything but the condition timestamps that move every pass. */
export function statusKey(s: PodStatus): string {
  return JSON.stringify({ ...s, conditions: s.conditions?.map((c) => ({ t: c.type, s: c.status })) })
}

/**
 * Whether the kubelet must write `want`: unless it already sent exactly this status AND the API
 * still holds its conditions. Another writer (node lifecycle's Ready=False on NodeNotReady) must
 * not leave the kubelet's last word unsent — upstream's status manager compares with the API's
 * copy too. A merge patch replaces the conditions list, so after the write the two agree.
 */
export function statusWriteNeeded(lastSentKey: string | undefined, want: PodStatus, inApi: PodStatus | undefined): boolean {
  const conds = (s: PodStatus | undefined): string => JSON.stringify((s?.conditions ?? []).map((c) => [c.type, c.status]))
  return lastSentKey !== statusKey(want) || conds(inApi) !== conds(want)
}
