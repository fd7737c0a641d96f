// Subnet leases in etcd (the storage side of flannel's pkg/subnet/etcd, our own code):
//   - config read from <prefix>/config;
//   - a lease is a key <prefix>/subnets/<a.b.c.d>-<len> attached to an etcd lease with a TTL,
//     kept alive by this agent (renewed well before expiry);
//   - acquiring is compare-and-set: put only if the key does not exist (create_revision == 0),
//     or, to take over our own previous lease after a restart, only if it is unchanged since we
//     read it (mod_revision). A lost race re-reads and retries with another choice;
//   - the lease set is watched from a revision; the client resumes after disconnects, and when
//     the revision has been compacted the watcher is cancelled and we re-list (full resync).
import { Etcd3, type IKeyValue, type Lease as EtcdLease, type Watcher } from 'etcd3'
import type { Logger } from '../util/log.js'
import { logger } from '../util/log.js'
import type { NetworkConfig } from './config.js'
import { formatIp4Net, type Ip4Net } from '../net/ip.js'
import { type Lease, type LeaseAttrs, decodeLease, encodeLease, leaseKey, subnetFromKey, subnetsPrefix } from './lease.js'
import { chooseSubnet } from './subnets.js'

export const DEFAULT_LEASE_TTL_SEC = 24 * 3600

/** Shutdown calls must not hang when etcd is already gone: give up after `ms`. */
function bounded(p: Promise<unknown>, ms = 3000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    p.then(
      () => (clearTimeout(timer), resolve()),
      () => (clearTimeout(timer), resolve()),
    )
  })
}

export interface LeaseList {
  leases: Lease[]
  revision: string
}

