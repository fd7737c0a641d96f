export function getCondition(conds, type) {
    return conds?.find((c) => c.type === type);
}
/**
 * Return a new condition list with `cond` set. As k8s controllers do, lastTransitionTime moves only
 * when the status changes; when the status is unchanged the old transition time is kept even if the
 * caller passed a new one (reason/message/other fields are updated).
 */
export function setCondition(conds, cond, now = new Date()) {
    const list = conds ? [...conds] : [];
    const i = list.findIndex((c) => c.type === cond.type);
    if (i < 0) {
        list.push({ ...cond, lastTransitionTime: cond.lastTransitionTime ?? isoSeconds(now) });
        return list;
    }
    const old = list[i];
    const lastTransitionTime = old.status === cond.status ? old.lastTransitionTime ?? cond.lastTransitionTime ?? isoSeconds(now) : cond.lastTransitionTime ?? isoSeconds(now);
    list[i] = { ...cond, lastTransitionTime };
    return list;
}
/** Remove a condition type; returns a new list. */
export function removeCondition(conds, type) {
    return (conds ?? []).filter((c) => c.type !== type);
}
/** RFC 3339 with seconds precision, as metav1.Time marshals. */
export function isoSeconds(d) {
    return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
export function controllerRef(obj) {
    return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}
export function isControlledBy(obj, owner) {
    const ref = controllerRef(obj);
    return ref !== undefined && owner.metadata.uid !== undefined && ref.uid === owner.metadata.uid;
}
export function newControllerRef(owner, apiVersion, kind) {
    return {
        apiVersion,
        kind,
        name: owner.metadata.name ?? '',
        uid: owner.metadata.uid ?? '',
        controller: true,
        blockOwnerDeletion: true,
    };
}
export function podIsReady(pod) {
    return getCondition(pod.status?.conditions, 'Ready')?.status === 'True';
}
/** Ready for at least minReadySeconds (by the Ready condition's lastTransitionTime). */
export function podIsAvailable(pod, minReadySeconds, now) {
    const c = getCondition(pod.status?.conditions, 'Ready');
    if (c?.status !== 'True')
        return false;
    if (!minReadySeconds || minReadySeconds <= 0)
        return true;
    if (!c.lastTransitionTime)
        return false;
    const t = Date.parse(c.lastTransitionTime);
    return Number.isFinite(t) && t + minReadySeconds * 1000 <= now.getTime();
}
export function isPodTerminal(pod) {
    const p = pod.status?.phase;
    return p === 'Succeeded' || p === 'Failed';
}
/** Active for a ReplicaSet: not terminal and not being deleted. */
export function isPodActive(pod) {
    return !isPodTerminal(pod) && !pod.metadata.deletionTimestamp;
}
/** `namespace/name` (or `name` for cluster-scoped objects), the key informers use. */
export function objectKey(obj) {
    const ns = obj.metadata.namespace;
    return ns ? `${ns}/${obj.metadata.name ?? ''}` : obj.metadata.name ?? '';
}
