// Shared readings of the storage objects (PersistentVolume, PersistentVolumeClaim,
// StorageClass) that the printers, the PV controller, the scheduler and the kubelet all need:
// which class a claim asks for, which class is the default, what a claim requests, whether a
// volume's node affinity admits a node. Pure, tolerant of malformed shapes.
import type { Node, NodeSelectorTerm, PersistentVolume, PersistentVolumeAccessMode, PersistentVolumeClaim, StorageClass } from './types.js'
import { ANNOTATION_BETA_DEFAULT_STORAGE_CLASS, ANNOTATION_BETA_STORAGE_CLASS, ANNOTATION_DEFAULT_STORAGE_CLASS } from './types.js'
import { parseQuantity } from './quantity.js'
import { nodeSelectorTermMatches } from './node-affinity.js'

export const ACCESS_MODES: readonly PersistentVolumeAccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']
const ACCESS_MODE_SHORT: Record<PersistentVolumeAccessMode, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' }

/** GetAccessModesAsString: RWO,ROX,RWX,RWOP in that fixed order, each once. */
export function accessModesString(modes: readonly string[] | undefined): string {
  const have = new Set(Array.isArray(modes) ? modes : [])
  return ACCESS_MODES.filter((m) => have.has(m)).map((m) => ACCESS_MODE_SHORT[m]).join(',')
}

/** GetPersistentVolumeClaimClass: the beta annotation wins over spec.storageClassName; '' = no class. */
export function claimClass(pvc: PersistentVolumeClaim): string {
  const a = pvc.metadata.annotations?.[ANNOTATION_BETA_STORAGE_CLASS]
  if (a !== undefined) return a
  return typeof pvc.spec?.storageClassName === 'string' ? pvc.spec.storageClassName : ''
}

/** Whether the claim names a class at all (nil storageClassName and no annotation: the default is still to be picked). */
export function claimHasClass(pvc: PersistentVolumeClaim): boolean {
  return pvc.metadata.annotations?.[ANNOTATION_BETA_STORAGE_CLASS] !== undefined || (pvc.spec?.storageClassName !== undefined && pvc.spec.storageClassName !== null)
}

export function volumeClass(pv: PersistentVolume): string {
  const a = pv.metadata.annotations?.[ANNOTATION_BETA_STORAGE_CLASS]
  if (a !== undefined) return a
  return pv.spec?.storageClassName ?? ''
}

/** IsDefaultAnnotation: the GA or the beta annotation set to "true". */
export function isDefaultClass(sc: StorageClass): boolean {
  const a = sc.metadata.annotations ?? {}
  return a[ANNOTATION_DEFAULT_STORAGE_CLASS] === 'true' || a[ANNOTATION_BETA_DEFAULT_STORAGE_CLASS] === 'true'
}

/**
 * The default class (upstream's GetDefaultClass since 1.26): among several defaults the newest
 * wins, ties broken by name.
 */
export function defaultClass(classes: readonly StorageClass[]): StorageClass | undefined {
  const defs = classes.filter(isDefaultClass)
  defs.sort((a, b) => {
    const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0
    const tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0
    if (ta !== tb) return tb - ta
    return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1
  })
  return defs[0]
}

/** A quantity (string or number) as a number; undefined when absent or malformed. */
export function quantityValue(q: unknown): number | undefined {
  if (typeof q !== 'string' && typeof q !== 'number') return undefined
  try {
    return parseQuantity(q)
  } catch {
    return undefined
  }
}

/** spec.resources.requests.storage in bytes (undefined when absent or malformed). */
export function claimRequest(pvc: PersistentVolumeClaim): number | undefined {
  return quantityValue(pvc.spec?.resources?.requests?.storage)
}

export function volumeCapacity(pv: PersistentVolume): number | undefined {
  return quantityValue(pv.spec?.capacity?.storage)
}

/** A NodeSelector: the terms are ORed (one term's rules: src/api/node-affinity.ts, shared with pod affinity). */
export function nodeSelectorTermsMatch(terms: readonly NodeSelectorTerm[], node: Node): boolean {
  return terms.some((t) => nodeSelectorTermMatches(t, node))
}

/** CheckNodeAffinity: a volume without required node affinity is reachable from every node. */
export function volumeFitsNode(pv: PersistentVolume, node: Node): boolean {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms
  if (!Array.isArray(terms)) return true
  return nodeSelectorTermsMatch(terms, node)
}

/** The directory a volume's data lives in on its node (hostPath or local), if it has one. */
export function volumePath(pv: PersistentVolume): string | undefined {
  return pv.spec?.hostPath?.path ?? pv.spec?.local?.path
}
