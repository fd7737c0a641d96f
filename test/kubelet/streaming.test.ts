// Pure parts of the streaming endpoints: SPDY framing and header blocks, protocol
// negotiation, the kubelet routes and the apiserver's kubelet paths.
import t from 'tap'
import { Duplex, PassThrough } from 'node:stream'
import zlib from 'node:zlib'
import { SPDY3_DICTIONARY } from '../../src/kubelet/streaming/spdy-dictionary.js'
import { controlFrame, dataFrame, decodeHeaderBlock, encodeHeaderBlock, FrameType, SpdyConnection, type SpdyStream } from '../../src/kubelet/streaming/spdy.js'
import { negotiate, offeredProtocols, statusJSON } from '../../src/kubelet/streaming/channels.js'
import { parseRoute, streamOptions } from '../../src/kubelet/streaming/server.js'
import { kubeletStreamPath } from '../../src/apiserver/pod-stream-proxy.js'

t.test('the SPDY/3 dictionary is the spec\'s 1423 bytes', async (t) => {
  t.equal(SPDY3_DICTIONARY.length, 1423)
  t.equal(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1'), '\x00\x00\x00\x07options')
  t.ok(SPDY3_DICTIONARY.includes(Buffer.from('\x00\x00\x00\x06200 OK', 'latin1')))
})

t.test('header blocks round-trip; a client stream is accepted with SYN_REPLY and carries data both ways', async (t) => {
  const h = { streamtype: ['data'], port: ['80'], requestid: ['0'] }
  t.same(decodeHeaderBlock(encodeHeaderBlock(h)), h)
  const wire = new PassThrough()
  const back = new PassThrough()
  // The server's socket: reads what the client wrote on `wire`, writes to `back`.
  const sock = new Duplex({
    read() {},
    write(c, _e, cb) {
      back.write(c)
      cb()
    },
  })
  wire.on('data', (d: Buffer) => sock.push(d))
  const conn = new SpdyConnection(sock)
  const got = new Promise<SpdyStream>((r) => conn.once('stream', r))
  // The client's SYN_STREAM: id 1, header block deflated with the dictionary and a sync flush.
  const def = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY })
  const block = await new Promise<Buffer>((resolve) => {
    def.write(encodeHeaderBlock(h))
    def.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(def.read() as Buffer))
  })
  const syn = Buffer.alloc(10)
  syn.writeUInt32BE(1, 0)
  wire.write(controlFrame(FrameType.SynStream, 0, Buffer.concat([syn, block])))
  const s = await got
  t.equal(s.type, 'data')
  wire.write(dataFrame(1, 1, Buffer.from('ping')))
  const body = await new Promise<string>((r) => {
    let b = ''
    s.on('data', (d: Buffer) => (b += d)).on('end', () => r(b))
  })
  t.equal(body, 'ping', 'data then FIN ends the stream\'s readable side')
  s.end('pong')
  await new Promise((r) => setImmediate(r))
  const out: Buffer = back.read() as Buffer
  t.equal(out.readUInt16BE(2), FrameType.SynReply, 'SYN_REPLY first')
  t.ok(out.includes(Buffer.from('pong')), 'then our DATA')
  def.close()
  conn.close()
})

t.test('negotiation and routes', async (t) => {
  t.equal(negotiate(offeredProtocols(['v5.channel.k8s.io, v4.channel.k8s.io']), ['v4.channel.k8s.io']), 'v4.channel.k8s.io')
  t.equal(negotiate(['v9.channel.k8s.io'], ['v4.channel.k8s.io']), undefined)
  t.match(parseRoute('/exec/default/box/web?command=ls&stdout=1'), { kind: 'exec', ns: 'default', pod: 'box', container: 'web' })
  t.match(parseRoute('/portForward/ns1/p'), { kind: 'portForward', ns: 'ns1', pod: 'p' })
  t.equal(parseRoute('/containerLogs/a/b/c'), undefined)
  t.same(streamOptions(new URLSearchParams('stdin=true&output=1&tty=1')), { stdin: true, stdout: true, stderr: false, tty: true })
  t.equal(kubeletStreamPath('exec', 'default', 'box', 'web', new URLSearchParams('command=ls&container=web&stdout=true')), '/exec/default/box/web?command=ls&stdout=true')
  t.equal(kubeletStreamPath('portforward', 'default', 'box', '', new URLSearchParams('ports=80')), '/portForward/default/box?ports=80')
  t.same(JSON.parse(statusJSON({ exitCode: 3 })), {
    metadata: {},
    status: 'Failure',
    message: 'command terminated with non-zero exit code: exit status 3',
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '3' }] },
  })
})
