export const FINALIZER_FOREGROUND = 'foregroundDeletion';
export const FINALIZER_ORPHAN = 'orphan';
export function refOf(apiVersion, kind, obj) {
    const r = { apiVersion, kind, name: obj.metadata.name, uid: obj.metadata.uid };
    if (obj.metadata.namespace)
        r.namespace = obj.metadata.namespace;
    return r;
}
/**
 * One full pass over the graph. `knownKinds` are the apiVersion/kind pairs the cache holds:
 * a reference to any other kind cannot be judged and is left alone.
 */
export function collectGarbage(nodes, knownKinds) {
    const byUid = new Map();
    const dependents = new Map();
    for (const n of nodes) {
        byUid.set(n.ref.uid, n);
        for (const r of n.obj.metadata.ownerReferences ?? []) {
            const l = dependents.get(r.uid);
            if (l)
                l.push(n);
            else
                dependents.set(r.uid, [n]);
        }
    }
    const actions = [];
    for (const owner of nodes) {
        const m = owner.obj.metadata;
        if (!m.deletionTimestamp)
            continue;
        const fins = m.finalizers ?? [];
        const deps = dependents.get(owner.ref.uid) ?? [];
        if (fins.includes(FINALIZER_ORPHAN)) {
            for (const d of deps)
                actions.push({ kind: 'removeOwnerRefs', ref: d.ref, uids: [owner.ref.uid], absentOwners: [] });
            actions.push({ kind: 'removeFinalizer', ref: owner.ref, finalizer: FINALIZER_ORPHAN });
        }
        else if (fins.includes(FINALIZER_FOREGROUND)) {
            for (const d of deps) {
                if (!d.obj.metadata.deletionTimestamp)
                    actions.push({ kind: 'delete', ref: d.ref, propagation: 'Foreground', absentOwners: [] });
            }
            const blocking = deps.filter((d) => d.obj.metadata.ownerReferences?.some((r) => r.uid === owner.ref.uid && r.blockOwnerDeletion));
            if (blocking.length === 0)
                actions.push({ kind: 'removeFinalizer', ref: owner.ref, finalizer: FINALIZER_FOREGROUND });
        }
    }
    for (const d of nodes) {
        const refs = d.obj.metadata.ownerReferences ?? [];
        if (refs.length === 0 || d.obj.metadata.deletionTimestamp)
            continue;
        const dangling = [];
        let unknown = false;
        for (const r of refs) {
            if (!knownKinds.has(`${r.apiVersion}/${r.kind}`)) {
                unknown = true;
                continue;
            }
            const o = byUid.get(r.uid);
            // Owners must be in the dependent's namespace, or cluster-scoped.
            const ok = o && o.ref.kind === r.kind && o.ref.name === r.name && (!o.ref.namespace || o.ref.namespace === d.ref.namespace);
            if (!ok)
                dangling.push(r);
        }
        if (dangling.length === 0)
            continue;
        if (dangling.length === refs.length && !unknown) {
            actions.push({ kind: 'delete', ref: d.ref, propagation: 'Background', absentOwners: dangling });
        }
        else {
            actions.push({ kind: 'removeOwnerRefs', ref: d.ref, uids: dangling.map((r) => r.uid), absentOwners: dangling });
        }
    }
    return actions;
}
