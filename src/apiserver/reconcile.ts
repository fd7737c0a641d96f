// Reconcile, not create-once: the plan for an object the control plane owns (the add-ons,
// the `kubernetes` Service and its endpoints), given what is stored now. Pure: the callers
// (bootstrap over the registry, the server over the REST client) only get, then apply it.
//
// Semantics follow the upstream addon manager's "Reconcile" mode: the fields the desired
// object declares are owned and put back when they drift; fields it does not declare
// (defaults the apiserver filled in, status, extra labels) are left alone. `userOwned` paths
// are the "EnsureExists" part: set on create, never reverted afterwards (upstream's CoreDNS
// Deployment leaves `replicas` to the user / the DNS autoscaler the same way). A drifted
// `immutable` path cannot be updated (422), so the object is deleted and created again, as
// `kubectl apply --force` does.
import type { KubeObject } from '../api/types.js'
import { deepEqual } from '../api/equal.js'

export type ReconcilePlan =
  | { op: 'create'; object: KubeObject }
  | { op: 'update'; object: KubeObject; drift: string[] }
  /** A drifted field the apiserver will not update in place (a Service's clusterIP): delete, then create. */
  | { op: 'recreate'; object: KubeObject; drift: string[] }
  | { op: 'none' }

/** What the plan may own: `userOwned` paths are the user's after create; `immutable` ones force a recreate. */
export interface Ownership {
  userOwned?: readonly string[]
  immutable?: readonly string[]
}

/** Paths (dotted) under `want` whose value `have` does not carry; a subset check, so defaults do not count. */
export function driftPaths(want: unknown, have: unknown, path = ''): string[] {
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return [path || '.']
    const h = have as Record<string, unknown>
    return Object.entries(want as Record<string, unknown>).flatMap(([k, v]) => (v === undefined ? [] : driftPaths(v, h[k], path ? `${path}.${k}` : k)))
  }
  if (Array.isArray(want)) {
    // Lists are owned whole (ports, containers, args): same length, each element covered.
    if (!Array.isArray(have) || have.length !== want.length) return [path]
    return want.flatMap((v, i) => driftPaths(v, have[i], `${path}[${i}]`))
  }
  return deepEqual(want, have) ? [] : [path]
}

function getPath(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj)
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.')
  let o = obj
  for (const k of keys.slice(0, -1)) {
    if (o[k] === null || typeof o[k] !== 'object') o[k] = {}
    o = o[k] as Record<string, unknown>
  }
  if (value === undefined) delete o[keys.at(-1)!]
  else o[keys.at(-1)!] = value
}

function strip(obj: KubeObject, userOwned: readonly string[]): Record<string, unknown> {
  const { metadata, apiVersion: _a, kind: _k, status: _s, ...body } = structuredClone(obj)
  const out: Record<string, unknown> = { ...body, metadata: { labels: metadata.labels, annotations: metadata.annotations } }
  for (const p of userOwned) setPath(out, p, undefined)
  return out
}

export function planReconcile(want: KubeObject, have: KubeObject | undefined, own: Ownership = {}): ReconcilePlan {
  const userOwned = own.userOwned ?? []
  if (!have) return { op: 'create', object: structuredClone(want) }
  const drift = driftPaths(strip(want, userOwned), have)
  if (drift.length === 0) return { op: 'none' }
  if (drift.some((d) => (own.immutable ?? []).some((p) => d === p || d.startsWith(`${p}.`) || d.startsWith(`${p}[`)))) return { op: 'recreate', object: structuredClone(want), drift }
  // The declared body replaces the stored one; metadata keeps the server's and other
  // writers' keys; user-owned paths keep their stored value.
  const { metadata: _wm, apiVersion: _wa, kind: _wk, status: _ws, ...body } = structuredClone(want)
  const next: KubeObject = {
    ...structuredClone(have),
    ...body,
    metadata: {
      ...structuredClone(have.metadata),
      labels: { ...have.metadata.labels, ...want.metadata.labels },
      ...(want.metadata.annotations || have.metadata.annotations ? { annotations: { ...have.metadata.annotations, ...want.metadata.annotations } } : {}),
    },
  }
  for (const p of userOwned) setPath(next as unknown as Record<string, unknown>, p, getPath(have, p))
  return { op: 'update', object: next, drift }
}

/** How the apply loop reaches the object: the registry (bootstrap) or the REST client (add-ons). */
export interface ObjectAccess {
  get(): Promise<KubeObject>
  create(obj: KubeObject): Promise<unknown>
  update(obj: KubeObject): Promise<unknown>
  /** Delete the stored object with this uid (a precondition: never someone's newer one). */
  delete(uid: string): Promise<unknown>
}

const statusCode = (err: unknown): number | undefined => (err as { code?: unknown } | null)?.code as number | undefined

/**
 * get → create when absent → update when drifted. A 409 (someone created or wrote it in
 * between, e.g. a second apiserver bootstrapping at the same time) plans again from a fresh read.
 */
export async function reconcileObject(acc: ObjectAccess, want: KubeObject, own: Ownership = {}): Promise<ReconcilePlan> {
  for (let attempt = 0; ; attempt++) {
    let have: KubeObject | undefined
    try {
      have = await acc.get()
    } catch (err) {
      if (statusCode(err) !== 404) throw err
    }
    const plan = planReconcile(want, have, own)
    try {
      if (plan.op === 'create') await acc.create(plan.object)
      else if (plan.op === 'update') await acc.update(plan.object)
      else if (plan.op === 'recreate') {
        await acc.delete(have!.metadata.uid!).catch((err: unknown) => {
          if (statusCode(err) !== 404) throw err
        })
        await acc.create(plan.object)
      }
      return plan
    } catch (err) {
      if (statusCode(err) !== 409 || attempt >= 8) throw err
    }
  }
}
