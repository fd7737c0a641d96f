// The etcd-backed object store under the apiserver. It knows keys, JSON values and
// revisions, nothing about HTTP: every write is one etcd transaction guarded by a
// compare (key absent for create, mod_revision for update/delete), so concurrent writers
// never overwrite each other and an object is never half written. `resourceVersion` is the
// etcd mod_revision of the key (a list's resourceVersion is the header revision it read at).
import { Etcd3, type IKeyValue, type ICompare, type IRequestOp, type IWatchResponse, type IRangeResponse, type IRangeRequest, type ITxnRequest, type IPutRequest, type ICompactionRequest } from 'etcd3'
import type { KubeObject } from '../api/types.js'

export type StorageErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Compacted' | 'InvalidContinue'

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    readonly key: string,
    message?: string,
  ) {
    super(message ?? `${code}: ${key}`)
  }
}

/** Extra keys written in the same transaction as the object (e.g. allocated IPs). */
export interface SideEffects {
  /** Keys that must not exist and are created with these values. */
  create?: Record<string, string>
  /** Keys deleted (no precondition). */
  delete?: string[]
}

export interface ListOptions {
  limit?: number
  continue?: string
  /** Read at this revision (0/undefined = latest). */
  revision?: number
}

export interface ListResult {
  items: KubeObject[]
  revision: number
  continue?: string
  remaining?: number
}

export interface WatchEventRaw {
  type: 'put' | 'delete'
  key: string
  /** The object after the event (for delete: the last state, resourceVersion = delete revision). */
  obj: KubeObject
  /** The object before the event, when there was one. */
  prev?: KubeObject
  revision: number
}

export interface StoreWatch {
  stop(): void
  /** Ask etcd for a progress notification (answered through onProgress). */
  requestProgress(): void
}

export interface WatchCallbacks {
  onEvents(events: WatchEventRaw[], headerRevision: number): void
  /** etcd confirmed all events up to this revision were sent. */
  onProgress(revision: number): void
  /** The start revision was compacted: the caller must re-list. */
  onCompacted(compactRevision: number): void
  /** The etcd stream ended or failed. */
  onError(err: Error): void
}

const enc = (s: string): Buffer => Buffer.from(s)

/** etcd's range_end for "every key with this prefix". */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix)
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1))
      out[i] = b[i]! + 1
      return out
    }
  }
  return Buffer.from([0])
}

function decode(kv: IKeyValue, revision?: string): KubeObject {
  const obj = JSON.parse(kv.value.toString()) as KubeObject
  obj.metadata = obj.metadata ?? {}
  obj.metadata.resourceVersion = revision ?? kv.mod_revision
  return obj
}

function encode(obj: KubeObject): string {
  // resourceVersion lives in etcd's mod_revision, never in the value.
  const { resourceVersion: _rv, ...meta } = obj.metadata
  return JSON.stringify({ ...obj, metadata: meta })
}

interface ContinueToken {
  v: string
  rv: number
  start: string
}

export function encodeContinue(rv: number, nextKey: string): string {
  const tok: ContinueToken = { v: 'meta.k8s.io/v1', rv, start: nextKey }
  return Buffer.from(JSON.stringify(tok)).toString('base64url')
}

export function decodeContinue(token: string, prefix: string): { rv: number; start: string } {
  try {
    const tok = JSON.parse(Buffer.from(token, 'base64url').toString()) as ContinueToken
    if (tok.v !== 'meta.k8s.io/v1' || typeof tok.rv !== 'number' || typeof tok.start !== 'string') throw new Error('shape')
    // The token must stay inside the list's prefix, or a client could read across resources.
    if (!tok.start.startsWith(prefix)) throw new Error('prefix')
    return { rv: tok.rv, start: tok.start }
  } catch {
    throw new StorageError('InvalidContinue', prefix, 'continue key is not valid')
  }
}

function isCompactedError(err: unknown): boolean {
  return err instanceof Error && /compacted/.test(err.message)
}

