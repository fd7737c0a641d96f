// ctnetlink encoding and decoding, pure: the bytes of a dump request and of a delete, and an
// entry decoded from a message the kernel sent (captured from a real dump of a UDP flow).
import t from 'tap'
import { decodeEntry, encodeDelete, encodeDump, type CtEntry } from '../../src/net/conntrack.js'

// IPCTNL_MSG_CT_NEW for `udp src=127.0.0.1 dst=127.0.0.2 sport=40000 dport=53`, unreplied
const KERNEL_NEW =
  'a4000000000122000700000046100008020000003400018014000180080001007f000001080002007f0000021c0002800500010011000000060002009c40000006000300003500003400028014000180080001007f000002080002007f0000011c00028005000100110000000600020000350000060003009c4000000800030000000008080008000000000008000c005fd0a88808000b0000000001080007000000001c'

const FLOW: CtEntry = {
  orig: { src: '127.0.0.1', dst: '127.0.0.2', proto: 17, sport: 40000, dport: 53 },
  reply: { src: '127.0.0.2', dst: '127.0.0.1', proto: 17, sport: 53, dport: 40000 },
  id: 1607510152,
}

t.test('decodes an entry the kernel dumped', async (t) => {
  const buf = Buffer.from(KERNEL_NEW, 'hex')
  // nlmsghdr (16) + nfgenmsg (4)
  t.same(decodeEntry(buf, 20, buf.length), FLOW)
  t.equal(decodeEntry(buf, 20, 40), undefined, 'a truncated message is no entry')
})

t.test('dump request: CT_GET in the ctnetlink subsystem, DUMP flags, IPv4', async (t) => {
  const b = encodeDump(9)
  t.equal(b.length, 20)
  t.equal(b.readUInt32LE(0), 20)
  t.equal(b.readUInt16LE(4), (1 << 8) | 1, 'NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET')
  t.equal(b.readUInt16LE(6), 0x301, 'REQUEST | DUMP')
  t.equal(b.readUInt32LE(8), 9)
  t.equal(b[16], 2, 'AF_INET')
})

t.test('delete: the original tuple, the id, an ACK asked', async (t) => {
  const b = encodeDelete(FLOW, 5)
  t.equal(b.readUInt32LE(0), b.length)
  t.equal(b.readUInt16LE(4), (1 << 8) | 2, 'IPCTNL_MSG_CT_DELETE')
  t.equal(b.readUInt16LE(6), 0x5, 'REQUEST | ACK')
  // the same tuple bytes the kernel uses in its own messages (nested flag set on both sides)
  const kernel = Buffer.from(KERNEL_NEW, 'hex')
  t.same(b.subarray(20, 20 + 0x34), kernel.subarray(20, 20 + 0x34), 'CTA_TUPLE_ORIG is byte-identical to the kernel dump')
  const id = b.subarray(20 + 0x34)
  t.same([...id], [8, 0, 12, 0, 0x5f, 0xd0, 0xa8, 0x88], 'CTA_ID, big-endian')
  t.same(decodeEntry(b, 20, b.length), undefined, 'no reply tuple: not a full entry')
  const zoned = encodeDelete({ ...FLOW, zone: 3 }, 6)
  t.same([...zoned.subarray(20 + 0x34, 20 + 0x34 + 8)], [6, 0, 18, 0, 0, 3, 0, 0], 'CTA_ZONE when not the default zone')
  t.throws(() => encodeDelete({ ...FLOW, orig: { ...FLOW.orig, dst: 'fd00::1' } }, 7), /not an IPv4 address/)
})
