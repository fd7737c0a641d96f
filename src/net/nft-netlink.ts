// nf_tables over netlink, without `nft`: the same NftTransaction, encoded as one nfnetlink
// batch (BATCH_BEGIN, NEWCHAIN/NEWRULE/NEWSETELEM/…, BATCH_END) and sent in one sendmsg, the
// way libnftnl does. Why: `nft -f` fills its cache (a dump of every chain, set and element of
// the table) before most commands — measured 400–600 ms for one `add rule` or `add element`
// at 10k Services, plus ~8 ms to start nsenter + nft. A batch of the few messages a change
// needs costs the kernel well under a millisecond.
//
// Only the rule vocabulary the service proxy writes is encoded here (payload/meta/cmp/
// bitwise/lookup/dynset/numgen/fib/immediate/nat, see `encodeRule`); anything else throws
// NftUnsupported and the caller sends that transaction through `nft -f` instead. The
// encodings are the ones nft 1.0.6 emits (`nft --debug=netlink`), so `nft list table` prints
// the same text whichever path wrote a rule (test/net/nft-netlink.test.ts compares them).
//
// Kernel facts used: a batch is one transaction (all or nothing) only within one sendmsg; the
// kernel processes it synchronously inside sendmsg, so errors are queued before a following
// request's answer (we send NFT_MSG_GETGEN after the batch and wait for it instead of asking
// an ACK per message, which would flood the receive buffer on big batches).
import nl from 'netlink'
import type { NetlinkSocket } from 'netlink'
import { ipToBuffer, parseCidr } from './ip.js'
import { inNetnsSync } from './netns.js'
import { parseNftList } from './nft-list.js'
import { NftError, NftExec, NftTransaction as NftTransactionCtor, type NftElement, type NftFamily, type NftOp, type NftReferenceLike as NftReference, type NftRunner, type NftTableState, type NftTransaction } from './nft.js'

const { createNetlink } = nl

const NETLINK_NETFILTER = 12
const NFNL_SUBSYS_NFTABLES = 10
const NFNL_MSG_BATCH_BEGIN = 0x10
const NFNL_MSG_BATCH_END = 0x11
const NLMSG_ERROR = 2
const NLM_F_REQUEST = 0x1
const NLM_F_CREATE = 0x400
const NLM_F_APPEND = 0x800
const NLA_F_NESTED = 0x8000

const MSG = {
  newTable: 0,
  delTable: 2,
  newChain: 3,
  delChain: 5,
  newRule: 6,
  delRule: 8,
  newSet: 9,
  delSet: 11,
  newSetElem: 12,
  delSetElem: 14,
  getGen: 16,
} as const

const FAMILY: Record<NftFamily, number> = { ip: 2, ip6: 10, inet: 1 }

/** A transaction (or rule) this encoder does not speak: send it through `nft -f`. */
export class NftUnsupported extends Error {
  override name = 'NftUnsupported'
}

// ---- TLV building ----------------------------------------------------------------------

type Attr = Buffer

const pad4 = (n: number): number => (n + 3) & ~3

function attr(type: number, payload: Buffer): Attr {
  const len = 4 + payload.length
  const b = Buffer.alloc(pad4(len))
  b.writeUInt16LE(len, 0)
  b.writeUInt16LE(type, 2)
  payload.copy(b, 4)
  return b
}
const nest = (type: number, ...children: Attr[]): Attr => attr(type | NLA_F_NESTED, Buffer.concat(children))
const str = (type: number, s: string): Attr => attr(type, Buffer.from(`${s}\0`))
function be32(type: number, v: number): Attr {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(v >>> 0, 0)
  return attr(type, b)
}
function be64(type: number, v: number): Attr {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(v), 0)
  return attr(type, b)
}

// ---- expressions -----------------------------------------------------------------------

const EXPR_NAME = 1
const EXPR_DATA = 2
const DATA_VALUE = 1
const DATA_VERDICT = 2
const REG_VERDICT = 0
const REG_1 = 1
const REG_2 = 2

const expr = (name: string, ...data: Attr[]): Attr => nest(1 /* NFTA_LIST_ELEM */, str(EXPR_NAME, name), nest(EXPR_DATA, ...data))
const value = (type: number, bytes: Buffer): Attr => nest(type, attr(DATA_VALUE, bytes))

const PAYLOAD_BASE = { network: 1, transport: 2 } as const
const payload = (base: keyof typeof PAYLOAD_BASE, offset: number, len: number): Attr =>
  expr('payload', be32(1, REG_1), be32(2, PAYLOAD_BASE[base]), be32(3, offset), be32(4, len))
const CMP_OP = { '==': 0, '!=': 1 } as const
const cmp = (op: keyof typeof CMP_OP, bytes: Buffer): Attr => expr('cmp', be32(1, REG_1), be32(2, CMP_OP[op]), value(3, bytes))
const META_L4PROTO = 16
const metaL4proto = (): Attr => expr('meta', be32(1, REG_1), be32(2, META_L4PROTO))

const VERDICT = { drop: 0, accept: 1, jump: -3, goto: -4, return: -5 } as const
type VerdictWord = keyof typeof VERDICT

function verdictData(type: number, word: VerdictWord, chain?: string): Attr {
  const parts = [be32(1, VERDICT[word])]
  if (chain !== undefined) parts.push(str(2, chain))
  return nest(type, nest(DATA_VERDICT, ...parts))
}
const verdictExpr = (word: VerdictWord, chain?: string): Attr => expr('immediate', be32(1, REG_VERDICT), verdictData(2, word, chain))

const PROTO: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 }

function u8(n: number): Buffer {
  return Buffer.from([n])
}
function u16be(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n, 0)
  return b
}
function u32le(n: number): Buffer {
  // numgen writes host-order (little-endian here) 32-bit values; nft compares them as such
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0, 0)
  return b
}

function ip4(s: string): Buffer {
  const b = ipToBuffer(s)
  if (b.length !== 4) throw new NftUnsupported(`not an IPv4 address: ${s}`)
  return b
}

