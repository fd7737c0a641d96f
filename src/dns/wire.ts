// The few wire-format operations on the hot path, done on raw bytes (RFC 1035 §4,
// RFC 6891 for EDNS0). Parsing a full message with dns2 costs tens of microseconds;
// a cache hit here needs only the header, the question and the OPT record, so this
// file reads exactly those and leaves every other message to dns2.

export const HEADER_LEN = 12
export const TYPE_OPT = 41
/** What we advertise in our OPT record: the DNS Flag Day 2020 size that avoids IP fragmentation. */
export const OUR_UDP_PAYLOAD = 1232
const MAX_NAME = 255

export interface QueryInfo {
  id: number
  opcode: number
  rd: boolean
  /** Offset just past the question's name. */
  qnameEnd: number
  /** Offset just past qtype and qclass. */
  questionEnd: number
  qtype: number
  qclass: number
  /** The question section with the name lower-cased: the cache key. */
  key: string
  edns: boolean
  /** The requestor's UDP payload size (RFC 6891 §6.2.3), at least 512. */
  udpSize: number
  ednsVersion: number
  dnssecOk: boolean
}

export type ParseResult =
  | { kind: 'query'; q: QueryInfo }
  /** Not even a header, or a response (answering responses invites loops): say nothing. */
  | { kind: 'drop' }
  /** A header we can answer with an error code. `questionEnd` is set when the question parsed. */
  | { kind: 'error'; rcode: number; id: number; rd: boolean; questionEnd?: number }

const scratch = Buffer.alloc(MAX_NAME + 4)

/** Offset past a (possibly compressed) name starting at `off`, or -1 if malformed. */
export function skipName(buf: Buffer, off: number): number {
  let total = 0
  for (;;) {
    if (off >= buf.length) return -1
    const len = buf[off]!
    if (len === 0) return off + 1
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1
    if ((len & 0xc0) !== 0) return -1
    total += len + 1
    if (total > MAX_NAME) return -1
    off += len + 1
  }
}

export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < HEADER_LEN) return { kind: 'drop' }
  const id = buf.readUInt16BE(0)
  const b2 = buf[2]!
  if (b2 & 0x80) return { kind: 'drop' }
  const rd = (b2 & 1) === 1
  const opcode = (b2 >> 3) & 0xf
  const qd = buf.readUInt16BE(4)
  if (opcode !== 0) return { kind: 'error', rcode: 4 /* NOTIMP */, id, rd }
  if (qd !== 1) return { kind: 'error', rcode: 1 /* FORMERR */, id, rd }
  // The question's name, lower-cased into scratch. No compression pointers: nothing precedes it.
  let off = HEADER_LEN
  let n = 0
  for (;;) {
    if (off >= buf.length) return { kind: 'error', rcode: 1, id, rd }
    const len = buf[off]!
    if (len > 63 || n + len + 1 > MAX_NAME) return { kind: 'error', rcode: 1, id, rd }
    scratch[n++] = len
    off++
    if (len === 0) break
    if (off + len > buf.length) return { kind: 'error', rcode: 1, id, rd }
    for (let i = 0; i < len; i++) {
      const c = buf[off + i]!
      scratch[n++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c
    }
    off += len
  }
  const qnameEnd = off
  if (off + 4 > buf.length) return { kind: 'error', rcode: 1, id, rd }
  buf.copy(scratch, n, off, off + 4)
  const key = scratch.toString('latin1', 0, n + 4)
  const qtype = buf.readUInt16BE(off)
  const qclass = buf.readUInt16BE(off + 2)
  const questionEnd = off + 4
  const q: QueryInfo = {
    id, opcode, rd, qnameEnd, questionEnd, qtype, qclass, key,
    edns: false, udpSize: 512, ednsVersion: 0, dnssecOk: false,
  }
  // Walk the other sections looking for the OPT pseudo-record.
  const an = buf.readUInt16BE(6)
  const ns = buf.readUInt16BE(8)
  const ar = buf.readUInt16BE(10)
  off = questionEnd
  for (let i = 0; i < an + ns + ar; i++) {
    const nameEnd = skipName(buf, off)
    if (nameEnd < 0 || nameEnd + 10 > buf.length) return { kind: 'error', rcode: 1, id, rd, questionEnd }
    const type = buf.readUInt16BE(nameEnd)
    const rdlen = buf.readUInt16BE(nameEnd + 8)
    if (nameEnd + 10 + rdlen > buf.length) return { kind: 'error', rcode: 1, id, rd, questionEnd }
    if (type === TYPE_OPT) {
      // RFC 6891 §6.1.1: one OPT at most, only in the additional section, owner is root.
      if (q.edns || i < an + ns || nameEnd !== off + 1) return { kind: 'error', rcode: 1, id, rd, questionEnd }
      q.edns = true
      q.udpSize = Math.max(512, buf.readUInt16BE(nameEnd + 2))
      q.ednsVersion = buf[nameEnd + 5]!
      q.dnssecOk = (buf[nameEnd + 6]! & 0x80) !== 0
    }
    off = nameEnd + 10 + rdlen
  }
  return { kind: 'query', q }
}

