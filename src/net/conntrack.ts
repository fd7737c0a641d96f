// The kernel's connection tracking table over ctnetlink (NFNL_SUBSYS_CTNETLINK), without the
// `conntrack` tool: one netfilter socket per namespace, a dump (IPCTNL_MSG_CT_GET with
// NLM_F_DUMP) to list flows and IPCTNL_MSG_CT_DELETE messages to remove them, many per sendmsg.
// Why: kube-proxy deletes stale UDP flows after a sync; a fork of `conntrack -D` per entry
// costs a process start each (and nsenter for a node namespace).
//
// Conntrack tables are per network namespace: the socket is created inside the node's
// namespace (inNetnsSync, the setns addon) and everything it sees is that namespace's.
// The encoders and the decoder are pure (test/net/conntrack.test.ts); the socket is the edge.
import nl from 'netlink'
import type { NetlinkSocket } from 'netlink'
import { inNetnsSync } from './netns.js'

const { createNetlink } = nl

const NETLINK_NETFILTER = 12
const NFNL_SUBSYS_CTNETLINK = 1
const IPCTNL_MSG_CT_NEW = 0
const IPCTNL_MSG_CT_GET = 1
const IPCTNL_MSG_CT_DELETE = 2
const NLMSG_ERROR = 2
const NLMSG_DONE = 3
const NLM_F_REQUEST = 0x1
const NLM_F_ACK = 0x4
const NLM_F_DUMP = 0x300
const NLA_F_NESTED = 0x8000
const AF_INET = 2

// enum ctattr_type / ctattr_tuple / ctattr_ip / ctattr_l4proto (linux/netfilter/nfnetlink_conntrack.h)
const CTA_TUPLE_ORIG = 1
const CTA_TUPLE_REPLY = 2
const CTA_ID = 12
const CTA_ZONE = 18
const CTA_TUPLE_IP = 1
const CTA_TUPLE_PROTO = 2
const CTA_IP_V4_SRC = 1
const CTA_IP_V4_DST = 2
const CTA_PROTO_NUM = 1
const CTA_PROTO_SRC_PORT = 2
const CTA_PROTO_DST_PORT = 3

export const IPPROTO = { tcp: 6, udp: 17, sctp: 132 } as const

/** One direction of a flow. */
export interface CtTuple {
  src: string
  dst: string
  proto: number
  sport: number
  dport: number
}

/** One conntrack entry: the original direction and the reply direction (after NAT). */
export interface CtEntry {
  orig: CtTuple
  reply: CtTuple
  /** The kernel's id of the entry: a delete with it never hits a newer flow with the same tuple. */
  id?: number
  zone?: number
}

// ---- encoding --------------------------------------------------------------------------

const pad4 = (n: number): number => (n + 3) & ~3

function attr(type: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(pad4(4 + payload.length))
  b.writeUInt16LE(4 + payload.length, 0)
  b.writeUInt16LE(type, 2)
  payload.copy(b, 4)
  return b
}
const nested = (type: number, parts: Buffer[]): Buffer => attr(type | NLA_F_NESTED, Buffer.concat(parts))

function ip4(s: string): Buffer {
  const p = s.split('.').map(Number)
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`conntrack: not an IPv4 address: ${s}`)
  return Buffer.from(p)
}
function be16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}
function be32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

function tupleAttr(type: number, t: CtTuple): Buffer {
  return nested(type, [
    nested(CTA_TUPLE_IP, [attr(CTA_IP_V4_SRC, ip4(t.src)), attr(CTA_IP_V4_DST, ip4(t.dst))]),
    nested(CTA_TUPLE_PROTO, [attr(CTA_PROTO_NUM, Buffer.from([t.proto])), attr(CTA_PROTO_SRC_PORT, be16(t.sport)), attr(CTA_PROTO_DST_PORT, be16(t.dport))]),
  ])
}

