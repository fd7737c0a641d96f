// Garbage collector decisions from the ownerReference graph, after pkg/controller/garbagecollector:
//  - background: a dependent whose owners are all gone is deleted; one with some owners gone
//    loses the dangling references;
//  - foreground: an owner being deleted with the `foregroundDeletion` finalizer has its dependents
//    deleted (themselves in foreground), and loses the finalizer once no dependent with
//    blockOwnerDeletion is left;
//  - orphan: an owner being deleted with the `orphan` finalizer has its reference removed from
//    every dependent, then loses the finalizer.
// "Gone" in this cache may be a cache lag: the shell re-checks owners with a live GET first.
import type { KubeObject, OwnerReference } from '../api/types.js'

export const FINALIZER_FOREGROUND = 'foregroundDeletion'
export const FINALIZER_ORPHAN = 'orphan'

export interface ObjRef {
  apiVersion: string
  kind: string
  namespace?: string
  name: string
  uid: string
}

export interface GraphNode {
  ref: ObjRef
  obj: KubeObject
}

export type GCAction =
  /** Delete `ref` if every owner in `absentOwners` is still absent (live check). */
  | { kind: 'delete'; ref: ObjRef; propagation: 'Background' | 'Foreground'; absentOwners: OwnerReference[] }
  | { kind: 'removeOwnerRefs'; ref: ObjRef; uids: string[]; absentOwners: OwnerReference[] }
  | { kind: 'removeFinalizer'; ref: ObjRef; finalizer: string }

export function refOf(apiVersion: string, kind: string, obj: KubeObject): ObjRef {
  const r: ObjRef = { apiVersion, kind, name: obj.metadata.name!, uid: obj.metadata.uid! }
  if (obj.metadata.namespace) r.namespace = obj.metadata.namespace
  return r
}

/**
 * One full pass over the graph. `knownKinds` are the apiVersion/kind pairs the cache holds:
 * a reference to any other kind cannot be judged and is left alone.
 */
export function collectGarbage(nodes: GraphNode[], knownKinds: Set<string>): GCAction[] {
  const byUid = new Map<string, GraphNode>()
  const dependents = new Map<string, GraphNode[]>()
  for (const n of nodes) {
    byUid.set(n.ref.uid, n)
    for (const r of n.obj.metadata.ownerReferences ?? []) {
      const l = dependents.get(r.uid)
      if (l) l.push(n)
      else dependents.set(r.uid, [n])
    }
  }
  const actions: GCAction[] = []

  for (const owner of nodes) {
    const m = owner.obj.metadata
    if (!m.deletionTimestamp) continue
    const fins = m.finalizers ?? []
    const deps = dependents.get(owner.ref.uid) ?? []
    if (fins.includes(FINALIZER_ORPHAN)) {
      for (const d of deps) actions.push({ kind: 'removeOwnerRefs', ref: d.ref, uids: [owner.ref.uid], absentOwners: [] })
      actions.push({ kind: 'removeFinalizer', ref: owner.ref, finalizer: FINALIZER_ORPHAN })
    } else if (fins.includes(FINALIZER_FOREGROUND)) {
      for (const d of deps) {
        if (!d.obj.metadata.deletionTimestamp) actions.push({ kind: 'delete', ref: d.ref, propagation: 'Foreground', absentOwners: [] })
      }
      const blocking = deps.filter((d) => d.obj.metadata.ownerReferences?.some((r) => r.uid === owner.ref.uid && r.blockOwnerDeletion))
      if (blocking.length === 0) actions.push({ kind: 'removeFinalizer', ref: owner.ref, finalizer: FINALIZER_FOREGROUND })
    }
  }

  for (const d of nodes) {
    const refs = d.obj.metadata.ownerReferences ?? []
    if (refs.length === 0 || d.obj.metadata.deletionTimestamp) continue
    const dangling: OwnerReference[] = []
    let unknown = false
    for (const r of refs) {
      if (!knownKinds.has(`${r.apiVersion}/${r.kind}`)) {
        unknown = true
        continue
      }
      const o = byUid.get(r.uid)
      // Owners must be in the dependent's namespace, or cluster-scoped.
      const ok = o && o.ref.kind === r.kind && o.ref.name === r.name && (!o.ref.namespace || o.ref.namespace === d.ref.namespace)
      if (!ok) dangling.push(r)
    }
    if (dangling.length === 0) continue
    if (dangling.length === refs.length && !unknown) {
      actions.push({ kind: 'delete', ref: d.ref, propagation: 'Background', absentOwners: dangling })
    } else {
      actions.push({ kind: 'removeOwnerRefs', ref: d.ref, uids: dangling.map((r) => r.uid), absentOwners: dangling })
    }
  }
  return actions
}
