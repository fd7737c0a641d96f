// The DNS request path without sockets: query bytes in, response bytes out (now, later, or
// never). Transports (udp.ts, tcp.ts) only move bytes; every decision is made here.
//
// Hot path (a repeated question about the cluster): parse header + question + OPT by
// hand (wire.ts), look the lower-cased question up in a Map of ready-made responses,
// copy, patch ID / RD / the question's letter case. dns2 only encodes a response the
// first time a question is asked after a model change; the cache is dropped as a whole
// when the model's generation moves (changes are rare next to queries).
//
// Decisions: no header, or a response → drop; other malformed → FORMERR (NOTIMP for
// opcodes other than QUERY); EDNS version > 0 → BADVERS; not synced → SERVFAIL (never
// cached); not ours → the upstream, its failure → SERVFAIL. Over UDP an answer must fit
// 512 bytes, or the client's EDNS0 payload size; if it doesn't, the header and question
// go back with TC=1 and the client retries over TCP (RFC 1035 §4.2.1, RFC 7766).
import dns2 from 'dns2'
import { logger } from '../util/log.js'
import { answer, CLASS_IN, RCODE, type AnswerConfig, type RR, type Response } from './answer.js'
import { TtlCache } from './cache.js'
import { decodeRecord, encodeResponse } from './encode.js'
import type { Source } from './metrics.js'
import type { DnsReadModel } from './model.js'
import { addressAnswers, appendOpt, HEADER_LEN, headerResponse, keyName, parseQuery, rotateAnswers, type QueryInfo, type Rotation } from './wire.js'

const log = logger('dns')
const { Packet } = dns2

/** Where names outside the cluster go (upstream.ts's Forwarder in production). */
export interface UpstreamResolver {
  /** The answer to `query` with the query's own ID, or a rejection when no upstream answered. */
  query(query: Buffer, tcp: boolean): Promise<Buffer>
}

/** What the handler reports per query (metrics.ts's DnsMetrics in production). */
export interface HandlerMetrics {
  /** One answer sent; `startMs` is performance.now() when the query arrived. */
  answered(qtype: number, rcode: number, source: Source, startMs: number): void
  upstreamFailed(): void
}

export interface DnsHandlerOptions {
  model: DnsReadModel
  config: AnswerConfig
  upstream: UpstreamResolver
  metrics: HandlerMetrics
  /** Entries in each cache before the oldest are evicted. Default 50000. */
  cacheMaxEntries?: number
  /** Longest time a forwarded answer is cached, seconds. Default 30. */
  forwardCacheMaxTtl?: number
  /** Clock of the TTL caches (ms). Default Date.now. */
  nowMs?: () => number
}

/** The answer to one query: bytes to send now, bytes to send later, or nothing (dropped). */
export type Reply = Buffer | Promise<Buffer | undefined> | undefined

interface ZoneEntry {
  plain: Buffer
  edns: Buffer
  rcode: number
  /** Address records to rotate per answer (CoreDNS `loadbalance`), so clients that take the first spread out. */
  rot?: Rotation
}

export class DnsHandler {
  private readonly model: DnsReadModel
  private readonly cfg: AnswerConfig
  private readonly upstream: UpstreamResolver
  private readonly metrics: HandlerMetrics
  private readonly maxEntries: number
  private readonly zoneCache = new Map<string, ZoneEntry>()
  private readonly forwardCache: TtlCache
  /** ExternalName answers joined with the upstream's records: TTL-bound like forwarded answers, dropped with the zone cache. */
  private readonly chaseCache: TtlCache
  private zoneGen: number
  private rotation = 0

