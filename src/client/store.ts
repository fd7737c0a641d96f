// The informer's local cache: objects by key (`namespace/name` or `name`) plus secondary
// indexes computed by indexer functions. Objects are shared with every handler: treat them
// as read-only (copy before changing, as with client-go's cache).
import type { KubeObject } from '../api/types.js'
import type { Store } from './interfaces.js'

export type Indexers<T> = Record<string, (obj: T) => string[]>

/** Always available: objects by namespace ('' for cluster-scoped). */
export const NAMESPACE_INDEX = 'namespace'

export class IndexedStore<T extends KubeObject> implements Store<T> {
  private items = new Map<string, T>()
  /** indexName → index value → keys */
  private indices = new Map<string, Map<string, Set<string>>>()
  /** key → index values it was filed under (so a mutated object cannot corrupt the index). */
  private filed = new Map<string, [string, string[]][]>()
  private readonly indexers: Indexers<T>

  constructor(indexers: Indexers<T> = {}) {
    this.indexers = { [NAMESPACE_INDEX]: (o: T) => [o.metadata.namespace ?? ''], ...indexers }
    for (const name of Object.keys(this.indexers)) this.indices.set(name, new Map())
  }

  get(key: string): T | undefined {
    return this.items.get(key)
  }

  list(): T[] {
    return [...this.items.values()]
  }

  keys(): string[] {
    return [...this.items.keys()]
  }

  get size(): number {
    return this.items.size
  }

  byIndex(indexName: string, value: string): T[] {
    const idx = this.indices.get(indexName)
    if (!idx) throw new Error(`no index named "${indexName}" (known: ${[...this.indices.keys()].join(', ')})`)
    const keys = idx.get(value)
    if (!keys) return []
    const out: T[] = []
    for (const k of keys) {
      const o = this.items.get(k)
      if (o) out.push(o)
    }
    return out
  }

  /** Index values of one index present in the store (e.g. all namespaces that hold objects). */
  indexValues(indexName: string): string[] {
    return [...(this.indices.get(indexName)?.keys() ?? [])]
  }

  /** Inserts or replaces; returns the previous object. */
  put(key: string, obj: T): T | undefined {
    const old = this.items.get(key)
    if (old) this.unindex(key)
    this.items.set(key, obj)
    this.index(key, obj)
    return old
  }

  /** Removes; returns what was there. */
  remove(key: string): T | undefined {
    const old = this.items.get(key)
    if (!old) return undefined
    this.unindex(key)
    this.items.delete(key)
    return old
  }

  private values(name: string, obj: T): string[] {
    try {
      return this.indexers[name]!(obj)
    } catch {
      // An indexer that cannot read an object (missing field) simply does not index it.
      return []
    }
  }

  private index(key: string, obj: T): void {
    const filed: [string, string[]][] = []
    for (const [name, idx] of this.indices) {
      const vals = [...new Set(this.values(name, obj))]
      filed.push([name, vals])
      for (const v of vals) {
        let s = idx.get(v)
        if (!s) idx.set(v, (s = new Set()))
        s.add(key)
      }
    }
    this.filed.set(key, filed)
  }

  private unindex(key: string): void {
    for (const [name, vals] of this.filed.get(key) ?? []) {
      const idx = this.indices.get(name)!
      for (const v of vals) {
        const s = idx.get(v)
        if (!s) continue
        s.delete(key)
        if (s.size === 0) idx.delete(v)
      }
    }
    this.filed.delete(key)
  }
}
