// The VolumeBinding plugin's decisions (kube-scheduler's pkg/scheduler/framework/plugins/
// volumebinding), pure over the pod, one node and a read model of claims/volumes/classes:
//   PreFilter — a missing or deleted claim, or an unbound claim of an Immediate class, makes
//               the pod unschedulable on every node (it waits for the binder);
//   Filter    — a bound claim's volume must admit the node ("node(s) had volume node affinity
//               conflict"); an unbound WaitForFirstConsumer claim needs a static volume on
//               the node or a class that can provision ("node(s) didn't find available
//               persistent volumes to bind");
//   PreBind   — the chosen node is written on each unbound WaitForFirstConsumer claim as
//               `volume.kubernetes.io/selected-node`.
// Difference from upstream, on purpose: upstream's PreBind also writes the claimRef of a
// matching static volume and waits for the claims to be bound before binding the pod;
// netkube leaves the static match to the PV controller (which honours the selected node) and
// binds the pod at once — the kubelet waits for the claim (FailedMount) instead.
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../api/types.js'
import { ANNOTATION_SELECTED_NODE } from '../api/types.js'
import { claimClass, volumeFitsNode } from '../api/storage.js'
import { findMatchingVolume, NO_PROVISIONER } from '../controllers/persistentvolume-core.js'

export interface VolumeView {
  claim(namespace: string, name: string): PersistentVolumeClaim | undefined
  volume(name: string): PersistentVolume | undefined
  storageClass(name: string): StorageClass | undefined
  volumes(): readonly PersistentVolume[]
}

export const REASON_UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims'
export const REASON_NODE_CONFLICT = 'node(s) had volume node affinity conflict'
export const REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
export const REASON_MISSING_PV = 'pvc(s) bound to non-existent pv(s)'

/** The claim names a pod mounts, once each. */
export function podClaimNames(pod: Pod): string[] {
  const names = (pod.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((n): n is string => !!n)
  return [...new Set(names)]
}

const isWFFC = (claim: PersistentVolumeClaim, view: VolumeView): boolean => {
  const cls = claimClass(claim)
  return !!cls && view.storageClass(cls)?.volumeBindingMode === 'WaitForFirstConsumer'
}

/** PreFilter: the reason no node can take the pod now, or undefined. */
export function volumePreFilter(pod: Pod, view: VolumeView): string | undefined {
  const ns = pod.metadata.namespace ?? 'default'
  let unboundImmediate = false
  for (const name of podClaimNames(pod)) {
    const c = view.claim(ns, name)
    if (!c) return `persistentvolumeclaim "${name}" not found`
    if (c.metadata.deletionTimestamp) return `persistentvolumeclaim "${name}" is being deleted`
    if (c.status?.phase === 'Lost') return `persistentvolumeclaim "${name}" bound to non-existent persistentvolume "${c.spec?.volumeName ?? ''}"`
    if (!c.spec?.volumeName && !isWFFC(c, view)) unboundImmediate = true
  }
  return unboundImmediate ? REASON_UNBOUND_IMMEDIATE : undefined
}

/** Filter: why `node` cannot take the pod's volumes, or undefined. */
export function volumeFilter(pod: Pod, node: Node, view: VolumeView): string | undefined {
  const ns = pod.metadata.namespace ?? 'default'
  for (const name of podClaimNames(pod)) {
    const c = view.claim(ns, name)
    if (!c) continue // PreFilter's business
    if (c.spec?.volumeName) {
      const pv = view.volume(c.spec.volumeName)
      if (!pv) return REASON_MISSING_PV
      if (!volumeFitsNode(pv, node)) return REASON_NODE_CONFLICT
      continue
    }
    // Unbound and WaitForFirstConsumer (PreFilter let nothing else through).
    const selected = c.metadata.annotations?.[ANNOTATION_SELECTED_NODE]
    if (selected && selected !== node.metadata.name) return REASON_BIND_CONFLICT
    if (findMatchingVolume(c, view.volumes(), node, true)) continue
    const sc = view.storageClass(claimClass(c))
    if (!sc || sc.provisioner === NO_PROVISIONER) return REASON_BIND_CONFLICT
  }
  return undefined
}

/** PreBind: the claims to annotate with the chosen node. */
export function claimsToSelect(pod: Pod, view: VolumeView): PersistentVolumeClaim[] {
  const ns = pod.metadata.namespace ?? 'default'
  const out: PersistentVolumeClaim[] = []
  for (const name of podClaimNames(pod)) {
    const c = view.claim(ns, name)
    if (!c || c.spec?.volumeName || !isWFFC(c, view) || c.metadata.annotations?.[ANNOTATION_SELECTED_NODE]) continue
    out.push(c)
  }
  return out
}
