// The answer function: (question, read model, config) → response, with no I/O.
// It implements the Kubernetes DNS-Based Service Discovery spec (kubernetes/dns
// docs/specification.md) plus CoreDNS's choices where the spec leaves room:
//   <svc>.<ns>.svc.<zone>              A/AAAA: ClusterIPs; headless: every ready endpoint IP
//                                      (no ready endpoint → NXDOMAIN, as the spec says);
//                                      ExternalName: CNAME <externalName>.
//   <host>.<svc>.<ns>.svc.<zone>       A/AAAA of the endpoint with that (explicit or derived) hostname
//   _<port>._<proto>.<svc>.<ns>.svc... SRV per named port (headless: per endpoint × port)
//   <a-b-c-d>.<ns>.pod.<zone>          A of the IP written in the name ("pods insecure")
//   dns-version.<zone>                 TXT "1.1.0"
//   <reversed ip>.in-addr.arpa / ip6.arpa  PTR for ClusterIPs and headless endpoints
// A name that exists asked for another type is NODATA; a name that does not exist is
// NXDOMAIN; both carry the zone's SOA so resolvers can cache the negative answer.
// Until the model has synced, names that depend on it answer SERVFAIL.
import ipaddr from 'ipaddr.js';
export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 };
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
export const CLASS_IN = 1;
export const DNS_SCHEMA_VERSION = '1.1.0';
const TYPE_NAMES = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
const RCODE_NAMES = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));
export const typeName = (t) => TYPE_NAMES[t] ?? `TYPE${t}`;
export const rcodeName = (r) => RCODE_NAMES[r] ?? `RCODE${r}`;
export function normalizeName(name) {
    const n = name.toLowerCase();
    return n.endsWith('.') ? n.slice(0, -1) : n;
}
export function answer(q, model, cfg) {
    const name = normalizeName(q.name);
    const zone = normalizeName(cfg.zone);
    if (name === zone || name.endsWith(`.${zone}`)) {
        if (q.class !== CLASS_IN)
            return done(RCODE.REFUSED, [], [], []);
        const labels = name === zone ? [] : name.slice(0, -(zone.length + 1)).split('.');
        return new ZoneAnswer(q.type, name, labels, model, cfg, zone).run();
    }
    if (q.class === CLASS_IN && (name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa'))) {
        const ip = reverseNameToIP(name);
        const targets = ip ? model.reverse(ip) : [];
        // Unknown reverse names fall through to the upstream resolvers (CoreDNS: fallthrough in-addr.arpa ip6.arpa).
        if (targets.length === 0)
            return { kind: 'forward' };
        if (q.type !== TYPE.PTR && q.type !== TYPE.ANY)
            return done(RCODE.NOERROR, [], [], []);
        return done(RCODE.NOERROR, targets.map((t) => ({ name, ttl: cfg.ttl, type: 'PTR', target: `${t}.${zone}` })), [], []);
    }
    return { kind: 'forward' };
}
function done(rcode, answers, authorities, additionals) {
    return { kind: 'answer', response: { rcode, answers, authorities, additionals } };
}
const MISSING = { exists: false };
class ZoneAnswer {
    qtype;
    name;
    labels;
    model;
    cfg;
    zone;
    ttl;
    constructor(qtype, name, labels, model, cfg, zone) {
        this.qtype = qtype;
        this.name = name;
        this.labels = labels;
        this.model = model;
        this.cfg = cfg;
        this.zone = zone;
        this.ttl = cfg.ttl;
    }
    run() {
        const found = this.lookup();
        if (found === 'servfail')
            return done(RCODE.SERVFAIL, [], [], []);
        if (!found.exists)
            return done(RCODE.NXDOMAIN, [], [this.soa()], []);
        const qt = this.qtype;
        // CNAME answers every type (RFC 1034 §3.6.2); the server chases the target.
        const cname = found.records.find((r) => r.type === 'CNAME');
        if (cname) {
            const out = done(RCODE.NOERROR, [cname], [], []);
            if (qt !== TYPE.CNAME && qt !== TYPE.ANY && out.kind === 'answer')
                out.chase = cname.target;
            return out;
        }
        const matching = qt === TYPE.ANY ? found.records : found.records.filter((r) => TYPE[r.type] === qt);
        if (matching.length === 0)
            return done(RCODE.NOERROR, [], [this.soa()], []);
        const additionals = qt === TYPE.SRV || qt === TYPE.ANY || qt === TYPE.NS ? (found.additionals ?? []) : [];
        return done(RCODE.NOERROR, matching, [], additionals);
    }
    soa() {
        return {
            name: this.zone,
            ttl: this.ttl,
            type: 'SOA',
            mname: `ns.dns.${this.zone}`,
            rname: `hostmaster.${this.zone}`,
            serial: this.model.serial >>> 0,
            refresh: 7200,
            retry: 1800,
            expire: 86400,
            minimum: this.ttl,
        };
    }
    rr(data, name = this.name) {
        return { name, ttl: this.ttl, ...data };
    }
    addr(ip, name = this.name) {
        return this.rr({ type: ip.includes(':') ? 'AAAA' : 'A', address: ip }, name);
    }
    /** Names that exist only because something exists below them (RFC 8020 empty non-terminals). */
    emptyNonTerminal() {
        return { exists: true, records: [] };
    }
    lookup() {
        const l = this.labels;
        const n = l.length;
        if (n === 0) {
            const records = [this.soa(), this.rr({ type: 'NS', target: `ns.dns.${this.zone}` })];
            const glue = this.cfg.nsAddress ? [this.addr(this.cfg.nsAddress, `ns.dns.${this.zone}`)] : [];
            return { exists: true, records, additionals: glue };
        }
        const last = l[n - 1];
        if (n === 1 && last === 'dns-version')
            return { exists: true, records: [this.rr({ type: 'TXT', text: [DNS_SCHEMA_VERSION] })] };
        if (n === 1 && (last === 'svc' || last === 'pod' || last === 'dns'))
            return this.emptyNonTerminal();
        if (n === 2 && l[0] === 'ns' && last === 'dns')
            return { exists: true, records: this.cfg.nsAddress ? [this.addr(this.cfg.nsAddress)] : [] };
        if (last === 'pod')
            return n === 3 ? this.pod(l[0]) : n === 2 ? this.emptyNonTerminal() : MISSING;
        if (last !== 'svc')
            return MISSING;
        if (!this.model.synced)
            return 'servfail';
        if (n === 2)
            return this.model.namespaceExists(l[0]) ? this.emptyNonTerminal() : MISSING;
        const svc = this.model.service(l[n - 2], l[n - 3]);
        if (!svc)
            return MISSING;
        if (n === 3)
            return this.serviceRecords(svc);
        if (n === 4) {
            if (l[0].startsWith('_'))
                return this.srvParent(svc, l[0].slice(1));
            return this.endpointRecords(svc, l[0]);
        }
        if (n === 5 && l[0].startsWith('_') && l[1].startsWith('_'))
            return this.srv(svc, l[0].slice(1), l[1].slice(1));
        return MISSING;
    }
    pod(label) {
        const ip = podLabelToIP(label);
        return ip ? { exists: true, records: [this.addr(ip)] } : MISSING;
    }
    serviceRecords(svc) {
        if (svc.kind === 'ExternalName') {
            if (!svc.externalName)
                return MISSING;
            return { exists: true, records: [this.rr({ type: 'CNAME', target: svc.externalName })], chase: svc.externalName };
        }
        if (svc.kind === 'ClusterIP')
            return { exists: true, records: svc.clusterIPs.map((ip) => this.addr(ip)) };
        if (svc.endpoints.length === 0)
            return MISSING;
        const seen = new Set();
        const records = [];
        for (const ep of svc.endpoints)
            for (const ip of ep.addresses)
                if (!seen.has(ip)) {
                    seen.add(ip);
                    records.push(this.addr(ip));
                }
        return { exists: true, records };
    }
    endpointRecords(svc, host) {
        const ep = svc.endpoints.find((e) => e.hostname === host);
        return ep ? { exists: true, records: ep.addresses.map((ip) => this.addr(ip)) } : MISSING;
    }
    /** The SRV records of a service for (port name, proto), with their additional address records. */
    srvRecords(svc, port, proto) {
        const base = `${svc.name}.${svc.namespace}.svc.${this.zone}`;
        const targets = [];
        if (svc.kind === 'Headless') {
            for (const ep of svc.endpoints)
                for (const p of ep.ports)
                    if (p.name === port && p.protocol === proto)
                        targets.push({ port: p.port, target: `${ep.hostname}.${base}`, ips: ep.addresses });
        }
        else {
            for (const p of svc.ports)
                if (p.name !== '' && p.name === port && p.protocol === proto)
                    targets.push(svc.kind === 'ExternalName'
                        ? { port: p.port, target: svc.externalName ?? '', ips: [] }
                        : { port: p.port, target: base, ips: svc.clusterIPs });
        }
        // All targets share one priority; weights split 100 evenly (RFC 2782 load sharing).
        const weight = Math.max(1, Math.floor(100 / Math.max(1, targets.length)));
        const records = targets.map((t) => this.rr({ type: 'SRV', priority: 0, weight, port: t.port, target: t.target }));
        const additionals = [];
        const glued = new Set();
        for (const t of targets)
            for (const ip of t.ips) {
                const k = `${t.target} ${ip}`;
                if (glued.has(k))
                    continue;
                glued.add(k);
                additionals.push(this.addr(ip, t.target));
            }
        return { records, additionals };
    }
    srv(svc, port, proto) {
        if (svc.kind === 'Headless' && svc.endpoints.length === 0)
            return MISSING;
        const { records, additionals } = this.srvRecords(svc, port, proto);
        return records.length ? { exists: true, records, additionals } : MISSING;
    }
    /** `_<proto>.<svc>.<ns>.svc` exists (empty) when some named port of that protocol does. */
    srvParent(svc, proto) {
        if (svc.kind === 'Headless' && svc.endpoints.length === 0)
            return MISSING;
        const ports = svc.kind === 'Headless' ? svc.endpoints.flatMap((e) => e.ports) : svc.ports;
        return ports.some((p) => p.name !== '' && p.protocol === proto) ? this.emptyNonTerminal() : MISSING;
    }
}
/** `10-1-2-3` → 10.1.2.3; `fd00--1` → fd00::1 (CoreDNS's pod name forms); undefined if not an IP. */
export function podLabelToIP(label) {
    const parts = label.split('-');
    if (parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && String(Number(p)) === p))
        return parts.join('.');
    const v6 = label.replace(/-/g, ':');
    if (v6.includes(':') && /^[0-9a-f:]+$/.test(v6) && ipaddr.IPv6.isValid(v6))
        return ipaddr.parse(v6).toString();
    return undefined;
}
/** `4.3.2.1.in-addr.arpa` → 1.2.3.4; 32 nibbles under ip6.arpa → IPv6; else undefined. */
export function reverseNameToIP(name) {
    if (name.endsWith('.in-addr.arpa')) {
        const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
        if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255))
            return undefined;
        return parts.reverse().map(Number).join('.');
    }
    if (name.endsWith('.ip6.arpa')) {
        const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
        if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x)))
            return undefined;
        const hex = nibbles.reverse().join('');
        const groups = hex.match(/.{4}/g).join(':');
        return ipaddr.parse(groups).toString();
    }
    return undefined;
}
// ---------- zone-file text, for tests and logs ----------
function fqdn(n) {
    return n === '' ? '.' : `${n}.`;
}
export function rdataText(rr) {
    switch (rr.type) {
        case 'A':
        case 'AAAA':
            return rr.address;
        case 'CNAME':
        case 'PTR':
        case 'NS':
            return fqdn(rr.target);
        case 'SRV':
            return `${rr.priority} ${rr.weight} ${rr.port} ${fqdn(rr.target)}`;
        case 'TXT':
            return rr.text.map((t) => JSON.stringify(t)).join(' ');
        case 'SOA':
            return `${fqdn(rr.mname)} ${fqdn(rr.rname)} ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
    }
}
/** One record as a zone-file line: `web.default.svc.cluster.local. 5 IN A 10.96.0.10`. */
export function rrText(rr) {
    return `${fqdn(rr.name)} ${rr.ttl} IN ${rr.type} ${rdataText(rr)}`;
}
