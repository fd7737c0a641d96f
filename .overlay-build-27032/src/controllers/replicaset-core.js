import { controllerRef, isPodActive, isPodTerminal, labelSelectorMatches, podIsAvailable, podIsReady, getCondition } from './apiutil.js';
import { creationMs, isDeleting } from './util.js';
/** The pods this ReplicaSet owns after claiming, plus the adopt/release actions that claiming implies. */
export function claimPods(rs, pods) {
    const owned = [];
    const actions = [];
    const uid = rs.metadata.uid;
    for (const p of pods) {
        const ref = controllerRef(p);
        const matches = labelSelectorMatches(rs.spec.selector, p.metadata.labels);
        if (ref) {
            if (ref.uid !== uid)
                continue;
            if (matches)
                owned.push(p);
            else if (!isDeleting(p))
                actions.push({ kind: 'release', pod: p.metadata.name });
            continue;
        }
        // Orphans are adopted only by a live owner, and only if they are alive themselves.
        if (matches && !isDeleting(rs) && !isDeleting(p) && !isPodTerminal(p)) {
            owned.push(p);
            actions.push({ kind: 'adopt', pod: p.metadata.name });
        }
    }
    return { owned, actions };
}
const phaseRank = { Pending: 0, Unknown: 1, Running: 2 };
function readySince(p) {
    const c = getCondition(p.status?.conditions, 'Ready');
    return c?.status === 'True' && c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : 0;
}
function restarts(p) {
    return (p.status?.containerStatuses ?? []).reduce((a, c) => Math.max(a, c.restartCount ?? 0), 0);
}
/**
 * Kubernetes' deletion order (controller.ActivePods): negative = a should go before b.
 * unscheduled < scheduled; Pending < Unknown < Running; not ready < ready; ready for less
 * time first; more restarts first; newer before older.
 */
export function compareForDeletion(a, b) {
    const sa = a.spec.nodeName ? 1 : 0;
    const sb = b.spec.nodeName ? 1 : 0;
    if (sa !== sb)
        return sa - sb;
    const pa = phaseRank[a.status?.phase ?? 'Pending'] ?? 0;
    const pb = phaseRank[b.status?.phase ?? 'Pending'] ?? 0;
    if (pa !== pb)
        return pa - pb;
    const ra = podIsReady(a) ? 1 : 0;
    const rb = podIsReady(b) ? 1 : 0;
    if (ra !== rb)
        return ra - rb;
    if (ra && rb) {
        const ta = readySince(a);
        const tb = readySince(b);
        if (ta !== tb)
            return tb - ta;
    }
    const xa = restarts(a);
    const xb = restarts(b);
    if (xa !== xb)
        return xb - xa;
    const ca = creationMs(a);
    const cb = creationMs(b);
    if (ca !== cb)
        return cb - ca;
    return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}
export function rsStatus(rs, owned, now) {
    const active = owned.filter(isPodActive);
    const minReady = rs.spec.minReadySeconds ?? 0;
    const tmplLabels = rs.spec.template?.metadata?.labels ?? {};
    let ready = 0;
    let available = 0;
    let fully = 0;
    let requeue;
    for (const p of active) {
        const l = p.metadata.labels ?? {};
        if (Object.entries(tmplLabels).every(([k, v]) => l[k] === v))
            fully++;
        if (podIsReady(p)) {
            ready++;
            if (podIsAvailable(p, minReady, now))
                available++;
            else {
                const since = readySince(p);
                const wait = Math.max(0, since + minReady * 1000 - now) + 50;
                requeue = requeue === undefined ? wait : Math.min(requeue, wait);
            }
        }
    }
    const status = {
        replicas: active.length,
        fullyLabeledReplicas: fully,
        readyReplicas: ready,
        availableReplicas: available,
        observedGeneration: rs.metadata.generation ?? 0,
    };
    if (rs.status?.conditions?.length)
        status.conditions = rs.status.conditions;
    return requeue === undefined ? { status } : { status, requeueAfterMs: requeue };
}
export function reconcileReplicaSet(input) {
    const { rs, pods, now } = input;
    const { owned, actions } = claimPods(rs, pods);
    if (!isDeleting(rs) && input.expectationsSatisfied !== false) {
        const active = owned.filter(isPodActive);
        const want = rs.spec.replicas ?? 1;
        const diff = active.length - want;
        if (diff < 0)
            actions.push({ kind: 'create', count: -diff });
        else if (diff > 0) {
            const victims = [...active].sort(compareForDeletion).slice(0, diff);
            actions.push({ kind: 'delete', pods: victims.map((p) => p.metadata.name) });
        }
    }
    const { status, requeueAfterMs } = rsStatus(rs, owned, now);
    if (!sameRSStatus(rs.status, status))
        actions.push({ kind: 'status', status });
    return requeueAfterMs === undefined ? { actions } : { actions, requeueAfterMs };
}
function sameRSStatus(a, b) {
    if (!a)
        return false;
    return (a.replicas === b.replicas &&
        (a.fullyLabeledReplicas ?? 0) === b.fullyLabeledReplicas &&
        (a.readyReplicas ?? 0) === b.readyReplicas &&
        (a.availableReplicas ?? 0) === b.availableReplicas &&
        (a.observedGeneration ?? 0) === b.observedGeneration);
}
