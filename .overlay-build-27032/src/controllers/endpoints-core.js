import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME } from '../api/types.js';
import { isPodTerminal, mapSelectorMatches, podIsReady } from './apiutil.js';
import { canonicalJSON } from './util.js';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
export const MAX_ENDPOINTS_PER_SLICE = 100;
/** The container port a service port targets on this pod; undefined when a named port is missing. */
export function findPort(pod, sp) {
    const tp = sp.targetPort ?? sp.port;
    if (typeof tp === 'number')
        return tp;
    if (/^[0-9]+$/.test(tp))
        return Number(tp);
    const proto = sp.protocol ?? 'TCP';
    for (const c of pod.spec.containers ?? []) {
        for (const p of c.ports ?? [])
            if (p.name === tp && (p.protocol ?? 'TCP') === proto)
                return p.containerPort;
    }
    return undefined;
}
function selectedPods(svc, pods) {
    return pods
        .filter((p) => p.metadata.namespace === svc.metadata.namespace && mapSelectorMatches(svc.spec.selector, p.metadata.labels))
        .filter((p) => !!p.status?.podIP && !isPodTerminal(p));
}
function hostnameFor(svc, pod) {
    return pod.spec.hostname && pod.spec.subdomain === svc.metadata.name ? pod.spec.hostname : undefined;
}
function podRef(pod) {
    return { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
}
function endpointPort(sp, port) {
    const p = { port, protocol: sp.protocol ?? 'TCP' };
    if (sp.name)
        p.name = sp.name;
    if (sp.appProtocol)
        p.appProtocol = sp.appProtocol;
    return p;
}
function labelsFor(svc, extra) {
    const l = { ...(svc.metadata.labels ?? {}), ...extra };
    if (svc.spec.clusterIP === 'None')
        l[LABEL_HEADLESS] = '';
    return l;
}
// ---------- Endpoints ----------
/** The Endpoints object a Service with a selector should have (undefined: leave alone). */
export function desiredEndpoints(svc, pods) {
    if (!svc.spec.selector || Object.keys(svc.spec.selector).length === 0)
        return undefined;
    const publishNotReady = svc.spec.publishNotReadyAddresses === true;
    // Group addresses by the exact port set they expose (named ports can differ per pod).
    const groups = new Map();
    for (const pod of selectedPods(svc, pods)) {
        // Terminating pods leave Endpoints unless the Service publishes not-ready addresses.
        if (pod.metadata.deletionTimestamp && !publishNotReady)
            continue;
        const ports = [];
        for (const sp of svc.spec.ports ?? []) {
            const n = findPort(pod, sp);
            if (n !== undefined)
                ports.push(endpointPort(sp, n));
        }
        if ((svc.spec.ports ?? []).length > 0 && ports.length === 0)
            continue;
        const addr = { ip: pod.status.podIP, targetRef: podRef(pod) };
        const hn = hostnameFor(svc, pod);
        if (hn)
            addr.hostname = hn;
        if (pod.spec.nodeName)
            addr.nodeName = pod.spec.nodeName;
        ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port);
        const key = canonicalJSON(ports);
        let g = groups.get(key);
        if (!g)
            groups.set(key, (g = { ports }));
        if (publishNotReady || podIsReady(pod))
            (g.addresses ??= []).push(addr);
        else
            (g.notReadyAddresses ??= []).push(addr);
    }
    const byIP = (a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }) || (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '');
    const subsets = [...groups.values()].map((g) => {
        const s = {};
        if (g.addresses)
            s.addresses = g.addresses.sort(byIP);
        if (g.notReadyAddresses)
            s.notReadyAddresses = g.notReadyAddresses.sort(byIP);
        if (g.ports && g.ports.length)
            s.ports = g.ports;
        return s;
    });
    subsets.sort((a, b) => canonicalJSON(a.ports ?? []).localeCompare(canonicalJSON(b.ports ?? [])));
    const ep = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: svc.metadata.name, namespace: svc.metadata.namespace, labels: labelsFor(svc, {}) },
    };
    if (subsets.length)
        ep.subsets = subsets;
    return ep;
}
export function endpointsEqual(a, b) {
    return canonicalJSON(a.subsets ?? []) === canonicalJSON(b.subsets ?? []) && canonicalJSON(a.metadata.labels ?? {}) === canonicalJSON(b.metadata.labels ?? {});
}
/** Endpoints grouped by port set, each group chunked to ≤ MAX_ENDPOINTS_PER_SLICE. */
export function desiredSliceContents(svc, pods) {
    const publishNotReady = svc.spec.publishNotReadyAddresses === true;
    const groups = new Map();
    for (const pod of selectedPods(svc, pods)) {
        const ports = [];
        for (const sp of svc.spec.ports ?? []) {
            const n = findPort(pod, sp);
            if (n !== undefined)
                ports.push(endpointPort(sp, n));
        }
        if ((svc.spec.ports ?? []).length > 0 && ports.length === 0)
            continue;
        ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port);
        const terminating = !!pod.metadata.deletionTimestamp;
        const ready = podIsReady(pod);
        const ep = {
            addresses: [pod.status.podIP],
            conditions: { ready: publishNotReady || (ready && !terminating), serving: publishNotReady || ready, terminating },
            targetRef: podRef(pod),
        };
        const hn = hostnameFor(svc, pod);
        if (hn)
            ep.hostname = hn;
        if (pod.spec.nodeName)
            ep.nodeName = pod.spec.nodeName;
        const key = canonicalJSON(ports);
        let g = groups.get(key);
        if (!g)
            groups.set(key, (g = { ports, endpoints: [] }));
        g.endpoints.push(ep);
    }
    const out = [];
    const keys = [...groups.keys()].sort();
    for (const k of keys) {
        const g = groups.get(k);
        g.endpoints.sort((a, b) => a.addresses[0].localeCompare(b.addresses[0], 'en', { numeric: true }));
        for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) {
            out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) });
        }
    }
    // A selector service with no endpoints still gets one (empty) slice, as upstream does.
    if (out.length === 0) {
        out.push({ ports: (svc.spec.ports ?? []).filter((sp) => typeof (sp.targetPort ?? sp.port) === 'number').map((sp) => endpointPort(sp, Number(sp.targetPort ?? sp.port))), endpoints: [] });
    }
    return out;
}
function serviceOwnerRef(svc) {
    return { apiVersion: 'v1', kind: 'Service', name: svc.metadata.name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true };
}
/**
 * Map desired contents onto existing slices: slices whose content is unchanged stay, others are
 * rewritten in place, extras created (generateName `<svc>-`) or deleted. Existing slices are those
 * labelled with the service name and managed by this controller.
 */