/** `ip saddr|daddr [!=] A[/len]`, as nft 1.0.6 encodes it (byte-aligned prefixes load fewer bytes). */
function ipMatch(field: 'saddr' | 'daddr', op: keyof typeof CMP_OP, text: string): Attr[] {
  const offset = field === 'saddr' ? 12 : 16
  if (!text.includes('/')) return [payload('network', offset, 4), cmp(op, ip4(text))]
  const c = parseCidr(text)
  const ip = c.ip
  const prefix = c.prefix
  const addr = ip4(ip)
  if (prefix === 32) return [payload('network', offset, 4), cmp(op, addr)]
  if (prefix === 0) throw new NftUnsupported(`match on /0: ${text}`)
  if (prefix % 8 === 0) return [payload('network', offset, prefix / 8), cmp(op, addr.subarray(0, prefix / 8))]
  const mask = Buffer.alloc(4)
  mask.writeUInt32BE((0xffffffff << (32 - prefix)) >>> 0, 0)
  const net = Buffer.from(addr.map((b, i) => b & mask[i]!))
  const bitwise = expr('bitwise', be32(1, REG_1), be32(2, REG_1), be32(3, 4), value(4, mask), value(5, Buffer.alloc(4)))
  return [payload('network', offset, 4), bitwise, cmp(op, net)]
}

const FIB_RESULT_ADDRTYPE = 3
const FIB_F = { saddr: 1, daddr: 2 } as const
const RTN: Record<string, number> = { unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8 }
const DYNSET_OP_UPDATE = 1
const NAT_DNAT = 1
const NF_NAT_RANGE_PROTO_SPECIFIED = 2

/**
 * One rule of the proxy's vocabulary → NFTA_RULE_EXPRESSIONS content. Tokens are read left
 * to right: matches, then at most one statement, then at most one verdict.
 */
export function encodeRule(rule: string): Buffer {
  const t = rule.trim().split(/\s+/)
  const out: Attr[] = []
  let i = 0
  const fail = (why: string): never => {
    throw new NftUnsupported(`rule not encodable (${why}): ${rule}`)
  }
  const next = (): string => t[i++] ?? fail('unexpected end')
  const int = (s: string): number => (/^\d+$/.test(s) ? Number(s) : fail(`not a number: ${s}`))
  const setName = (s: string): string => (s.startsWith('@') && s.length > 1 ? s.slice(1) : fail(`not a set: ${s}`))
  while (i < t.length) {
    const w = next()
    if (w === 'ip') {
      const field = next()
      if (field !== 'saddr' && field !== 'daddr') fail(`ip ${field}`)
      let arg = next()
      if (arg.startsWith('@')) {
        out.push(payload('network', field === 'saddr' ? 12 : 16, 4), expr('lookup', str(1, setName(arg)), be32(2, REG_1)))
        continue
      }
      let op: keyof typeof CMP_OP = '=='
      if (arg === '!=') {
        op = '!='
        arg = next()
      }
      out.push(...ipMatch(field as 'saddr' | 'daddr', op, arg))
    } else if (w in PROTO && (t[i] === 'dport' || t[i] === 'sport')) {
      const off = next() === 'dport' ? 2 : 0
      out.push(metaL4proto(), cmp('==', u8(PROTO[w]!)), payload('transport', off, 2), cmp('==', u16be(int(next()))))
    } else if (w === 'meta') {
      if (next() !== 'l4proto') fail('meta key')
      const p = PROTO[next()] ?? fail('protocol')
      out.push(metaL4proto(), cmp('==', u8(p)))
    } else if (w === 'numgen') {
      if (next() !== 'random' || next() !== 'mod') fail('numgen form')
      const mod = int(next())
      let v = next()
      if (v === '==') v = next()
      out.push(expr('numgen', be32(1, REG_1), be32(2, mod), be32(3, 1 /* random */), be32(4, 0)), cmp('==', u32le(int(v))))
    } else if (w === 'fib') {
      const f = next()
      if ((f !== 'saddr' && f !== 'daddr') || next() !== 'type') fail('fib form')
      const rtn = RTN[next()] ?? fail('fib type')
      out.push(expr('fib', be32(1, REG_1), be32(2, FIB_RESULT_ADDRTYPE), be32(3, FIB_F[f as 'saddr' | 'daddr'])), cmp('==', u32le(rtn)))
    } else if (w === 'update') {
      // update @set { ip saddr }
      const set = setName(next())
      if (next() !== '{' || next() !== 'ip' || next() !== 'saddr' || next() !== '}') fail('update form')
      out.push(payload('network', 12, 4), expr('dynset', str(1, set), be32(3, DYNSET_OP_UPDATE), be32(4, REG_1)))
    } else if (w === 'dnat') {
      if (next() !== 'to') fail('dnat form')
      const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(next()) ?? fail('dnat target')
      out.push(
        expr('immediate', be32(1, REG_1), value(2, ip4(m[1]!))),
        expr('immediate', be32(1, REG_2), value(2, u16be(Number(m[2])))),
        expr('nat', be32(1, NAT_DNAT), be32(2, FAMILY.ip), be32(3, REG_1), be32(5, REG_2), be32(7, NF_NAT_RANGE_PROTO_SPECIFIED)),
      )
    } else if (w === 'jump' || w === 'goto') {
      out.push(verdictExpr(w, next()))
      if (i < t.length) fail('tokens after verdict')
    } else if (w === 'drop' || w === 'accept' || w === 'return') {
      out.push(verdictExpr(w))
      if (i < t.length) fail('tokens after verdict')
    } else fail(`token ${w}`)
  }
  if (!out.length) fail('empty')
  return Buffer.concat(out)
}

// ---- set keys and element data ---------------------------------------------------------

/**
 * A set or map key in nft's concatenation layout (each part padded to 4 bytes when there is
 * more than one). A part may be a range `lo-hi` (addresses or ports, as in a concatenated
 * interval set): then the element also gets a KEY_END of the upper bounds, as nft sends it.
 */
