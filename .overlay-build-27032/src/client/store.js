/** Always available: objects by namespace ('' for cluster-scoped). */
export const NAMESPACE_INDEX = 'namespace';
export class IndexedStore {
    items = new Map();
    /** indexName → index value → keys */
    indices = new Map();
    /** key → index values it was filed under (so a mutated object cannot corrupt the index). */
    filed = new Map();
    indexers;
    constructor(indexers = {}) {
        this.indexers = { [NAMESPACE_INDEX]: (o) => [o.metadata.namespace ?? ''], ...indexers };
        for (const name of Object.keys(this.indexers))
            this.indices.set(name, new Map());
    }
    get(key) {
        return this.items.get(key);
    }
    list() {
        return [...this.items.values()];
    }
    keys() {
        return [...this.items.keys()];
    }
    get size() {
        return this.items.size;
    }
    byIndex(indexName, value) {
        const idx = this.indices.get(indexName);
        if (!idx)
            throw new Error(`no index named "${indexName}" (known: ${[...this.indices.keys()].join(', ')})`);
        const keys = idx.get(value);
        if (!keys)
            return [];
        const out = [];
        for (const k of keys) {
            const o = this.items.get(k);
            if (o)
                out.push(o);
        }
        return out;
    }
    /** Index values of one index present in the store (e.g. all namespaces that hold objects). */
    indexValues(indexName) {
        return [...(this.indices.get(indexName)?.keys() ?? [])];
    }
    /** Inserts or replaces; returns the previous object. */
    put(key, obj) {
        const old = this.items.get(key);
        if (old)
            this.unindex(key);
        this.items.set(key, obj);
        this.index(key, obj);
        return old;
    }
    /** Removes; returns what was there. */
    remove(key) {
        const old = this.items.get(key);
        if (!old)
            return undefined;
        this.unindex(key);
        this.items.delete(key);
        return old;
    }
    values(name, obj) {
        try {
            return this.indexers[name](obj);
        }
        catch {
            // An indexer that cannot read an object (missing field) simply does not index it.
            return [];
        }
    }
    index(key, obj) {
        const filed = [];
        for (const [name, idx] of this.indices) {
            const vals = [...new Set(this.values(name, obj))];
            filed.push([name, vals]);
            for (const v of vals) {
                let s = idx.get(v);
                if (!s)
                    idx.set(v, (s = new Set()));
                s.add(key);
            }
        }
        this.filed.set(key, filed);
    }
    unindex(key) {
        for (const [name, vals] of this.filed.get(key) ?? []) {
            const idx = this.indices.get(name);
            for (const v of vals) {
                const s = idx.get(v);
                if (!s)
                    continue;
                s.delete(key);
                if (s.size === 0)
                    idx.delete(v);
            }
        }
        this.filed.delete(key);
    }
}
