// SPDY/3.1 server side, as much as Kubernetes' httpstream uses (written from the SPDY/3
// draft and apimachinery's spdy stream sources): the client opens streams with SYN_STREAM
// (headers `streamtype`, `port`, `requestid`), the server accepts each with SYN_REPLY, both
// send DATA frames, FIN half-closes, RST_STREAM resets, PING is echoed, GOAWAY ends.
// Header blocks are zlib-compressed with the SPDY/3 dictionary, one compression context per
// direction for the whole connection, so every block is inflated/deflated in frame order.
// Flow control (WINDOW_UPDATE) is accepted and ignored: Go's spdystream neither enforces
// nor sends it, and the transport below applies TCP backpressure.
//
// Frame layout (big-endian):
//   control: 1 | version:15 | type:16 | flags:8 | length:24 | payload
//   data:    0 | stream-id:31        | flags:8 | length:24 | payload
import { Duplex } from 'node:stream'
import { EventEmitter } from 'node:events'
import zlib from 'node:zlib'
import { SPDY3_DICTIONARY } from './spdy-dictionary.js'

const VERSION = 3
export const enum FrameType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}
const FLAG_FIN = 0x01
/** Largest DATA payload sent at once (spdystream reads frames of any size up to 2^24-1): a pipe read. */
const MAX_DATA = 64 * 1024
/** Bytes a sender may leave queued in the socket before its write waits for 'drain'. */
const SEND_BUFFER = 1024 * 1024
/** A frame larger than this is a protocol error (header blocks are tiny; data is chunked). */
const MAX_FRAME = 1 << 24

export type Headers = Record<string, string[]>

export class SpdyProtocolError extends Error {}

/** One zlib context used in frame order: each call is a block ending in a sync flush. */
class ZContext {
  private chain: Promise<unknown> = Promise.resolve()
  constructor(private readonly z: zlib.Inflate | zlib.Deflate) {
    z.on('error', () => {})
  }
  run(block: Buffer): Promise<Buffer> {
    const next = this.chain.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          const onErr = (err: Error): void => reject(new SpdyProtocolError(`header block: ${err.message}`))
          this.z.once('error', onErr)
          this.z.write(block)
          this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            this.z.off('error', onErr)
            const out: Buffer[] = []
            for (let c = this.z.read() as Buffer | null; c !== null; c = this.z.read() as Buffer | null) out.push(c)
            resolve(Buffer.concat(out))
          })
        }),
    )
    this.chain = next.catch(() => {})
    return next
  }
  close(): void {
    this.z.close()
  }
}

export function encodeHeaderBlock(h: Headers): Buffer {
  const parts: Buffer[] = []
  const n = Buffer.alloc(4)
  const entries = Object.entries(h)
  n.writeUInt32BE(entries.length)
  parts.push(n)
  for (const [k, vs] of entries) {
    const name = Buffer.from(k.toLowerCase())
    const value = Buffer.from(vs.join('\0'))
    const l = Buffer.alloc(4)
    l.writeUInt32BE(name.length)
    const vl = Buffer.alloc(4)
    vl.writeUInt32BE(value.length)
    parts.push(l, name, vl, value)
  }
  return Buffer.concat(parts)
}

export function decodeHeaderBlock(b: Buffer): Headers {
  const out: Headers = {}
  let off = 0
  const u32 = (): number => {
    if (off + 4 > b.length) throw new SpdyProtocolError('truncated header block')
    const v = b.readUInt32BE(off)
    off += 4
    return v
  }
  const bytes = (len: number): string => {
    if (off + len > b.length) throw new SpdyProtocolError('truncated header block')
    const s = b.toString('utf8', off, off + len)
    off += len
    return s
  }
  const count = u32()
  for (let i = 0; i < count; i++) {
    const k = bytes(u32()).toLowerCase()
    const v = bytes(u32())
    ;(out[k] ??= []).push(...v.split('\0'))
  }
  return out
}

export function header(h: Headers, name: string): string | undefined {
  return h[name.toLowerCase()]?.[0]
}

export function controlFrame(type: FrameType, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt16BE(0x8000 | VERSION, 0)
  head.writeUInt16BE(type, 2)
  head.writeUInt32BE(payload.length, 4)
  head[4] = flags
  return Buffer.concat([head, payload])
}

export function dataFrame(streamId: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(streamId & 0x7fffffff, 0)
  head.writeUInt32BE(payload.length, 4)
  head[4] = flags
  return Buffer.concat([head, payload])
}