function encodeKey(key: string, interval = false): { key: Buffer; end?: Buffer } {
  const parts = key.split(' . ').map((p) => p.trim())
  const lo: Buffer[] = []
  const hi: Buffer[] = []
  let ranged = false
  const one = (p: string): Buffer => {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(p)) return ip4(p)
    if (p in PROTO) return u8(PROTO[p]!)
    if (/^\d+$/.test(p)) return u16be(Number(p))
    throw new NftUnsupported(`set key part ${p}`)
  }
  const padded = (b: Buffer): Buffer => (parts.length > 1 ? Buffer.concat([b, Buffer.alloc(pad4(b.length) - b.length)]) : b)
  for (const p of parts) {
    const m = /^([\d.]+)-([\d.]+)$/.exec(p)
    const a = one(m ? m[1]! : p)
    const b = m ? one(m[2]!) : a
    if (a.length !== b.length) throw new NftUnsupported(`set key range ${p}`)
    if (m) ranged = true
    lo.push(padded(a))
    hi.push(padded(b))
  }
  return ranged || (interval && parts.length > 1) ? { key: Buffer.concat(lo), end: Buffer.concat(hi) } : { key: Buffer.concat(lo) }
}

/**
 * A plain (non-range) key or data value written straight into `out` at `off`, nft's layout;
 * returns the length, or -1 when the text is not such a value. The cold start of 50k Services
 * encodes ~600k of these, so this is one pass over the characters (no split, no regex, no
 * Buffer per part): parts are `a.b.c.d` (IPv4), a protocol name or a decimal number,
 * separated by ` . `.
 */
function writePlain(text: string, out: Buffer, off: number): number {
  const multi = text.includes(' . ')
  let n = 0
  let i = 0
  const end = text.length
  while (i < end) {
    while (i < end && text.charCodeAt(i) === 32) i++
    const start = i
    let num = 0
    let acc = 0
    let dots = 0
    let digits = 0
    let alpha = false
    for (; i < end; i++) {
      const c = text.charCodeAt(i)
      if (c >= 48 && c <= 57) {
        num = num * 10 + (c - 48)
        digits++
      } else if (c === 46 && !alpha) {
        // a dot inside a part: an IPv4 octet ends (` . ` between parts has spaces around it)
        if (!digits || num > 255) return -1
        acc = acc * 256 + num
        num = 0
        digits = 0
        dots++
      } else if (c === 32) break
      else if ((c >= 97 && c <= 122) || c === 95) alpha = true
      else return -1
    }
    let len: number
    if (alpha) {
      const proto = PROTO[text.slice(start, i)]
      if (proto === undefined) return -1
      out[off + n] = proto
      len = 1
    } else if (dots === 3) {
      if (!digits || num > 255) return -1
      out.writeUInt32BE(acc * 256 + num, off + n)
      len = 4
    } else if (dots === 0 && digits && num <= 0xffff) {
      out.writeUInt16BE(num, off + n)
      len = 2
    } else return -1
    if (multi) {
      const padded = pad4(len)
      for (let z = len; z < padded; z++) out[off + n + z] = 0
      len = padded
    }
    n += len
    // the separator: ` . `
    while (i < end && text.charCodeAt(i) === 32) i++
    if (i < end) {
      if (text.charCodeAt(i) !== 46) return -1
      i++
    }
  }
  return n > 0 ? n : -1
}

/**
 * One NFTA_LIST_ELEM of NFTA_SET_ELEM_LIST_ELEMENTS written into `out` at `off` (plain keys;
 * data values or verdicts); returns its length, or -1 when `keyAttrs`/`encodeElemValue` must
 * do it. `out` must have room for 512 bytes at `off`.
 */
function writeElement(out: Buffer, off: number, key: string, value: string | undefined, interval: boolean | undefined): number {
  if (interval || key.length > 100 || (value !== undefined && value.length > 100)) return -1
  // LIST_ELEM { KEY { VALUE k } [DATA { VALUE v }] | [verdict] }
  const kLen = writePlain(key, out, off + 12)
  if (kLen < 0) return -1
  const keyNest = 4 + 4 + pad4(kLen)
  out.fill(0, off + 12 + kLen, off + 4 + keyNest)
  out.writeUInt16LE(4 + 4 + kLen, off + 4)
  out.writeUInt16LE(1 /* KEY */ | NLA_F_NESTED, off + 6)
  out.writeUInt16LE(4 + kLen, off + 8)
  out.writeUInt16LE(DATA_VALUE, off + 10)
  let total = 4 + keyNest
  if (value !== undefined) {
    const d = off + total
    const c = value.charCodeAt(0)
    if (c >= 48 && c <= 57) {
      const vLen = writePlain(value, out, d + 8)
      if (vLen < 0) return -1
      out.fill(0, d + 8 + vLen, d + 8 + pad4(vLen))
      out.writeUInt16LE(4 + 4 + vLen, d)
      out.writeUInt16LE(2 /* DATA */ | NLA_F_NESTED, d + 2)
      out.writeUInt16LE(4 + vLen, d + 4)
      out.writeUInt16LE(DATA_VALUE, d + 6)
      total += 8 + pad4(vLen)
    } else {
      const verdict = encodeElemValue(value)
      verdict.copy(out, d)
      total += verdict.length
    }
  }
  out.writeUInt16LE(total, off)
  out.writeUInt16LE(1 | NLA_F_NESTED, off + 2)
  return total
}

/** NFTA_SET_ELEM_KEY (and NFTA_SET_ELEM_KEY_END for a range) of one element. */
function keyAttrs(text: string, interval?: boolean): Attr[] {
  const k = encodeKey(text, interval)
  const out = [nest(1 /* KEY */, attr(DATA_VALUE, k.key))]
  if (k.end) out.push(nest(10 /* KEY_END */, attr(DATA_VALUE, k.end)))
  return out
}

