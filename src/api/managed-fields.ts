// Field ownership (metadata.managedFields) and server-side apply, pure: what a write does to who
// owns which field, as kube-apiserver's field manager and structured-merge-diff decide it.
//
// - Every write is made by a manager (`fieldManager`, else the User-Agent's product). An Update
//   (create, PUT, JSON/merge/strategic patch) takes the fields whose value it changed from
//   whoever held them: updates never conflict.
// - An Apply states the fields its manager wants. A field another manager holds with a different
//   value is a conflict (409) unless forced; holding it with the same value is shared ownership.
//   A field the manager applied before and no longer applies is removed, unless someone else
//   still holds it.
// Lists merge by the keys the strategic merge patch knows (src/api/patch.ts): keyed lists item by
// item, scalar sets by value, all other lists as one atomic value.
import { FieldSet, fieldElement, formatFieldPath, keyElement, valueElement, type FieldPath } from './fieldpath.js'
import { deepEqual } from './equal.js'
import { KEY_DEFAULTS, listItemKey, listTypeAt } from './patch.js'
import type { ResourceInfo } from './resources.js'
import type { KubeObject, ManagedFieldsEntry } from './types.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const join = (path: string, key: string): string => (path ? `${path}.${key}` : key)

export type Operation = 'Apply' | 'Update'

export interface Manager {
  manager: string
  operation: Operation
  /** Update managers are told apart by the version they wrote (upstream's identifier). */
  apiVersion?: string
  subresource?: string
  time?: string
  fields: FieldSet
}

/** Who a write is on behalf of. */
export interface Writer {
  manager: string
  apiVersion: string
  /** 'status' for writes through the status subresource. */
  subresource?: string
}

/** Server-owned metadata nobody manages (upstream strips these before tracking). */
const UNMANAGED_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'generation',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
])

export function managerKey(m: Pick<Manager, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  return JSON.stringify([m.manager, m.operation, m.operation === 'Update' ? (m.apiVersion ?? '') : '', m.subresource ?? ''])
}

// ---------------- the fields an object sets ----------------

/**
 * The field set of obj as `r` lays it out. `scope` picks the part one kind of write manages:
 * the main resource does not manage status when a status subresource exists, and a status
 * write manages only status.
 */
export function fieldsOf(r: ResourceInfo, obj: unknown, scope: 'main' | 'status' | 'all' = 'all'): FieldSet {
  const out = new FieldSet()
  if (!isObj(obj)) return out
  const hasStatus = r.subresources.includes('status')
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue
    if (scope === 'status' && k !== 'status') continue
    if (scope === 'main' && hasStatus && k === 'status') continue
    if (k === 'metadata' && isObj(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (UNMANAGED_METADATA.has(mk) || mv === undefined) continue
        walk(r, mv, `metadata.${mk}`, [fieldElement('metadata'), fieldElement(mk)], out)
      }
      continue
    }
    walk(r, v, k, [fieldElement(k)], out)
  }
  return out
}

function walk(r: ResourceInfo, v: unknown, dotted: string, path: string[], out: FieldSet): void {
  if (isObj(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined)
    if (keys.length === 0) out.insert(path)
    for (const k of keys) walk(r, v[k], join(dotted, k), [...path, fieldElement(k)], out)
    return
  }
  if (Array.isArray(v)) {
    const lt = listTypeAt(r, dotted)
    if (lt.type === 'map') {
      const keys = v.map((item) => listItemKey(lt, item))
      const unique = new Set(keys.map((k) => (k ? keyElement(k) : '')))
      // An item without its key (or two with one key) cannot be tracked item by item.
      if (keys.every((k) => k !== undefined) && unique.size === v.length) {
        v.forEach((item, i) => {
          const ip = [...path, keyElement(keys[i]!)]
          out.insert(ip)
          for (const [k, x] of Object.entries(item as Obj)) if (x !== undefined) walk(r, x, join(dotted, k), [...ip, fieldElement(k)], out)
        })
        return
      }
    } else if (lt.type === 'set') {
      for (const item of v) out.insert([...path, valueElement(item)])
      return
    }
  }
  out.insert(path)
}

// ---------------- reading and editing values by path ----------------

function matchesKey(item: unknown, key: Obj): boolean {
  if (!isObj(item)) return false
  return Object.entries(key).every(([k, want]) => deepEqual(item[k] ?? KEY_DEFAULTS[k], want))
}

/** The value at path in obj, or undefined. */
export function valueAt(obj: unknown, path: FieldPath): unknown {
  let cur: unknown = obj
  for (const e of path) {
    const body = e.slice(2)
    if (e.startsWith('f:')) cur = isObj(cur) ? cur[body] : undefined
    else if (e.startsWith('k:')) cur = Array.isArray(cur) ? cur.find((x) => matchesKey(x, JSON.parse(body) as Obj)) : undefined
    else if (e.startsWith('v:')) cur = Array.isArray(cur) ? cur.find((x) => deepEqual(x, JSON.parse(body))) : undefined
    else cur = undefined
    if (cur === undefined) return undefined
  }
  return cur
}

