// The three PATCH content types kube-apiserver accepts:
// - application/merge-patch+json      RFC 7386 (applyMergePatch)
// - application/json-patch+json       RFC 6902 (applyJsonPatch)
// - application/strategic-merge-patch+json  Kubernetes' strategic merge (applyStrategicMergePatch):
//   like RFC 7386, except that lists declared with a patch merge key (containers by name, ports
//   by containerPort/port, env by name, conditions by type, …) merge element-wise, and the
//   directives `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/<f>`, `$setElementOrder/<f>`
//   are honoured. kubectl apply/label/scale/patch send this form.
// None of them mutate their inputs.
import { deepEqual } from './equal.js'
import type { ResourceInfo } from './resources.js'

export class PatchError extends Error {
  override name = 'PatchError'
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const clone = <T>(v: T): T => (v === undefined ? v : (structuredClone(v) as T))

// ---------------- RFC 7386 ----------------

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch)
  const out: Obj = isObj(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = applyMergePatch(out[k], v)
  }
  return out
}

// ---------------- RFC 6902 ----------------

function parsePointer(path: unknown): string[] {
  if (typeof path !== 'string') throw new PatchError(`json patch: path must be a string, got ${JSON.stringify(path)}`)
  if (path === '') return []
  if (!path.startsWith('/')) throw new PatchError(`json patch: invalid pointer ${JSON.stringify(path)}: must start with '/'`)
  return path
    .slice(1)
    .split('/')
    .map((s) => {
      if (/~[^01]|~$/.test(s)) throw new PatchError(`json patch: invalid escape in pointer ${JSON.stringify(path)}`)
      return s.replace(/~1/g, '/').replace(/~0/g, '~')
    })
}

function arrayIndex(tok: string, len: number, forAdd: boolean, path: string): number {
  if (forAdd && tok === '-') return len
  if (!/^(0|[1-9][0-9]*)$/.test(tok)) throw new PatchError(`json patch: invalid array index ${JSON.stringify(tok)} in ${JSON.stringify(path)}`)
  const i = Number(tok)
  if (forAdd ? i > len : i >= len) throw new PatchError(`json patch: array index ${i} out of bounds in ${JSON.stringify(path)}`)
  return i
}

/** The container that holds the last token, and that token. */
function resolveParent(doc: unknown, toks: string[], path: string): { parent: Obj | unknown[]; key: string } {
  let cur: unknown = doc
  for (let i = 0; i < toks.length - 1; i++) {
    const t = toks[i]!
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false, path)]
    else if (isObj(cur)) {
      if (!Object.prototype.hasOwnProperty.call(cur, t)) throw new PatchError(`json patch: path ${JSON.stringify(path)} does not exist (missing ${JSON.stringify(t)})`)
      cur = cur[t]
    } else throw new PatchError(`json patch: path ${JSON.stringify(path)} does not exist`)
  }
  if (!Array.isArray(cur) && !isObj(cur)) throw new PatchError(`json patch: path ${JSON.stringify(path)} does not exist`)
  return { parent: cur, key: toks[toks.length - 1]! }
}

function getAt(doc: unknown, path: string): unknown {
  const toks = parsePointer(path)
  if (toks.length === 0) return doc
  const { parent, key } = resolveParent(doc, toks, path)
  if (Array.isArray(parent)) return parent[arrayIndex(key, parent.length, false, path)]
  if (!Object.prototype.hasOwnProperty.call(parent, key)) throw new PatchError(`json patch: path ${JSON.stringify(path)} does not exist`)
  return parent[key]
}

/** Returns the new document (the root may be replaced). */
function addAt(doc: unknown, path: string, value: unknown): unknown {
  const toks = parsePointer(path)
  if (toks.length === 0) return value
  const { parent, key } = resolveParent(doc, toks, path)
  if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, true, path), 0, value)
  else parent[key] = value
  return doc
}