  constructor(opts: DnsHandlerOptions) {
    this.model = opts.model
    this.cfg = opts.config
    this.upstream = opts.upstream
    this.metrics = opts.metrics
    this.maxEntries = opts.cacheMaxEntries ?? 50_000
    const cacheOpts = { maxEntries: this.maxEntries, maxTtl: opts.forwardCacheMaxTtl ?? 30, emptyTtl: 5 }
    this.forwardCache = new TtlCache(cacheOpts, opts.nowMs)
    this.chaseCache = new TtlCache({ ...cacheOpts, maxTtl: Math.min(cacheOpts.maxTtl, this.cfg.ttl) }, opts.nowMs)
    this.zoneGen = this.model.generation
  }

  cacheSizes(): { zone: number; forward: number } {
    return { zone: this.zoneCache.size, forward: this.forwardCache.size + this.chaseCache.size }
  }

  /** Never throws: a bug must cost one answer, never the server. */
  handle(query: Buffer, tcp: boolean): Reply {
    try {
      return this.respond(query, tcp, performance.now())
    } catch (err) {
      log.warn({ err: String(err) }, 'query handler failed')
      return undefined
    }
  }

  private respond(query: Buffer, tcp: boolean, start: number): Reply {
    const parsed = parseQuery(query)
    if (parsed.kind === 'drop') return undefined
    if (parsed.kind === 'error') {
      const out = headerResponse(query, parsed.rcode, parsed.questionEnd, { ra: true })
      this.metrics.answered(0, parsed.rcode, 'error', start)
      return out
    }
    const q = parsed.q
    if (q.edns && q.ednsVersion > 0) {
      // RFC 6891 §6.1.3: BADVERS (16) = extended RCODE 1 in the OPT, 0 in the header.
      const out = headerResponse(query, 0, q.questionEnd, { ra: true, edns: true, extendedRcode: 1 })
      this.metrics.answered(q.qtype, 16, 'error', start)
      return out
    }
    if (this.model.generation !== this.zoneGen) {
      this.zoneCache.clear()
      this.chaseCache.clear()
      this.zoneGen = this.model.generation
    }
    const hit = this.zoneCache.get(q.key)
    if (hit) return this.fit(this.fromEntry(hit, query, q), query, q, tcp, 'cache', start)

    const outcome = answer({ name: keyName(q.key), type: q.qtype, class: q.qclass }, this.model, this.cfg)
    if (outcome.kind === 'answer' && !outcome.chase) {
      const entry = this.encodeFor(q, outcome.response)
      // SERVFAIL (not synced yet) must not outlive the condition that caused it.
      if (entry.rcode !== RCODE.SERVFAIL) {
        if (this.zoneCache.size >= this.maxEntries) this.zoneCache.clear()
        this.zoneCache.set(q.key, entry)
      }
      return this.fit(this.fromEntry(entry, query, q), query, q, tcp, 'zone', start)
    }
    const fkey = q.key + (q.edns ? (q.dnssecOk ? 'D' : 'E') : 'N')
    if (outcome.kind === 'answer') {
      const cached = this.chaseCache.get(fkey)
      if (cached) return this.fit(this.personalize(cached, query, q), query, q, tcp, 'cache', start)
      return this.later(
        this.chase(q, outcome.response, outcome.chase!).then((r) => {
          const entry = this.encodeFor(q, r)
          const buf = q.edns ? entry.edns : entry.plain
          this.chaseCache.set(fkey, buf)
          return this.fit(this.personalize(buf, query, q), query, q, tcp, 'forward', start)
        }),
      )
    }
    const cached = this.forwardCache.get(fkey)
    if (cached) return this.fit(this.personalize(cached, query, q), query, q, tcp, 'cache', start)
    return this.later(
      this.upstream.query(query, tcp).then(
        (resp) => {
          this.forwardCache.set(fkey, resp)
          return this.fit(resp, query, q, tcp, 'forward', start)
        },
        (err: unknown) => {
          this.metrics.upstreamFailed()
          log.debug({ err: String(err), name: keyName(q.key) }, 'forward failed')
          const out = headerResponse(query, RCODE.SERVFAIL, q.questionEnd, { ra: true, edns: q.edns })
          this.metrics.answered(q.qtype, RCODE.SERVFAIL, 'forward', start)
          return out
        },
      ),
    )
  }

