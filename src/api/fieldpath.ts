// Field paths and field sets, as server-side apply tracks ownership (structured-merge-diff's
// fieldpath package): a set is a tree whose edges are path elements — `f:<field>`,
// `k:<json of key fields>` (an item of a keyed list), `v:<json value>` (an item of a set) —
// and whose nodes may themselves be members (`.` in FieldsV1, a leaf `{}` otherwise).
// The tree is exactly the FieldsV1 JSON kubectl shows under metadata.managedFields.

/** One path element in its FieldsV1 spelling (`f:spec`, `k:{"name":"web"}`, `v:"x"`). */
export type PathElement = string
export type FieldPath = readonly PathElement[]

export const fieldElement = (name: string): PathElement => `f:${name}`
/** A keyed-list item: the key fields in name order, as structured-merge-diff writes them. */
export const keyElement = (key: Record<string, unknown>): PathElement =>
  `k:${JSON.stringify(Object.fromEntries(Object.keys(key).sort().map((k) => [k, key[k]])))}`
export const valueElement = (v: unknown): PathElement => `v:${JSON.stringify(v)}`

export class FieldSet {
  /** Whether the node itself is in the set (not only some of its children). */
  member = false
  readonly children = new Map<PathElement, FieldSet>()

  static of(paths: Iterable<FieldPath>): FieldSet {
    const s = new FieldSet()
    for (const p of paths) s.insert(p)
    return s
  }

  insert(path: FieldPath): void {
    let n: FieldSet = this
    for (const e of path) {
      let c = n.children.get(e)
      if (!c) n.children.set(e, (c = new FieldSet()))
      n = c
    }
    n.member = true
  }

  has(path: FieldPath): boolean {
    let n: FieldSet | undefined = this
    for (const e of path) {
      n = n.children.get(e)
      if (!n) return false
    }
    return n.member
  }

  /** The subtree under `path` (empty when absent). */
  at(path: FieldPath): FieldSet {
    let n: FieldSet | undefined = this
    for (const e of path) {
      n = n.children.get(e)
      if (!n) return new FieldSet()
    }
    return n
  }

  empty(): boolean {
    if (this.member) return false
    for (const c of this.children.values()) if (!c.empty()) return false
    return true
  }

  /** Every member path, parents before children. */
  *paths(prefix: PathElement[] = []): Generator<FieldPath> {
    if (this.member) yield [...prefix]
    for (const [e, c] of this.children) yield* c.paths([...prefix, e])
  }

  union(o: FieldSet): FieldSet {
    const out = this.clone()
    for (const p of o.paths()) out.insert(p)
    return out
  }

  difference(o: FieldSet): FieldSet {
    return FieldSet.of([...this.paths()].filter((p) => !o.has(p)))
  }

  intersection(o: FieldSet): FieldSet {
    return FieldSet.of([...this.paths()].filter((p) => o.has(p)))
  }

  clone(): FieldSet {
    return FieldSet.of(this.paths())
  }

  equals(o: FieldSet): boolean {
    const a = [...this.paths()].map((p) => p.join('\0'))
    const b = new Set([...o.paths()].map((p) => p.join('\0')))
    return a.length === b.size && a.every((x) => b.has(x))
  }

  /** FieldsV1 JSON: members with children carry `.`, members without are `{}`. */
  toFieldsV1(): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    if (this.member && this.children.size > 0) out['.'] = {}
    for (const [e, c] of [...this.children].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (c.empty()) continue
      out[e] = c.toFieldsV1()
    }
    return out
  }

  static fromFieldsV1(v: unknown): FieldSet {
    const s = new FieldSet()
    const walk = (node: unknown, into: FieldSet): void => {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new FieldsV1Error('a FieldsV1 node must be an object')
      const entries = Object.entries(node as Record<string, unknown>)
      if (entries.length === 0) into.member = true
      for (const [k, child] of entries) {
        if (k === '.') {
          into.member = true
          continue
        }
        if (!/^[fkvi]:/.test(k)) throw new FieldsV1Error(`unexpected FieldsV1 key ${JSON.stringify(k)}`)
        let c = into.children.get(k)
        if (!c) into.children.set(k, (c = new FieldSet()))
        walk(child, c)
      }
    }
    walk(v, s)
    return s
  }
}

export class FieldsV1Error extends Error {
  override name = 'FieldsV1Error'
}

/** structured-merge-diff's Path.String(): `.spec.containers[name="web"].image`. */
export function formatFieldPath(path: FieldPath): string {
  let out = ''
  for (const e of path) {
    const body = e.slice(2)
    switch (e[0]) {
      case 'f':
        out += `.${body}`
        break
      case 'k': {
        const key = JSON.parse(body) as Record<string, unknown>
        out += `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`
        break
      }
      case 'v':
        out += `[=${body}]`
        break
      default:
        out += `[${body}]`
    }
  }
  return out
}