/** A stream the client opened: a Duplex whose writes become DATA frames. */
export class SpdyStream extends Duplex {
  private remoteClosed = false
  private localClosed = false
  constructor(
    private readonly conn: SpdyConnection,
    readonly id: number,
    readonly headers: Headers,
  ) {
    super({ allowHalfOpen: true })
  }
  get type(): string | undefined {
    return header(this.headers, 'streamtype')
  }
  override _read(): void {
    this.conn.resume()
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.localClosed) return cb()
    this.conn.sendData(this.id, chunk, false, cb)
  }
  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localClosed) {
      this.localClosed = true
      this.conn.sendData(this.id, Buffer.alloc(0), true)
      this.conn.maybeForget(this)
    }
    cb()
  }
  /**
   * Half-close our side (DATA with FIN) once the writes queued before it are sent: the FIN
   * goes through the writable side, never past it (a FIN sent ahead of queued writes made
   * them be dropped — the short reads under concurrent port-forwards).
   */
  finish(): void {
    if (this.localClosed || this.writableEnded || this.destroyed) return
    // Nothing queued or in flight: FIN now, so a GOAWAY that follows comes after it.
    if (this.writableLength === 0) {
      this.localClosed = true
      this.conn.sendData(this.id, Buffer.alloc(0), true)
      this.conn.maybeForget(this)
    }
    this.end()
  }
  /** @internal bytes from the client */
  receive(data: Buffer, fin: boolean): void {
    if (data.length && !this.push(data)) this.conn.pause()
    if (fin && !this.remoteClosed) {
      this.remoteClosed = true
      this.push(null)
      this.conn.maybeForget(this)
    }
  }
  /** @internal the client reset it */
  reset(): void {
    this.remoteClosed = true
    this.localClosed = true
    this.destroy()
  }
  get done(): boolean {
    return this.remoteClosed && this.localClosed
  }
}

/**
 * The server end of a SPDY/3.1 connection over `socket` (a TCP/TLS socket, or a Duplex
 * carrying the frames inside WebSocket messages). Emits 'stream' (SpdyStream, replied to
 * already) and 'close'. A malformed frame ends this connection only.
 */
