// Response ⇄ wire records, through dns2 (cold path only: the server caches the bytes).
import dns2 from 'dns2'
import { normalizeName, type RR, type Response } from './answer.js'

const { Packet } = dns2

type Dns2Resource = Record<string, unknown> & { name: string; type: number; class: number; ttl: number }

function toResource(rr: RR): Dns2Resource {
  const base = { name: rr.name, class: 1, ttl: rr.ttl }
  switch (rr.type) {
    case 'A':
      return { ...base, type: Packet.TYPE.A, address: rr.address }
    case 'AAAA':
      return { ...base, type: Packet.TYPE.AAAA, address: rr.address }
    case 'CNAME':
      return { ...base, type: Packet.TYPE.CNAME, domain: rr.target }
    case 'PTR':
      return { ...base, type: Packet.TYPE.PTR, domain: rr.target }
    case 'NS':
      return { ...base, type: Packet.TYPE.NS, ns: rr.target }
    case 'SRV':
      return { ...base, type: Packet.TYPE.SRV, priority: rr.priority, weight: rr.weight, port: rr.port, target: rr.target }
    case 'TXT':
      return { ...base, type: Packet.TYPE.TXT, data: rr.text }
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
      }
  }
}

/**
 * Encode an authoritative response to the question (qname, qtype, qclass), with ID 0 and
 * RD clear: the server patches both (and the question's letter case) per query.
 */
export function encodeResponse(qname: string, qtype: number, qclass: number, r: Response, aa = true): Buffer {
  const p = new Packet()
  p.header = new Packet.Header({ id: 0, qr: 1, opcode: 0, aa: aa ? 1 : 0, rd: 0, ra: 1, rcode: r.rcode })
  p.questions = [new Packet.Question({ name: qname, type: qtype, class: qclass })]
  p.answers = r.answers.map(toResource) as never
  p.authorities = r.authorities.map(toResource) as never
  p.additionals = r.additionals.map(toResource) as never
  return p.toBuffer()
}

/**
 * A record dns2 parsed, as an RR (names lower case, no trailing dot); undefined for types we
 * never serve (OPT included). Reads upstream answers when chasing an ExternalName target.
 */
export function decodeRecord(r: Record<string, unknown>): RR | undefined {
  const base = { name: normalizeName(String(r.name)), ttl: Number(r.ttl) }
  const name = (v: unknown): string => normalizeName(String(v))
  switch (r.type) {
    case Packet.TYPE.A:
      return { ...base, type: 'A', address: String(r.address) }
    case Packet.TYPE.AAAA:
      return { ...base, type: 'AAAA', address: String(r.address) }
    case Packet.TYPE.CNAME:
      return { ...base, type: 'CNAME', target: name(r.domain) }
    case Packet.TYPE.PTR:
      return { ...base, type: 'PTR', target: name(r.domain) }
    case Packet.TYPE.NS:
      return { ...base, type: 'NS', target: name(r.ns) }
    case Packet.TYPE.SRV:
      return { ...base, type: 'SRV', priority: Number(r.priority), weight: Number(r.weight), port: Number(r.port), target: name(r.target) }
    case Packet.TYPE.TXT:
      return { ...base, type: 'TXT', text: ([] as unknown[]).concat(r.data).map(String) }
    case Packet.TYPE.SOA:
      return {
        ...base,
        type: 'SOA',
        mname: name(r.primary),
        rname: name(r.admin),
        serial: Number(r.serial),
        refresh: Number(r.refresh),
        retry: Number(r.retry),
        expire: Number(r.expiration),
        minimum: Number(r.minimum),
      }
    default:
      return undefined
  }
}
