import { contains, formatCidr, formatIp, parseIp } from './ipv4.js';
export function vxlanDevName(vni) {
    return `flannel.${vni}`;
}
export function desiredState(inp) {
    const out = { routes: [], neighs: [], fdb: [], skipped: [] };
    const seen = new Set();
    for (const l of inp.remotes) {
        const dst = formatCidr(l.subnet);
        if (l.subnet.ip === inp.own.subnet.ip || l.publicIP === inp.own.publicIP)
            continue;
        if (seen.has(l.subnet.ip))
            continue;
        seen.add(l.subnet.ip);
        const sameL2 = contains(inp.underlayNet, parseIp(l.publicIP));
        if (inp.backend.type === 'host-gw') {
            if (!sameL2) {
                out.skipped.push({ subnet: dst, reason: `host-gw: ${l.publicIP} is not on ${formatCidr(inp.underlayNet)}` });
                continue;
            }
            out.routes.push({ dst, via: l.publicIP, dev: inp.underlayDev, onlink: false });
            continue;
        }
        if (l.backendType !== 'vxlan' || !l.vtepMAC) {
            out.skipped.push({ subnet: dst, reason: `lease backend is ${l.backendType}, not vxlan` });
            continue;
        }
        if (inp.backend.directRouting && sameL2) {
            out.routes.push({ dst, via: l.publicIP, dev: inp.underlayDev, onlink: false });
            continue;
        }
        const gw = formatIp(l.subnet.ip);
        out.neighs.push({ ip: gw, mac: l.vtepMAC, dev: inp.vxlanDev });
        out.fdb.push({ mac: l.vtepMAC, dst: l.publicIP, dev: inp.vxlanDev });
        out.routes.push({ dst, via: gw, dev: inp.vxlanDev, onlink: true });
    }
    return out;
}
// Identity: what the kernel keys the entry by (one route per destination in the main table,
// one neighbour per (dev, ip), one FDB entry per (dev, mac)); the rest is the content.
const routeId = (r) => r.dst;
const neighId = (n) => `${n.dev} ${n.ip}`;
const fdbId = (f) => `${f.dev} ${f.mac}`;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
function diffKind(want, have, id) {
    const groups = new Map();
    for (const h of have)
        groups.set(id(h), [...(groups.get(id(h)) ?? []), h]);
    const put = [];
    const del = [];
    const wantedKeys = new Set();
    for (const w of want) {
        const k = id(w);
        if (wantedKeys.has(k))
            continue;
        wantedKeys.add(k);
        const group = groups.get(k) ?? [];
        const exact = group.findIndex((h) => same(norm(h), norm(w)));
        if (exact >= 0) {
            // already right; any other copy under the same key is stale
            del.push(...group.filter((_, i) => i !== exact));
        }
        else {
            // one wrong entry is overwritten in place (replace); several are cleared first
            if (group.length > 1)
                del.push(...group);
            put.push(w);
        }
    }
    for (const [k, group] of groups)
        if (!wantedKeys.has(k))
            del.push(...group);
    return { put, del };
}
function norm(x) {
    const o = { ...x };
    for (const k of Object.keys(o))
        if (typeof o[k] === 'string')
            o[k] = o[k].toLowerCase();
    return o;
}
/** Diff desired against observed; observed must already be limited to entries we own. */
export function diffState(want, have) {
    return {
        routes: diffKind(want.routes, have.routes, routeId),
        neighs: diffKind(want.neighs, have.neighs, neighId),
        fdb: diffKind(want.fdb, have.fdb, fdbId),
    };
}
export function isEmptyDiff(d) {
    return [d.routes, d.neighs, d.fdb].every((k) => k.put.length === 0 && k.del.length === 0);
}
export function fmtRoute(r) {
    return `route ${r.dst} via ${r.via} dev ${r.dev}${r.onlink ? ' onlink' : ''}`;
}
export function fmtNeigh(n) {
    return `neigh ${n.ip} lladdr ${n.mac} dev ${n.dev} permanent`;
}
export function fmtFdb(f) {
    return `fdb ${f.mac} dst ${f.dst} dev ${f.dev} self permanent`;
}
/** One line per change, in the order they are applied: deletions (route, neigh, fdb), then puts (neigh, fdb, route). */
export function formatDiff(d) {
    return [
        ...d.routes.del.map((r) => `- ${fmtRoute(r)}`),
        ...d.neighs.del.map((n) => `- ${fmtNeigh(n)}`),
        ...d.fdb.del.map((f) => `- ${fmtFdb(f)}`),
        ...d.neighs.put.map((n) => `+ ${fmtNeigh(n)}`),
        ...d.fdb.put.map((f) => `+ ${fmtFdb(f)}`),
        ...d.routes.put.map((r) => `+ ${fmtRoute(r)}`),
    ];
}
/**
 * Which observed entries the overlay owns: routes to a destination inside the cluster network
 * other than our own subnet that go through a gateway (the kernel's own connected routes and
 * the CNI bridge route have none), neighbours and FDB entries on the VXLAN device.
 */
export function ownedObserved(all, network, own, vxlanDev) {
    return {
        routes: all.routes.filter((r) => {
            if (!r.via)
                return false;
            const [ip, len] = r.dst.split('/');
            if (!ip || !len || !/^\d+\.\d+\.\d+\.\d+$/.test(ip))
                return false;
            const n = parseIp(ip);
            return contains(network, n) && Number(len) >= network.prefix && !(n === own.ip && Number(len) === own.prefix);
        }),
        neighs: all.neighs.filter((n) => n.dev === vxlanDev),
        fdb: all.fdb.filter((f) => f.dev === vxlanDev),
    };
}
