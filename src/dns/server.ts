// The DNS server: UDP and TCP listeners, a wire-format answer cache in front of the
// pure answer function, forwarding for everything outside the cluster, metrics.
//
// Hot path (a repeated question about the cluster): parse header + question + OPT by
// hand (wire.ts), look the lower-cased question up in a Map of ready-made responses,
// copy, patch ID / RD / the question's letter case, send. dns2 only encodes a response
// the first time a question is asked after a model change; the cache is dropped as a
// whole when the model's generation moves (changes are rare next to queries).
//
// Sizes: over UDP an answer must fit 512 bytes, or the client's EDNS0 payload size;
// if it doesn't we send the header and question with TC=1 and the client retries over
// TCP (RFC 1035 §4.2.1, RFC 7766). Malformed queries get FORMERR when a header could be
// read and are dropped otherwise; no input may throw out of the handler.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { loadMmsg, type MmsgHandle } from './mmsg.js'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer, type Socket as TcpSocket } from 'node:net'
import dns2 from 'dns2'
import { logger } from '../util/log.js'
import { answer, CLASS_IN, normalizeName, RCODE, TYPE, type AnswerConfig, type RR, type Response } from './answer.js'
import { TtlCache } from './cache.js'
import { encodeResponse } from './encode.js'
import { DnsMetrics, type Source } from './metrics.js'
import type { DnsReadModel } from './model.js'
import { Forwarder, parseUpstream, readResolvConf, type Upstream } from './upstream.js'
import { addressAnswers, appendOpt, HEADER_LEN, headerResponse, keyName, parseQuery, rotateAnswers, type QueryInfo, type Rotation } from './wire.js'

const log = logger('dns')
const { Packet } = dns2

export interface DnsServerOptions {
  model: DnsReadModel
  /** Listen address (UDP and TCP). Default 127.0.0.1. */
  host?: string
  /** Listen port; 0 picks a free one (the same for UDP and TCP). Default 53. */
  port?: number
  /** Cluster domain. Default cluster.local. */
  zone?: string
  /** TTL of cluster records, seconds. Default 5. */
  ttl?: number
  /** Our own address as clients see it (kube-dns ClusterIP), for the apex NS glue. */
  nsAddress?: string
  /** Upstream resolvers (`ip`, `ip:port`, `[v6]:port`); default: the nameservers of resolvConf. */
  upstreams?: (string | Upstream)[]
  /** Default /etc/resolv.conf. */
  resolvConf?: string
  /** Per-upstream timeout, ms. Default 2000. */
  upstreamTimeoutMs?: number
  /** Longest time a forwarded answer is cached, seconds. Default 30. */
  forwardCacheMaxTtl?: number
  /** Entries in each cache before the oldest are evicted. Default 50000. */
  cacheMaxEntries?: number
  /** Serve /healthz, /readyz and /metrics over HTTP on this port (0 picks one). */
  metricsPort?: number
  metricsHost?: string
}

export interface DnsServerHandle {
  port: number
  /** Which UDP receive path serves queries: batched recvmmsg/sendmmsg addon, or Node dgram. */
  udpPath: 'mmsg' | 'dgram'
  metricsPort?: number
  metrics: DnsMetrics
  stop(): Promise<void>
}

interface ZoneEntry {
  plain: Buffer
  edns: Buffer
  rcode: number
  /** Address records to rotate per answer (CoreDNS `loadbalance`), so clients that take the first spread out. */
  rot?: Rotation
}

