// PersistentVolume controller core (upstream's pkg/controller/volume/persistentvolume binder,
// plus the pvc-protection and pv-protection controllers). Pure: one claim or one volume and
// the caches in, the writes to make (merge patches, in order) and the events out.
//
// Binding, as upstream does it, is several writes that each leave a state the next sync
// recognises: the volume's claimRef first (with the volume's resourceVersion, so two claims
// racing for one volume cannot both win), its phase Bound, then the claim's volumeName and
// annotations, then the claim's status. A crash between two writes is finished by the next sync.
//
// Dynamic provisioning is external (the CSI-era split): for a class with a provisioner the
// controller only marks the claim (`volume.kubernetes.io/storage-provisioner`) and says
// ExternalProvisioning; a WaitForFirstConsumer claim waits for the scheduler's
// `volume.kubernetes.io/selected-node`. The provisioner (netkube's node agents, see
// src/localpath) creates the volume pre-bound (claimRef with the claim's uid); this core then
// binds the claim to it. A released volume of an external provisioner is that provisioner's to
// delete; this core only marks it Released.
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../api/types.js'
import {
  ANNOTATION_BETA_STORAGE_PROVISIONER,
  ANNOTATION_BIND_COMPLETED,
  ANNOTATION_BOUND_BY_CONTROLLER,
  ANNOTATION_PROVISIONED_BY,
  ANNOTATION_SELECTED_NODE,
  ANNOTATION_STORAGE_PROVISIONER,
  FINALIZER_PV_PROTECTION,
  FINALIZER_PVC_PROTECTION,
} from '../api/types.js'
import { claimClass, claimHasClass, claimRequest, defaultClass, volumeCapacity, volumeClass, volumeFitsNode } from '../api/storage.js'
import { labelSelectorMatches } from './apiutil.js'

export const NO_PROVISIONER = 'kubernetes.io/no-provisioner'

export interface BinderView {
  claims: (namespace: string, name: string) => PersistentVolumeClaim | undefined
  volumes: readonly PersistentVolume[]
  volume: (name: string) => PersistentVolume | undefined
  classes: readonly StorageClass[]
  node: (name: string) => Node | undefined
  /** Pods of a namespace (for pvc-protection). */
  pods: (namespace: string) => readonly Pod[]
}

export type Write =
  | { target: 'claim'; namespace: string; name: string; status?: boolean; patch: Record<string, unknown> }
  | { target: 'volume'; name: string; status?: boolean; patch: Record<string, unknown> }

export interface StorageEvent {
  on: 'claim' | 'volume'
  obj: PersistentVolumeClaim | PersistentVolume
  type: 'Normal' | 'Warning'
  reason: string
  message: string
}

export interface SyncResult {
  writes: Write[]
  events: StorageEvent[]
}

const empty = (): SyncResult => ({ writes: [], events: [] })

function classByName(view: BinderView, name: string): StorageClass | undefined {
  return view.classes.find((c) => c.metadata.name === name)
}

/** Whether a pod (not finished) mounts the claim: what keeps pvc-protection's finalizer on. */
export function podUsesClaim(pod: Pod, claim: string): boolean {
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return false
  return (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim)
}

function withoutFinalizer(obj: { metadata: { finalizers?: string[]; resourceVersion?: string } }, f: string): Record<string, unknown> {
  // The resourceVersion makes the removal conditional: a pod that started using the claim in
  // between is seen by the next sync instead of being raced.
  return { metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers: (obj.metadata.finalizers ?? []).filter((x) => x !== f) } }
}

/** Parsed capacities per volume object (cache objects are replaced, never mutated, on change). */
const capacityCache = new WeakMap<PersistentVolume, number | undefined>()
function capacityOf(pv: PersistentVolume): number | undefined {
  if (!capacityCache.has(pv)) capacityCache.set(pv, volumeCapacity(pv))
  return capacityCache.get(pv)
}

