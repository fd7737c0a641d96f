// The storage admission plugins of kube-apiserver, in the order it runs them on a write:
//   - DefaultStorageClass (mutating, create): a claim that names no class (nil storageClassName
//     and no beta annotation) gets the default StorageClass, the newest when several are marked;
//     none marked → left nil (the PV controller assigns one retroactively once a default exists).
//   - StorageObjectInUseProtection (mutating, create): `kubernetes.io/pvc-protection` on every
//     claim, `kubernetes.io/pv-protection` on every volume, so neither disappears while in use.
//   - PersistentVolumeClaimResize (validating, update): a bound claim may grow only when its
//     class says `allowVolumeExpansion: true` (403 with upstream's text otherwise).
// The decisions are pure over the object and a class lookup; the registry passes the lookups.
import type { ResourceInfo } from '../api/resources.js'
import type { KubeObject, PersistentVolumeClaim, StorageClass } from '../api/types.js'
import { FINALIZER_PV_PROTECTION, FINALIZER_PVC_PROTECTION } from '../api/types.js'
import { claimClass, claimHasClass, claimRequest, defaultClass } from '../api/storage.js'

export interface StorageLookups {
  listClasses(): Promise<StorageClass[]>
  getClass(name: string): Promise<StorageClass | undefined>
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const kindOf = (r: ResourceInfo): string => `${r.group}/${r.kind}`

function addFinalizer(obj: KubeObject, f: string): void {
  if (!isObj(obj.metadata)) return
  const fs = obj.metadata.finalizers
  if (fs !== undefined && !Array.isArray(fs)) return // malformed: validation reports it
  if (!(fs ?? []).includes(f)) obj.metadata.finalizers = [...(fs ?? []), f]
}

export async function admitStorageCreate(r: ResourceInfo, obj: KubeObject, look: StorageLookups): Promise<void> {
  switch (kindOf(r)) {
    case '/PersistentVolume':
      addFinalizer(obj, FINALIZER_PV_PROTECTION)
      return
    case '/PersistentVolumeClaim': {
      addFinalizer(obj, FINALIZER_PVC_PROTECTION)
      const pvc = obj as PersistentVolumeClaim
      if (!isObj(pvc.spec) || !isObj(pvc.metadata) || claimHasClass(pvc)) return
      const def = defaultClass(await look.listClasses())
      if (def?.metadata.name) pvc.spec.storageClassName = def.metadata.name
      return
    }
    default:
      return
  }
}

/** The resize plugin's refusal, or undefined when the update may go on. */
export async function admitStorageUpdate(r: ResourceInfo, next: KubeObject, old: KubeObject, look: StorageLookups): Promise<string | undefined> {
  if (kindOf(r) !== '/PersistentVolumeClaim') return undefined
  const n = next as PersistentVolumeClaim
  const o = old as PersistentVolumeClaim
  if (o.status?.phase !== 'Bound') return undefined
  const newSize = claimRequest(n)
  const oldSize = claimRequest(o)
  if (newSize === undefined || oldSize === undefined || newSize <= oldSize) return undefined
  const name = claimClass(n)
  const sc = name ? await look.getClass(name) : undefined
  if (sc?.allowVolumeExpansion === true) return undefined
  return 'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize'
}
