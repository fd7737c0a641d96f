// The local-path provisioner shell, run by every node agent: informers on claims, volumes and
// classes; each change (and every 10 s) runs decide() and carries its actions out on this
// node's disk and through the API. See core.ts for the handshake with the PV controller and
// the scheduler. Events as external-provisioner writes them (`Provisioning`,
// `ProvisioningSucceeded`, `ProvisioningFailed`, `VolumeFailedDelete`), from
// `<provisioner>_<node>`.
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { createInformer } from '../client/informer.js'
import { createEventRecorder } from '../events/recorder.js'
import { logger } from '../util/log.js'
import { runEvery } from '../util/periodic.js'
import { decide, LOCAL_PATH_PROVISIONER, type ProvisionerAction } from './core.js'

const log = logger('local-path')

export interface LocalPathOptions {
  client: Client
  nodeName: string
  /** Where this node keeps volume directories (`<agent state>/volumes`). */
  volumesDir: string
  provisioner?: string
  /** Full pass period besides the informer events (default 10 s). */
  resyncMs?: number
}

export interface LocalPathProvisioner {
  stop(): Promise<void>
}

export async function startLocalPathProvisioner(o: LocalPathOptions): Promise<LocalPathProvisioner> {
  const provisioner = o.provisioner ?? LOCAL_PATH_PROVISIONER
  mkdirSync(o.volumesDir, { recursive: true })
  const claims = createInformer(o.client.resource<PersistentVolumeClaim>(resourceFor('persistentvolumeclaims')), { name: 'local-path-pvcs' })
  const volumes = createInformer(o.client.resource<PersistentVolume>(resourceFor('persistentvolumes')), { name: 'local-path-pvs' })
  const classes = createInformer(o.client.resource<StorageClass>(resourceFor('storageclasses')), { name: 'local-path-classes' })
  const recorder = createEventRecorder({ client: o.client, component: `${provisioner}_${o.nodeName}` })
  const pvApi = o.client.resource<PersistentVolume>(resourceFor('persistentvolumes'))

  const act = async (a: ProvisionerAction): Promise<void> => {
    if (a.kind === 'refuse') {
      recorder.event(a.claim, 'Warning', 'ProvisioningFailed', a.message)
      return
    }
    if (a.kind === 'provision') {
      const key = `${a.claim.metadata.namespace}/${a.claim.metadata.name}`
      recorder.event(a.claim, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${key}"`)
      // World-writable, as rancher's helper makes it: the pod's user is not known here.
      mkdirSync(a.path, { recursive: true, mode: 0o777 })
      chmodSync(a.path, 0o777)
      try {
        await pvApi.create(a.volume)
      } catch (err) {
        if (isAlreadyExists(err)) return
        recorder.event(a.claim, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${a.volume.spec.storageClassName}": ${(err as Error).message}`)
        throw err
      }
      recorder.event(a.claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${a.volume.metadata.name}`)
      log.info({ claim: key, volume: a.volume.metadata.name, path: a.path }, 'volume provisioned')
      return
    }
    try {
      rmSync(a.path, { recursive: true, force: true })
    } catch (err) {
      recorder.event(a.volume, 'Warning', 'VolumeFailedDelete', `failed to delete volume ${a.volume.metadata.name}: ${(err as Error).message}`)
      throw err
    }
    if (!a.volume.metadata.deletionTimestamp) {
      try {
        await pvApi.delete(a.volume.metadata.name!, { preconditions: { uid: a.volume.metadata.uid! } })
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err
      }
    }
    log.info({ volume: a.volume.metadata.name, path: a.path }, 'volume reclaimed')
  }

  let dirty = true
  const pass = async (): Promise<void> => {
    while (dirty) {
      dirty = false
      const actions = decide({ provisioner, nodeName: o.nodeName, volumesDir: o.volumesDir, claims: claims.store.list(), volumes: volumes.store.list(), classes: classes.store.list() })
      for (const a of actions) await act(a)
    }
  }
  const loop = runEvery('local-path pass', o.resyncMs ?? 10_000, async () => {
    dirty = true
    await pass()
  }, log)
  const kick = (): void => {
    dirty = true
    void loop.kick()
  }
  for (const inf of [claims, volumes, classes] as { addEventHandler(h: { onAdd?: () => void; onUpdate?: () => void }): void }[]) inf.addEventHandler({ onAdd: kick, onUpdate: kick })
  await Promise.all([claims.start(), volumes.start(), classes.start()])
  kick()
  log.info({ node: o.nodeName, dir: o.volumesDir, provisioner }, 'local-path provisioner started')
  return {
    async stop() {
      await loop.stop()
      await recorder.stop()
      for (const i of [claims, volumes, classes]) i.stop()
      await Promise.all([claims, volumes, classes].map((i) => i.waitStopped()))
    },
  }
}