const sameModes = (want: readonly string[] | undefined, have: readonly string[] | undefined): boolean => (want ?? []).every((m) => (have ?? []).includes(m))

/**
 * findMatchingVolume: the smallest available volume that satisfies the claim (class, access
 * modes, volume mode, size, selector, and — once a node is chosen — the node affinity).
 */
export function findMatchingVolume(claim: PersistentVolumeClaim, volumes: readonly PersistentVolume[], node: Node | undefined, requireNode: boolean): PersistentVolume | undefined {
  const want = claimRequest(claim) ?? 0
  const cls = claimClass(claim)
  const mode = claim.spec?.volumeMode ?? 'Filesystem'
  let best: PersistentVolume | undefined
  for (const pv of volumes) {
    if (pv.metadata.deletionTimestamp || pv.spec?.claimRef) continue
    if (pv.status?.phase === 'Released' || pv.status?.phase === 'Failed') continue
    if (volumeClass(pv) !== cls) continue
    if ((pv.spec?.volumeMode ?? 'Filesystem') !== mode) continue
    if (!sameModes(claim.spec?.accessModes, pv.spec?.accessModes)) continue
    const cap = capacityOf(pv)
    if (cap === undefined || cap < want) continue
    if (claim.spec?.selector && !labelSelectorMatches(claim.spec.selector, pv.metadata.labels ?? {})) continue
    if (requireNode && (!node || !volumeFitsNode(pv, node))) continue
    const bestCap = best ? capacityOf(best)! : Infinity
    if (!best || cap < bestCap || (cap === bestCap && (pv.metadata.name ?? '') < (best.metadata.name ?? ''))) best = pv
  }
  return best
}

/** The claimRef a volume gets when bound to `claim`. */
export function claimRefTo(claim: PersistentVolumeClaim): NonNullable<PersistentVolume['spec']['claimRef']> {
  return {
    kind: 'PersistentVolumeClaim',
    namespace: claim.metadata.namespace!,
    name: claim.metadata.name!,
    uid: claim.metadata.uid!,
    apiVersion: 'v1',
    resourceVersion: claim.metadata.resourceVersion!,
  }
}