/** A key field of a keyed-list item: it goes with its item, never alone. */
function isKeyField(path: FieldPath): boolean {
  const last = path[path.length - 1]
  const parent = path[path.length - 2]
  if (!last?.startsWith('f:') || !parent?.startsWith('k:')) return false
  return Object.prototype.hasOwnProperty.call(JSON.parse(parent.slice(2)), last.slice(2))
}

/** Removes what path names from obj (in place); empty maps and lists it leaves are dropped, as Go's omitempty would. */
function removeAt(obj: Obj, path: FieldPath): void {
  const parents: unknown[] = [obj]
  let cur: unknown = obj
  for (const e of path.slice(0, -1)) {
    cur = valueAt(cur, [e])
    if (cur === undefined) return
    parents.push(cur)
  }
  const last = path[path.length - 1]!
  const body = last.slice(2)
  const holder = parents[parents.length - 1]
  if (last.startsWith('f:') && isObj(holder)) delete holder[body]
  else if (Array.isArray(holder)) {
    const i = last.startsWith('k:') ? holder.findIndex((x) => matchesKey(x, JSON.parse(body) as Obj)) : holder.findIndex((x) => deepEqual(x, JSON.parse(body)))
    if (i >= 0) holder.splice(i, 1)
  }
  // Prune containers the removal emptied, innermost first (never the object itself).
  for (let d = parents.length - 1; d >= 1; d--) {
    const node = parents[d]
    const isEmpty = (isObj(node) && Object.keys(node).length === 0) || (Array.isArray(node) && node.length === 0)
    if (!isEmpty) break
    removeAt(obj, path.slice(0, d))
  }
}

// ---------------- managedFields <-> managers ----------------

export class ManagedFieldsError extends Error {
  override name = 'ManagedFieldsError'
}