type Reply = (b: Buffer) => void

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServerHandle> {
  const host = opts.host ?? '127.0.0.1'
  const cfg: AnswerConfig = { zone: normalizeName(opts.zone ?? 'cluster.local'), ttl: opts.ttl ?? 5 }
  if (opts.nsAddress) cfg.nsAddress = opts.nsAddress
  const model = opts.model
  const maxEntries = opts.cacheMaxEntries ?? 50_000
  // Never forward to ourselves: a DNS pod given ClusterFirst instead of Default would
  // find the kube-dns ClusterIP in its resolv.conf and loop every unknown name.
  const isSelf = (u: Upstream): boolean =>
    (u.host === opts.nsAddress && u.port === 53) || (u.host === host && u.port === (opts.port ?? 53))
  const upstreams = (opts.upstreams ?? readResolvConf(opts.resolvConf ?? '/etc/resolv.conf'))
    .map((u) => (typeof u === 'string' ? parseUpstream(u) : u))
    .filter((u) => {
      if (isSelf(u)) log.warn({ upstream: u }, 'ignoring an upstream that is this server')
      return !isSelf(u)
    })
  const forwarder = new Forwarder(upstreams, opts.upstreamTimeoutMs ?? 2000)
  const cacheOpts = { maxEntries, maxTtl: opts.forwardCacheMaxTtl ?? 30, emptyTtl: 5 }
  const forwardCache = new TtlCache(cacheOpts)
  // ExternalName answers joined with the upstream's records: TTL-bound like forwarded
  // answers, and dropped with the zone cache when the model changes.
  const chaseCache = new TtlCache({ ...cacheOpts, maxTtl: Math.min(cacheOpts.maxTtl, cfg.ttl) })
  const zoneCache = new Map<string, ZoneEntry>()
  let zoneGen = model.generation
  let rotation = 0
  const metrics = new DnsMetrics(() => ({ zone: zoneCache.size, forward: forwardCache.size + chaseCache.size }))

  /** Copy a ready response for this query: ID, RD and the question's letter case (DNS 0x20) from the query. */
  function personalize(base: Buffer, query: Buffer, q: QueryInfo): Buffer {
    const out = Buffer.allocUnsafe(base.length)
    out.set(base)
    out[0] = query[0]!
    out[1] = query[1]!
    out[2] = (out[2]! & 0xfe) | (q.rd ? 1 : 0)
    out.set(query.subarray(HEADER_LEN, q.qnameEnd), HEADER_LEN)
    return out
  }

  /** The entry's answer for this query, its address records rotated one step further than last time. */
  function fromEntry(entry: ZoneEntry, query: Buffer, q: QueryInfo): Buffer {
    const out = personalize(q.edns ? entry.edns : entry.plain, query, q)
    if (entry.rot) rotateAnswers(out, entry.rot, rotation++)
    return out
  }

  function limitFor(q: QueryInfo, tcp: boolean): number {
    return tcp ? 65535 : q.edns ? Math.min(q.udpSize, 65535) : 512
  }

  /** Send `resp`, or a TC=1 header+question if it exceeds what the transport allows. */
  function send(resp: Buffer, query: Buffer, q: QueryInfo, tcp: boolean, reply: Reply, source: Source, start: number): void {
    let out = resp
    if (resp.length > limitFor(q, tcp))
      out = headerResponse(query, resp[3]! & 0xf, q.questionEnd, { tc: true, aa: (resp[2]! & 0x04) !== 0, ra: true, edns: q.edns })
    reply(out)
    metrics.answered(q.qtype, out[3]! & 0xf, source, start)
  }

  function servfail(query: Buffer, q: QueryInfo, reply: Reply, start: number): void {
    const out = headerResponse(query, RCODE.SERVFAIL, q.questionEnd, { ra: true, edns: q.edns })
    reply(out)
    metrics.answered(q.qtype, RCODE.SERVFAIL, 'forward', start)
  }

  function encodeFor(q: QueryInfo, r: Response): ZoneEntry {
    const plain = encodeResponse(keyName(q.key), q.qtype, q.qclass, r)
    const entry: ZoneEntry = { plain, edns: appendOpt(plain), rcode: r.rcode }
    const rot = addressAnswers(plain)
    if (rot) entry.rot = rot
    return entry
  }

  function handle(query: Buffer, tcp: boolean, reply: Reply): void {
    const start = performance.now()
    const parsed = parseQuery(query)
    if (parsed.kind === 'drop') return
    if (parsed.kind === 'error') {
      const out = headerResponse(query, parsed.rcode, parsed.questionEnd, { ra: true })
      reply(out)
      metrics.answered(0, parsed.rcode, 'error', start)
      return
    }
    const q = parsed.q
    if (q.edns && q.ednsVersion > 0) {
      // RFC 6891 §6.1.3: BADVERS (16) = extended RCODE 1 in the OPT, 0 in the header.
      reply(headerResponse(query, 0, q.questionEnd, { ra: true, edns: true, extendedRcode: 1 }))
      metrics.answered(q.qtype, 16, 'error', start)
      return
    }
    if (model.generation !== zoneGen) {
      zoneCache.clear()
      chaseCache.clear()
      zoneGen = model.generation
    }
    const hit = zoneCache.get(q.key)
    if (hit) return send(fromEntry(hit, query, q), query, q, tcp, reply, 'cache', start)

    const outcome = answer({ name: keyName(q.key), type: q.qtype, class: q.qclass }, model, cfg)
    if (outcome.kind === 'answer' && !outcome.chase) {
      const entry = encodeFor(q, outcome.response)
      // SERVFAIL (not synced yet) must not outlive the condition that caused it.
      if (entry.rcode !== RCODE.SERVFAIL) {
        if (zoneCache.size >= maxEntries) zoneCache.clear()
        zoneCache.set(q.key, entry)
      }
      return send(fromEntry(entry, query, q), query, q, tcp, reply, 'zone', start)
    }
    const fkey = q.key + (q.edns ? (q.dnssecOk ? 'D' : 'E') : 'N')
    if (outcome.kind === 'answer') {
      const cached = chaseCache.get(fkey)
      if (cached) return send(personalize(cached, query, q), query, q, tcp, reply, 'cache', start)
      void chase(q, outcome.response, outcome.chase!).then((r) => {
        const entry = encodeFor(q, r)
        const buf = q.edns ? entry.edns : entry.plain
        chaseCache.set(fkey, buf)
        send(personalize(buf, query, q), query, q, tcp, reply, 'forward', start)
      })
      return
    }
    const cached = forwardCache.get(fkey)
    if (cached) return send(personalize(cached, query, q), query, q, tcp, reply, 'cache', start)
    forwarder.query(query, tcp).then(
      (resp) => {
        forwardCache.set(fkey, resp)
        send(resp, query, q, tcp, reply, 'forward', start)
      },
      (err: unknown) => {
        metrics.upstreamFailed()
        log.debug({ err: String(err), name: keyName(q.key) }, 'forward failed')
        servfail(query, q, reply, start)
      },
    )
  }

  /**
   * ExternalName: follow the CNAME so stub resolvers (which don't) get addresses, as
   * CoreDNS does through its upstream. If the target cannot be resolved, the CNAME
   * alone is still a correct answer.
   */
  async function chase(q: QueryInfo, r: Response, target: string): Promise<Response> {
    const inZone = target === cfg.zone || target.endsWith(`.${cfg.zone}`)
    if (inZone) {
      const sub = answer({ name: target, type: q.qtype, class: CLASS_IN }, model, cfg)
      if (sub.kind === 'answer' && !sub.chase) return { ...sub.response, answers: [...r.answers, ...sub.response.answers] }
      return r
    }
    try {
      const p = new Packet()
      p.header = new Packet.Header({ id: 0, rd: 1 })
      p.questions = [new Packet.Question({ name: target, type: q.qtype, class: CLASS_IN })]
      const resp = Packet.parse(await forwarder.query(p.toBuffer(), false))
      const extra: RR[] = []
      for (const a of resp.answers as unknown as Record<string, unknown>[]) {
        const name = normalizeName(String(a.name))
        const ttl = Number(a.ttl)
        if (a.type === TYPE.A || a.type === TYPE.AAAA)
          extra.push({ name, ttl, type: a.type === TYPE.A ? 'A' : 'AAAA', address: String(a.address) })
        else if (a.type === TYPE.CNAME) extra.push({ name, ttl, type: 'CNAME', target: normalizeName(String(a.domain)) })
      }
      const rcode = resp.header.rcode === RCODE.NXDOMAIN ? RCODE.NXDOMAIN : RCODE.NOERROR
      return { rcode, answers: [...r.answers, ...extra], authorities: [], additionals: [] }
    } catch (err) {
      log.debug({ err: String(err), target }, 'ExternalName target did not resolve')
      return r
    }
  }

  function safeHandle(query: Buffer, tcp: boolean, reply: Reply): void {
    try {
      handle(query, tcp, reply)
    } catch (err) {
      // A bug must cost one answer, never the server.
      log.warn({ err: String(err) }, 'query handler failed')
    }
  }

  // ---------- listeners ----------
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
  udp.on('message', (msg: Buffer, rinfo: RemoteInfo) =>
    // No send callback: libuv sends synchronously when it can, and a callback costs a nextTick per answer.
    safeHandle(msg, false, (b) => udp.send(b, rinfo.port, rinfo.address)),
  )
  /**
   * Batched fast path: the addon polls a dup of the bound socket's fd, reads up to 64 datagrams
   * per wakeup and sends every answer produced synchronously (cache/zone hits) in one sendmmsg;
   * answers produced later (forwarding) go out one by one. Node's own reader is stopped.
   */
  function startFastPath(sock: Socket): MmsgHandle | null {
    const mm = loadMmsg()
    // The bound UDPWrap lives in dgram's state object (`_handle` is the deprecated alias of it).
    const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol')
    const state = sym ? (sock as unknown as Record<symbol, { handle?: { fd?: number; recvStop?: () => number } }>)[sym] : undefined
    const h = state?.handle
    if (!mm || !h || typeof h.fd !== 'number' || h.fd < 0 || typeof h.recvStop !== 'function') return null
    let out: Buffer[] | null = null
    let handle: MmsgHandle | null = null
    try {
      handle = mm.start(h.fd, (packets, addrs) => {
        const batch: Buffer[] = (out = [])
        for (let i = 0; i < packets.length; i++) {
          const addr = addrs[i]!
          safeHandle(packets[i]!, false, (b) => {
            if (out === batch) batch.push(addr, b)
            else if (handle && !stopped) mm.sendTo(handle, addr, b)
          })
        }
        out = null
        return batch
      })
    } catch (err) {
      log.warn({ err: String(err) }, 'batched UDP path unavailable, using dgram')
      return null
    }
    h.recvStop()
    return handle
  }

  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject)
    udp.bind(opts.port ?? 53, host, () => {
      udp.off('error', reject)
      resolve()
    })
  })
  const port = udp.address().port
  let stopped = false
  const fast = startFastPath(udp)

  const tcpSockets = new Set<TcpSocket>()
  const tcp: TcpServer = createTcpServer((sock) => serveTcp(sock))
  function serveTcp(sock: TcpSocket): void {
    tcpSockets.add(sock)
    sock.setNoDelay(true)
    sock.setTimeout(30_000, () => sock.destroy())
    sock.on('error', noop)
    sock.on('close', () => tcpSockets.delete(sock))
    let pending: Buffer = Buffer.alloc(0)
    sock.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0)
        if (pending.length < 2 + len) break
        const msg = Buffer.from(pending.subarray(2, 2 + len))
        pending = pending.subarray(2 + len)
        safeHandle(msg, true, (b) => {
          if (sock.destroyed) return
          const framed = Buffer.allocUnsafe(b.length + 2)
          framed.writeUInt16BE(b.length, 0)
          b.copy(framed, 2)
          sock.write(framed)
        })
      }
    })
  }
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(port, host, () => {
        tcp.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    udp.close()
    throw err
  }

  let http: HttpServer | undefined
  let metricsPort: number | undefined
  if (opts.metricsPort !== undefined) {
    http = createHttpServer((req, res) => {
      if (req.url === '/healthz') {
        res.end('ok')
      } else if (req.url === '/readyz') {
        res.statusCode = model.synced ? 200 : 503
        res.end(model.synced ? 'ok' : 'not synced')
      } else if (req.url === '/metrics') {
        metrics.registry.metrics().then(
          (text) => {
            res.setHeader('content-type', metrics.registry.contentType)
            res.end(text)
          },
          (err: unknown) => {
            res.statusCode = 500
            res.end(String(err))
          },
        )
      } else {
        res.statusCode = 404
        res.end()
      }
    })
    const h = http
    await new Promise<void>((resolve) => h.listen(opts.metricsPort, opts.metricsHost ?? host, resolve))
    const a = h.address()
    metricsPort = typeof a === 'object' && a ? a.port : undefined
  }
  log.debug({ host, port, zone: cfg.zone, upstreams, metricsPort }, 'dns server listening')

  return {
    port,
    metrics,
    udpPath: fast ? 'mmsg' : 'dgram',
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    async stop() {
      if (stopped) return
      stopped = true
      forwarder.close()
      if (fast) loadMmsg()!.stop(fast)
      for (const s of tcpSockets) s.destroy()
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
        http ? new Promise<void>((r) => http!.close(() => r())) : Promise.resolve(),
      ])
    },
  }
}

function noop(): void {}
