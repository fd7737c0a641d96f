// The TCP transport (RFC 1035 §4.2.2, RFC 7766): every message is preceded by its length as
// a big-endian u16, in both directions; a connection may carry many queries, answered as
// they complete. Idle connections are closed after 30 s.
import { createServer, type Server, type Socket } from 'node:net'
import type { Reply } from './handler.js'

export interface TcpListener {
  close(): Promise<void>
}

/** The complete messages at the front of `pending`, and the bytes left over (a partial frame). */
export function takeFrames(pending: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = []
  let off = 0
  while (pending.length - off >= 2) {
    const len = pending.readUInt16BE(off)
    if (pending.length - off < 2 + len) break
    // A copy: the handler may keep the query (forwarding) while the read buffer is reused.
    messages.push(Buffer.from(pending.subarray(off + 2, off + 2 + len)))
    off += 2 + len
  }
  return { messages, rest: pending.subarray(off) }
}

export function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2)
  out.writeUInt16BE(msg.length, 0)
  msg.copy(out, 2)
  return out
}

/** Listen on `host:port` and answer every framed query with `respond`. */
export async function listenTcp(host: string, port: number, respond: (query: Buffer) => Reply): Promise<TcpListener> {
  const sockets = new Set<Socket>()
  const serve = (sock: Socket): void => {
    sockets.add(sock)
    sock.setNoDelay(true)
    sock.setTimeout(30_000, () => sock.destroy())
    sock.on('error', noop)
    sock.on('close', () => sockets.delete(sock))
    const send = (b: Buffer | undefined): void => {
      if (b && !sock.destroyed) sock.write(frame(b))
    }
    let pending: Buffer = Buffer.alloc(0)
    sock.on('data', (d: Buffer) => {
      const { messages, rest } = takeFrames(pending.length ? Buffer.concat([pending, d]) : d)
      pending = rest
      for (const m of messages) {
        const r = respond(m)
        if (r instanceof Promise) void r.then(send)
        else send(r)
      }
    })
  }
  const server: Server = createServer(serve)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    close() {
      for (const s of sockets) s.destroy()
      return new Promise<void>((r) => server.close(() => r()))
    },
  }
}

function noop(): void {}