/** A map element's value: a verdict, or data (`10.244.1.11 . 8080`, laid out as a key). */
function encodeElemValue(v: string): Attr {
  if (/^\d/.test(v.trim())) return nest(2 /* NFTA_SET_ELEM_DATA */, attr(DATA_VALUE, encodeKey(v).key))
  const [word, chain, ...rest] = v.trim().split(/\s+/)
  if (rest.length || !word || !(word in VERDICT)) throw new NftUnsupported(`map value ${v}`)
  if ((word === 'jump' || word === 'goto') !== (chain !== undefined)) throw new NftUnsupported(`map value ${v}`)
  return verdictData(2 /* NFTA_SET_ELEM_DATA */, word as VerdictWord, chain)
}

const SET_TYPES: Record<string, { id: number; len: number }> = { ipv4_addr: { id: 7, len: 4 } }
const SET_F = { map: 0x8, timeout: 0x10, dynamic: 0x20 } as const

// ---- messages --------------------------------------------------------------------------

/** One netlink message: header, nfgenmsg, attributes. */
function message(type: number, flags: number, seq: number, family: number, attrs: Attr[], resId = 0): Buffer {
  const body = Buffer.concat(attrs)
  const b = Buffer.alloc(20 + body.length)
  b.writeUInt32LE(b.length, 0)
  b.writeUInt16LE(type, 4)
  b.writeUInt16LE(flags, 6)
  b.writeUInt32LE(seq, 8)
  b.writeUInt32LE(0, 12)
  b.writeUInt8(family, 16)
  b.writeUInt8(0, 17)
  b.writeUInt16BE(resId, 18)
  body.copy(b, 20)
  return b
}

const nftType = (m: number): number => (NFNL_SUBSYS_NFTABLES << 8) | m

/** The messages of one op (without batch framing). */
function opMessages(family: number, txTable: string, op: NftOp, seq: () => number): Buffer[] {
  const { verb, obj } = op
  const table = op.table ?? txTable
  const T = (n: number): Attr => str(n, table)
  const msg = (m: number, flags: number, attrs: Attr[]): Buffer => message(nftType(m), NLM_F_REQUEST | flags, seq(), family, attrs)
  switch (obj.kind) {
    case 'table':
      if (verb === 'add' && !obj.comment) return [msg(MSG.newTable, NLM_F_CREATE, [T(1)])]
      if (verb === 'delete') return [msg(MSG.delTable, 0, [T(1)])]
      throw new NftUnsupported(`${verb} table${obj.comment ? ' with comment' : ''}`)
    case 'chain':
      if (obj.hook || obj.comment) throw new NftUnsupported('base chains and chain comments go through nft')
      if (verb === 'add') return [msg(MSG.newChain, NLM_F_CREATE, [T(1), str(3, obj.name)])]
      if (verb === 'flush') return [msg(MSG.delRule, 0, [T(1), str(2, obj.name)])]
      return [msg(MSG.delChain, 0, [T(1), str(3, obj.name)])]
    case 'rule':
      return [msg(MSG.newRule, NLM_F_CREATE | NLM_F_APPEND, [T(1), str(2, obj.chain), nest(4, encodeRule(obj.rule))])]
    case 'set':
    case 'map': {
      if (verb === 'delete') return [msg(MSG.delSet, 0, [T(1), str(2, obj.name)])]
      if (verb !== 'add' || obj.kind !== 'set' || obj.comment) throw new NftUnsupported(`${verb} ${obj.kind} ${obj.name}`)
      const type = SET_TYPES[obj.type] ?? (() => { throw new NftUnsupported(`set type ${obj.type}`) })()
      let flags = 0
      for (const f of obj.flags ?? []) flags |= SET_F[f as keyof typeof SET_F] ?? (() => { throw new NftUnsupported(`set flag ${f}`) })()
      const attrs = [T(1), str(2, obj.name), be32(3, flags), be32(4, type.id), be32(5, type.len), be32(10, seq())]
      if (obj.timeout !== undefined) attrs.push(be64(11, obj.timeout * 1000))
      // nft gives dynamic sets a size of 65535 (shown by `nft list`); do the same
      if (flags & SET_F.dynamic) attrs.push(nest(9, be32(1, 65535)))
      return [msg(MSG.newSet, NLM_F_CREATE, attrs)]
    }
    case 'element': {
      const el = keyAttrs(obj.key, obj.interval)
      if (verb === 'add' && obj.value !== undefined) el.push(encodeElemValue(obj.value))
      if (verb === 'flush') throw new NftUnsupported('flush element')
      const attrs = [T(1), str(2, obj.set), nest(3, nest(1, ...el))]
      return [msg(verb === 'add' ? MSG.newSetElem : MSG.delSetElem, verb === 'add' ? NLM_F_CREATE : 0, attrs)]
    }
  }
}

/** Room for one element message: the element list's length is a u16 attribute length. */
const ELEM_LIST_MAX = 0xffff - 4 - 512
const MSGBUF = Buffer.alloc(20 + 2 * 260 + 4 + ELEM_LIST_MAX + 512)
/** How many ops the last elementMessage() took. */
let elementRun = 0

/**
 * One NEWSETELEM/DELSETELEM message for the run of element ops on one set starting at
 * `tx.ops[i]`, written in place (no Buffer per element or attribute: a cold start of 50k
 * Services sends ~600k elements); `elementRun` says how many ops it took.
 */
