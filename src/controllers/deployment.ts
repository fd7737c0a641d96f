// Deployment controller shell: informer events → queue → reconcileDeployment → API calls.
import type { Deployment, Pod, ReplicaSet } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { newControllerRef } from '../api/meta.js'
import { controllerRef, labelSelectorMatches, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import { reconcileDeployment, templatesEqualIgnoringHash } from './deployment-core.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { createEventRecorder } from '../events/recorder.js'

export class DeploymentController extends QueueController {
  private readonly deps
  private readonly rss
  private readonly pods

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics) {
    super('deployment', metrics)
    this.recorder = createEventRecorder({ client, component: 'deployment-controller' })
    this.deps = f.get<Deployment>(R.deployments)
    this.rss = f.get<ReplicaSet>(R.replicasets)
    this.pods = f.get<Pod>(R.pods)
    this.deps.addEventHandler({
      onAdd: (d) => this.enqueue(objectKey(d)),
      onUpdate: (_o, d) => this.enqueue(objectKey(d)),
      onDelete: (d) => this.enqueue(objectKey(d)),
    })
    const onRS = (rs: ReplicaSet) => {
      const r = controllerRef(rs)
      if (r) {
        if (r.kind === 'Deployment') this.enqueue(`${rs.metadata.namespace}/${r.name}`)
        return
      }
      for (const d of this.deps.store.byIndex(BY_NAMESPACE, rs.metadata.namespace ?? '')) {
        if (labelSelectorMatches(d.spec.selector, rs.metadata.labels)) this.enqueue(objectKey(d))
      }
    }
    this.rss.addEventHandler({ onAdd: onRS, onUpdate: (o, n) => (onRS(o), onRS(n)), onDelete: onRS })
    // Recreate waits for old pods to be gone: their deletion moves it on.
    this.pods.addEventHandler({
      onDelete: (p) => {
        const r = controllerRef(p)
        if (!r || r.kind !== 'ReplicaSet') return
        const rs = this.rss.store.get(`${p.metadata.namespace}/${r.name}`)
        const dr = rs && controllerRef(rs)
        if (dr?.kind === 'Deployment') {
          const d = this.deps.store.get(`${p.metadata.namespace}/${dr.name}`)
          if (d?.spec.strategy?.type === 'Recreate') this.enqueue(objectKey(d))
        }
      },
    })
  }

  protected async sync(key: string): Promise<void> {
    const d = this.deps.store.get(key)
    if (!d) return
    const { namespace, name } = splitKey(key)
    const rsList = this.rss.store.byIndex(BY_NAMESPACE, namespace)
    const pods = d.spec.strategy?.type === 'Recreate' ? this.pods.store.byIndex(BY_NAMESPACE, namespace) : []
    const res = reconcileDeployment({ d, rsList, pods, now: Date.now() })
    const rsClient = this.client.resource<ReplicaSet>(R.replicasets, namespace)
    const dClient = this.client.resource<Deployment>(R.deployments, namespace)
    const byName = new Map(rsList.map((rs) => [rs.metadata.name!, rs]))
    for (const a of res.actions) {
      switch (a.kind) {
        case 'adoptRS':
        case 'releaseRS': {
          const rs = byName.get(a.name)!
          const others = (rs.metadata.ownerReferences ?? []).filter((r) => r.uid !== d.metadata.uid)
          const refs = a.kind === 'adoptRS' ? [...others, newControllerRef(d, 'apps/v1', 'Deployment')] : others
          await ignore(rsClient.patch(a.name, { metadata: { uid: rs.metadata.uid, resourceVersion: rs.metadata.resourceVersion, ownerReferences: refs } }, 'merge'), isNotFound, isConflict)
          if (a.kind === 'adoptRS') this.queue.addAfter(key, 100)
          break
        }
        case 'createRS':
          try {
            await rsClient.create(a.rs)
            const n = a.rs.spec.replicas ?? 0
            if (n > 0) this.recorder?.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${a.rs.metadata.name} to ${n}`)
          } catch (err) {
            if (!isAlreadyExists(err)) throw err
            // Same name: ours (a stale cache) is fine; someone else's with another template is
            // a hash collision: bump collisionCount so the next hash differs.
            const cur = await rsClient.get(a.rs.metadata.name!)
            const ours = controllerRef(cur)?.uid === d.metadata.uid && templatesEqualIgnoringHash(cur.spec.template, d.spec.template)
            if (!ours) {
              await dClient.patchStatus(name, { status: { collisionCount: (d.status?.collisionCount ?? 0) + 1 } }, 'merge')
              this.queue.addAfter(key, 100)
              return
            }
          }
          break
        case 'updateRS': {
          const done = await ignore(
            rsClient.patch(a.name, { metadata: { annotations: a.annotations }, spec: { replicas: a.replicas, minReadySeconds: a.minReadySeconds } }, 'merge'),
            isNotFound,
          )
          const was = byName.get(a.name)?.spec.replicas ?? 0
          if (done && a.replicas !== undefined && a.replicas !== was)
            this.recorder?.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${a.replicas > was ? 'up' : 'down'} replica set ${a.name} from ${was} to ${a.replicas}`)
          break
        }
        case 'deleteRS':
          await ignore(rsClient.delete(a.name, { propagationPolicy: 'Background', preconditions: { uid: byName.get(a.name)?.metadata.uid ?? '' } }), isNotFound, isConflict)
          break
        case 'annotateDeployment':
          // Through /status, as upstream's controller does: a main-resource annotation change
          // bumps a Deployment's generation, a status write never does.
          await ignore(dClient.patchStatus(name, { metadata: { annotations: a.annotations } }, 'merge'), isNotFound)
          break
        case 'status':
          await ignore(dClient.patchStatus(name, { status: a.status }, 'merge'), isNotFound)
          break
      }
    }
    if (res.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs)
  }
}

async function ignore<T>(p: Promise<T>, ...preds: ((e: unknown) => boolean)[]): Promise<T | undefined> {
  try {
    return await p
  } catch (err) {
    if (preds.some((f) => f(err))) return undefined
    throw err
  }
}