/** Dotted lower-case text of the question name (the key's name part). */
export function keyName(key: string): string {
  const labels: string[] = []
  let i = 0
  for (;;) {
    const len = key.charCodeAt(i)
    if (!len) break
    labels.push(key.slice(i + 1, i + 1 + len))
    i += len + 1
  }
  return labels.join('.')
}

/** The 11-byte OPT record we append to answers for EDNS clients. */
export function optRecord(extendedRcode = 0): Buffer {
  const b = Buffer.alloc(11)
  b[0] = 0
  b.writeUInt16BE(TYPE_OPT, 1)
  b.writeUInt16BE(OUR_UDP_PAYLOAD, 3)
  b[5] = extendedRcode
  return b
}

/** A copy of `resp` with our OPT record appended (ARCOUNT + 1). */
export function appendOpt(resp: Buffer, extendedRcode = 0): Buffer {
  const out = Buffer.allocUnsafe(resp.length + 11)
  resp.copy(out, 0)
  optRecord(extendedRcode).copy(out, resp.length)
  out.writeUInt16BE(resp.readUInt16BE(10) + 1, 10)
  return out
}

/**
 * A header-only answer to `query`: the given RCODE, the question echoed when it parsed
 * (RFC 1035 is silent, but resolvers match answers by question), TC when truncating.
 */
export function headerResponse(query: Buffer, rcode: number, questionEnd: number | undefined, opts: { tc?: boolean; aa?: boolean; ra?: boolean; edns?: boolean; extendedRcode?: number } = {}): Buffer {
  const qEnd = questionEnd ?? HEADER_LEN
  const base = Buffer.alloc(qEnd)
  query.copy(base, 0, 0, qEnd)
  base[2] = 0x80 | (query[2]! & 0x79) | (opts.aa ? 0x04 : 0) | (opts.tc ? 0x02 : 0)
  base[3] = (opts.ra ? 0x80 : 0) | (rcode & 0xf)
  base.writeUInt16BE(questionEnd ? 1 : 0, 4)
  base.writeUInt16BE(0, 6)
  base.writeUInt16BE(0, 8)
  base.writeUInt16BE(0, 10)
  return opts.edns ? appendOpt(base, opts.extendedRcode ?? 0) : base
}

/**
 * Offsets of every TTL field in a message (all records but OPT), and their minimum,
 * so a cached upstream answer can be served with its TTLs counted down.
 */
export function ttlOffsets(buf: Buffer): { offsets: number[]; minTtl: number } | undefined {
  if (buf.length < HEADER_LEN) return undefined
  const qd = buf.readUInt16BE(4)
  const count = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10)
  let off = HEADER_LEN
  for (let i = 0; i < qd; i++) {
    off = skipName(buf, off)
    if (off < 0 || off + 4 > buf.length) return undefined
    off += 4
  }
  const offsets: number[] = []
  let minTtl = Infinity
  for (let i = 0; i < count; i++) {
    const nameEnd = skipName(buf, off)
    if (nameEnd < 0 || nameEnd + 10 > buf.length) return undefined
    const type = buf.readUInt16BE(nameEnd)
    const rdlen = buf.readUInt16BE(nameEnd + 8)
    if (nameEnd + 10 + rdlen > buf.length) return undefined
    if (type !== TYPE_OPT) {
      offsets.push(nameEnd + 4)
      minTtl = Math.min(minTtl, buf.readUInt32BE(nameEnd + 4))
    }
    off = nameEnd + 10 + rdlen
  }
  return { offsets, minTtl: minTtl === Infinity ? 0 : minTtl }
}

/** Where an answer section of same-sized address records lies, so it can be rotated in place. */
export interface Rotation {
  start: number
  size: number
  count: number
}

/**
 * The answer section, if it holds two or more A (or AAAA) records of one size, and nothing
 * but them: what CoreDNS's `loadbalance` shuffles. Else undefined.
 */
export function addressAnswers(buf: Buffer): Rotation | undefined {
  const an = buf.readUInt16BE(6)
  if (buf.readUInt16BE(4) !== 1 || an < 2) return undefined
  let off = skipName(buf, HEADER_LEN)
  if (off < 0) return undefined
  const start = off + 4
  off = start
  let size = -1
  let type = -1
  for (let i = 0; i < an; i++) {
    const nameEnd = skipName(buf, off)
    if (nameEnd < 0 || nameEnd + 10 > buf.length) return undefined
    const t = buf.readUInt16BE(nameEnd)
    const end = nameEnd + 10 + buf.readUInt16BE(nameEnd + 8)
    if ((t !== 1 && t !== 28) || (type !== -1 && t !== type) || (size !== -1 && end - off !== size)) return undefined
    type = t
    size = end - off
    off = end
  }
  return { start, size, count: an }
}

/** Rotate the records of `r` in `buf` left by `by` positions (in place). */
export function rotateAnswers(buf: Buffer, r: Rotation, by: number): void {
  const k = by % r.count
  if (k === 0) return
  const section = buf.subarray(r.start, r.start + r.size * r.count)
  const head = Buffer.from(section.subarray(0, k * r.size))
  section.copyWithin(0, k * r.size)
  head.copy(section, (r.count - k) * r.size)
}
