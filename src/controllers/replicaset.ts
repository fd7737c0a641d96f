// ReplicaSet controller shell: informer events → queue → reconcileReplicaSet → API calls.
import type { Pod, ReplicaSet } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { newControllerRef } from '../api/meta.js'
import { controllerRef, labelSelectorMatches, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import { Expectations } from './expectations.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { handleOwnedPods } from './owned-pods.js'
import { reconcileReplicaSet } from './replicaset-core.js'
import { createEventRecorder } from '../events/recorder.js'

export class ReplicaSetController extends QueueController {
  private readonly exp = new Expectations()
  private readonly rss
  private readonly pods

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics) {
    super('replicaset', metrics)
    this.recorder = createEventRecorder({ client, component: 'replicaset-controller' })
    this.rss = f.get<ReplicaSet>(R.replicasets)
    this.pods = f.get<Pod>(R.pods)
    this.rss.addEventHandler({
      onAdd: (rs) => this.enqueue(objectKey(rs)),
      onUpdate: (_o, rs) => this.enqueue(objectKey(rs)),
      onDelete: (rs) => {
        this.exp.forget(objectKey(rs))
        this.enqueue(objectKey(rs))
      },
    })
    handleOwnedPods(this.pods, {
      ownerKey: (p) => this.ownerKey(p),
      enqueue: (k) => this.enqueue(k),
      enqueueMatching: (p) => this.enqueueMatching(p),
      exp: this.exp,
    })
  }

  private ownerKey(p: Pod): string | undefined {
    const r = controllerRef(p)
    return r && r.kind === 'ReplicaSet' ? `${p.metadata.namespace}/${r.name}` : undefined
  }

  private enqueueMatching(p: Pod): void {
    for (const rs of this.rss.store.byIndex(BY_NAMESPACE, p.metadata.namespace ?? '')) {
      if (labelSelectorMatches(rs.spec.selector, p.metadata.labels)) this.enqueue(objectKey(rs))
    }
  }

  protected async sync(key: string): Promise<void> {
    const rs = this.rss.store.get(key)
    if (!rs) {
      this.exp.forget(key)
      return
    }
    const { namespace, name } = splitKey(key)
    const pods = this.pods.store.byIndex(BY_NAMESPACE, namespace)
    const res = reconcileReplicaSet({ rs, pods, now: Date.now(), expectationsSatisfied: this.exp.satisfied(key) })
    const podClient = this.client.resource<Pod>(R.pods, namespace)
    const ref = newControllerRef(rs, 'apps/v1', 'ReplicaSet')
    const byName = new Map(pods.map((p) => [p.metadata.name!, p]))
    for (const a of res.actions) {
      switch (a.kind) {
        case 'adopt':
        case 'release': {
          const p = byName.get(a.pod)!
          const others = (p.metadata.ownerReferences ?? []).filter((r) => r.uid !== rs.metadata.uid)
          const refs = a.kind === 'adopt' ? [...others, ref] : others
          try {
            // The uid pins the patch to the pod we looked at (a recreated namesake is not touched).
            await podClient.patch(a.pod, { metadata: { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion, ownerReferences: refs } }, 'merge')
          } catch (err) {
            if (!isNotFound(err) && !isConflict(err)) throw err
          }
          break
        }
        case 'create':
          await this.createPods(key, rs, a.count)
          break
        case 'delete':
          this.exp.expectDeletions(key, a.pods)
          await Promise.all(
            a.pods.map(async (n) => {
              try {
                await podClient.delete(n, { preconditions: { uid: byName.get(n)!.metadata.uid! } })
                this.recorder?.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${n}`)
              } catch (err) {
                this.exp.deletionObserved(key, n)
                if (!isNotFound(err) && !isConflict(err)) {
                  this.recorder?.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`)
                  throw err
                }
              }
            }),
          )
          break
        case 'status':
          try {
            await this.client.resource<ReplicaSet>(R.replicasets, namespace).patchStatus(name, { status: a.status }, 'merge')
          } catch (err) {
            if (!isNotFound(err)) throw err
          }
          break
      }
    }
    if (res.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs)
  }

  /** Slow start (1, 2, 4, …) as upstream: a failing create stops the burst early. */
  private async createPods(key: string, rs: ReplicaSet, count: number): Promise<void> {
    const { namespace } = splitKey(key)
    const podClient = this.client.resource<Pod>(R.pods, namespace)
    const t = rs.spec.template!
    const body = (): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${rs.metadata.name}-`,
        namespace,
        labels: { ...(t.metadata?.labels ?? {}) },
        ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
        ownerReferences: [newControllerRef(rs, 'apps/v1', 'ReplicaSet')],
      },
      spec: structuredClone(t.spec),
    })
    this.exp.expectCreations(key, count)
    let left = count
    for (let batch = 1; left > 0; batch *= 2) {
      const n = Math.min(batch, left)
      const results = await Promise.allSettled(Array.from({ length: n }, () => podClient.create(body())))
      left -= n
      for (const r of results) if (r.status === 'fulfilled') this.recorder?.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`)
      const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
      if (failed.length) {
        for (let i = 0; i < failed.length + left; i++) this.exp.creationObserved(key)
        const err = failed[0]!.reason
        if (isAlreadyExists(err)) return
        this.recorder?.event(rs, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`)
        throw err
      }
    }
  }
}
