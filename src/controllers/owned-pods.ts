// Pod informer events for a controller that owns pods (ReplicaSet, Job): an owned pod's add,
// deletion start or removal settles the owner's Expectations and queues the owner; an orphan
// (or a pod whose labels changed) queues every owner whose selector may now match it.
import type { Pod } from '../api/types.js'
import type { Informer } from '../client/informer.js'
import type { Expectations } from './expectations.js'

export interface OwnedPodHooks {
  /** `namespace/name` of the pod's controller if it is of this controller's kind. */
  ownerKey(p: Pod): string | undefined
  enqueue(key: string): void
  /** Queue the owners whose selector matches the pod. */
  enqueueMatching(p: Pod): void
  exp: Expectations
  /** Extra bookkeeping on every update/delete of an owned pod (e.g. finalizer expectations). */
  observed?(key: string, p: Pod, deleted: boolean): void
}

export function handleOwnedPods(pods: Informer<Pod>, h: OwnedPodHooks): void {
  pods.addEventHandler({
    onAdd: (p) => {
      const k = h.ownerKey(p)
      if (k) {
        h.exp.creationObserved(k)
        h.enqueue(k)
      } else h.enqueueMatching(p)
    },
    onUpdate: (o, p) => {
      const k = h.ownerKey(p)
      const ok = h.ownerKey(o)
      if (k) h.observed?.(k, p, false)
      if (p.metadata.deletionTimestamp && !o.metadata.deletionTimestamp && k) h.exp.deletionObserved(k, p.metadata.name!)
      if (ok && ok !== k) h.enqueue(ok)
      if (k) h.enqueue(k)
      else h.enqueueMatching(p)
      if (JSON.stringify(o.metadata.labels) !== JSON.stringify(p.metadata.labels)) h.enqueueMatching(p)
    },
    onDelete: (p) => {
      const k = h.ownerKey(p)
      if (!k) return
      h.observed?.(k, p, true)
      h.exp.deletionObserved(k, p.metadata.name!)
      h.enqueue(k)
    },
  })
}