  /** The asynchronous half of `handle`'s promise: it never rejects either. */
  private later(p: Promise<Buffer>): Promise<Buffer | undefined> {
    return p.catch((err: unknown) => {
      log.warn({ err: String(err) }, 'query handler failed')
      return undefined
    })
  }

  /** Copy a ready response for this query: ID, RD and the question's letter case (DNS 0x20) from the query. */
  private personalize(base: Buffer, query: Buffer, q: QueryInfo): Buffer {
    const out = Buffer.allocUnsafe(base.length)
    out.set(base)
    out[0] = query[0]!
    out[1] = query[1]!
    out[2] = (out[2]! & 0xfe) | (q.rd ? 1 : 0)
    out.set(query.subarray(HEADER_LEN, q.qnameEnd), HEADER_LEN)
    return out
  }

  /** The entry's answer for this query, its address records rotated one step further than last time. */
  private fromEntry(entry: ZoneEntry, query: Buffer, q: QueryInfo): Buffer {
    const out = this.personalize(q.edns ? entry.edns : entry.plain, query, q)
    if (entry.rot) rotateAnswers(out, entry.rot, this.rotation++)
    return out
  }

  /** `resp`, or a TC=1 header+question if it exceeds what the transport allows; counted. */
  private fit(resp: Buffer, query: Buffer, q: QueryInfo, tcp: boolean, source: Source, start: number): Buffer {
    const limit = tcp ? 65535 : q.edns ? Math.min(q.udpSize, 65535) : 512
    let out = resp
    if (resp.length > limit)
      out = headerResponse(query, resp[3]! & 0xf, q.questionEnd, { tc: true, aa: (resp[2]! & 0x04) !== 0, ra: true, edns: q.edns })
    this.metrics.answered(q.qtype, out[3]! & 0xf, source, start)
    return out
  }

  private encodeFor(q: QueryInfo, r: Response): ZoneEntry {
    const plain = encodeResponse(keyName(q.key), q.qtype, q.qclass, r)
    const entry: ZoneEntry = { plain, edns: appendOpt(plain), rcode: r.rcode }
    const rot = addressAnswers(plain)
    if (rot) entry.rot = rot
    return entry
  }

  /**
   * ExternalName: follow the CNAME so stub resolvers (which don't) get addresses, as
   * CoreDNS does through its upstream. If the target cannot be resolved, the CNAME
   * alone is still a correct answer.
   */
  private async chase(q: QueryInfo, r: Response, target: string): Promise<Response> {
    const zone = this.cfg.zone
    if (target === zone || target.endsWith(`.${zone}`)) {
      const sub = answer({ name: target, type: q.qtype, class: CLASS_IN }, this.model, this.cfg)
      if (sub.kind === 'answer' && !sub.chase) return { ...sub.response, answers: [...r.answers, ...sub.response.answers] }
      return r
    }
    try {
      const p = new Packet()
      p.header = new Packet.Header({ id: 0, rd: 1 })
      p.questions = [new Packet.Question({ name: target, type: q.qtype, class: CLASS_IN })]
      const resp = Packet.parse(await this.upstream.query(p.toBuffer(), false))
      const extra: RR[] = []
      for (const a of resp.answers as unknown as Record<string, unknown>[]) {
        const rr = decodeRecord(a)
        if (rr && (rr.type === 'A' || rr.type === 'AAAA' || rr.type === 'CNAME')) extra.push(rr)
      }
      const rcode = resp.header.rcode === RCODE.NXDOMAIN ? RCODE.NXDOMAIN : RCODE.NOERROR
      return { rcode, answers: [...r.answers, ...extra], authorities: [], additionals: [] }
    } catch (err) {
      log.debug({ err: String(err), target }, 'ExternalName target did not resolve')
      return r
    }
  }
}
