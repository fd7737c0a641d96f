// Pure: how the kubelet reads a container's exit and decides about its next instance —
// the terminated state it reports (upstream's reasons and 128+N exit codes), whether the
// restart policy restarts it, and the crash-loop back-off (10 s doubling to 5 min).
import { constants } from 'node:os'
import type { ContainerStateTerminated, PodSpec } from '../api/types.js'

export const BACKOFF_INITIAL_MS = 10_000
export const BACKOFF_MAX_MS = 300_000
/** A container that ran this long without exiting earns a fresh back-off. */
export const BACKOFF_RESET_MS = 600_000

/** What the runtime knows about one exited instance. */
export interface ExitFacts {
  id: string
  startedAt: string
  finishedAt?: string
  /** The process's exit status; for a signal death 128 + N (the shell convention upstream reports). */
  exitCode?: number
  /** The signal that ended it, by name (`SIGKILL`), when it died of one. */
  signal?: string
  /** The exit was not observed (it died while no kubelet watched). */
  lost?: boolean
  /** The kernel's OOM killer ended it (knowable only with a memory cgroup per container). */
  oomKilled?: boolean
}

/** A signal's number (`SIGTERM` → 15); undefined for a name the kernel does not have. */
export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number | undefined>)[name]
}

/** The exit status reported for a process the kernel ended with `signal`: 128 + N, as a shell and the CRI runtimes report it. */
export function exitCodeOf(code: number | null, signal: string | null): number {
  if (code !== null) return code
  return 128 + (signal ? (signalNumber(signal) ?? 0) : 0)
}

/**
 * The terminated state for an exited instance: reason `Completed` for 0, `OOMKilled` when the
 * OOM killer did it, `ContainerStatusUnknown` when nobody saw it end (upstream's wording for a
 * container that could not be located), else `Error`; `signal` set when a signal ended it.
 */
export function terminatedState(st: ExitFacts, message?: string, now: () => string = () => new Date().toISOString()): ContainerStateTerminated {
  const code = st.exitCode ?? 0
  const reason = st.lost ? 'ContainerStatusUnknown' : st.oomKilled ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error'
  const sig = st.signal ? signalNumber(st.signal) : undefined
  return {
    exitCode: code,
    ...(sig ? { signal: sig } : {}),
    reason,
    ...(message ? { message } : st.lost ? { message: 'The container could not be located when the pod was terminated' } : {}),
    startedAt: st.startedAt,
    finishedAt: st.finishedAt ?? now(),
    containerID: `process://${st.id}`,
  }
}

/** The pod's restart policy applied to one exit (upstream's ShouldContainerBeRestarted for an exited container). */
export function shouldRestart(policy: PodSpec['restartPolicy'], exitCode: number): boolean {
  const p = policy ?? 'Always'
  return p === 'Always' || (p === 'OnFailure' && exitCode !== 0)
}

/**
 * The back-off after one more crash: the first restart is immediate (0 → initial), then each
 * period doubles up to the cap. `current` is the period the next crash waits.
 */
export function nextBackoff(current: number, initialMs = BACKOFF_INITIAL_MS, maxMs = BACKOFF_MAX_MS): number {
  return current === 0 ? initialMs : Math.min(current * 2, maxMs)
}
