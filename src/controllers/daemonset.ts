// DaemonSet controller shell: DaemonSet, Pod, Node and ControllerRevision informers → queue of
// DaemonSet keys → reconcileDaemonSet (daemonset-core.ts) → API calls. Any node change that can
// alter where daemon pods belong (added, removed, labels, taints, readiness) queues every
// DaemonSet, as upstream's node handlers do.
import type { ControllerRevision, DaemonSet, Node, Pod } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { PodControl } from './pod-control.js'
import { controllerRef, getCondition, labelSelectorMatches, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import { Expectations } from './expectations.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { handleOwnedPods } from './owned-pods.js'
import { DS_KIND, newDaemonPod, reconcileDaemonSet } from './daemonset-core.js'
import { canonicalJSON } from './util.js'
import type { EventRecorder } from '../events/recorder.js'

export class DaemonSetController extends QueueController {
  private readonly exp = new Expectations()
  private readonly dss
  private readonly pods
  private readonly nodes
  private readonly revs
  private readonly pc

  constructor(
    private readonly client: Client,
    f: InformerFactory,
    metrics: ControllerMetrics,
    private readonly events: EventRecorder,
  ) {
    super('daemonset', metrics)
    this.pc = new PodControl(client, this.exp, () => this.events, DS_KIND)
    this.dss = f.get<DaemonSet>(R.daemonsets)
    this.pods = f.get<Pod>(R.pods)
    this.nodes = f.get<Node>(R.nodes)
    this.revs = f.get<ControllerRevision>(R.controllerrevisions)
    this.dss.addEventHandler({
      onAdd: (ds) => this.enqueue(objectKey(ds)),
      onUpdate: (_o, ds) => this.enqueue(objectKey(ds)),
      onDelete: (ds) => {
        this.exp.forget(objectKey(ds))
        this.enqueue(objectKey(ds))
      },
    })
    handleOwnedPods(this.pods, {
      ownerKey: (p) => this.ownerKey(p),
      enqueue: (k) => this.enqueue(k),
      enqueueMatching: (p) => this.enqueueMatching(p),
      exp: this.exp,
    })
    const all = () => {
      for (const ds of this.dss.store.list()) this.enqueue(objectKey(ds))
    }
    const placement = (n: Node) => canonicalJSON([n.metadata.labels, n.spec?.taints, n.spec?.unschedulable, getCondition(n.status?.conditions, 'Ready')?.status])
    this.nodes.addEventHandler({ onAdd: all, onDelete: all, onUpdate: (o, n) => placement(o) !== placement(n) && all() })
    const revOwner = (r: ControllerRevision) => {
      const ref = controllerRef(r)
      if (ref?.kind === 'DaemonSet') this.enqueue(`${r.metadata.namespace}/${ref.name}`)
    }
    this.revs.addEventHandler({ onAdd: revOwner, onUpdate: (_o, r) => revOwner(r), onDelete: revOwner })
  }

  private ownerKey(p: Pod): string | undefined {
    const r = controllerRef(p)
    return r && r.kind === 'DaemonSet' ? `${p.metadata.namespace}/${r.name}` : undefined
  }

  private enqueueMatching(p: Pod): void {
    for (const ds of this.dss.store.byIndex(BY_NAMESPACE, p.metadata.namespace ?? '')) {
      if (labelSelectorMatches(ds.spec.selector, p.metadata.labels)) this.enqueue(objectKey(ds))
    }
  }

  protected async sync(key: string): Promise<void> {
    const ds = this.dss.store.get(key)
    if (!ds) {
      this.exp.forget(key)
      return
    }
    const { namespace, name } = splitKey(key)
    const pods = this.pods.store.byIndex(BY_NAMESPACE, namespace)
    const res = reconcileDaemonSet({
      ds,
      nodes: this.nodes.store.list(),
      pods,
      revisions: this.revs.store.byIndex(BY_NAMESPACE, namespace),
      now: Date.now(),
      expectationsSatisfied: this.exp.satisfied(key),
    })
    const revClient = this.client.resource<ControllerRevision>(R.controllerrevisions, namespace)
    const byName = new Map(pods.map((p) => [p.metadata.name!, p]))
    const ignoreGone = (err: unknown) => {
      if (!isNotFound(err) && !isConflict(err)) throw err
    }
    for (const a of res.actions) {
      switch (a.kind) {
        case 'adopt':
        case 'release':
          await this.pc.claim(ds, byName.get(a.pod)!, a.kind)
          break
        case 'createRevision':
          await this.createRevision(ds, a.revision)
          break
        case 'renumberRevision':
          await revClient.patch(a.name, { revision: a.revision }, 'merge').catch(ignoreGone)
          break
        case 'deleteRevisions':
          for (const n of a.names) await revClient.delete(n).catch(ignoreGone)
          break
        case 'failedPod':
          this.events.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${namespace}/${a.pod} on node ${a.node}, will try to kill it`)
          break
        case 'create':
          await this.pc.createPods(key, ds, a.nodes.length, (i) => newDaemonPod(ds, a.nodes[i]!, res.hash))
          break
        case 'delete':
          await this.pc.deletePods(key, ds, a.pods.map((n) => byName.get(n)!))
          break
        case 'status':
          await this.client.resource<DaemonSet>(R.daemonsets, namespace).patchStatus(name, { status: a.status }, 'merge').catch((err) => {
            if (!isNotFound(err)) throw err
          })
          break
      }
    }
    if (res.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs)
  }

  /** snapshot(): a name taken by different data is a hash collision → bump collisionCount and retry. */
  private async createRevision(ds: DaemonSet, rev: ControllerRevision): Promise<void> {
    const ns = ds.metadata.namespace!
    const revClient = this.client.resource<ControllerRevision>(R.controllerrevisions, ns)
    try {
      await revClient.create(rev)
      return
    } catch (err) {
      if (!isAlreadyExists(err)) throw err
    }
    const existing = await revClient.get(rev.metadata.name!)
    if (canonicalJSON(existing.data) === canonicalJSON(rev.data)) return
    const collisionCount = (ds.status?.collisionCount ?? 0) + 1
    await this.client.resource<DaemonSet>(R.daemonsets, ns).patchStatus(ds.metadata.name!, { status: { collisionCount } }, 'merge')
    throw new Error(`found a hash collision for DaemonSet "${ds.metadata.name}" - bumping collisionCount to ${collisionCount} to resolve it`)
  }
}
