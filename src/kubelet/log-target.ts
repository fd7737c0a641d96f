// Which container instance `kubectl logs` reads, decided from the container's status as the
// kubelet's validateContainerLogStatus does (pure): the running or terminated instance, else the
// last terminated one (a crash-looping container shows its last run); `previous` is always the
// last terminated one. No instance → upstream's error texts (400, shown as BadRequest by kubectl).
import type { ContainerStatus } from '../api/types.js'

export type LogTarget = { id: string } | { message: string }

/** The runtime id inside a `process://<id>` container ID. */
const runtimeId = (containerID: string | undefined): string | undefined => (containerID ? containerID.replace(/^[a-z]+:\/\//, '') : undefined)

export function logTarget(status: ContainerStatus | undefined, container: string, pod: string, previous: boolean): LogTarget {
  if (!status) return { message: `container "${container}" in pod "${pod}" is not available` }
  const last = runtimeId(status.lastState?.terminated?.containerID)
  if (previous) return last ? { id: last } : { message: `previous terminated container "${container}" in pod "${pod}" not found` }
  const st = status.state ?? {}
  if (st.running || st.terminated) {
    const id = runtimeId(status.containerID) ?? runtimeId(st.terminated?.containerID)
    if (id) return { id }
  }
  if (last) return { id: last }
  if (st.waiting) {
    const why = st.waiting.reason === 'ErrImagePull' ? "image can't be pulled" : st.waiting.reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : (st.waiting.reason ?? '')
    return { message: `container "${container}" in pod "${pod}" is waiting to start: ${why}` }
  }
  return { message: `container "${container}" in pod "${pod}" is waiting to start - no logs yet` }
}