export class SpdyConnection extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0)
  private readonly inflate = new ZContext(zlib.createInflate({ dictionary: SPDY3_DICTIONARY }))
  private readonly deflate = new ZContext(zlib.createDeflate({ dictionary: SPDY3_DICTIONARY }))
  private readonly streams = new Map<number, SpdyStream>()
  /** Frames are handled strictly in order: header blocks share one inflate context. */
  private chain: Promise<void> = Promise.resolve()
  private closed = false
  private paused = 0

  constructor(private readonly socket: Duplex) {
    super()
    socket.on('data', (d: Buffer) => this.onData(d))
    socket.on('end', () => this.close())
    socket.on('close', () => this.close())
    socket.on('error', () => this.close())
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4) & 0xffffff
      if (len >= MAX_FRAME) return this.fail('frame too large')
      if (this.buf.length < 8 + len) break
      const frame = this.buf.subarray(0, 8 + len)
      this.buf = this.buf.subarray(8 + len)
      this.chain = this.chain.then(() => this.handle(frame)).catch((err: Error) => this.fail(err.message))
    }
  }

  private async handle(f: Buffer): Promise<void> {
    if (this.closed) return
    const flags = f[4]!
    const payload = f.subarray(8)
    if (!(f[0]! & 0x80)) {
      const id = f.readUInt32BE(0) & 0x7fffffff
      const s = this.streams.get(id)
      // Data for a stream we do not know: reset it, as spdystream does.
      if (!s) return this.rst(id, 2)
      s.receive(Buffer.from(payload), (flags & FLAG_FIN) !== 0)
      return
    }
    const version = f.readUInt16BE(0) & 0x7fff
    if (version !== VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`)
    const type = f.readUInt16BE(2) as FrameType
    switch (type) {
      case FrameType.SynStream: {
        if (payload.length < 10) throw new SpdyProtocolError('short SYN_STREAM')
        const id = payload.readUInt32BE(0) & 0x7fffffff
        const headers = decodeHeaderBlock(await this.inflate.run(payload.subarray(10)))
        if (id === 0 || this.streams.has(id)) return this.rst(id, 8) // STREAM_IN_USE
        const s = new SpdyStream(this, id, headers)
        this.streams.set(id, s)
        await this.reply(id)
        this.emit('stream', s)
        if (flags & FLAG_FIN) s.receive(Buffer.alloc(0), true)
        return
      }
      case FrameType.RstStream: {
        const id = payload.readUInt32BE(0) & 0x7fffffff
        const s = this.streams.get(id)
        this.streams.delete(id)
        s?.reset()
        return
      }
      case FrameType.Ping:
        this.write(controlFrame(FrameType.Ping, 0, Buffer.from(payload)))
        return
      case FrameType.GoAway:
        this.close()
        return
      case FrameType.Headers: {
        // Decompressed to keep the shared context in step; nothing here uses trailers.
        await this.inflate.run(payload.subarray(4))
        return
      }
      case FrameType.SynReply:
        await this.inflate.run(payload.subarray(4))
        return
      default:
        return // SETTINGS, WINDOW_UPDATE, unknown control frames: ignored (spec: MUST ignore unknown)
    }
  }

  private async reply(id: number): Promise<void> {
    const idb = Buffer.alloc(4)
    idb.writeUInt32BE(id)
    const block = await this.deflate.run(encodeHeaderBlock({}))
    this.write(controlFrame(FrameType.SynReply, 0, Buffer.concat([idb, block])))
  }

  private rst(id: number, status: number): void {
    const p = Buffer.alloc(8)
    p.writeUInt32BE(id & 0x7fffffff, 0)
    p.writeUInt32BE(status, 4)
    this.write(controlFrame(FrameType.RstStream, 0, p))
  }

  /** Reset one stream (our side gives up on it). */
  resetStream(s: SpdyStream): void {
    this.streams.delete(s.id)
    this.rst(s.id, 5) // CANCEL
  }

  /**
   * @internal DATA frames for `data`; `cb` once the socket can take more. A stream may keep up
   * to SEND_BUFFER queued in the socket before it waits for 'drain' (the socket's own 16 KiB
   * mark would make every 64 KiB pipe read wait for a full flush: stop-and-wait).
   */
  sendData(id: number, data: Buffer, fin: boolean, cb?: (err?: Error | null) => void): void {
    if (this.closed || this.socket.destroyed) return cb?.()
    this.socket.cork()
    if (data.length === 0) this.writeData(id, fin ? FLAG_FIN : 0, data)
    for (let off = 0; off < data.length; off += MAX_DATA) {
      const last = off + MAX_DATA >= data.length
      this.writeData(id, last && fin ? FLAG_FIN : 0, data.subarray(off, off + MAX_DATA))
    }
    this.socket.uncork()
    if (!cb) return
    if (this.socket.writableLength < SEND_BUFFER) return cb()
    this.waiting.push(cb)
    if (this.waiting.length === 1) this.socket.once('drain', this.onDrain)
  }

  private readonly waiting: ((err?: Error | null) => void)[] = []
  private readonly onDrain = (): void => {
    for (const cb of this.waiting.splice(0)) cb()
  }

  /** One DATA frame: header and payload written apart (no copy), in one corked batch. */
  private writeData(id: number, flags: number, payload: Buffer): void {
    const head = Buffer.allocUnsafe(8)
    head.writeUInt32BE(id & 0x7fffffff, 0)
    head.writeUInt32BE(payload.length, 4)
    head[4] = flags
    this.write(head)
    if (payload.length) this.write(payload)
  }

  private write(b: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return true
    return this.socket.write(b)
  }

  /** @internal a stream's reader is full: stop reading the socket until it drains. */
  pause(): void {
    if (this.paused++ === 0) this.socket.pause()
  }
  /** @internal */
  resume(): void {
    if (this.paused === 0) return
    this.paused = 0
    this.socket.resume()
  }

  /** @internal */
  maybeForget(s: SpdyStream): void {
    if (s.done) this.streams.delete(s.id)
  }

  private fail(reason: string): void {
    if (this.closed) return
    this.emit('protocolError', reason)
    this.goAway(1)
  }

  /** GOAWAY and close: every stream ends. */
  goAway(status = 0): void {
    if (this.closed) return
    const p = Buffer.alloc(8)
    p.writeUInt32BE(0, 0)
    p.writeUInt32BE(status, 4)
    this.write(controlFrame(FrameType.GoAway, 0, p))
    this.socket.end()
    this.close()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const s of this.streams.values()) s.reset()
    this.streams.clear()
    this.onDrain() // writers waiting for room: the writes go nowhere now
    this.inflate.close()
    this.deflate.close()
    if (!this.socket.destroyed) this.socket.end()
    this.emit('close')
  }
}