export function reconcileSlices(svc, pods, existing) {
    const mine = existing
        .filter((s) => s.metadata.labels?.[LABEL_SERVICE_NAME] === svc.metadata.name && s.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY)
        .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    const actions = [];
    if (!svc.spec.selector || Object.keys(svc.spec.selector).length === 0) {
        return mine.map((s) => ({ kind: 'delete', name: s.metadata.name }));
    }
    const want = desiredSliceContents(svc, pods);
    const labels = labelsFor(svc, { [LABEL_SERVICE_NAME]: svc.metadata.name, [LABEL_MANAGED_BY]: MANAGED_BY });
    const content = (s) => canonicalJSON({ p: s.ports ?? [], e: s.endpoints });
    const remaining = [...mine];
    const unmatched = [];
    // First keep slices whose content already matches exactly.
    for (const w of want) {
        const i = remaining.findIndex((s) => content(s) === content(w));
        if (i >= 0) {
            const s = remaining.splice(i, 1)[0];
            if (canonicalJSON(s.metadata.labels ?? {}) !== canonicalJSON(labels) || !s.metadata.ownerReferences?.some((r) => r.uid === svc.metadata.uid)) {
                actions.push({ kind: 'update', slice: { ...s, metadata: { ...s.metadata, labels, ownerReferences: [serviceOwnerRef(svc)] } } });
            }
        }
        else
            unmatched.push(w);
    }
    for (const w of unmatched) {
        const s = remaining.shift();
        if (s) {
            actions.push({ kind: 'update', slice: { ...s, metadata: { ...s.metadata, labels, ownerReferences: [serviceOwnerRef(svc)] }, addressType: 'IPv4', endpoints: w.endpoints, ports: w.ports } });
        }
        else {
            actions.push({
                kind: 'create',
                slice: {
                    apiVersion: 'discovery.k8s.io/v1',
                    kind: 'EndpointSlice',
                    metadata: { generateName: `${svc.metadata.name}-`, namespace: svc.metadata.namespace, labels, ownerReferences: [serviceOwnerRef(svc)] },
                    addressType: 'IPv4',
                    endpoints: w.endpoints,
                    ports: w.ports,
                },
            });
        }
    }
    for (const s of remaining)
        actions.push({ kind: 'delete', name: s.metadata.name });
    return actions;
}