/** nlmsghdr + nfgenmsg (family, version 0, res_id 0) + attributes. */
function message(msgType: number, flags: number, seq: number, attrs: Buffer[]): Buffer {
  const body = Buffer.concat(attrs)
  const b = Buffer.alloc(20 + body.length)
  b.writeUInt32LE(b.length, 0)
  b.writeUInt16LE((NFNL_SUBSYS_CTNETLINK << 8) | msgType, 4)
  b.writeUInt16LE(flags, 6)
  b.writeUInt32LE(seq, 8)
  b.writeUInt8(AF_INET, 16)
  body.copy(b, 20)
  return b
}

/** The request that dumps every IPv4 entry of the namespace's table. */
export function encodeDump(seq: number): Buffer {
  return message(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, [])
}

/** Delete one entry by its original tuple (and id and zone when known), asking for an ACK. */
export function encodeDelete(e: CtEntry, seq: number): Buffer {
  const attrs = [tupleAttr(CTA_TUPLE_ORIG, e.orig)]
  if (e.zone) attrs.push(attr(CTA_ZONE, be16(e.zone)))
  if (e.id !== undefined) attrs.push(attr(CTA_ID, be32(e.id)))
  return message(IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, attrs)
}

// ---- decoding --------------------------------------------------------------------------

function* attrsOf(buf: Buffer, off: number, end: number): Generator<[number, number, number]> {
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off)
    if (len < 4 || off + len > end) return
    yield [buf.readUInt16LE(off + 2) & ~NLA_F_NESTED, off + 4, off + len]
    off += pad4(len)
  }
}

function decodeTuple(buf: Buffer, start: number, end: number): CtTuple | undefined {
  const t: CtTuple = { src: '', dst: '', proto: 0, sport: 0, dport: 0 }
  for (const [type, s, e] of attrsOf(buf, start, end)) {
    if (type === CTA_TUPLE_IP) {
      for (const [it, is, ie] of attrsOf(buf, s, e)) {
        if (ie - is !== 4) continue // an IPv6 address in an IPv4 dump: not ours
        const text = `${buf[is]}.${buf[is + 1]}.${buf[is + 2]}.${buf[is + 3]}`
        if (it === CTA_IP_V4_SRC) t.src = text
        else if (it === CTA_IP_V4_DST) t.dst = text
      }
    } else if (type === CTA_TUPLE_PROTO) {
      for (const [pt, ps] of attrsOf(buf, s, e)) {
        if (pt === CTA_PROTO_NUM) t.proto = buf[ps]!
        else if (pt === CTA_PROTO_SRC_PORT) t.sport = buf.readUInt16BE(ps)
        else if (pt === CTA_PROTO_DST_PORT) t.dport = buf.readUInt16BE(ps)
      }
    }
  }
  return t.src && t.dst ? t : undefined
}

/** One IPCTNL_MSG_CT_NEW payload (after nfgenmsg) as an entry; undefined when it is not IPv4. */
export function decodeEntry(buf: Buffer, start: number, end: number): CtEntry | undefined {
  let orig: CtTuple | undefined
  let reply: CtTuple | undefined
  let id: number | undefined
  let zone: number | undefined
  for (const [type, s, e] of attrsOf(buf, start, end)) {
    if (type === CTA_TUPLE_ORIG) orig = decodeTuple(buf, s, e)
    else if (type === CTA_TUPLE_REPLY) reply = decodeTuple(buf, s, e)
    else if (type === CTA_ID && e - s === 4) id = buf.readUInt32BE(s)
    else if (type === CTA_ZONE && e - s === 2) zone = buf.readUInt16BE(s)
  }
  if (!orig || !reply) return undefined
  return { orig, reply, ...(id !== undefined ? { id } : {}), ...(zone ? { zone } : {}) }
}

