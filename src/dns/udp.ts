// The UDP transport: datagrams in, the handler's replies out to the sender. Two receive
// paths, one handler: the batched recvmmsg/sendmmsg addon (mmsg.ts) when it loads, else
// Node's dgram. Nothing here looks inside a message.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { logger } from '../util/log.js'
import type { Reply } from './handler.js'
import { loadMmsg, type MmsgAddon, type MmsgHandle } from './mmsg.js'

const log = logger('dns')

export interface UdpListener {
  port: number
  /** Which receive path serves queries: batched recvmmsg/sendmmsg addon, or Node dgram. */
  path: 'mmsg' | 'dgram'
  close(): Promise<void>
}

/** Bind `host:port` (0 picks a free port) and answer every datagram with `respond`. */
export async function listenUdp(host: string, port: number, respond: (query: Buffer) => Reply): Promise<UdpListener> {
  const family = host.includes(':') ? 6 : 4
  const udp: Socket = createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    recvBufferSize: 4 << 20,
    sendBufferSize: 4 << 20,
    // We only ever send to the literal address a query came from: answer the "lookup"
    // synchronously instead of dns.lookup's process.nextTick hop on every reply.
    lookup: ((address: string, _o: unknown, cb: (err: null, addr: string, fam: number) => void) => cb(null, address, family)) as never,
  })
  udp.on('error', (err) => log.error({ err: String(err) }, 'udp socket error'))
  udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const r = respond(msg)
    if (r === undefined) return
    // No send callback: libuv sends synchronously when it can, and a callback costs a nextTick per answer.
    if (r instanceof Promise) void r.then((b) => b && !closed && udp.send(b, rinfo.port, rinfo.address))
    else udp.send(r, rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject)
    udp.bind(port, host, () => {
      udp.off('error', reject)
      resolve()
    })
  })
  let closed = false
  const mm = loadMmsg()
  const fast = mm ? startFastPath(mm, udp, respond, () => closed) : null
  return {
    port: udp.address().port,
    path: fast ? 'mmsg' : 'dgram',
    async close() {
      if (closed) return
      closed = true
      if (fast) mm!.stop(fast)
      await new Promise<void>((r) => udp.close(() => r()))
    },
  }
}

/**
 * Batched fast path: the addon polls a dup of the bound socket's fd, reads up to 64 datagrams
 * per wakeup and sends every answer produced synchronously (cache/zone hits) in one sendmmsg;
 * answers produced later (forwarding) go out one by one. Node's own reader is stopped.
 */
function startFastPath(mm: MmsgAddon, sock: Socket, respond: (query: Buffer) => Reply, closed: () => boolean): MmsgHandle | null {
  // The bound UDPWrap lives in dgram's state object (`_handle` is the deprecated alias of it).
  const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol')
  const state = sym ? (sock as unknown as Record<symbol, { handle?: { fd?: number; recvStop?: () => number } }>)[sym] : undefined
  const h = state?.handle
  if (!h || typeof h.fd !== 'number' || h.fd < 0 || typeof h.recvStop !== 'function') return null
  let handle: MmsgHandle | null = null
  try {
    handle = mm.start(h.fd, (packets, addrs) => {
      const batch: Buffer[] = []
      for (let i = 0; i < packets.length; i++) {
        const r = respond(packets[i]!)
        if (r === undefined) continue
        const addr = addrs[i]!
        if (r instanceof Promise) void r.then((b) => b && handle && !closed() && mm.sendTo(handle, addr, b))
        else batch.push(addr, r)
      }
      return batch
    })
  } catch (err) {
    log.warn({ err: String(err) }, 'batched UDP path unavailable, using dgram')
    return null
  }
  h.recvStop()
  return handle
}