export function decodeManagedFields(entries: unknown): Manager[] {
  if (entries === undefined || entries === null) return []
  if (!Array.isArray(entries)) throw new ManagedFieldsError('metadata.managedFields must be a list')
  return entries.map((e, i) => {
    if (!isObj(e)) throw new ManagedFieldsError(`metadata.managedFields[${i}] must be an object`)
    const op = e.operation
    if (op !== 'Apply' && op !== 'Update') throw new ManagedFieldsError(`metadata.managedFields[${i}].operation must be "Apply" or "Update"`)
    if (typeof e.manager !== 'string') throw new ManagedFieldsError(`metadata.managedFields[${i}].manager must be a string`)
    if (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1') throw new ManagedFieldsError(`metadata.managedFields[${i}].fieldsType must be "FieldsV1"`)
    let fields: FieldSet
    try {
      fields = FieldSet.fromFieldsV1(e.fieldsV1 ?? {})
    } catch (err) {
      throw new ManagedFieldsError(`metadata.managedFields[${i}].fieldsV1: ${(err as Error).message}`)
    }
    return {
      manager: e.manager,
      operation: op,
      ...(typeof e.apiVersion === 'string' ? { apiVersion: e.apiVersion } : {}),
      ...(typeof e.subresource === 'string' && e.subresource ? { subresource: e.subresource } : {}),
      ...(typeof e.time === 'string' ? { time: e.time } : {}),
      fields,
    }
  })
}

/** Apply entries first, then by time, then by manager, as kube-apiserver orders them. */
export function encodeManagedFields(managers: readonly Manager[]): ManagedFieldsEntry[] {
  return [...managers]
    .filter((m) => !m.fields.empty())
    .sort((a, b) => (a.operation === b.operation ? 0 : a.operation === 'Apply' ? -1 : 1) || (a.time ?? '').localeCompare(b.time ?? '') || a.manager.localeCompare(b.manager))
    .map((m) => ({
      manager: m.manager,
      operation: m.operation,
      ...(m.apiVersion ? { apiVersion: m.apiVersion } : {}),
      ...(m.time ? { time: m.time } : {}),
      fieldsType: 'FieldsV1',
      fieldsV1: m.fields.toFieldsV1(),
      ...(m.subresource ? { subresource: m.subresource } : {}),
    }))
}

/**
 * The managers to start from on an update: what the client sent when it sent something
 * (a client may rewrite managedFields; `[{}]` clears them), else what was stored.
 */
export function baseManagers(sent: unknown, stored: unknown): Manager[] {
  if (Array.isArray(sent) && sent.length === 1 && isObj(sent[0]) && Object.keys(sent[0]).length === 0) return []
  if (Array.isArray(sent) && sent.length > 0) return decodeManagedFields(sent)
  return decodeManagedFields(stored)
}

// ---------------- Update ----------------

/**
 * The managers after `w` wrote `next` over `old` (undefined on create): the fields whose value
 * changed become w's, removed fields belong to nobody.
 */
export function trackUpdate(r: ResourceInfo, old: KubeObject | undefined, next: KubeObject, managers: readonly Manager[], w: Writer, now: string): Manager[] {
  const scope = w.subresource === 'status' ? 'status' : 'main'
  const after = fieldsOf(r, next, scope)
  const before = old ? fieldsOf(r, old, scope) : new FieldSet()
  const changed = new FieldSet()
  for (const p of after.paths()) {
    const isLeaf = after.at(p).children.size === 0
    if (!before.has(p) || (isLeaf && !deepEqual(valueAt(old, p), valueAt(next, p)))) changed.insert(p)
  }
  for (const p of mapNodes(after)) if (valueAt(old, p) === undefined) changed.insert(p)
  const removed = before.difference(after)
  const key = managerKey({ manager: w.manager, operation: 'Update', apiVersion: w.apiVersion, ...(w.subresource ? { subresource: w.subresource } : {}) })
  const out: Manager[] = []
  let mine: Manager | undefined
  for (const m of managers) {
    const fields = m.fields.difference(removed).difference(changed)
    if (managerKey(m) === key) mine = { ...m, fields }
    else out.push({ ...m, fields })
  }
  if (!changed.empty() || mine) {
    const fields = (mine?.fields ?? new FieldSet()).union(changed)
    out.push({
      manager: w.manager,
      operation: 'Update',
      apiVersion: w.apiVersion,
      ...(w.subresource ? { subresource: w.subresource } : {}),
      ...(changed.empty() && mine?.time ? { time: mine.time } : { time: now }),
      fields,
    })
  }
  return out.filter((m) => !m.fields.empty())
}

/**
 * String-keyed maps (not structs) in the object: an update that creates one owns the map
 * itself too, which FieldsV1 shows as `.` (upstream knows them from the schema; these are the
 * map-typed fields of the kinds served).
 */
const MAP_FIELDS = new Set(['labels', 'annotations', 'data', 'binaryData', 'stringData', 'matchLabels', 'nodeSelector', 'selector', 'limits', 'requests', 'capacity', 'allocatable', 'parameters'])

function* mapNodes(set: FieldSet, prefix: string[] = []): Generator<FieldPath> {
  for (const [e, c] of set.children) {
    const p = [...prefix, e]
    if (e.startsWith('f:') && MAP_FIELDS.has(e.slice(2)) && c.children.size > 0 && !c.member) yield p
    yield* mapNodes(c, p)
  }
}

// ---------------- Apply ----------------

export interface Conflict {
  manager: Manager
  path: FieldPath
}

export class ApplyConflictError extends Error {
  override name = 'ApplyConflictError'
  constructor(readonly conflicts: Conflict[]) {
    super(conflictMessage(conflicts))
  }
}

/** `"kubectl-create" using apps/v1` for Update managers, `"kubectl"` for Apply ones (upstream's printManager). */
export function describeManager(m: Manager): string {
  let s = JSON.stringify(m.manager)
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`
  return m.operation === 'Update' ? `${s} using ${m.apiVersion ?? ''}` : s
}

function conflictMessage(conflicts: readonly Conflict[]): string {
  if (conflicts.length === 1) return `Apply failed with 1 conflict: conflict with ${describeManager(conflicts[0]!.manager)}: ${formatFieldPath(conflicts[0]!.path)}`
  const byManager = new Map<string, string[]>()
  for (const c of conflicts) {
    const d = describeManager(c.manager)
    byManager.set(d, [...(byManager.get(d) ?? []), formatFieldPath(c.path)])
  }
  const lines: string[] = []
  for (const d of [...byManager.keys()].sort()) {
    lines.push(`conflicts with ${d}:`)
    for (const p of byManager.get(d)!) lines.push(`- ${p}`)
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`
}

/** The applied configuration merged into live: keyed lists item by item, sets by value, the rest replaced. */
export function mergeApplied(r: ResourceInfo, live: unknown, applied: unknown, dotted = ''): unknown {
  if (isObj(applied)) {
    const out: Obj = isObj(live) ? { ...live } : {}
    for (const [k, v] of Object.entries(applied)) {
      if (v === undefined) continue
      if (v === null) delete out[k]
      else out[k] = mergeApplied(r, out[k], v, join(dotted, k))
    }
    return out
  }
  if (Array.isArray(applied) && Array.isArray(live)) {
    const lt = listTypeAt(r, dotted)
    if (lt.type === 'map' && applied.every((x) => listItemKey(lt, x)) && live.every((x) => listItemKey(lt, x))) {
      const out = [...live]
      for (const item of applied) {
        const key = listItemKey(lt, item)!
        const i = out.findIndex((x) => matchesKey(x, key))
        if (i >= 0) out[i] = mergeApplied(r, out[i], item, dotted)
        else out.push(item)
      }
      return out
    }
    if (lt.type === 'set') return [...live, ...applied.filter((x) => !live.some((y) => deepEqual(x, y)))]
  }
  return structuredClone(applied)
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'

function lastAppliedFields(r: ResourceInfo, live: KubeObject): FieldSet {
  const text = live.metadata.annotations?.[LAST_APPLIED]
  if (!text) return new FieldSet()
  try {
    return fieldsOf(r, JSON.parse(text), 'main')
  } catch {
    return new FieldSet()
  }
}

export interface ApplyResult {
  object: KubeObject
  managers: Manager[]
}

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined: the object is created).
 * Throws ApplyConflictError unless `force`.
 */
export function applyConfig(
  r: ResourceInfo,
  live: KubeObject | undefined,
  applied: KubeObject,
  managers: readonly Manager[],
  opts: { manager: string; force: boolean; now: string; subresource?: 'status' | 'scale' },
): ApplyResult {
  // The main resource's apply does not set status where a status subresource owns it; an apply
  // to the status subresource sets status only (upstream resets every other field of it).
  const onStatus = opts.subresource === 'status'
  const config = onStatus ? ({ status: structuredClone((applied as Obj).status ?? {}) } as Obj) : (structuredClone(applied) as Obj)
  if (!onStatus && r.subresources.includes('status')) delete config.status
  const wanted = fieldsOf(r, config, onStatus ? 'status' : 'main')
  const key = managerKey({ manager: opts.manager, operation: 'Apply', ...(opts.subresource ? { subresource: opts.subresource } : {}) })
  const prev = managers.find((m) => managerKey(m) === key)?.fields ?? new FieldSet()
  const others = managers.filter((m) => managerKey(m) !== key).map((m) => ({ ...m, fields: m.fields.clone() }))

  const conflicts: Conflict[] = []
  if (live) {
    for (const p of wanted.paths()) {
      if (wanted.at(p).children.size > 0) continue // items and maps conflict through their leaves
      const same = deepEqual(valueAt(live, p), valueAt(config, p))
      if (same) continue
      for (const m of others) if (m.fields.has(p)) conflicts.push({ manager: m, path: p })
    }
  }
  if (conflicts.length && !opts.force) {
    // Moving from client-side apply: kubectl's server-side apply may take the fields its
    // last-applied-configuration names (upstream's lastAppliedManager), and only those.
    const allowed = !onStatus && opts.manager === 'kubectl' && live ? lastAppliedFields(r, live) : new FieldSet()
    const left = conflicts.filter((c) => !allowed.has(c.path))
    if (left.length) throw new ApplyConflictError(left)
  }
  for (const c of conflicts) c.manager.fields = c.manager.fields.difference(FieldSet.of([c.path]))

  const merged = mergeApplied(r, live ?? {}, config) as KubeObject
  // Fields this manager applied before and no longer applies go, unless another manager holds them.
  // Parents first: a dropped item goes whole (its key fields with it) unless a part of it is held.
  const dropped = [...prev.difference(wanted).paths()].sort((a, b) => a.length - b.length)
  for (const p of dropped) {
    const heldElsewhere = others.some((m) => m.fields.has(p) || !m.fields.at(p).empty())
    // A map or item still applied in part stays (only what under it is no longer applied goes).
    const stillApplied = !wanted.at(p).empty()
    if (!heldElsewhere && !stillApplied && !isKeyField(p)) removeAt(merged as unknown as Obj, p)
  }
  // kubectl's server-side apply keeps a last-applied annotation it finds up to date, so a later
  // client-side apply still computes the right patch (upstream's lastAppliedUpdater).
  if (!onStatus && opts.manager === 'kubectl' && live?.metadata.annotations?.[LAST_APPLIED] !== undefined) {
    const annotations = (merged.metadata.annotations ??= {})
    const { [LAST_APPLIED]: _old, ...others } = (config.metadata as KubeObject['metadata'] | undefined)?.annotations ?? {}
    const recorded = structuredClone(config) as KubeObject
    recorded.metadata = { ...recorded.metadata }
    if (Object.keys(others).length) recorded.metadata.annotations = others
    else delete recorded.metadata.annotations
    annotations[LAST_APPLIED] = JSON.stringify(recorded) + '\n'
  }
  const mine: Manager = { manager: opts.manager, operation: 'Apply', time: opts.now, fields: wanted, apiVersion: applied.apiVersion ?? '', ...(opts.subresource ? { subresource: opts.subresource } : {}) }
  return { object: merged, managers: [mine, ...others].filter((m) => !m.fields.empty()) }
}