export function configKey(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/config`
}

export class SubnetRegistry {
  private readonly log: Logger
  constructor(
    readonly client: Etcd3,
    readonly prefix: string,
    log?: Logger,
  ) {
    this.log = log ?? logger('overlay-registry')
  }

  async getConfigJSON(): Promise<string | null> {
    return this.client.get(configKey(this.prefix)).string()
  }

  async putConfig(json: string): Promise<void> {
    await this.client.put(configKey(this.prefix)).value(json)
  }

  decode(kv: IKeyValue): Lease | undefined {
    const key = kv.key.toString()
    const subnet = subnetFromKey(this.prefix, key)
    if (!subnet) return undefined
    try {
      const l = decodeLease(subnet, kv.value.toString())
      l.modRevision = String(kv.mod_revision)
      l.etcdLease = String(kv.lease)
      return l
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, 'ignoring malformed lease')
      return undefined
    }
  }

  async list(): Promise<LeaseList> {
    const res = await this.client.getAll().prefix(subnetsPrefix(this.prefix)).exec()
    const leases: Lease[] = []
    for (const kv of res.kvs) {
      const l = this.decode(kv)
      if (l) leases.push(l)
    }
    return { leases, revision: String(res.header.revision) }
  }

  /**
   * Take a subnet for `attrs.publicIP`: our own existing lease if there is one, else `previous`
   * if free, else a free one. Throws NoFreeSubnetError when the range is full.
   */
  async acquire(cfg: NetworkConfig, attrs: LeaseAttrs, ttlSec: number, previous?: Ip4Net, attempts = 20): Promise<OwnedLease> {
    const value = encodeLease(attrs)
    for (let i = 0; i < attempts; i++) {
      const { leases } = await this.list()
      const choice = chooseSubnet(cfg, leases, attrs.publicIP, previous)
      const subnet = choice.kind === 'reuse' ? choice.lease.subnet : choice.subnet
      const key = leaseKey(this.prefix, subnet)
      const etcdLease = this.client.lease(ttlSec, { autoKeepAlive: false })
      const id = await etcdLease.grant()
      const cond =
        choice.kind === 'reuse'
          ? this.client.if(key, 'Mod', '==', choice.lease.modRevision!)
          : this.client.if(key, 'Create', '==', 0)
      const res = await cond.then(this.client.put(key).value(value).lease(id)).commit()
      if (res.succeeded) {
        // after a restart the key moves to the new etcd lease; drop the previous one
        if (choice.kind === 'reuse' && choice.lease.etcdLease && choice.lease.etcdLease !== '0') {
          await this.client.leaseClient.leaseRevoke({ ID: choice.lease.etcdLease }).catch(() => {})
        }
        this.log.info({ subnet: formatIp4Net(subnet), reused: choice.kind === 'reuse', leaseId: id, attempt: i + 1 }, 'subnet lease acquired')
        return new OwnedLease(this, { ...attrs, subnet }, etcdLease, key, ttlSec)
      }
      await etcdLease.revoke().catch(() => {})
      this.log.info({ subnet: formatIp4Net(subnet), attempt: i + 1 }, 'lost the race for a subnet, retrying')
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80))
    }
    throw new Error(`could not acquire a subnet lease after ${attempts} attempts (heavy contention)`)
  }

  /** Try to take back exactly `subnet` (after our key vanished). */
  async reacquireSame(attrs: LeaseAttrs, subnet: Ip4Net, ttlSec: number): Promise<OwnedLease | undefined> {
    const key = leaseKey(this.prefix, subnet)
    const etcdLease = this.client.lease(ttlSec, { autoKeepAlive: false })
    const id = await etcdLease.grant()
    const res = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(encodeLease(attrs)).lease(id)).commit()
    if (res.succeeded) return new OwnedLease(this, { ...attrs, subnet }, etcdLease, key, ttlSec)
    await etcdLease.revoke().catch(() => {})
    return undefined
  }

  async deleteLease(subnet: Ip4Net): Promise<void> {
    await this.client.delete().key(leaseKey(this.prefix, subnet)).exec()
  }

  /** Watch the lease set, starting after `revision`. */
  watch(revision: string, handlers: WatchHandlers): LeaseWatch {
    return new LeaseWatch(this, revision, handlers)
  }
}

/** Our own lease: renews itself; tells the agent when it is gone. */
export class OwnedLease {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  onLost: (why: string) => void = () => {}
  constructor(
    readonly registry: SubnetRegistry,
    readonly lease: Lease,
    private readonly etcdLease: EtcdLease,
    readonly key: string,
    readonly ttlSec: number,
  ) {
    this.schedule(this.renewIntervalMs())
  }

  /** Renew at a third of the TTL (8 h for the 24 h default), so two renewals may fail before expiry. */
  private renewIntervalMs(): number {
    return Math.max(500, (this.ttlSec * 1000) / 3)
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => void this.renew(), ms)
    this.timer.unref()
  }

  private async renew(): Promise<void> {
    if (this.stopped) return
    try {
      await this.etcdLease.keepaliveOnce()
      this.schedule(this.renewIntervalMs())
    } catch (err) {
      const msg = (err as Error).message
      if ((err as Error).name === 'EtcdLeaseInvalidError' || this.etcdLease.revoked()) {
        this.stopped = true
        this.onLost(`etcd lease expired: ${msg}`)
        return
      }
      // etcd unreachable: retry soon; the TTL gives us time
      this.schedule(Math.min(5000, this.renewIntervalMs()))
    }
  }

  /** Stop renewing. With `release`, also delete the key (the subnet becomes free). */
  async stop(release = false): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    // without release the etcd lease simply stops being renewed: a restarted agent takes
    // the key over (same PublicIP), and if none comes back the TTL frees the subnet
    if (release) await bounded(this.etcdLease.revoke())
  }
  get id(): Promise<string> {
    return this.etcdLease.grant()
  }
}

export interface WatchHandlers {
  onPut(lease: Lease): void
  onDelete(subnet: Ip4Net): void
  /** A full re-list replaced everything (after compaction). */
  onResync(list: LeaseList): void
  onError?(err: Error): void
}

export class LeaseWatch {
  private watcher: Watcher | undefined
  private closed = false
  private readonly log = logger('overlay-watch')
  resyncs = 0
  constructor(
    private readonly registry: SubnetRegistry,
    revision: string,
    private readonly h: WatchHandlers,
  ) {
    void this.start(revision)
  }

  private async start(revision: string): Promise<void> {
    if (this.closed) return
    try {
      const w = await this.registry.client
        .watch()
        .prefix(subnetsPrefix(this.registry.prefix))
        .startRevision(String(BigInt(revision) + 1n))
        .create()
      if (this.closed) {
        await w.cancel()
        return
      }
      this.watcher = w
      w.on('put', (kv) => {
        const l = this.registry.decode(kv)
        if (l) this.h.onPut(l)
      })
      w.on('delete', (kv) => {
        const s = subnetFromKey(this.registry.prefix, kv.key.toString())
        if (s) this.h.onDelete(s)
      })
      w.on('disconnected', () => this.log.warn('lease watch disconnected; the client resumes from the last revision'))
      // A cancelled watch (most often: our revision was compacted away) cannot resume:
      // re-list everything and watch again from the list's revision.
      w.on('error', (err: Error) => {
        // etcd already dropped this watcher: cancelling it again would make the client
        // receive a reply for an unknown watch id (which it throws on)
        if (this.watcher === w) this.watcher = undefined
        this.log.warn({ err: err.message }, 'lease watch cancelled; full resync')
        this.h.onError?.(err)
        void this.resync()
      })
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'lease watch failed to start; retrying')
      setTimeout(() => void this.resync(), 1000).unref()
    }
  }

  async resync(): Promise<void> {
    if (this.closed) return
    const old = this.watcher
    this.watcher = undefined
    if (old) await old.cancel().catch(() => {})
    try {
      const list = await this.registry.list()
      this.resyncs++
      this.h.onResync(list)
      await this.start(list.revision)
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'resync failed; retrying')
      setTimeout(() => void this.resync(), 1000).unref()
    }
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.watcher) await bounded(this.watcher.cancel())
  }
}