function removeAt(doc: unknown, path: string): unknown {
  const toks = parsePointer(path)
  if (toks.length === 0) throw new PatchError('json patch: cannot remove the whole document')
  const { parent, key } = resolveParent(doc, toks, path)
  if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, false, path), 1)
  else {
    if (!Object.prototype.hasOwnProperty.call(parent, key)) throw new PatchError(`json patch: unable to remove nonexistent key ${JSON.stringify(key)}: missing value`)
    delete parent[key]
  }
  return doc
}

export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch: the patch must be an array of operations')
  let doc = clone(target)
  for (const [i, raw] of ops.entries()) {
    if (!isObj(raw)) throw new PatchError(`json patch: operation ${i} is not an object`)
    const op = raw.op
    const need = (f: string): unknown => {
      if (!Object.prototype.hasOwnProperty.call(raw, f)) throw new PatchError(`json patch: operation ${i} (${String(op)}) is missing ${JSON.stringify(f)}`)
      return raw[f]
    }
    const path = need('path')
    // Checked here, not only in parsePointer: `move` reads the path as a string before parsing it.
    if (typeof path !== 'string') throw new PatchError(`json patch: operation ${i}: path must be a string, got ${JSON.stringify(path)}`)
    switch (op) {
      case 'add':
        doc = addAt(doc, path, clone(need('value')))
        break
      case 'remove':
        doc = removeAt(doc, path)
        break
      case 'replace': {
        const value = clone(need('value'))
        getAt(doc, path) // must exist
        const toks = parsePointer(path)
        if (toks.length === 0) doc = value
        else {
          const { parent, key } = resolveParent(doc, toks, path)
          if (Array.isArray(parent)) parent[arrayIndex(key, parent.length, false, path)] = value
          else parent[key] = value
        }
        break
      }
      case 'move': {
        const from = need('from') as string
        if (typeof from !== 'string') throw new PatchError(`json patch: operation ${i}: from must be a string`)
        if (path.startsWith(from + '/')) throw new PatchError(`json patch: cannot move ${JSON.stringify(from)} into its own child ${JSON.stringify(path)}`)
        const v = getAt(doc, from)
        doc = removeAt(doc, from)
        doc = addAt(doc, path, v)
        break
      }
      case 'copy': {
        const from = need('from') as string
        doc = addAt(doc, path, clone(getAt(doc, from)))
        break
      }
      case 'test': {
        const want = need('value')
        const got = getAt(doc, path)
        if (!deepEqual(got, want)) throw new PatchError(`json patch: test operation failed at ${JSON.stringify(path)}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`)
        break
      }
      default:
        throw new PatchError(`json patch: unexpected operation ${JSON.stringify(op)}`)
    }
  }
  return doc
}

// ---------------- strategic merge patch ----------------

/** How a list field merges: by a key field, as a set of primitives, or wholesale (absent). */
interface ListStrategy {
  mergeKey?: string
  /** primitive list merged as a set (finalizers, podCIDRs) */
  primitiveMerge?: boolean
}

// Paths are dotted field names from the object root; list elements add no segment.
const METADATA: Record<string, ListStrategy> = {
  'metadata.ownerReferences': { mergeKey: 'uid' },
  'metadata.finalizers': { primitiveMerge: true },
}

const POD_SPEC: Record<string, ListStrategy> = {
  containers: { mergeKey: 'name' },
  initContainers: { mergeKey: 'name' },
  ephemeralContainers: { mergeKey: 'name' },
  volumes: { mergeKey: 'name' },
  imagePullSecrets: { mergeKey: 'name' },
  hostAliases: { mergeKey: 'ip' },
  'containers.ports': { mergeKey: 'containerPort' },
  'containers.env': { mergeKey: 'name' },
  'containers.volumeMounts': { mergeKey: 'mountPath' },
  'containers.volumeDevices': { mergeKey: 'devicePath' },
  'initContainers.ports': { mergeKey: 'containerPort' },
  'initContainers.env': { mergeKey: 'name' },
  'initContainers.volumeMounts': { mergeKey: 'mountPath' },
  'initContainers.volumeDevices': { mergeKey: 'devicePath' },
  'ephemeralContainers.env': { mergeKey: 'name' },
  'ephemeralContainers.volumeMounts': { mergeKey: 'mountPath' },
}

