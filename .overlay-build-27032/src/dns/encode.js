// Response → wire bytes, through dns2 (cold path only: the server caches the bytes).
import dns2 from 'dns2';
const { Packet } = dns2;
function toResource(rr) {
    const base = { name: rr.name, class: 1, ttl: rr.ttl };
    switch (rr.type) {
        case 'A':
            return { ...base, type: Packet.TYPE.A, address: rr.address };
        case 'AAAA':
            return { ...base, type: Packet.TYPE.AAAA, address: rr.address };
        case 'CNAME':
            return { ...base, type: Packet.TYPE.CNAME, domain: rr.target };
        case 'PTR':
            return { ...base, type: Packet.TYPE.PTR, domain: rr.target };
        case 'NS':
            return { ...base, type: Packet.TYPE.NS, ns: rr.target };
        case 'SRV':
            return { ...base, type: Packet.TYPE.SRV, priority: rr.priority, weight: rr.weight, port: rr.port, target: rr.target };
        case 'TXT':
            return { ...base, type: Packet.TYPE.TXT, data: rr.text };
        case 'SOA':
            return {
                ...base,
                type: Packet.TYPE.SOA,
                primary: rr.mname,
                admin: rr.rname,
                serial: rr.serial,
                refresh: rr.refresh,
                retry: rr.retry,
                expiration: rr.expire,
                minimum: rr.minimum,
            };
    }
}
/**
 * Encode an authoritative response to the question (qname, qtype, qclass), with ID 0 and
 * RD clear: the server patches both (and the question's letter case) per query.
 */
export function encodeResponse(qname, qtype, qclass, r, aa = true) {
    const p = new Packet();
    p.header = new Packet.Header({ id: 0, qr: 1, opcode: 0, aa: aa ? 1 : 0, rd: 0, ra: 1, rcode: r.rcode });
    p.questions = [new Packet.Question({ name: qname, type: qtype, class: qclass })];
    p.answers = r.answers.map(toResource);
    p.authorities = r.authorities.map(toResource);
    p.additionals = r.additionals.map(toResource);
    return p.toBuffer();
}
