// PersistentVolume controller shell: claims and volumes share one queue (`claim:<ns>/<name>`,
// `volume:<name>`) with ONE worker, as upstream's binder runs one claim worker: two claims must
// not pick the same volume from the same cache (the volume's resourceVersion in the claimRef
// patch is the second line of defence). Also pvc-protection (pods using a claim) and
// pv-protection. Events as `persistentvolume-controller`.
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isConflict, isNotFound } from '../client/errors.js'
import type { EventRecorder } from '../events/recorder.js'
import { objectKey } from './apiutil.js'
import { QueueController } from './base.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { syncClaim, syncVolume, type BinderView, type SyncResult } from './persistentvolume-core.js'

/** Claims are looked at again this often (upstream's binder resyncs every 15 s). */
const RESYNC_MS = 15_000

export class PersistentVolumeController extends QueueController {
  private readonly claimsInf
  private readonly volumesInf
  private readonly classesInf
  private readonly podsInf
  private readonly nodesInf
  private resync: NodeJS.Timeout | undefined

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics, recorder: EventRecorder) {
    super('persistentvolume-binder', metrics)
    this.recorder = recorder
    this.claimsInf = f.get<PersistentVolumeClaim>(R.persistentvolumeclaims)
    this.volumesInf = f.get<PersistentVolume>(R.persistentvolumes)
    this.classesInf = f.get<StorageClass>(R.storageclasses)
    this.podsInf = f.get<Pod>(R.pods)
    this.nodesInf = f.get<Node>(R.nodes)
    const claim = (c: PersistentVolumeClaim): void => this.enqueue(`claim:${objectKey(c)}`)
    const volume = (v: PersistentVolume): void => {
      this.enqueue(`volume:${v.metadata.name}`)
      const ref = v.spec?.claimRef
      if (ref?.namespace && ref.name) this.enqueue(`claim:${ref.namespace}/${ref.name}`)
    }
    this.claimsInf.addEventHandler({
      onAdd: claim,
      onUpdate: (_o, c) => claim(c),
      // The volume bound to a deleted claim is released.
      onDelete: (c) => {
        if (c.spec?.volumeName) this.enqueue(`volume:${c.spec.volumeName}`)
        for (const v of this.volumesInf.store.list()) if (v.spec?.claimRef?.uid === c.metadata.uid) this.enqueue(`volume:${v.metadata.name}`)
      },
    })
    this.volumesInf.addEventHandler({ onAdd: volume, onUpdate: (_o, v) => volume(v), onDelete: volume })
    // A new (default) class may unblock claims that wait for one.
    this.classesInf.addEventHandler({ onAdd: () => this.pendingClaims(), onUpdate: () => this.pendingClaims() })
    // pvc-protection: a pod that stops or goes may free a deleted claim.
    const podClaims = (p: Pod): void => {
      for (const v of p.spec?.volumes ?? []) if (v.persistentVolumeClaim?.claimName) this.enqueue(`claim:${p.metadata.namespace}/${v.persistentVolumeClaim.claimName}`)
    }
    this.podsInf.addEventHandler({ onUpdate: (_o, p) => podClaims(p), onDelete: podClaims })
  }

  private pendingClaims(): void {
    for (const c of this.claimsInf.store.list()) if (!c.spec?.volumeName) this.enqueue(`claim:${objectKey(c)}`)
  }

  override run(workers: number): void {
    void workers // one worker, always (see the note at the top)
    super.run(1)
    this.resync = setInterval(() => {
      for (const c of this.claimsInf.store.list()) if (c.status?.phase !== 'Bound' || c.metadata.deletionTimestamp) this.enqueue(`claim:${objectKey(c)}`)
      for (const v of this.volumesInf.store.list()) if (v.status?.phase !== 'Bound') this.enqueue(`volume:${v.metadata.name}`)
    }, RESYNC_MS)
    this.resync.unref()
  }

  override async stop(): Promise<void> {
    if (this.resync) clearInterval(this.resync)
    await super.stop()
  }

  private view(extra: Map<string, PersistentVolumeClaim | undefined> = new Map()): BinderView {
    return {
      claims: (ns, name) => (extra.has(`${ns}/${name}`) ? extra.get(`${ns}/${name}`) : this.claimsInf.store.get(`${ns}/${name}`)),
      volumes: this.volumesInf.store.list(),
      volume: (name) => this.volumesInf.store.get(name),
      classes: this.classesInf.store.list(),
      node: (name) => this.nodesInf.store.get(name),
      pods: (ns) => this.podsInf.store.byIndex(BY_NAMESPACE, ns),
    }
  }

  protected async sync(key: string): Promise<void> {
    const i = key.indexOf(':')
    const kind = key.slice(0, i)
    const rest = key.slice(i + 1)
    let result: SyncResult
    if (kind === 'claim') {
      const claim = this.claimsInf.store.get(rest)
      if (!claim) return
      result = syncClaim(claim, this.view())
    } else {
      const pv = this.volumesInf.store.get(rest)
      if (!pv) return
      // Informers of different resources lag each other: a claim missing from the cache is
      // read from the API before its volume is released (upstream does the same).
      const extra = new Map<string, PersistentVolumeClaim | undefined>()
      const ref = pv.spec?.claimRef
      if (ref?.uid && ref.namespace && ref.name && this.claimsInf.store.get(`${ref.namespace}/${ref.name}`)?.metadata.uid !== ref.uid) {
        try {
          extra.set(`${ref.namespace}/${ref.name}`, await this.client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims, ref.namespace).get(ref.name))
        } catch (err) {
          if (!isNotFound(err)) throw err
          extra.set(`${ref.namespace}/${ref.name}`, undefined)
        }
      }
      result = syncVolume(pv, this.view(extra))
    }
    for (const e of result.events) this.recorder?.event(e.obj, e.type, e.reason, e.message)
    for (const w of result.writes) {
      try {
        if (w.target === 'claim') {
          const api = this.client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims, w.namespace)
          if (w.status) await api.patchStatus(w.name, w.patch, 'merge')
          else await api.patch(w.name, w.patch, 'merge')
        } else {
          const api = this.client.resource<PersistentVolume>(R.persistentvolumes)
          if (w.status) await api.patchStatus(w.name, w.patch, 'merge')
          else await api.patch(w.name, w.patch, 'merge')
        }
      } catch (err) {
        // Someone wrote first (a stale cache) or the object went: start again from the caches.
        if (isConflict(err)) {
          this.queue.addRateLimited(key)
          return
        }
        if (isNotFound(err)) return
        throw err
      }
    }
    if (result.writes.length > 0) this.log.debug({ key, writes: result.writes.length }, 'synced')
  }
}
