// upstream's PodControl for the pod-owning shells (ReplicaSet, DaemonSet): the API calls that
// claim, create and delete pods, with the Expectations bookkeeping and the Events each one
// reports (SuccessfulCreate / SuccessfulDelete, FailedCreate / FailedDelete).
import type { KubeObject, Pod } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js'
import { newControllerRef } from '../api/meta.js'
import type { EventRecorder } from '../events/recorder.js'
import type { Expectations } from './expectations.js'
import { R } from './informers.js'

export class PodControl {
  constructor(
    private readonly client: Client,
    private readonly exp: Expectations,
    private readonly recorder: () => EventRecorder | undefined,
    private readonly kind: { apiVersion: string; kind: string },
  ) {}

  /** Adopt (add our controller ref) or release (drop it); a pod gone or changed meanwhile is skipped. */
  async claim(owner: KubeObject, p: Pod, action: 'adopt' | 'release'): Promise<void> {
    const others = (p.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid)
    const refs = action === 'adopt' ? [...others, newControllerRef(owner, this.kind.apiVersion, this.kind.kind)] : others
    try {
      // The uid pins the patch to the pod we looked at (a recreated namesake is not touched).
      await this.client.resource<Pod>(R.pods, p.metadata.namespace).patch(p.metadata.name!, { metadata: { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion, ownerReferences: refs } }, 'merge')
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err
    }
  }

  /** Delete `pods` (by uid precondition), expecting to see each deletion. */
  async deletePods(key: string, owner: KubeObject, pods: Pod[]): Promise<void> {
    this.exp.expectDeletions(key, pods.map((p) => p.metadata.name!))
    await Promise.all(
      pods.map(async (p) => {
        const n = p.metadata.name!
        try {
          await this.client.resource<Pod>(R.pods, p.metadata.namespace).delete(n, { preconditions: { uid: p.metadata.uid! } })
          this.recorder()?.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${n}`)
        } catch (err) {
          this.exp.deletionObserved(key, n)
          if (!isNotFound(err) && !isConflict(err)) {
            this.recorder()?.event(owner, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`)
            throw err
          }
        }
      }),
    )
  }

  /** Create `count` pods made by `body(i)`, slow start (1, 2, 4, …) as upstream: a failing create stops the burst early. */
  async createPods(key: string, owner: KubeObject, count: number, body: (i: number) => Pod): Promise<void> {
    const podClient = this.client.resource<Pod>(R.pods, owner.metadata.namespace)
    const ref = newControllerRef(owner, this.kind.apiVersion, this.kind.kind)
    this.exp.expectCreations(key, count)
    let next = 0
    for (let batch = 1; next < count; batch *= 2) {
      const n = Math.min(batch, count - next)
      const results = await Promise.allSettled(
        Array.from({ length: n }, (_, j) => {
          const p = body(next + j)
          p.metadata.ownerReferences = [ref]
          return podClient.create(p)
        }),
      )
      next += n
      for (const r of results) if (r.status === 'fulfilled') this.recorder()?.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata.name}`)
      const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[]
      if (failed.length) {
        for (let i = 0; i < failed.length + count - next; i++) this.exp.creationObserved(key)
        const err = failed[0]!.reason
        if (isAlreadyExists(err)) return
        this.recorder()?.event(owner, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`)
        throw err
      }
    }
  }
}