function elementMessage(family: number, tx: NftTransaction, i: number, seq: number): Buffer {
  const op = tx.ops[i]!
  const first = op.obj as NftElement
  const table = op.table ?? tx.table
  const b = MSGBUF
  let off = 20
  const strAttr = (type: number, s: string): void => {
    const n = b.write(s, off + 4, 'utf8')
    b[off + 4 + n] = 0
    b.writeUInt16LE(4 + n + 1, off)
    b.writeUInt16LE(type, off + 2)
    const end = off + pad4(4 + n + 1)
    b.fill(0, off + 4 + n + 1, end)
    off = end
  }
  strAttr(1, table)
  strAttr(2, first.set)
  const list = off
  off += 4
  let j = i
  for (; j < tx.ops.length && off - list < ELEM_LIST_MAX; j++) {
    const o = tx.ops[j]!
    if (o.verb !== op.verb || o.obj.kind !== 'element' || o.obj.set !== first.set || (o.table ?? tx.table) !== table) break
    const value = o.verb === 'add' ? o.obj.value : undefined
    let n = writeElement(b, off, o.obj.key, value, o.obj.interval)
    if (n < 0) {
      const el = keyAttrs(o.obj.key, o.obj.interval)
      if (value !== undefined) el.push(encodeElemValue(value))
      const item = nest(1, ...el)
      if (item.length > 512) throw new NftUnsupported(`element ${o.obj.key}`)
      item.copy(b, off)
      n = item.length
    }
    off += n
  }
  elementRun = j - i
  b.writeUInt16LE(off - list, list)
  b.writeUInt16LE(3 | NLA_F_NESTED, list + 2)
  // nlmsghdr + nfgenmsg
  b.writeUInt32LE(off, 0)
  b.writeUInt16LE(nftType(op.verb === 'add' ? MSG.newSetElem : MSG.delSetElem), 4)
  b.writeUInt16LE(NLM_F_REQUEST | (op.verb === 'add' ? NLM_F_CREATE : 0), 6)
  b.writeUInt32LE(seq, 8)
  b.writeUInt32LE(0, 12)
  b.writeUInt8(family, 16)
  b.writeUInt8(0, 17)
  b.writeUInt16BE(0, 18)
  const m = Buffer.allocUnsafe(off)
  b.copy(m, 0, 0, off)
  return m
}

/**
 * The transaction as netlink messages, framed into batches of at most `maxBytes` each. One
 * batch is atomic; several are not (callers chunk only where that is safe: a cold start).
 */
export function encodeBatches(tx: NftTransaction, maxBytes = Infinity, firstSeq = 1): Buffer[][] {
  const family = FAMILY[tx.family]
  let s = firstSeq
  const seq = (): number => s++
  // consecutive element ops on one set share a message, as nft does
  const batches: Buffer[][] = []
  let cur: Buffer[] = []
  let size = 0
  const begin = (): void => {
    cur = [message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq(), 0, [], NFNL_SUBSYS_NFTABLES)]
    size = cur[0]!.length
  }
  const end = (): void => {
    cur.push(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq(), 0, [], NFNL_SUBSYS_NFTABLES))
    seq() // reserved for the GETGEN that follows this batch
    batches.push(cur)
  }
  begin()
  for (let i = 0; i < tx.ops.length; i++) {
    const op = tx.ops[i]!
    let msgs: Buffer[]
    if (op.obj.kind === 'element') {
      if (op.verb === 'flush') throw new NftUnsupported('flush element')
      msgs = [elementMessage(family, tx, i, seq())]
      i += elementRun - 1
    } else msgs = opMessages(family, tx.table, op, seq)
    const n = msgs.reduce((a, m) => a + m.length, 0)
    if (size + n > maxBytes && cur.length > 1) {
      end()
      begin()
    }
    cur.push(...msgs)
    size += n
  }
  end()
  return batches
}

// ---- the socket ------------------------------------------------------------------------

interface Pending {
  seq: number
  resolve: (genid: number) => void
  errors: { seq: number; errno: number }[]
}

/**
 * A netfilter netlink socket inside one namespace that applies transactions as batches.
 * Callers serialize apply() (the proxier never overlaps syncs); one pending batch at a time.
 */
export class NftNetlink {
  private sock: NetlinkSocket
  private seq = 1
  private pending: Pending | undefined
  /** seqs of the current batch's messages, to tell their errors from strays */
  private batchSeqs: [number, number] = [0, 0]

  constructor(readonly netns?: string) {
    const open = (): NetlinkSocket => createNetlink(NETLINK_NETFILTER)
    this.sock = netns ? inNetnsSync(netns, open) : open()
    // a cold start sends megabytes in one sendmsg; errors can echo whole messages back
    this.sock.setSendBufferSize(8 << 20)
    this.sock.setRecvBufferSize(8 << 20)
    this.sock.socket.on('message', (buf: Buffer) => this.receive(buf))
  }

  private receive(buf: Buffer): void {
    const p = this.pending
    for (let off = 0; off + 16 <= buf.length; ) {
      const len = buf.readUInt32LE(off)
      const type = buf.readUInt16LE(off + 4)
      const seq = buf.readUInt32LE(off + 8)
      if (len < 16) break
      if (p) {
        if (type === NLMSG_ERROR) {
          const errno = -buf.readInt32LE(off + 16)
          const origSeq = buf.readUInt32LE(off + 20 + 8)
          if (origSeq === p.seq) {
            // GETGEN itself failed: report as a batch error
            p.errors.push({ seq: origSeq, errno: errno || 0 })
            if (errno) this.settle(0)
          } else if (errno) p.errors.push({ seq: origSeq, errno })
        } else if (seq === p.seq && type === nftType(15 /* NEWGEN */)) {
          // nfgenmsg (4) then attributes: NFTA_GEN_ID is the first
          const genid = len >= 32 ? buf.readUInt32BE(off + 24) : 0
          this.settle(genid)
        }
      }
      off += pad4(len)
    }
  }

  private settle(genid: number): void {
    const p = this.pending
    if (!p) return
    this.pending = undefined
    p.resolve(genid)
  }

  private sendRaw(msgs: Buffer[]): Promise<void> {
    // one buffer: sendmsg refuses more than 1024 iovecs (EMSGSIZE)
    const data = Buffer.concat(msgs)
    return new Promise((resolve, reject) => this.sock.socket.send(data, { port: 0 }, (err) => (err ? reject(err) : resolve())))
  }

