// Garbage collector shell: every resource of the catalogue is watched; any change schedules a
// (debounced) pass of collectGarbage over the whole graph, and a periodic pass catches the rest.
// Before deleting a dependent or dropping a reference, owners are confirmed absent with a live
// GET, so an informer that lags behind another never causes a wrong delete.
import type { KubeObject, OwnerReference } from '../api/types.js'
import { RESOURCES, findResourceByKind, groupVersion } from '../api/resources.js'
import type { Client } from '../client/interfaces.js'
import { isConflict, isNotFound } from '../client/errors.js'
import { logger } from '../util/log.js'
import { collectGarbage, refOf, type GCAction, type GraphNode, type ObjRef } from './gc-core.js'
import type { InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'

export class GarbageCollector {
  private readonly log = logger('controller.gc')
  private timer: NodeJS.Timeout | undefined
  private periodic: NodeJS.Timeout | undefined
  private running: Promise<void> = Promise.resolve()
  private stopped = false
  private readonly known = new Set(RESOURCES.map((r) => `${groupVersion(r)}/${r.kind}`))
  /** Events own nothing and expire on their own (upstream's DefaultIgnoredResources). */
  private readonly watched = RESOURCES.filter((r) => r.kind !== 'Event')

  constructor(
    private readonly client: Client,
    private readonly f: InformerFactory,
    private readonly metrics: ControllerMetrics,
    private readonly opts: { debounceMs?: number; periodMs?: number } = {},
  ) {
    for (const r of this.watched) {
      f.get(r).addEventHandler({ onAdd: () => this.kick(), onUpdate: () => this.kick(), onDelete: () => this.kick() })
    }
  }

  run(): void {
    this.periodic = setInterval(() => this.kick(), this.opts.periodMs ?? 10_000)
    this.kick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.periodic) clearInterval(this.periodic)
    await this.running
  }

  private kick(): void {
    if (this.stopped || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.running = this.running.then(() => this.pass()).catch((err) => {
        this.metrics.reconcileErrors.inc({ controller: 'garbagecollector' })
        this.log.warn({ err: (err as Error).message }, 'gc pass failed')
        this.kick()
      })
    }, this.opts.debounceMs ?? 100)
  }

  private async pass(): Promise<void> {
    if (this.stopped) return
    const end = this.metrics.reconcileDuration.startTimer({ controller: 'garbagecollector' })
    this.metrics.reconciles.inc({ controller: 'garbagecollector' })
    const nodes: GraphNode[] = []
    for (const r of this.watched) {
      const inf = this.f.get(r)
      if (!inf.hasSynced()) {
        end()
        return
      }
      for (const o of inf.store.list()) nodes.push({ ref: refOf(groupVersion(r), r.kind, o), obj: o })
    }
    const actions = collectGarbage(nodes, this.known)
    let failed = false
    for (const a of actions) {
      try {
        await this.apply(a)
      } catch (err) {
        if (isNotFound(err)) continue
        failed = true
        if (!isConflict(err)) this.log.warn({ err: (err as Error).message, action: a.kind, obj: a.ref.name }, 'gc action failed')
      }
    }
    end()
    if (failed) setTimeout(() => this.kick(), 500).unref()
  }

  private api(ref: { apiVersion: string; kind: string; namespace?: string }) {
    const r = findResourceByKind(ref.apiVersion, ref.kind)
    if (!r) throw new Error(`unknown kind ${ref.apiVersion}/${ref.kind}`)
    return this.client.resource<KubeObject>(r, r.namespaced ? ref.namespace : undefined)
  }

  /** True when no owner in `owners` exists live with the referenced uid. */
  private async allAbsent(dep: ObjRef, owners: OwnerReference[]): Promise<boolean> {
    for (const o of owners) {
      try {
        const live = await this.api({ apiVersion: o.apiVersion, kind: o.kind, namespace: dep.namespace }).get(o.name)
        if (live.metadata.uid === o.uid) return false
      } catch (err) {
        if (!isNotFound(err)) throw err
      }
    }
    return true
  }

  private async apply(a: GCAction): Promise<void> {
    switch (a.kind) {
      case 'delete':
        if (a.absentOwners.length && !(await this.allAbsent(a.ref, a.absentOwners))) return
        this.log.info({ obj: `${a.ref.kind} ${a.ref.namespace ?? ''}/${a.ref.name}`, propagation: a.propagation }, 'deleting dependent')
        await this.api(a.ref).delete(a.ref.name, { propagationPolicy: a.propagation, preconditions: { uid: a.ref.uid } })
        return
      case 'removeOwnerRefs': {
        if (a.absentOwners.length && !(await this.allAbsent(a.ref, a.absentOwners))) return
        const api = this.api(a.ref)
        const live = await api.get(a.ref.name)
        if (live.metadata.uid !== a.ref.uid) return
        const refs = (live.metadata.ownerReferences ?? []).filter((r) => !a.uids.includes(r.uid))
        await api.patch(a.ref.name, { metadata: { uid: a.ref.uid, resourceVersion: live.metadata.resourceVersion, ownerReferences: refs.length ? refs : null } }, 'merge')
        return
      }
      case 'removeFinalizer': {
        const api = this.api(a.ref)
        const live = await api.get(a.ref.name)
        if (live.metadata.uid !== a.ref.uid || !live.metadata.finalizers?.includes(a.finalizer)) return
        const fins = live.metadata.finalizers.filter((x) => x !== a.finalizer)
        await api.patch(a.ref.name, { metadata: { uid: a.ref.uid, resourceVersion: live.metadata.resourceVersion, finalizers: fins.length ? fins : null } }, 'merge')
        return
      }
    }
  }
}
