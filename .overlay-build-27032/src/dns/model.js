// The DNS read model: the slim view of Services and EndpointSlices that the answer
// function needs, and nothing else (CoreDNS plugin/kubernetes keeps the same seam:
// the handler reads only through a narrow index).
//
// Two properties matter to clients:
// - `synced` stays false until the first full list of every watched resource is in:
//   until then a missing name may just be not-yet-seen, so the answer is SERVFAIL,
//   never a false NXDOMAIN.
// - `serial` (the zone's SOA serial) and `generation` move only when something visible
//   in DNS changed: an EndpointSlice update that only bumps resourceVersion, or moves a
//   pod's nodeName, leaves them alone. The server's answer cache is keyed on generation.
import ipaddr from 'ipaddr.js';
const TOLERATE_UNREADY = 'service.alpha.kubernetes.io/tolerate-unready-endpoints';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The spec's system-assigned hostname for an endpoint without one (CoreDNS's form). */
export function derivedHostname(ip) {
    return ip.includes(':') ? ip.replace(/:/g, '-') : ip.replace(/\./g, '-');
}
function isHeadless(svc) {
    const ip = svc.spec.clusterIP;
    return ip === 'None' || ip === undefined || ip === '';
}
function slimPorts(ports) {
    return (ports ?? []).map((p) => ({
        name: (p.name ?? '').toLowerCase(),
        protocol: (p.protocol ?? 'TCP').toLowerCase(),
        port: p.port,
    }));
}
export class DnsModel {
    now;
    synced = false;
    serial;
    generation = 0;
    services = new Map();
    /** service key → slice name → slice */
    slices = new Map();
    views = new Map();
    nsCount = new Map();
    /** ip → service key → relative PTR targets */
    reverseIndex = new Map();
    listeners = [];
    constructor(now = Date.now) {
        this.now = now;
        this.serial = Math.floor(now() / 1000);
    }
    /** Called after every visible change (the server drops its answer cache). */
    onChange(fn) {
        this.listeners.push(fn);
    }
    setSynced(synced) {
        if (this.synced === synced)
            return;
        this.synced = synced;
        this.bump();
    }
    service(namespace, name) {
        return this.views.get(`${namespace}/${name}`)?.view;
    }
    namespaceExists(namespace) {
        return (this.nsCount.get(namespace) ?? 0) > 0;
    }
    reverse(ip) {
        const m = this.reverseIndex.get(ip);
        if (!m)
            return [];
        const out = [];
        for (const names of m.values())
            out.push(...names);
        return out;
    }
    upsertService(svc) {
        const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`.toLowerCase();
        this.services.set(key, svc);
        this.refresh(key);
    }
    deleteService(namespace, name) {
        const key = `${namespace}/${name}`.toLowerCase();
        this.services.delete(key);
        this.refresh(key);
    }
    upsertEndpointSlice(slice) {
        const key = sliceServiceKey(slice);
        if (!key)
            return;
        let m = this.slices.get(key);
        if (!m)
            this.slices.set(key, (m = new Map()));
        m.set(slice.metadata.name ?? '', slice);
        this.refresh(key);
    }
    deleteEndpointSlice(slice) {
        const key = sliceServiceKey(slice);
        if (!key)
            return;
        const m = this.slices.get(key);
        if (!m)
            return;
        m.delete(slice.metadata.name ?? '');
        if (m.size === 0)
            this.slices.delete(key);
        this.refresh(key);
    }
    /** Recompute one service's view; bump serial/generation only if it visibly changed. */
    refresh(key) {
        const svc = this.services.get(key);
        const view = svc ? buildView(svc, [...(this.slices.get(key)?.values() ?? [])]) : undefined;
        const fingerprint = view ? JSON.stringify(view) : '';
        const old = this.views.get(key);
        if ((old?.fingerprint ?? '') === fingerprint)
            return;
        if (old) {
            this.unindex(key, old.view);
            this.nsCount.set(old.view.namespace, (this.nsCount.get(old.view.namespace) ?? 1) - 1);
        }
        if (view) {
            this.views.set(key, { view, fingerprint });
            this.index(key, view);
            this.nsCount.set(view.namespace, (this.nsCount.get(view.namespace) ?? 0) + 1);
        }
        else {
            this.views.delete(key);
        }
        this.bump();
    }
    bump() {
        this.generation++;
        // Serial as CoreDNS does it: time-based, but strictly increasing.
        this.serial = Math.max(this.serial + 1, Math.floor(this.now() / 1000));
        for (const fn of this.listeners)
            fn();
    }
    ptrTargets(view) {
        const base = `${view.name}.${view.namespace}.svc`;
        const out = [];
        if (view.kind === 'ClusterIP')
            for (const ip of view.clusterIPs)
                out.push([ip, base]);
        if (view.kind === 'Headless')
            for (const ep of view.endpoints)
                for (const ip of ep.addresses)
                    out.push([ip, `${ep.hostname}.${base}`]);
        return out;
    }
    index(key, view) {
        for (const [ip, target] of this.ptrTargets(view)) {
            let m = this.reverseIndex.get(ip);
            if (!m)
                this.reverseIndex.set(ip, (m = new Map()));
            const list = m.get(key);
            if (list)
                list.push(target);
            else
                m.set(key, [target]);
        }
    }
    unindex(key, view) {
        for (const [ip] of this.ptrTargets(view)) {
            const m = this.reverseIndex.get(ip);
            if (!m)
                continue;
            m.delete(key);
            if (m.size === 0)
                this.reverseIndex.delete(ip);
        }
    }
}
function sliceServiceKey(slice) {
    const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svcName)
        return undefined;
    return `${slice.metadata.namespace ?? 'default'}/${svcName}`.toLowerCase();
}
/** Canonical text of an IP as the reverse index stores it (IPv6 compressed, lower case). */
export function canonicalIP(ip) {
    try {
        return ipaddr.parse(ip).toString();
    }
    catch {
        return ip.toLowerCase();
    }
}
export function buildView(svc, slices) {
    const spec = svc.spec;
    const kind = spec.type === 'ExternalName' ? 'ExternalName' : isHeadless(svc) ? 'Headless' : 'ClusterIP';
    const view = {
        namespace: (svc.metadata.namespace ?? 'default').toLowerCase(),
        name: (svc.metadata.name ?? '').toLowerCase(),
        kind,
        clusterIPs: [],
        ports: slimPorts(spec.ports),
        endpoints: [],
    };
    if (kind === 'ExternalName') {
        view.externalName = (spec.externalName ?? '').toLowerCase().replace(/\.$/, '');
        return view;
    }
    if (kind === 'ClusterIP') {
        const ips = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
        view.clusterIPs = ips.map(canonicalIP);
    }
    const publishAll = spec.publishNotReadyAddresses === true || svc.metadata.annotations?.[TOLERATE_UNREADY] === 'true';
    // Endpoints keyed by hostname: the same pod may show up in two slices during a
    // controller transition, and the spec wants one record per (hostname, IP).
    const byHost = new Map();
    for (const slice of slices) {
        if (slice.addressType === 'FQDN')
            continue;
        const ports = slimPorts(slice.ports);
        for (const ep of slice.endpoints ?? []) {
            // A nil `ready` means ready (discovery.k8s.io/v1 API contract).
            if (!publishAll && ep.conditions?.ready === false)
                continue;
            if (!ep.addresses?.length)
                continue;
            const addresses = ep.addresses.map(canonicalIP);
            const hostname = (ep.hostname ?? derivedHostname(addresses[0])).toLowerCase();
            const prev = byHost.get(hostname);
            if (prev) {
                for (const a of addresses)
                    if (!prev.addresses.includes(a))
                        prev.addresses.push(a);
                for (const p of ports)
                    if (!prev.ports.some((q) => q.name === p.name && q.protocol === p.protocol && q.port === p.port))
                        prev.ports.push(p);
            }
            else {
                byHost.set(hostname, { hostname, addresses: [...addresses], ports: [...ports] });
            }
        }
    }
    view.endpoints = [...byHost.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
    for (const ep of view.endpoints)
        ep.addresses.sort();
    return view;
}