const POD_STATUS: Record<string, ListStrategy> = {
  conditions: { mergeKey: 'type' },
  podIPs: { mergeKey: 'ip' },
  hostIPs: { mergeKey: 'ip' },
}

function prefixed(prefix: string, table: Record<string, ListStrategy>): Record<string, ListStrategy> {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [`${prefix}.${k}`, v]))
}

const TEMPLATE_METADATA = prefixed('spec.template', METADATA)

/** Merge-key table keyed by `group/Kind`, then dotted path. */
const LIST_STRATEGIES: Record<string, Record<string, ListStrategy>> = {
  '/Pod': { ...METADATA, ...prefixed('spec', POD_SPEC), ...prefixed('status', POD_STATUS) },
  'apps/Deployment': {
    ...METADATA,
    ...TEMPLATE_METADATA,
    ...prefixed('spec.template.spec', POD_SPEC),
    'status.conditions': { mergeKey: 'type' },
  },
  'apps/ReplicaSet': {
    ...METADATA,
    ...TEMPLATE_METADATA,
    ...prefixed('spec.template.spec', POD_SPEC),
    'status.conditions': { mergeKey: 'type' },
  },
  'apps/DaemonSet': {
    ...METADATA,
    ...TEMPLATE_METADATA,
    ...prefixed('spec.template.spec', POD_SPEC),
    'status.conditions': { mergeKey: 'type' },
  },
  // StatefulSet (issue #11): the pod template merges as in a Deployment; volumeClaimTemplates has no merge key (replaced).
  'apps/StatefulSet': {
    ...METADATA,
    ...TEMPLATE_METADATA,
    ...prefixed('spec.template.spec', POD_SPEC),
    'status.conditions': { mergeKey: 'type' },
  },
  '/Service': { ...METADATA, 'spec.ports': { mergeKey: 'port' }, 'status.conditions': { mergeKey: 'type' } },
  '/Node': {
    ...METADATA,
    'spec.podCIDRs': { primitiveMerge: true },
    'status.conditions': { mergeKey: 'type' },
    'status.addresses': { mergeKey: 'type' },
    'status.images': {},
  },
  '/Namespace': { ...METADATA, 'status.conditions': { mergeKey: 'type' } },
}

// Objects whose keys are cleared when `$retainKeys` is given even without an explicit directive
// table: k8s marks Deployment strategy and volume sources with retainKeys; we honour the directive
// wherever it appears, which covers both.

const DIRECTIVE = '$patch'
const RETAIN_KEYS = '$retainKeys'
const SET_ORDER = '$setElementOrder/'
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/'

function strategyFor(table: Record<string, ListStrategy>, path: string): ListStrategy | undefined {
  return table[path] ?? templateStrategy(path)
}

/**
 * Lists inside any pod template (`spec.template`, a CronJob's `spec.jobTemplate.spec.template`,
 * a StatefulSet's or DaemonSet's) merge as a Pod's do, whichever kind holds the template.
 */
function templateStrategy(path: string): ListStrategy | undefined {
  const spec = path.lastIndexOf('template.spec.')
  if (spec >= 0) return POD_SPEC[path.slice(spec + 'template.spec.'.length)]
  const meta = path.lastIndexOf('template.metadata.')
  if (meta >= 0) return METADATA[`metadata.${path.slice(meta + 'template.metadata.'.length)}`]
  return undefined
}

/** How server-side apply sees a list: keyed items (a map), a set of scalars, or one atomic value. */
export type ListType = { type: 'map'; keys: readonly string[] } | { type: 'set' } | { type: 'atomic' }