  /** Send one framed batch, then a GETGEN whose answer proves the kernel has processed it. */
  async sendBatch(msgs: Buffer[]): Promise<{ genid: number }> {
    if (this.pending) throw new Error('nft netlink: overlapping batches')
    const first = msgs[0]!.readUInt32LE(8)
    this.batchSeqs = [first, msgs[msgs.length - 1]!.readUInt32LE(8)]
    const getSeq = this.batchSeqs[1] + 1
    this.seq = getSeq + 1
    const pending: Pending = { seq: getSeq, resolve: () => {}, errors: [] }
    const done = new Promise<number>((resolve) => (pending.resolve = resolve))
    this.pending = pending
    this.sock.ref(true) // keep the loop alive until the kernel answered
    try {
      await this.sendRaw(msgs)
      await this.sendRaw([message(nftType(MSG.getGen), NLM_F_REQUEST, getSeq, 0, [])])
    } catch (err) {
      this.pending = undefined
      this.sock.ref(false)
      const e = err as NodeJS.ErrnoException
      throw new NftError(e.code === 'EMSGSIZE' ? 'other' : 'other', `nft netlink send: ${e.message}`, e.message)
    }
    const genid = await done.finally(() => this.sock.ref(false))
    const errs = pending.errors.filter((e) => e.seq >= this.batchSeqs[0] && e.seq <= this.batchSeqs[1])
    if (errs.length) {
      const e = errs[0]!
      const kind = e.errno === 2 ? 'notFound' : e.errno === 17 ? 'exists' : e.errno === 16 ? 'busy' : e.errno === 1 ? 'permission' : e.errno === 22 ? 'syntax' : 'other'
      const text = `nft netlink batch: errno ${e.errno} (${errnoName(e.errno)}) on message ${e.seq - this.batchSeqs[0]} of ${msgs.length}`
      throw new NftError(kind, text, text)
    }
    return { genid }
  }

  /** Encode and apply `tx` as one atomic batch (throws NftUnsupported before sending anything). */
  async apply(tx: NftTransaction): Promise<void> {
    if (!tx.size) return
    const [batch] = encodeBatches(tx, Infinity, this.seq)
    await this.sendBatch(batch!)
  }

  /** Apply `tx` in batches of at most `maxBytes`: each is atomic, the whole is not. */
  async applyChunked(tx: NftTransaction, maxBytes: number): Promise<number> {
    if (!tx.size) return 0
    const batches = encodeBatches(tx, maxBytes, this.seq)
    for (const b of batches) await this.sendBatch(b)
    return batches.length
  }

  close(): void {
    this.sock.close()
  }
}

/** Walk netlink attributes (type with the NESTED flag cleared, payload). */
function* attrsOf(buf: Buffer, off: number, end: number): Generator<[number, Buffer]> {
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off)
    if (len < 4) return
    yield [buf.readUInt16LE(off + 2) & ~NLA_F_NESTED, buf.subarray(off + 4, off + len)]
    off += pad4(len)
  }
}

/** One element as the kernel dumps it: key bytes, and a map's data bytes or verdict. */
export interface DumpedElement {
  key: Buffer
  data?: Buffer
  verdict?: { code: number; chain?: string }
}

/** A netfilter socket inside `netns` for dumps (the caller closes it). */
function openDumpSocket(netns: string | undefined): NetlinkSocket {
  const open = (): NetlinkSocket => createNetlink(NETLINK_NETFILTER)
  const sock = netns ? inNetnsSync(netns, open) : open()
  sock.setRecvBufferSize(8 << 20)
  return sock
}

const EMPTY = Buffer.alloc(0)

/**
 * Every element of one set with one NFT_MSG_GETSETELEM dump on `sock` (one dump at a time).
 * With `each`, elements are handed over as they arrive (their buffers are views into the
 * message: decode them at once) and none is returned.
 */
function dumpElementsOn(sock: NetlinkSocket, family: NftFamily, table: string, set: string, each?: (e: DumpedElement) => void): Promise<DumpedElement[]> {
  const out: DumpedElement[] = []
  const dumped = dumpOn(sock, family, 13 /* GETSETELEM */, [str(1, table), str(2, set)], MSG.newSetElem, `dump ${table}/${set}`, (buf, start, end) => {
    for (const [t, list] of attrsOf(buf, start, end)) {
      if (t !== 3 /* ELEMENTS */) continue
      // LIST_ELEM { KEY { VALUE } [DATA { VALUE | VERDICT { CODE [CHAIN] } }] … }, walked by
      // hand: a restart reads every element of the table
      for (let a = 0; a + 4 <= list.length; ) {
        const alen = list.readUInt16LE(a)
        if (alen < 4) break
        const e: DumpedElement = { key: EMPTY }
        for (let b = a + 4; b + 4 <= a + alen; ) {
          const blen = list.readUInt16LE(b)
          if (blen < 4) break
          const k = list.readUInt16LE(b + 2) & ~NLA_F_NESTED
          if (k === 1 /* KEY */ || k === 2 /* DATA */)
            for (let c = b + 4; c + 4 <= b + blen; ) {
              const clen = list.readUInt16LE(c)
              if (clen < 4) break
              const d = list.readUInt16LE(c + 2) & ~NLA_F_NESTED
              const x = list.subarray(c + 4, c + clen)
              if (d === DATA_VALUE) {
                // decoded now (each) or kept: then copied, the message buffer is not ours
                const v = each ? x : Buffer.from(x)
                if (k === 1) e.key = v
                else e.data = v
              } else if (d === DATA_VERDICT && k === 2) {
                const vd: { code: number; chain?: string } = { code: 0 }
                for (const [cc, y] of attrsOf(x, 0, x.length)) {
                  if (cc === 1) vd.code = y.readInt32BE(0)
                  if (cc === 2) vd.chain = y.subarray(0, y.indexOf(0) < 0 ? y.length : y.indexOf(0)).toString()
                }
                e.verdict = vd
              }
              c += pad4(clen)
            }
          b += pad4(blen)
        }
        if (each) each(e)
        else out.push(e)
        a += pad4(alen)
      }
    }
  })
  return dumped.then(() => out)
}

/**
 * One NFT_MSG dump request (`getType` with `attrs`) on `sock` (one dump at a time): each reply
 * message of `replyType` is handed to `onPayload` as its attribute range; resolves at
 * NLMSG_DONE, rejects on the kernel's error (`notFound` for ENOENT).
 */
