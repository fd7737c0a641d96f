// TCP length framing (RFC 1035 §4.2.2) without sockets: how a byte stream splits into queries.
import t from 'tap'
import { frame, takeFrames } from '../../src/dns/tcp.js'

const hex = (b: Buffer): string => b.toString('hex')

const cases: [string, string, string[], string][] = [
  // stream (hex) → messages (hex), rest (hex)
  ['one whole message', '0003abcdef', ['abcdef'], ''],
  ['two in one read', '0001aa0002bbcc', ['aa', 'bbcc'], ''],
  ['a partial length', '00', [], '00'],
  ['a partial body', '0003abcd', [], '0003abcd'],
  ['one whole and the start of the next', '0001aa0002bb', ['aa'], '0002bb'],
  ['an empty message', '0000', [''], ''],
]

for (const [what, stream, messages, rest] of cases) {
  t.test(what, async (t) => {
    const r = takeFrames(Buffer.from(stream, 'hex'))
    t.same(r.messages.map(hex), messages)
    t.equal(hex(r.rest), rest)
  })
}

t.test('a message split over reads comes out once it is complete', async (t) => {
  const whole = frame(Buffer.from('0123456789', 'hex'))
  let pending: Buffer = Buffer.alloc(0)
  const out: string[] = []
  for (const byte of whole) {
    const r = takeFrames(Buffer.concat([pending, Buffer.from([byte])]))
    out.push(...r.messages.map(hex))
    pending = r.rest
  }
  t.same(out, ['0123456789'])
  t.equal(pending.length, 0)
})

t.test('messages are copies: the read buffer may be reused', async (t) => {
  const read = Buffer.from('0002abcd', 'hex')
  const [m] = takeFrames(read).messages
  read.fill(0)
  t.equal(hex(m!), 'abcd')
})

t.test('frame prefixes the length', async (t) => {
  t.equal(hex(frame(Buffer.from('abcdef', 'hex'))), '0003abcdef')
})