/** Netlink messages in one datagram: type, seq, and the payload range after nlmsghdr. */
function* messagesOf(buf: Buffer): Generator<{ type: number; seq: number; start: number; end: number }> {
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off)
    if (len < 16 || off + len > buf.length) return
    yield { type: buf.readUInt16LE(off + 4), seq: buf.readUInt32LE(off + 8), start: off + 16, end: off + len }
    off += pad4(len)
  }
}

// ---- the socket ------------------------------------------------------------------------

/** Deletes per sendmsg: their ACKs (36 bytes each) stay far below the receive buffer. */
const DELETE_CHUNK = 512

export interface DeleteResult {
  deleted: number
  /** Gone before we got to them (timed out, or deleted by someone else): not an error. */
  missing: number
}

/**
 * A ctnetlink socket inside one namespace (undefined = this process's own). One request at a
 * time (the proxier never overlaps syncs); the caller closes it.
 */
export class Conntrack {
  private readonly sock: NetlinkSocket
  private seq = 1
  private busy = false

  constructor(readonly netns?: string) {
    const open = (): NetlinkSocket => createNetlink(NETLINK_NETFILTER)
    this.sock = netns ? inNetnsSync(netns, open) : open()
    this.sock.setRecvBufferSize(4 << 20)
  }

  /** Run one exchange: send `data`, feed every arriving datagram to `onData` until it returns true. */
  private exchange(data: Buffer, onData: (buf: Buffer) => Error | boolean): Promise<void> {
    if (this.busy) return Promise.reject(new Error('conntrack: overlapping requests'))
    this.busy = true
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => {
        this.sock.socket.off('message', onMessage)
        this.sock.ref(false)
        this.busy = false
        if (err) reject(err)
        else resolve()
      }
      const onMessage = (buf: Buffer): void => {
        const r = onData(buf)
        if (r instanceof Error) finish(r)
        else if (r) finish()
      }
      this.sock.socket.on('message', onMessage)
      this.sock.ref(true)
      this.sock.socket.send(data, { port: 0 }, (err) => err && finish(err))
    })
  }

  /** Every IPv4 entry of the table (one dump). */
  async list(): Promise<CtEntry[]> {
    const seq = this.seq++
    const out: CtEntry[] = []
    await this.exchange(encodeDump(seq), (buf) => {
      for (const m of messagesOf(buf)) {
        if (m.seq !== seq) continue
        if (m.type === NLMSG_DONE) return true
        if (m.type === NLMSG_ERROR) {
          const errno = -buf.readInt32LE(m.start)
          if (errno) return new Error(`conntrack dump (netns ${this.netns ?? 'own'}): errno ${errno}`)
          continue
        }
        if (m.type === ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)) {
          const e = decodeEntry(buf, m.start + 4, m.end)
          if (e) out.push(e)
        }
      }
      return false
    })
    return out
  }

  /** Delete `entries` (ENOENT counts as missing, any other errno fails the call). */
  async delete(entries: readonly CtEntry[]): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: 0, missing: 0 }
    for (let i = 0; i < entries.length; i += DELETE_CHUNK) {
      const chunk = entries.slice(i, i + DELETE_CHUNK)
      const first = this.seq
      this.seq += chunk.length
      const msgs = chunk.map((e, j) => encodeDelete(e, first + j))
      let acked = 0
      let failure: Error | undefined
      await this.exchange(Buffer.concat(msgs), (buf) => {
        for (const m of messagesOf(buf)) {
          if (m.type !== NLMSG_ERROR || m.seq < first || m.seq >= first + chunk.length) continue
          acked++
          const errno = -buf.readInt32LE(m.start)
          if (errno === 0) result.deleted++
          else if (errno === 2 /* ENOENT */) result.missing++
          else failure ??= new Error(`conntrack delete (netns ${this.netns ?? 'own'}): errno ${errno}`)
        }
        if (acked < chunk.length) return false
        return failure ?? true
      })
    }
    return result
  }

  close(): void {
    this.sock.close()
  }
}