/**
 * Structured merge keys some lists by more fields than the strategic merge key (a port number
 * alone is not unique: DNS serves 53 over TCP and UDP).
 */
const COMPOSITE_KEYS: Record<string, readonly string[]> = {
  containerPort: ['containerPort', 'protocol'],
  port: ['port', 'protocol'],
}

/** Defaults of key fields, filled in when an item leaves one out (as the OpenAPI schema does). */
export const KEY_DEFAULTS: Readonly<Record<string, unknown>> = { protocol: 'TCP' }

/** The list type at a dotted path (list items add no segment), for server-side apply. */
export function listTypeAt(r: Pick<ResourceInfo, 'group' | 'kind'>, path: string): ListType {
  const table = LIST_STRATEGIES[`${r.group}/${r.kind}`] ?? METADATA
  const st = strategyFor(table, path)
  if (st?.mergeKey) return { type: 'map', keys: COMPOSITE_KEYS[st.mergeKey] ?? [st.mergeKey] }
  if (st?.primitiveMerge) return { type: 'set' }
  return { type: 'atomic' }
}

/** The key of a keyed-list item, defaults filled in; undefined when a key field is missing. */
export function listItemKey(t: { keys: readonly string[] }, item: unknown): Record<string, unknown> | undefined {
  if (!isObj(item)) return undefined
  const key: Record<string, unknown> = {}
  for (const k of t.keys) {
    const v = item[k] ?? KEY_DEFAULTS[k]
    if (v === undefined || v === null) return undefined
    key[k] = v
  }
  return key
}

export function applyStrategicMergePatch(r: ResourceInfo, target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) throw new PatchError('strategic merge patch: the patch must be a JSON object')
  const table = LIST_STRATEGIES[`${r.group}/${r.kind}`] ?? METADATA
  const base = isObj(target) ? clone(target) : {}
  const out = mergeMap(base, patch, '', table)
  return out === undefined ? {} : out
}

const join = (path: string, key: string): string => (path ? `${path}.${key}` : key)

/** Merge patch map into original (which we own). Returns undefined when the map is deleted. */
function mergeMap(original: Obj, patch: Obj, path: string, table: Record<string, ListStrategy>): Obj | undefined {
  const directive = patch[DIRECTIVE]
  if (directive !== undefined) {
    if (directive === 'delete') return undefined
    if (directive === 'replace') {
      const rest = { ...patch }
      delete rest[DIRECTIVE]
      return stripDirectives(rest) as Obj
    }
    if (directive !== 'merge') throw new PatchError(`strategic merge patch: unknown patch type ${JSON.stringify(directive)} at ${path || '<root>'}`)
  }

  const retain = patch[RETAIN_KEYS]
  if (retain !== undefined) {
    if (!Array.isArray(retain) || !retain.every((x) => typeof x === 'string')) throw new PatchError(`strategic merge patch: $retainKeys must be a list of strings at ${path || '<root>'}`)
    for (const [k, v] of Object.entries(patch)) {
      // kubectl sends `"rollingUpdate": null` next to `$retainKeys: ["type"]`: clearing is fine.
      if (k.startsWith('$') || v === null) continue
      if (!retain.includes(k)) throw new PatchError(`strategic merge patch: $retainKeys at ${path || '<root>'} does not list ${JSON.stringify(k)}`)
    }
    for (const k of Object.keys(original)) if (!retain.includes(k)) delete original[k]
  }

  // $deleteFromPrimitiveList first, so a value both deleted and re-added ends present.
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(DELETE_PRIMITIVE)) continue
    const field = k.slice(DELETE_PRIMITIVE.length)
    if (!Array.isArray(v)) throw new PatchError(`strategic merge patch: ${k} must be a list`)
    const cur = original[field]
    if (Array.isArray(cur)) {
      const kept = cur.filter((x) => !v.some((d) => deepEqual(d, x)))
      original[field] = kept
    }
  }

  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER)) continue
    const p = join(path, k)
    if (v === null) {
      delete original[k]
      continue
    }
    const cur = original[k]
    if (isObj(v)) {
      const merged = mergeMap(isObj(cur) ? cur : {}, v, p, table)
      if (merged === undefined) delete original[k]
      else original[k] = merged
    } else if (Array.isArray(v)) {
      const merged = mergeList(Array.isArray(cur) ? cur : [], v, p, table)
      original[k] = merged
    } else {
      original[k] = v
    }
  }

  // $setElementOrder/<field> orders the merged list; elements not named keep their relative order after.
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(SET_ORDER)) continue
    const field = k.slice(SET_ORDER.length)
    if (!Array.isArray(v)) throw new PatchError(`strategic merge patch: ${k} must be a list`)
    const cur = original[field]
    if (!Array.isArray(cur)) continue
    original[field] = applyOrder(cur, v, strategyFor(table, join(path, field)))
  }
  return original
}

