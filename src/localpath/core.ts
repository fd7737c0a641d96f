// The node side of the local-path provisioner: which claims this node provisions and which of
// its volumes it reclaims. Pure: the caches and the node's name in, actions out.
//
// The handshake (external-provisioner's, with the node agent as the provisioner):
//   1. the PV controller marks an unbound claim of a class with a provisioner:
//      `volume.kubernetes.io/storage-provisioner: netkube.io/local-path`;
//   2. the scheduler, placing the claim's first pod, writes `volume.kubernetes.io/selected-node`;
//   3. the agent of THAT node (it owns the node's disk) makes `<state>/volumes/pvc-<claim uid>`
//      and creates the PersistentVolume: hostPath to the directory, node affinity to itself,
//      `pv.kubernetes.io/provisioned-by`, and a claimRef with the claim's uid (pre-bound), which
//      the PV controller then binds;
//   4. when the claim is gone the PV controller marks the volume Released; with
//      `reclaimPolicy: Delete` the same agent removes the directory, then the volume.
// The PV name is a function of the claim uid, so a pass repeated after a crash creates nothing
// twice (AlreadyExists), and a directory is only ever removed below the volumes directory.
import { join } from 'node:path'
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/types.js'
import { ANNOTATION_PROVISIONED_BY, ANNOTATION_SELECTED_NODE, ANNOTATION_STORAGE_PROVISIONER, LABEL_HOSTNAME } from '../api/types.js'
import { claimClass } from '../api/storage.js'

/**
 * netkube's own provisioner name, not `rancher.io/local-path`: the volumes are made by each
 * node's agent (no helper pod, no `local-path-config` ConfigMap, directories named after the PV
 * under the node's state directory), so tools that know rancher's provisioner would be misled.
 */
export const LOCAL_PATH_PROVISIONER = 'netkube.io/local-path'

export interface ProvisionerView {
  provisioner: string
  nodeName: string
  volumesDir: string
  claims: readonly PersistentVolumeClaim[]
  volumes: readonly PersistentVolume[]
  classes: readonly StorageClass[]
}

export type ProvisionerAction =
  | { kind: 'provision'; claim: PersistentVolumeClaim; volume: PersistentVolume; path: string }
  | { kind: 'refuse'; claim: PersistentVolumeClaim; message: string }
  | { kind: 'reclaim'; volume: PersistentVolume; path: string }

const SUPPORTED_MODES = ['ReadWriteOnce', 'ReadWriteOncePod']

export const volumeNameFor = (claim: PersistentVolumeClaim): string => `pvc-${claim.metadata.uid}`

/** The node a local volume lives on: its `kubernetes.io/hostname In [node]` affinity. */
export function volumeNode(pv: PersistentVolume): string | undefined {
  for (const term of pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [])
    for (const e of term.matchExpressions ?? []) if (e.key === LABEL_HOSTNAME && e.operator === 'In' && e.values?.length === 1) return e.values[0]
  return undefined
}

export function volumeFor(claim: PersistentVolumeClaim, sc: StorageClass, v: Pick<ProvisionerView, 'provisioner' | 'nodeName' | 'volumesDir'>): PersistentVolume {
  const name = volumeNameFor(claim)
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, annotations: { [ANNOTATION_PROVISIONED_BY]: v.provisioner } },
    spec: {
      capacity: { storage: claim.spec.resources?.requests?.storage ?? '0' },
      accessModes: claim.spec.accessModes ?? ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? 'Delete',
      storageClassName: sc.metadata.name!,
      volumeMode: 'Filesystem',
      claimRef: {
        kind: 'PersistentVolumeClaim',
        apiVersion: 'v1',
        namespace: claim.metadata.namespace!,
        name: claim.metadata.name!,
        uid: claim.metadata.uid!,
        resourceVersion: claim.metadata.resourceVersion!,
      },
      hostPath: { path: join(v.volumesDir, name), type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_HOSTNAME, operator: 'In', values: [v.nodeName] }] }] } },
    },
  }
}

export function decide(v: ProvisionerView): ProvisionerAction[] {
  const out: ProvisionerAction[] = []
  const byName = new Set(v.volumes.map((p) => p.metadata.name))
  const claimed = new Set(v.volumes.map((p) => p.spec?.claimRef?.uid).filter(Boolean))
  for (const c of v.claims) {
    const ann = c.metadata.annotations ?? {}
    if (c.metadata.deletionTimestamp || c.spec?.volumeName) continue
    if (ann[ANNOTATION_STORAGE_PROVISIONER] !== v.provisioner || ann[ANNOTATION_SELECTED_NODE] !== v.nodeName) continue
    const sc = v.classes.find((s) => s.metadata.name === claimClass(c))
    if (!sc || sc.provisioner !== v.provisioner) continue
    if (byName.has(volumeNameFor(c)) || claimed.has(c.metadata.uid)) continue
    const modes = c.spec.accessModes ?? []
    if (modes.some((m) => !SUPPORTED_MODES.includes(m))) {
      out.push({ kind: 'refuse', claim: c, message: `failed to provision volume with StorageClass "${sc.metadata.name}": only ReadWriteOnce and ReadWriteOncePod access modes are supported` })
      continue
    }
    if (c.spec.volumeMode === 'Block') {
      out.push({ kind: 'refuse', claim: c, message: `failed to provision volume with StorageClass "${sc.metadata.name}": volumeMode Block is not supported` })
      continue
    }
    const volume = volumeFor(c, sc, v)
    out.push({ kind: 'provision', claim: c, volume, path: volume.spec.hostPath!.path })
  }
  for (const pv of v.volumes) {
    if (pv.metadata.annotations?.[ANNOTATION_PROVISIONED_BY] !== v.provisioner || volumeNode(pv) !== v.nodeName) continue
    if (pv.status?.phase !== 'Released' || pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') continue
    // Only ever the directory this provisioner made for that volume.
    const path = join(v.volumesDir, pv.metadata.name!)
    if (pv.spec.hostPath?.path !== path) continue
    out.push({ kind: 'reclaim', volume: pv, path })
  }
  return out
}
