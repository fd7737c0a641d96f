// ReplicaSet controller shell: informer events → queue → reconcileReplicaSet → API calls.
import type { Pod, ReplicaSet } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isNotFound } from '../client/errors.js'
import { controllerRef, labelSelectorMatches, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import { Expectations } from './expectations.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { handleOwnedPods } from './owned-pods.js'
import { PodControl } from './pod-control.js'
import { reconcileReplicaSet } from './replicaset-core.js'
import { createEventRecorder } from '../events/recorder.js'

export class ReplicaSetController extends QueueController {
  private readonly exp = new Expectations()
  private readonly rss
  private readonly pods
  private readonly pc

  constructor(private readonly client: Client, f: InformerFactory, metrics: ControllerMetrics) {
    super('replicaset', metrics)
    this.recorder = createEventRecorder({ client, component: 'replicaset-controller' })
    this.pc = new PodControl(client, this.exp, () => this.recorder, { apiVersion: 'apps/v1', kind: 'ReplicaSet' })
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
    const byName = new Map(pods.map((p) => [p.metadata.name!, p]))
    for (const a of res.actions) {
      switch (a.kind) {
        case 'adopt':
        case 'release':
          await this.pc.claim(rs, byName.get(a.pod)!, a.kind)
          break
        case 'create':
          await this.createPods(key, rs, a.count)
          break
        case 'delete':
          await this.pc.deletePods(key, rs, a.pods.map((n) => byName.get(n)!))
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

  private async createPods(key: string, rs: ReplicaSet, count: number): Promise<void> {
    const t = rs.spec.template!
    await this.pc.createPods(key, rs, count, () => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: { ...(t.metadata?.labels ?? {}) },
        ...(t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {}),
      },
      spec: structuredClone(t.spec),
    }))
  }
}