function dumpOn(sock: NetlinkSocket, family: NftFamily, getType: number, attrs: Buffer[], replyType: number, what: string, onPayload: (buf: Buffer, start: number, end: number) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      sock.socket.off('message', onMessage)
      sock.ref(false)
      if (err) reject(err)
      else resolve()
    }
    const onMessage = (buf: Buffer): void => {
      for (let off = 0; off + 16 <= buf.length; ) {
        const len = buf.readUInt32LE(off)
        const type = buf.readUInt16LE(off + 4)
        if (len < 16) break
        if (type === 3 /* NLMSG_DONE */) return done()
        if (type === NLMSG_ERROR) {
          const errno = -buf.readInt32LE(off + 16)
          if (errno) return done(new NftError(errno === 2 ? 'notFound' : 'other', `nft netlink ${what}: errno ${errno} (${errnoName(errno)})`, ''))
        } else if (type === nftType(replyType)) onPayload(buf, off + 20, off + len)
        off += pad4(len)
      }
    }
    sock.socket.on('message', onMessage)
    const req = message(nftType(getType), NLM_F_REQUEST | 0x300 /* DUMP */, 1, FAMILY[family], attrs)
    sock.ref(true)
    sock.socket.send(req, { port: 0 }, (err) => err && done(err))
  })
}

/**
 * The keys of every element of one set, read with one NFT_MSG_GETSETELEM dump on a socket of
 * its own (no `nft` process: ~1 ms, where `nft list set` costs a process start and a cache
 * fill). Raw bytes in the kernel's layout (concatenations padded to 4 bytes per part); a range
 * element's key is its lower bound. For observers (benchmarks, tests).
 */
export async function dumpSetKeys(netns: string | undefined, family: NftFamily, table: string, set: string): Promise<Buffer[]> {
  const sock = openDumpSocket(netns)
  try {
    return (await dumpElementsOn(sock, family, table, set)).map((e) => e.key)
  } finally {
    sock.close()
  }
}

const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' }
const PART_LEN: Record<string, number> = { ipv4_addr: 4, inet_proto: 1, inet_service: 2 }

/** Bytes of a key or data value as nft prints them (`10.96.0.20 . tcp . 80`); undefined: a type we do not decode. */
export function decodeValue(type: string, b: Buffer): string | undefined {
  return decoderFor(type)?.(b)
}

const decoders = new Map<string, ((b: Buffer) => string | undefined) | undefined>()

/** A decoder for one set type, its parts and offsets worked out once (a restart decodes every element). */
function decoderFor(type: string): ((b: Buffer) => string | undefined) | undefined {
  if (decoders.has(type)) return decoders.get(type)
  const parts = type.split(' . ').map((p) => p.trim())
  let off = 0
  const layout: [string, number][] = []
  let ok = true
  for (const p of parts) {
    const len = PART_LEN[p]
    if (len === undefined) ok = false
    layout.push([p, off])
    off += parts.length > 1 ? pad4(len ?? 0) : (len ?? 0)
  }
  const need = layout.length ? layout[layout.length - 1]![1] + (PART_LEN[layout[layout.length - 1]![0]] ?? 0) : 0
  const dec = ok
    ? (b: Buffer): string | undefined => {
        if (b.length < need) return undefined
        let out = ''
        for (let i = 0; i < layout.length; i++) {
          const [p, o] = layout[i]!
          if (i) out += ' . '
          if (p === 'ipv4_addr') out += `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`
          else if (p === 'inet_proto') out += PROTO_NAME[b[o]!] ?? String(b[o])
          else out += String((b[o]! << 8) | b[o + 1]!)
        }
        return out
      }
    : undefined
  decoders.set(type, dec)
  return dec
}

const VERDICT_NAME: Record<number, string> = { 0: 'drop', 1: 'accept', [-3]: 'jump', [-4]: 'goto', [-5]: 'return' }

function verdictText(v: { code: number; chain?: string }): string | undefined {
  const w = VERDICT_NAME[v.code]
  if (!w) return undefined
  return v.chain !== undefined ? `${w} ${v.chain}` : w
}

/**
 * Our table as data without `nft` formatting its elements: `nft -t list table` (chains,
 * rules, set declarations, no contents) and one GETSETELEM dump per set, decoded by the
 * set's type. nft 1.0.6 lists ~12k elements in seconds under load; the dumps take
 * milliseconds. Undefined when the table does not exist; a set whose type is not decoded
 * here makes the caller fall back to the full `nft list`.
 */
export async function readTableNetlink(exec: NftExec, family: NftFamily, table: string): Promise<NftTableState | undefined | 'unsupported'> {
  const text = await exec.listTable(family, table, { terse: true })
  if (text === undefined) return undefined
  const state = parseNftList(text)
  const sock = openDumpSocket(exec.netns)
  try {
    for (const [name, set] of state.sets) {
      const [keyType, dataType] = set.type.split(' : ').map((x) => x.trim())
      const decKey = decoderFor(keyType!)
      const decData = dataType ? decoderFor(dataType) : undefined
      for (const e of await dumpElementsOn(sock, family, table, name)) {
        const key = decKey?.(e.key)
        if (key === undefined) return 'unsupported'
        let value: string | undefined
        if (set.kind === 'map') {
          value = e.verdict ? verdictText(e.verdict) : e.data && decData ? decData(e.data) : undefined
          if (value === undefined) return 'unsupported'
        }
        set.elements.set(key, value)
      }
    }
  } finally {
    sock.close()
  }
  return state
}

/** Every rule of `table` as the kernel dumps it: chain → NFTA_RULE_EXPRESSIONS blobs, in order. */
function dumpRulesOn(sock: NetlinkSocket, family: NftFamily, table: string): Promise<Map<string, Buffer[]>> {
  const out = new Map<string, Buffer[]>()
  const dumped = dumpOn(sock, family, 7 /* GETRULE */, [str(1, table)], MSG.newRule, `rule dump ${table}`, (buf, start, end) => {
    let chain: string | undefined
    let exprs = Buffer.alloc(0)
    for (const [t, v] of attrsOf(buf, start, end)) {
      if (t === 2 /* CHAIN */) chain = v.subarray(0, v.indexOf(0) < 0 ? v.length : v.indexOf(0)).toString()
      if (t === 4 /* EXPRESSIONS */) exprs = Buffer.from(v)
    }
    if (chain !== undefined) {
      const l = out.get(chain)
      if (l) l.push(exprs)
      else out.set(chain, [exprs])
    }
  })
  return dumped.then(() => out)
}

