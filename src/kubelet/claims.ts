// persistentVolumeClaim volumes: the claim's bound PersistentVolume names a directory on this
// node (hostPath or local), which the runtime bind-mounts at the mountPath like any other
// volume. A claim that is missing, unbound, or bound to a volume not on this node is a
// VolumeError: the pod waits in ContainerCreating with a FailedMount event, as the kubelet's
// volume manager makes it wait.
import { existsSync, mkdirSync } from 'node:fs'
import type { Node, PersistentVolume, PersistentVolumeClaim } from '../api/types.js'
import { volumeFitsNode, volumePath } from '../api/storage.js'
import { VolumeError } from './volumes.js'

export interface ClaimLookup {
  claim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined>
  volume(name: string): Promise<PersistentVolume | undefined>
}

function unmounted(volume: string, why: string): VolumeError {
  return new VolumeError(`Unable to attach or mount volumes: unmounted volumes=[${volume}], failed to process volumes=[${volume}]: ${why}`)
}

/** Pure: the directory behind a claim, or why there is none yet. */
export function claimDirectory(volume: string, namespace: string, claimName: string, claim: PersistentVolumeClaim | undefined, pv: PersistentVolume | undefined, node: Node): { path: string; type?: string } {
  const key = `${namespace}/${claimName}`
  if (!claim) throw unmounted(volume, `error processing PVC ${key}: PVC ${key} not found`)
  if (claim.metadata.deletionTimestamp) throw unmounted(volume, `error processing PVC ${key}: can't start pod because PVC ${key} is being deleted`)
  if (!claim.spec?.volumeName || claim.status?.phase !== 'Bound') throw unmounted(volume, `error processing PVC ${key}: PVC is not bound`)
  if (!pv) throw unmounted(volume, `error processing PVC ${key}: PersistentVolume "${claim.spec.volumeName}" not found`)
  if (pv.spec?.claimRef?.uid !== claim.metadata.uid) throw unmounted(volume, `error processing PVC ${key}: PersistentVolume "${pv.metadata.name}" is not bound to this claim`)
  if (!volumeFitsNode(pv, node)) throw unmounted(volume, `error processing PVC ${key}: PersistentVolume "${pv.metadata.name}" is not reachable from node "${node.metadata.name}"`)
  const path = volumePath(pv)
  if (!path) throw unmounted(volume, `error processing PVC ${key}: PersistentVolume "${pv.metadata.name}" has no hostPath or local source`)
  return { path, ...(pv.spec.hostPath?.type ? { type: pv.spec.hostPath.type } : {}) }
}

/** The directory to bind for a claim volume; DirectoryOrCreate is honoured, a missing plain directory is an error. */
export async function claimSource(look: ClaimLookup, volume: string, namespace: string, claimName: string, node: Node): Promise<string> {
  const claim = await look.claim(namespace, claimName)
  const pv = claim?.spec?.volumeName ? await look.volume(claim.spec.volumeName) : undefined
  const dir = claimDirectory(volume, namespace, claimName, claim, pv, node)
  if (!existsSync(dir.path)) {
    if (dir.type !== 'DirectoryOrCreate') throw new VolumeError(`MountVolume.SetUp failed for volume "${pv!.metadata.name}" : hostPath type check failed: ${dir.path} is not a directory`)
    mkdirSync(dir.path, { recursive: true, mode: 0o755 })
  }
  return dir.path
}
