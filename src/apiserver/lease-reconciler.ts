// The thin loop around lease-reconciler-core.ts: every interval this apiserver refreshes its
// lease key (a fresh etcd lease of `ttlSeconds`, so a kill -9 lets it expire), lists the live
// keys and reconciles the `kubernetes` Endpoints and EndpointSlice to them. On a clean stop
// it deletes its key and reconciles once more, so the others need not wait for the TTL.
import { findResource } from '../api/resources.js'
import { logger } from '../util/log.js'
import { reconcileSystemObject } from './bootstrap.js'
import { apiserverEndpoints, LEASE_PREFIX, leaseKey, liveAddresses } from './lease-reconciler-core.js'
import type { Registry } from './registry.js'

const log = logger('lease-reconciler')
const STOP_TIMEOUT_MS = 3000

const R = {
  endpoints: findResource('', 'v1', 'endpoints')!,
  endpointslices: findResource('discovery.k8s.io', 'v1', 'endpointslices')!,
}

export interface LeaseReconcilerOptions {
  address: string
  port: number
  /** Lease lifetime (upstream: 15 s). */
  ttlSeconds?: number
}

export class LeaseEndpointReconciler {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> = Promise.resolve()
  private readonly ttl: number
  private readonly interval: number

  constructor(
    private readonly reg: Registry,
    private readonly o: LeaseReconcilerOptions,
  ) {
    this.ttl = o.ttlSeconds ?? 15
    // etcd grants whole seconds; below 2 s the refresh could not keep up with the expiry.
    if (!Number.isInteger(this.ttl) || this.ttl < 2) throw new Error(`endpoint lease TTL must be a whole number of seconds >= 2, not ${o.ttlSeconds}`)
    // Upstream refreshes every 10 s for a 15 s TTL: two thirds of it, so one slow tick is no gap.
    this.interval = Math.min(10_000, (this.ttl * 2000) / 3)
  }

  /** Refresh our lease, then make the endpoints the live leases. */
  async reconcile(): Promise<void> {
    const lease = this.reg.store.client.lease(this.ttl, { autoKeepAlive: false })
    try {
      await lease.put(leaseKey(this.o.address)).value(this.o.address).exec()
    } finally {
      // Stop tracking it locally; etcd expires it after the TTL unless the next tick replaces it.
      lease.release()
    }
    await this.writeEndpoints(true)
  }

  private async writeEndpoints(includeSelf: boolean): Promise<void> {
    const keys = await this.reg.store.keys(LEASE_PREFIX)
    const ips = liveAddresses(keys, this.o.address).filter((ip) => includeSelf || ip !== this.o.address)
    const want = apiserverEndpoints(ips, this.o.port)
    await reconcileSystemObject(this.reg, R.endpoints, want.endpoints)
    await reconcileSystemObject(this.reg, R.endpointslices, want.slice)
  }

  start(): void {
    const tick = (): void => {
      this.running = this.reconcile().catch((err: Error) => log.warn({ err: err.message }, 'apiserver lease reconcile failed'))
      void this.running.then(() => {
        if (this.timer) this.timer = setTimeout(tick, this.interval)
      })
    }
    this.timer = setTimeout(tick, this.interval)
  }

  /** Clean shutdown (upstream's RemoveEndpoints): drop our lease and our address now. */
  async stop(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    // With etcd gone a shutdown must not hang on it: the TTL removes us then anyway.
    const removal = this.running.then(async () => {
      await this.reg.store.client.delete().key(leaseKey(this.o.address)).exec()
      await this.writeEndpoints(false)
    })
    let timer: NodeJS.Timeout | undefined
    const gaveUp = new Promise<void>((r) => (timer = setTimeout(r, STOP_TIMEOUT_MS)))
    try {
      await Promise.race([removal, gaveUp])
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'removing the apiserver lease failed')
    } finally {
      clearTimeout(timer)
      removal.catch(() => {})
    }
  }
}
