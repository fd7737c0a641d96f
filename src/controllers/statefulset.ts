// StatefulSet controller shell: informer events → queue → reconcileStatefulSet → API calls, in the
// core's order. A failed call ends the pass (the error requeues the key with back-off); names are
// deterministic, so a create the cache has not shown yet just answers AlreadyExists.
import type { ControllerRevision, PersistentVolumeClaim, Pod, StatefulSet } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { newControllerRef } from '../api/meta.js'
import type { EventRecorder } from '../events/recorder.js'
import { controllerRef, labelSelectorMatches, objectKey } from './apiutil.js'
import { QueueController, splitKey } from './base.js'
import { Expectations } from './expectations.js'
import { BY_NAMESPACE, R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { handleOwnedPods } from './owned-pods.js'
import { reconcileStatefulSet, STS_KIND, type StsAction } from './statefulset-core.js'

export class StatefulSetController extends QueueController {
  // Only used to route pod events (the core needs no expectations: pod names are unique).
  private readonly exp = new Expectations()
  private readonly sets
  private readonly pods
  private readonly claims
  private readonly revisions

  constructor(
    private readonly client: Client,
    f: InformerFactory,
    metrics: ControllerMetrics,
    private readonly events: EventRecorder,
  ) {
    super('statefulset', metrics)
    this.sets = f.get<StatefulSet>(R.statefulsets)
    this.pods = f.get<Pod>(R.pods)
    this.claims = f.get<PersistentVolumeClaim>(R.persistentvolumeclaims)
    this.revisions = f.get<ControllerRevision>(R.controllerrevisions)
    this.sets.addEventHandler({
      onAdd: (s) => this.enqueue(objectKey(s)),
      onUpdate: (_o, s) => this.enqueue(objectKey(s)),
      onDelete: (s) => this.enqueue(objectKey(s)),
    })
    handleOwnedPods(this.pods, {
      ownerKey: (p) => this.ownerKey(p),
      enqueue: (k) => this.enqueue(k),
      enqueueMatching: (p) => this.enqueueMatching(p),
      exp: this.exp,
    })
    const byOwner = (r: ControllerRevision): void => {
      const k = this.ownerKey(r)
      if (k) this.enqueue(k)
    }
    this.revisions.addEventHandler({ onAdd: byOwner, onUpdate: (_o, r) => byOwner(r), onDelete: byOwner })
    // Claims carry the set's matchLabels: a claim that changes or goes wakes the sets it matches.
    this.claims.addEventHandler({
      onAdd: (c) => this.enqueueMatching(c),
      onUpdate: (_o, c) => this.enqueueMatching(c),
      onDelete: (c) => this.enqueueMatching(c),
    })
  }

  private ownerKey(o: Pod | ControllerRevision): string | undefined {
    const r = controllerRef(o)
    return r && r.kind === 'StatefulSet' ? `${o.metadata.namespace}/${r.name}` : undefined
  }

  private enqueueMatching(o: Pod | PersistentVolumeClaim): void {
    for (const s of this.sets.store.byIndex(BY_NAMESPACE, o.metadata.namespace ?? ''))
      if (labelSelectorMatches(s.spec.selector, o.metadata.labels)) this.enqueue(objectKey(s))
  }

  protected async sync(key: string): Promise<void> {
    const set = this.sets.store.get(key)
    if (!set) return
    const { namespace } = splitKey(key)
    const pods = this.pods.store.byIndex(BY_NAMESPACE, namespace)
    const res = reconcileStatefulSet({
      set,
      pods,
      claims: this.claims.store.byIndex(BY_NAMESPACE, namespace),
      revisions: this.revisions.store.byIndex(BY_NAMESPACE, namespace),
      now: Date.now(),
    })
    const byName = new Map(pods.map((p) => [p.metadata.name!, p]))
    for (const a of res.actions) await this.apply(set, namespace, a, byName)
    if (res.requeueAfterMs !== undefined) this.queue.addAfter(key, res.requeueAfterMs)
  }

  private async apply(set: StatefulSet, namespace: string, a: StsAction, byName: Map<string, Pod>): Promise<void> {
    const setName = set.metadata.name!
    const pods = this.client.resource<Pod>(R.pods, namespace)
    const ignore = (err: unknown, ...ok: ((e: unknown) => boolean)[]): void => {
      if (!ok.some((f) => f(err))) throw err
    }
    switch (a.kind) {
      case 'adopt':
      case 'release': {
        const p = byName.get(a.pod)!
        const others = (p.metadata.ownerReferences ?? []).filter((r) => r.uid !== set.metadata.uid)
        const refs = a.kind === 'adopt' ? [...others, newControllerRef(set, STS_KIND.apiVersion, STS_KIND.kind)] : others
        try {
          await pods.patch(a.pod, { metadata: { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion, ownerReferences: refs } }, 'merge')
        } catch (err) {
          ignore(err, isNotFound, isConflict)
        }
        return
      }
      case 'createRevision':
        try {
          await this.client.resource<ControllerRevision>(R.controllerrevisions, namespace).create(a.revision)
        } catch (err) {
          // Seen next pass: an equal one is reused, a different one bumps collisionCount.
          if (!isAlreadyExists(err)) throw err
        }
        return
      case 'renumberRevision':
        await this.client.resource<ControllerRevision>(R.controllerrevisions, namespace).patch(a.name, { revision: a.revision }, 'merge')
        return
      case 'deleteRevision':
        try {
          await this.client.resource<ControllerRevision>(R.controllerrevisions, namespace).delete(a.name, { preconditions: { uid: a.uid } })
        } catch (err) {
          ignore(err, isNotFound, isConflict)
        }
        return
      case 'createClaim':
        try {
          await this.client.resource<PersistentVolumeClaim>(R.persistentvolumeclaims, namespace).create(a.claim)
          this.events.event(set, 'Normal', 'SuccessfulCreate', `create Claim ${a.claim.metadata.name} Pod ${a.pod} in StatefulSet ${setName} success`)
        } catch (err) {
          if (isAlreadyExists(err)) return
          this.events.event(set, 'Warning', 'FailedCreate', `create Claim ${a.claim.metadata.name} for Pod ${a.pod} in StatefulSet ${setName} failed error: ${(err as Error).message}`)
          throw err
        }
        return
      case 'updateClaimRefs':
        try {
          await this.client
            .resource<PersistentVolumeClaim>(R.persistentvolumeclaims, namespace)
            .patch(a.claim, { metadata: { uid: a.uid, ownerReferences: a.ownerReferences } }, 'merge')
        } catch (err) {
          ignore(err, isNotFound, isConflict)
        }
        return
      case 'createPod':
        try {
          await pods.create(a.pod)
          this.events.event(set, 'Normal', 'SuccessfulCreate', `create Pod ${a.pod.metadata.name} in StatefulSet ${setName} successful`)
        } catch (err) {
          if (isAlreadyExists(err)) return
          this.events.event(set, 'Warning', 'FailedCreate', `create Pod ${a.pod.metadata.name} in StatefulSet ${setName} failed error: ${(err as Error).message}`)
          throw err
        }
        return
      case 'fixPodLabels':
        try {
          await pods.patch(a.pod, { metadata: { uid: a.uid, labels: a.labels } }, 'merge')
        } catch (err) {
          ignore(err, isNotFound, isConflict)
        }
        return
      case 'deletePod':
        try {
          // The uid pins the delete to the pod we judged (not a namesake created since).
          await pods.delete(a.pod, { preconditions: { uid: a.uid } })
          this.events.event(set, 'Normal', 'SuccessfulDelete', `delete Pod ${a.pod} in StatefulSet ${setName} successful`)
        } catch (err) {
          if (isNotFound(err) || isConflict(err)) return
          this.events.event(set, 'Warning', 'FailedDelete', `delete Pod ${a.pod} in StatefulSet ${setName} failed error: ${(err as Error).message}`)
          throw err
        }
        return
      case 'event':
        this.events.event(set, a.type, a.reason, a.message)
        return
      case 'status':
        try {
          await this.client.resource<StatefulSet>(R.statefulsets, namespace).patchStatus(setName, { status: a.status }, 'merge')
        } catch (err) {
          ignore(err, isNotFound)
        }
        return
    }
  }
}
