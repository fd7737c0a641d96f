import { TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE } from '../api/types.js';
import { getCondition, isPodTerminal, podIsReady } from './apiutil.js';
/** Fold one observation into the node's health record. */
export function observeNode(prev, node, lease, now) {
    const renew = lease?.spec?.renewTime;
    const hb = getCondition(node.status?.conditions, 'Ready')?.lastHeartbeatTime;
    if (!prev)
        return { probeTimestamp: now, ...(renew ? { leaseRenewTime: renew } : {}), ...(hb ? { readyHeartbeat: hb } : {}) };
    const moved = (renew !== undefined && renew !== prev.leaseRenewTime) || (hb !== undefined && hb !== prev.readyHeartbeat);
    return { probeTimestamp: moved ? now : prev.probeTimestamp, ...(renew ? { leaseRenewTime: renew } : {}), ...(hb ? { readyHeartbeat: hb } : {}) };
}
const OWN_TAINTS = new Set([TAINT_NODE_UNREACHABLE, TAINT_NODE_NOT_READY]);
function tolerates(t, taint) {
    if (t.effect && t.effect !== taint.effect)
        return false;
    if (t.operator === 'Exists')
        return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}
export function decideNode(node, health, pods, now, cfg) {
    const actions = [];
    let requeue;
    const due = (ms) => {
        const d = Math.max(0, ms) + 50;
        requeue = requeue === undefined ? d : Math.min(requeue, d);
    };
    const ts = new Date(now).toISOString();
    let conds = node.status?.conditions ?? [];
    const ready = getCondition(conds, 'Ready');
    const silentFor = now - health.probeTimestamp;
    if (silentFor > cfg.gracePeriodMs) {
        if (ready?.status !== 'Unknown') {
            const never = !ready;
            const unknown = (c) => ({
                ...c,
                status: 'Unknown',
                reason: 'NodeStatusUnknown',
                message: 'Kubelet stopped posting node status.',
                lastTransitionTime: ts,
            });
            conds = never
                ? [...conds, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastTransitionTime: ts, lastHeartbeatTime: ts }]
                : conds.map((c) => (c.status === 'Unknown' ? c : unknown(c)));
            actions.push({ kind: 'nodeConditions', conditions: conds });
        }
    }
    else {
        due(cfg.gracePeriodMs - silentFor);
    }
    // Taints follow the (possibly just updated) Ready condition.
    const readyNow = getCondition(conds, 'Ready')?.status;
    const key = readyNow === 'Unknown' ? TAINT_NODE_UNREACHABLE : readyNow === 'False' ? TAINT_NODE_NOT_READY : undefined;
    const existing = node.spec?.taints ?? [];
    const keep = existing.filter((t) => !OWN_TAINTS.has(t.key) || (t.key === key && (t.effect === 'NoSchedule' || t.effect === 'NoExecute')));
    const want = [...keep];
    if (key) {
        for (const effect of ['NoSchedule', 'NoExecute']) {
            if (!want.some((t) => t.key === key && t.effect === effect))
                want.push({ key, effect, timeAdded: ts });
        }
    }
    const sig = (l) => l.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).sort().join(',');
    if (sig(want) !== sig(existing))
        actions.push({ kind: 'taints', taints: want });
    const noExec = want.find((t) => t.key === key && t.effect === 'NoExecute');
    if (noExec) {
        const since = Date.parse(noExec.timeAdded ?? ts) || now;
        for (const p of pods) {
            if (p.spec.nodeName !== node.metadata.name || isPodTerminal(p))
                continue;
            if (readyNow === 'Unknown' && podIsReady(p))
                actions.push({ kind: 'markPodNotReady', namespace: p.metadata.namespace, name: p.metadata.name });
            if (p.metadata.deletionTimestamp)
                continue;
            const tol = (p.spec.tolerations ?? []).find((t) => tolerates(t, noExec));
            if (tol && tol.tolerationSeconds === undefined)
                continue;
            const allowMs = tol ? Math.max(0, tol.tolerationSeconds) * 1000 : cfg.podEvictionTimeoutMs;
            const at = since + allowMs;
            if (now >= at)
                actions.push({ kind: 'evictPod', namespace: p.metadata.namespace, name: p.metadata.name });
            else
                due(at - now);
        }
    }
    return requeue === undefined ? { actions } : { actions, requeueAfterMs: requeue };
}
/**
 * Pod garbage collection for vanished nodes (upstream's PodGC): a pod bound to a node that no
 * longer exists can never be finished by a kubelet, so after a quarantine it is force-deleted.
 * `firstSeen` remembers when each orphan was first noticed (mutated: the caller keeps it).
 */
export function orphanedPods(pods, nodeNames, firstSeen, now, quarantineMs) {
    const out = [];
    const still = new Set();
    for (const p of pods) {
        const n = p.spec.nodeName;
        if (!n || nodeNames.has(n))
            continue;
        const key = `${p.metadata.namespace}/${p.metadata.name}`;
        still.add(key);
        const since = firstSeen.get(key) ?? now;
        firstSeen.set(key, since);
        if (now - since >= quarantineMs)
            out.push(p);
    }
    for (const k of firstSeen.keys())
        if (!still.has(k))
            firstSeen.delete(k);
    return out;
}