/**
 * Keys under a prefix that expire (kube-apiserver's `--event-ttl`): every put attaches an etcd
 * lease. As upstream's lease manager, one lease is reused for writes within a short window
 * (5 % of the TTL, at most 60 s) and granted for TTL + window, so each key lives at least TTL
 * after its last write and etcd does not hold one lease per event.
 */
interface TtlRule {
  prefix: string
  ttlSeconds: number
  lease?: { id: string; grantedAt: number }
  granting?: Promise<string>
}

export class EtcdStore {
  readonly client: Etcd3
  private readonly ttlRules: TtlRule[] = []

  constructor(
    endpoints: string[],
    /** Per-call deadline: with etcd unreachable a request fails instead of hanging. */
    private readonly callTimeoutMs = 10_000,
  ) {
    this.client = new Etcd3({ hosts: endpoints, dialTimeout: 5000 })
  }

  private get kv() {
    const kv = this.client.kv
    const o = () => ({ deadline: new Date(Date.now() + this.callTimeoutMs) })
    return {
      range: (r: IRangeRequest) => kv.range(r, o()),
      txn: (r: ITxnRequest) => kv.txn(r, o()),
      put: (r: IPutRequest) => kv.put(r, o()),
      compact: (r: ICompactionRequest) => kv.compact(r, o()),
    }
  }

  /** Keys under `prefix` expire `ttlSeconds` after their last write (0 disables). */
  setKeyTTL(prefix: string, ttlSeconds: number): void {
    const i = this.ttlRules.findIndex((r) => r.prefix === prefix)
    if (i >= 0) this.ttlRules.splice(i, 1)
    if (ttlSeconds > 0) this.ttlRules.push({ prefix, ttlSeconds })
  }

  /** The lease a put of `key` carries ('0' = none). */
  private async leaseFor(key: string): Promise<string> {
    const rule = this.ttlRules.find((r) => key.startsWith(r.prefix))
    if (!rule) return '0'
    const windowMs = Math.min(60_000, rule.ttlSeconds * 50)
    const now = Date.now()
    if (rule.lease && now - rule.lease.grantedAt < windowMs) return rule.lease.id
    rule.granting ??= this.client.leaseClient
      .leaseGrant({ TTL: rule.ttlSeconds + Math.ceil(windowMs / 1000), ID: 0 }, { deadline: new Date(Date.now() + this.callTimeoutMs) })
      .then((res) => {
        rule.lease = { id: String(res.ID), grantedAt: now }
        return rule.lease.id
      })
      .finally(() => (rule.granting = undefined))
    return rule.granting
  }

  private async putOp(key: string, value: string): Promise<IRequestOp> {
    const lease = await this.leaseFor(key)
    return { request_put: { key: enc(key), value: enc(value), ...(lease !== '0' ? { lease } : {}) } }
  }

  async close(): Promise<void> {
    this.client.close()
  }

  async currentRevision(): Promise<number> {
    const res = await this.kv.range({ key: enc('/registry/health'), keys_only: true })
    return Number(res.header.revision)
  }