/**
 * Our table read without `nft` listing a single rule. nft 1.0.6 fetches every set element of
 * the table before it prints any rule (`nft -t list table` or `list chain` took 8–10 s at 10k
 * Services under load, however terse), so a restart would cost as much as the table is big.
 * Instead: declarations from `nft -t list sets|maps table` and `list chains` (no elements
 * fetched: ~30 ms), elements from GETSETELEM dumps, and rules compared as the kernel's own
 * bytes: `reference` (what we would write) goes into a scratch table `<table>-ref` through the
 * same `nft -f`, both tables' rules are dumped (GETRULE) and a chain whose expressions equal
 * the reference's gets the reference's text; any other chain gets placeholder rules (one per
 * kernel rule) that match nothing, so the caller rewrites it. The scratch table has no hooks
 * and is deleted at once.
 */
export async function readTableByReference(exec: NftExec, family: NftFamily, table: string, reference: NftReference): Promise<NftTableState | undefined | 'unsupported'> {
  const decl = await exec.listDeclarations(family, table)
  if (decl === undefined) return undefined
  const state = decl
  const ref = `${table}-ref`
  const tx = new NftTransactionCtor(family, ref)
  tx.add({ kind: 'table' }).delete({ kind: 'table' }).add({ kind: 'table' })
  for (const c of reference.chains) tx.add({ kind: 'chain', name: c.name })
  for (const st of reference.sets) tx.add(st)
  for (const [chain, rule] of reference.rules) tx.add({ kind: 'rule', chain, rule })
  await exec.apply(tx)
  const sock = openDumpSocket(exec.netns)
  try {
    let kernel: Map<string, Buffer[]>
    let mine: Map<string, Buffer[]>
    try {
      kernel = await dumpRulesOn(sock, family, table)
      mine = await dumpRulesOn(sock, family, ref)
    } finally {
      await exec.apply(new NftTransactionCtor(family, ref).delete({ kind: 'table' }))
    }
    const text = new Map<string, string[]>()
    for (const [chain, rule] of reference.rules) {
      const l = text.get(chain)
      if (l) l.push(rule)
      else text.set(chain, [rule])
    }
    for (const [name, c] of state.chains) {
      const k = kernel.get(name) ?? []
      const m = mine.get(name) ?? []
      const same = k.length === m.length && k.every((b, i) => b.equals(m[i]!))
      c.rules = same ? [...(text.get(name) ?? [])] : k.map((_, i) => `# kernel rule ${i} of ${name}, unlike ours`)
    }
    for (const [name, set] of state.sets) {
      const [keyType, dataType] = set.type.split(' : ').map((x) => x.trim())
      const decKey = decoderFor(keyType!)
      const decData = dataType ? decoderFor(dataType) : undefined
      let unsupported = false
      await dumpElementsOn(sock, family, table, name, (e) => {
        const key = decKey?.(e.key)
        let value: string | undefined
        if (set.kind === 'map') value = e.verdict ? verdictText(e.verdict) : e.data && decData ? decData(e.data) : undefined
        if (key === undefined || (set.kind === 'map' && value === undefined)) unsupported = true
        else set.elements.set(key, value)
      })
      if (unsupported) return 'unsupported'
    }
  } finally {
    sock.close()
  }
  return state
}

/** An IPv4 address as a key part (the layout dumpSetKeys returns). */
export const ip4KeyPart = (s: string): Buffer => ip4(s)

function errnoName(n: number): string {
  return ({ 1: 'EPERM', 2: 'ENOENT', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 40: 'ELOOP', 90: 'EMSGSIZE', 95: 'EOPNOTSUPP' } as Record<number, string>)[n] ?? 'errno'
}

/**
 * An NftRunner that sends what netlink can carry as one batch over a kept socket, and anything
 * else (base chains, comments, anonymous vmaps) through `nft -f`. Reads go through nft.
 */
export class NftNetlinkRunner implements NftRunner {
  readonly exec: NftExec
  private nl: NftNetlink | undefined
  /** Transactions sent each way (the bench and tests read it). */
  readonly sent = { netlink: 0, nft: 0 }

  constructor(readonly netns?: string) {
    this.exec = new NftExec(netns)
  }

  async apply(tx: NftTransaction): Promise<void> {
    if (!tx.size) return
    this.nl ??= new NftNetlink(this.netns)
    try {
      await this.nl.apply(tx)
      this.sent.netlink++
    } catch (err) {
      if (!(err instanceof NftUnsupported)) throw err
      await this.exec.apply(tx)
      this.sent.nft++
    }
  }

  listTable(family: NftFamily, table: string): Promise<string | undefined> {
    return this.exec.listTable(family, table)
  }

  /**
   * Netlink element dumps under a terse `nft list` (see readTableNetlink), or with a
   * `reference`, rules compared as kernel bytes and nothing listed (readTableByReference);
   * else the full list.
   */
  async readTable(family: NftFamily, table: string, reference?: NftReference): Promise<NftTableState | undefined> {
    const st = reference ? await readTableByReference(this.exec, family, table, reference) : await readTableNetlink(this.exec, family, table)
    return st === 'unsupported' ? this.exec.readTable(family, table) : st
  }

  async readTables(family: NftFamily, tables: readonly string[], reference?: (table: string) => NftReference | undefined): Promise<Map<string, NftTableState>> {
    const out = new Map<string, NftTableState>()
    for (const t of tables) {
      const st = await this.readTable(family, t, reference?.(t))
      if (st) out.set(t, st)
    }
    return out
  }

  close(): void {
    this.nl?.close()
    this.nl = undefined
  }
}
