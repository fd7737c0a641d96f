// Pure: the init-container half of upstream's computePodActions. Init containers run one at a
// time, in order, each to a successful exit, before any app container starts; a failed one is
// run again unless the pod's restartPolicy is Never, which fails the pod. Sidecar-style init
// containers (KEP-753, `restartPolicy: Always` on an init container) are refused at admission,
// as a kubelet without the SidecarContainers feature refuses them: the pod fails with a reason
// instead of running with the wrong lifecycle.
import type { Container, Pod, PodSpec } from '../api/types.js'

/** What one init container did in the current sandbox. */
export type InitProgress =
  | { phase: 'none' }
  | { phase: 'running' }
  | { phase: 'succeeded' }
  | { phase: 'failed'; exitCode: number }

export type InitAction =
  /** Start init container `index` (its first run in this sandbox). */
  | { action: 'start'; index: number }
  /** Run init container `index` again after its failure (the caller applies the back-off). */
  | { action: 'restart'; index: number }
  /** Init container `index` is running: nothing else may start. */
  | { action: 'wait'; index: number }
  /** Init container `index` failed and restartPolicy Never: the pod fails. */
  | { action: 'fail'; index: number }
  /** Every init container succeeded: the app containers may start. */
  | { action: 'done' }

export function nextInitAction(progress: readonly InitProgress[], policy: PodSpec['restartPolicy']): InitAction {
  for (let index = 0; index < progress.length; index++) {
    const p = progress[index]!
    if (p.phase === 'succeeded') continue
    if (p.phase === 'none') return { action: 'start', index }
    if (p.phase === 'running') return { action: 'wait', index }
    return (policy ?? 'Always') === 'Never' ? { action: 'fail', index } : { action: 'restart', index }
  }
  return { action: 'done' }
}

/** An init container restarts only after a failure, whatever the pod's policy (Always or OnFailure). */
export function initShouldRestart(policy: PodSpec['restartPolicy'], exitCode: number): boolean {
  return exitCode !== 0 && (policy ?? 'Always') !== 'Never'
}

/** KEP-753's marker: an init container with its own `restartPolicy: Always` is a sidecar. */
export function isRestartableInitContainer(c: Container): boolean {
  return c.restartPolicy === 'Always'
}

export interface AdmitResult {
  admit: boolean
  reason?: string
  message?: string
}

/** The kubelet's admission for what this kubelet can run; a refused pod is failed with this reason. */
export function admitPod(pod: Pod): AdmitResult {
  const sidecar = (pod.spec.initContainers ?? []).find(isRestartableInitContainer)
  if (sidecar) {
    return {
      admit: false,
      reason: 'InitContainerRestartPolicyForbidden',
      message: `Init container "${sidecar.name}" may not have a non-default restartPolicy`,
    }
  }
  return { admit: true }
}