  async get(key: string): Promise<KubeObject | undefined> {
    const res = await this.kv.range({ key: enc(key) })
    const kv = res.kvs[0]
    return kv ? decode(kv) : undefined
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    let start = prefix
    let revision = opts.revision ?? 0
    if (opts.continue) {
      const tok = decodeContinue(opts.continue, prefix)
      start = tok.start
      revision = tok.rv
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0
    let res: IRangeResponse
    try {
      res = await this.kv.range({
        key: enc(start),
        range_end: prefixEnd(prefix),
        limit,
        revision: revision || 0,
      })
    } catch (err) {
      if (isCompactedError(err)) throw new StorageError('Compacted', prefix, String(revision))
      throw err
    }
    const items = res.kvs.map((kv) => decode(kv))
    const readRev = revision || Number(res.header.revision)
    const out: ListResult = { items, revision: readRev }
    if (res.more && res.kvs.length > 0) {
      const last = res.kvs[res.kvs.length - 1]!.key.toString()
      // The next page starts right after the last key returned: append a NUL byte.
      out.continue = encodeContinue(readRev, last + '\x00')
      out.remaining = Math.max(0, Number(res.count) - res.kvs.length)
    }
    return out
  }

  /** Keys only, for allocators. */
  async keys(prefix: string): Promise<string[]> {
    const res = await this.kv.range({ key: enc(prefix), range_end: prefixEnd(prefix), keys_only: true })
    return res.kvs.map((kv) => kv.key.toString())
  }

  private sideOps(side: SideEffects | undefined): { compare: ICompare[]; ops: IRequestOp[] } {
    const compare: ICompare[] = []
    const ops: IRequestOp[] = []
    for (const [k, v] of Object.entries(side?.create ?? {})) {
      compare.push({ key: enc(k), target: 'Create', result: 'Equal', create_revision: 0 })
      ops.push({ request_put: { key: enc(k), value: enc(v) } })
    }
    for (const k of side?.delete ?? []) ops.push({ request_delete_range: { key: enc(k) } })
    return { compare, ops }
  }

  /** Create the key; AlreadyExists if it is there, Conflict if a side-effect key is taken. */
  async create(key: string, obj: KubeObject, side?: SideEffects): Promise<KubeObject> {
    const value = encode(obj)
    const s = this.sideOps(side)
    const res = await this.kv.txn({
      compare: [{ key: enc(key), target: 'Create', result: 'Equal', create_revision: 0 }, ...s.compare],
      success: [await this.putOp(key, value), ...s.ops],
      failure: [{ request_range: { key: enc(key), keys_only: true } }],
    })
    if (!res.succeeded) {
      const existing = res.responses[0]?.response_range?.kvs?.length ?? 0
      if (existing > 0) throw new StorageError('AlreadyExists', key)
      throw new StorageError('Conflict', key, 'an allocated key is already taken')
    }
    const out = JSON.parse(value) as KubeObject
    out.metadata.resourceVersion = res.header.revision
    return out
  }

  /**
   * Replace the key if its mod_revision is still `expectedRevision`.
   * NotFound when the key is gone, Conflict when it changed in between.
   */
  async update(key: string, obj: KubeObject, expectedRevision: number, side?: SideEffects): Promise<KubeObject> {
    const value = encode(obj)
    const s = this.sideOps(side)
    const res = await this.kv.txn({
      compare: [{ key: enc(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision }, ...s.compare],
      success: [await this.putOp(key, value), ...s.ops],
      failure: [{ request_range: { key: enc(key), keys_only: true } }],
    })
    if (!res.succeeded) {
      const existing = res.responses[0]?.response_range?.kvs?.length ?? 0
      if (existing === 0) throw new StorageError('NotFound', key)
      throw new StorageError('Conflict', key)
    }
    const out = JSON.parse(value) as KubeObject
    out.metadata.resourceVersion = res.header.revision
    return out
  }

  /**
   * Read-modify-write with retry on concurrent change: `fn` gets the current object and
   * returns the next one (or throws). Used where the server, not the client, decides the
   * outcome (status merges, scale, binding, finalizer bookkeeping).
   */
  async guaranteedUpdate(
    key: string,
    fn: (cur: KubeObject) => KubeObject | Promise<KubeObject>,
    side?: (cur: KubeObject, next: KubeObject) => SideEffects | undefined,
    attempts = 16,
  ): Promise<KubeObject> {
    for (let i = 0; ; i++) {
      const cur = await this.get(key)
      if (!cur) throw new StorageError('NotFound', key)
      const rev = Number(cur.metadata.resourceVersion)
      const next = await fn(structuredClone(cur))
      try {
        return await this.update(key, next, rev, side?.(cur, next))
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Conflict' && i < attempts) continue
        throw err
      }
    }
  }

  /** Delete the key, optionally only if unchanged since `expectedRevision`. Returns the last state. */
  async delete(key: string, expectedRevision?: number, side?: SideEffects): Promise<KubeObject> {
    const s = this.sideOps(side)
    const compare: ICompare[] = [...s.compare]
    if (expectedRevision !== undefined) compare.push({ key: enc(key), target: 'Mod', result: 'Equal', mod_revision: expectedRevision })
    else compare.push({ key: enc(key), target: 'Create', result: 'Greater', create_revision: 0 })
    const res = await this.kv.txn({
      compare,
      success: [{ request_delete_range: { key: enc(key), prev_kv: true } }, ...s.ops],
      failure: [{ request_range: { key: enc(key), keys_only: true } }],
    })
    if (!res.succeeded) {
      const existing = res.responses[0]?.response_range?.kvs?.length ?? 0
      if (existing === 0) throw new StorageError('NotFound', key)
      throw new StorageError('Conflict', key)
    }
    const prev = res.responses[0]?.response_delete_range?.prev_kvs?.[0]
    if (!prev) throw new StorageError('NotFound', key)
    return decode(prev, res.header.revision)
  }

  /** Put raw strings (allocator bookkeeping, bootstrap). */
  async putRaw(key: string, value: string): Promise<void> {
    await this.kv.put({ key: enc(key), value: enc(value) })
  }

  async compact(revision: number): Promise<void> {
    await this.kv.compact({ revision, physical: true })
  }

  /**
   * Watch every key under `prefix` from `fromRevision` (exclusive: events with
   * revision > fromRevision). One gRPC stream per watch, so a compacted start revision,
   * progress notifications and stream failures belong to this watch alone.
   */
  watch(prefix: string, fromRevision: number, cb: WatchCallbacks): StoreWatch {
    let stopped = false
    let stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>> | undefined
    let wantProgress = false
    const stop = (): void => {
      if (stopped) return
      stopped = true
      try {
        stream?.end()
        ;(stream as unknown as { cancel?: () => void })?.cancel?.()
      } catch {
        /* already closed */
      }
    }
    this.client.watchClient
      .watch()
      .then((s) => {
        stream = s
        if (stopped) return stop()
        s.on('data', (res: IWatchResponse) => {
          if (stopped) return
          const rev = Number(res.header.revision)
          if (res.compact_revision && res.compact_revision !== '0') {
            stop()
            cb.onCompacted(Number(res.compact_revision))
            return
          }
          if (res.canceled) {
            stop()
            cb.onError(new Error(`etcd watch canceled: ${res.cancel_reason}`))
            return
          }
          if (res.created) return
          if (res.events.length === 0) {
            cb.onProgress(rev)
            return
          }
          const events: WatchEventRaw[] = res.events.map((ev) => {
            const revision = Number(ev.kv.mod_revision)
            if (ev.type === 'Delete') {
              const prev = ev.prev_kv ? decode(ev.prev_kv) : undefined
              const last = ev.prev_kv ? decode(ev.prev_kv, String(revision)) : ({ metadata: {} } as KubeObject)
              const out: WatchEventRaw = { type: 'delete', key: ev.kv.key.toString(), obj: last, revision }
              if (prev) out.prev = prev
              return out
            }
            const out: WatchEventRaw = { type: 'put', key: ev.kv.key.toString(), obj: decode(ev.kv), revision }
            if (ev.prev_kv && ev.prev_kv.value.length > 0) out.prev = decode(ev.prev_kv)
            return out
          })
          cb.onEvents(events, rev)
        })
        s.on('error', (err: Error) => {
          if (stopped) return
          stopped = true
          cb.onError(err)
        })
        s.on('end', () => {
          if (stopped) return
          stopped = true
          cb.onError(new Error('etcd watch stream ended'))
        })
        s.write({
          create_request: {
            key: enc(prefix),
            range_end: prefixEnd(prefix),
            start_revision: fromRevision + 1,
            prev_kv: true,
            progress_notify: true,
          },
        })
        if (wantProgress) s.write({ progress_request: {} })
      })
      .catch((err: Error) => {
        if (!stopped) {
          stopped = true
          cb.onError(err)
        }
      })
    return {
      stop,
      requestProgress() {
        if (stopped) return
        if (stream) stream.write({ progress_request: {} })
        else wantProgress = true
      },
    }
  }
}