function refersTo(pv: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const ref = pv.spec?.claimRef
  if (!ref || ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return false
  return !ref.uid || ref.uid === claim.metadata.uid
}

/** The writes that bind volume and claim, skipping those already done. */
function bind(pv: PersistentVolume, claim: PersistentVolumeClaim, r: SyncResult): void {
  const name = pv.metadata.name!
  const ns = claim.metadata.namespace!
  const cn = claim.metadata.name!
  if (!pv.spec.claimRef?.uid) {
    const byController = !pv.spec.claimRef
    r.writes.push({
      target: 'volume',
      name,
      patch: {
        metadata: { resourceVersion: pv.metadata.resourceVersion, ...(byController ? { annotations: { [ANNOTATION_BOUND_BY_CONTROLLER]: 'yes' } } : {}) },
        spec: { claimRef: claimRefTo(claim) },
      },
    })
  }
  if (pv.status?.phase !== 'Bound') r.writes.push({ target: 'volume', name, status: true, patch: { status: { phase: 'Bound' } } })
  const ann = claim.metadata.annotations ?? {}
  if (claim.spec.volumeName !== name || ann[ANNOTATION_BIND_COMPLETED] !== 'yes') {
    const annotations: Record<string, string> = { [ANNOTATION_BIND_COMPLETED]: 'yes' }
    if (claim.spec.volumeName !== name) annotations[ANNOTATION_BOUND_BY_CONTROLLER] = 'yes'
    r.writes.push({ target: 'claim', namespace: ns, name: cn, patch: { metadata: { annotations }, spec: { volumeName: name } } })
  }
  const st = claim.status ?? {}
  const cap = pv.spec.capacity?.storage
  if (st.phase !== 'Bound' || st.capacity?.storage !== cap || JSON.stringify(st.accessModes ?? []) !== JSON.stringify(pv.spec.accessModes ?? []))
    r.writes.push({ target: 'claim', namespace: ns, name: cn, status: true, patch: { status: { phase: 'Bound', capacity: cap !== undefined ? { storage: cap } : null, accessModes: pv.spec.accessModes ?? [] } } })
}

export function syncClaim(claim: PersistentVolumeClaim, view: BinderView): SyncResult {
  const r = empty()
  const ns = claim.metadata.namespace!
  const name = claim.metadata.name!
  // pvc-protection: a deleted claim goes once no pod uses it.
  if (claim.metadata.deletionTimestamp) {
    if ((claim.metadata.finalizers ?? []).includes(FINALIZER_PVC_PROTECTION) && !view.pods(ns).some((p) => podUsesClaim(p, name)))
      r.writes.push({ target: 'claim', namespace: ns, name, patch: withoutFinalizer(claim, FINALIZER_PVC_PROTECTION) })
    return r
  }
  if (!claim.spec || typeof claim.spec !== 'object') return r
  const volumeName = claim.spec.volumeName
  if (!volumeName) {
    // Retroactive default StorageClass: a claim created before any default existed gets it now.
    if (!claimHasClass(claim)) {
      const def = defaultClass(view.classes)
      if (def) {
        r.writes.push({ target: 'claim', namespace: ns, name, patch: { spec: { storageClassName: def.metadata.name } } })
        return r
      }
    }
    const prebound = view.volumes.find((pv) => refersTo(pv, claim) && !pv.metadata.deletionTimestamp)
    if (prebound) {
      bind(prebound, claim, r)
      return r
    }
    const cls = claimClass(claim)
    const sc = cls ? classByName(view, cls) : undefined
    const selected = claim.metadata.annotations?.[ANNOTATION_SELECTED_NODE]
    if (sc?.volumeBindingMode === 'WaitForFirstConsumer' && !selected) {
      r.events.push({ on: 'claim', obj: claim, type: 'Normal', reason: 'WaitForFirstConsumer', message: 'waiting for first consumer to be created before binding' })
      return r
    }
    const pv = findMatchingVolume(claim, view.volumes, selected ? view.node(selected) : undefined, sc?.volumeBindingMode === 'WaitForFirstConsumer')
    if (pv) {
      bind(pv, claim, r)
      return r
    }
    if (!cls) {
      r.events.push({ on: 'claim', obj: claim, type: 'Normal', reason: 'FailedBinding', message: 'no persistent volumes available for this claim and no storage class is set' })
    } else if (!sc) {
      r.events.push({ on: 'claim', obj: claim, type: 'Warning', reason: 'ProvisioningFailed', message: `storageclass.storage.k8s.io "${cls}" not found` })
    } else if (sc.provisioner === NO_PROVISIONER) {
      r.events.push({ on: 'claim', obj: claim, type: 'Warning', reason: 'ProvisioningFailed', message: `no volume plugin matched name: ${NO_PROVISIONER}` })
    } else {
      const ann = claim.metadata.annotations ?? {}
      if (ann[ANNOTATION_STORAGE_PROVISIONER] !== sc.provisioner || ann[ANNOTATION_BETA_STORAGE_PROVISIONER] !== sc.provisioner)
        r.writes.push({ target: 'claim', namespace: ns, name, patch: { metadata: { annotations: { [ANNOTATION_STORAGE_PROVISIONER]: sc.provisioner, [ANNOTATION_BETA_STORAGE_PROVISIONER]: sc.provisioner } } } })
      r.events.push({
        on: 'claim',
        obj: claim,
        type: 'Normal',
        reason: 'ExternalProvisioning',
        message: `Waiting for a volume to be created either by the external provisioner '${sc.provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`,
      })
    }
    return r
  }
  // The claim names its volume.
  const pv = view.volume(volumeName)
  if (!pv) {
    if (claim.status?.phase === 'Bound' || claim.status?.phase === 'Lost') {
      if (claim.status.phase !== 'Lost') {
        r.writes.push({ target: 'claim', namespace: ns, name, status: true, patch: { status: { phase: 'Lost' } } })
        r.events.push({ on: 'claim', obj: claim, type: 'Warning', reason: 'ClaimLost', message: 'Bound claim has lost its PersistentVolume. Data on the volume is lost!' })
      }
    }
    // A user-chosen volume that does not exist yet: the claim waits for it (Pending).
    return r
  }
  if (!pv.spec.claimRef || refersTo(pv, claim)) {
    bind(pv, claim, r)
    return r
  }
  // The volume is bound to someone else.
  if (claim.status?.phase === 'Bound') {
    r.writes.push({ target: 'claim', namespace: ns, name, status: true, patch: { status: { phase: 'Lost' } } })
    r.events.push({ on: 'claim', obj: claim, type: 'Warning', reason: 'ClaimMisbound', message: 'Two claims are bound to the same volume, this one is bound incorrectly' })
  }
  return r
}

export function syncVolume(pv: PersistentVolume, view: BinderView): SyncResult {
  const r = empty()
  const name = pv.metadata.name!
  const phase = pv.status?.phase
  const setPhase = (p: NonNullable<PersistentVolume['status']>['phase'], reason?: string): void => {
    if (phase !== p) r.writes.push({ target: 'volume', name, status: true, patch: { status: { phase: p, ...(reason !== undefined ? { reason } : {}) } } })
  }
  // pv-protection: a deleted volume goes once it is no longer Bound.
  if (pv.metadata.deletionTimestamp) {
    if ((pv.metadata.finalizers ?? []).includes(FINALIZER_PV_PROTECTION) && phase !== 'Bound') r.writes.push({ target: 'volume', name, patch: withoutFinalizer(pv, FINALIZER_PV_PROTECTION) })
    return r
  }
  if (!pv.spec || typeof pv.spec !== 'object') return r
  const ref = pv.spec.claimRef
  if (!ref) {
    setPhase('Available')
    return r
  }
  const claim = ref.namespace && ref.name ? view.claims(ref.namespace, ref.name) : undefined
  if (!ref.uid) {
    // Pre-bound by the admin to a claim that does not exist yet (or not yet bound): available to it only.
    setPhase('Available')
    return r
  }
  if (!claim || claim.metadata.uid !== ref.uid) {
    // The claim is gone: the volume is released and its reclaim policy decides.
    if (phase === 'Released' || phase === 'Failed') return r
    setPhase('Released')
    const policy = pv.spec.persistentVolumeReclaimPolicy ?? 'Retain'
    const external = !!pv.metadata.annotations?.[ANNOTATION_PROVISIONED_BY]
    if (policy === 'Delete' && !external)
      r.events.push({ on: 'volume', obj: pv, type: 'Warning', reason: 'VolumeFailedDelete', message: `error getting deleter volume plugin for volume "${name}": no deletable volume plugin matched` })
    if (policy === 'Recycle') r.events.push({ on: 'volume', obj: pv, type: 'Warning', reason: 'VolumeFailedRecycle', message: `No recycler plugin found for the volume!` })
    return r
  }
  if (claim.spec?.volumeName === name) {
    setPhase('Bound')
    return r
  }
  if (claim.spec?.volumeName) {
    // The claim went to another volume: a binding the controller made is undone.
    if (pv.metadata.annotations?.[ANNOTATION_BOUND_BY_CONTROLLER] === 'yes')
      r.writes.push({ target: 'volume', name, patch: { metadata: { resourceVersion: pv.metadata.resourceVersion, annotations: { [ANNOTATION_BOUND_BY_CONTROLLER]: null } }, spec: { claimRef: null } } })
    return r
  }
  // Claim not bound yet: its own sync finishes the binding.
  return r
}