function applyOrder(list: unknown[], order: unknown[], strat: ListStrategy | undefined): unknown[] {
  const key = strat?.mergeKey
  const ident = (x: unknown): unknown => (key && isObj(x) ? x[key] : x)
  const wanted = order.map(ident)
  const ranked: { x: unknown; rank: number; i: number }[] = list.map((x, i) => {
    const at = wanted.findIndex((w) => deepEqual(w, ident(x)))
    return { x, rank: at < 0 ? Number.MAX_SAFE_INTEGER : at, i }
  })
  ranked.sort((a, b) => a.rank - b.rank || a.i - b.i)
  return ranked.map((e) => e.x)
}

function mergeList(original: unknown[], patch: unknown[], path: string, table: Record<string, ListStrategy>): unknown[] {
  const strat = strategyFor(table, path)
  // A {"$patch": "replace"} element replaces the whole list with the other elements.
  const replaceIdx = patch.findIndex((e) => isObj(e) && e[DIRECTIVE] === 'replace' && Object.keys(e).length === 1)
  if (replaceIdx >= 0) return stripDirectives(patch.filter((_, i) => i !== replaceIdx)) as unknown[]

  if (strat?.primitiveMerge) {
    const out = [...original]
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(clone(v))
    return out
  }
  const key = strat?.mergeKey
  if (!key) return stripDirectives(patch) as unknown[]

  const out: unknown[] = [...original]
  for (const el of patch) {
    if (!isObj(el)) {
      // Primitive in a keyed list: union like k8s does for mixed content.
      if (!out.some((x) => deepEqual(x, el))) out.push(el)
      continue
    }
    const kv = el[key]
    if (kv === undefined) throw new PatchError(`strategic merge patch: map in list at ${path} is missing its merge key ${JSON.stringify(key)}`)
    const idx = out.findIndex((x) => isObj(x) && deepEqual(x[key], kv))
    if (el[DIRECTIVE] === 'delete') {
      if (idx >= 0) out.splice(idx, 1)
      // Also remove duplicates sharing the key.
      for (let i = out.length - 1; i >= 0; i--) {
        const x = out[i]
        if (isObj(x) && deepEqual(x[key], kv)) out.splice(i, 1)
      }
      continue
    }
    if (idx >= 0) {
      const merged = mergeMap(out[idx] as Obj, el, path, table)
      if (merged === undefined) out.splice(idx, 1)
      else out[idx] = merged
    } else {
      const merged = mergeMap({}, el, path, table)
      if (merged !== undefined) out.push(merged)
    }
  }
  return out
}

/** Remove directive keys and null values from content that is inserted, not merged. */
function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((e) => !(isObj(e) && e[DIRECTIVE] === 'delete')).map(stripDirectives)
  if (!isObj(v)) return v
  const out: Obj = {}
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue
    if (x === null) continue
    out[k] = stripDirectives(x)
  }
  return out
}
