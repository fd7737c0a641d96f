// The L2 announcer's edge: the LoadBalancer IPs this node answers ARP for, as /32s on its
// underlay interface, each with a short kernel lifetime (valid_lft = preferred_lft, default
// 2 s) that this module restarts every refresh period (default 250 ms). Why a lifetime: a
// permanent /32 outlives its agent — after a kill -9, a frozen process or a node that drops
// off the wire and comes back, that kernel went on answering ARP next to the successor until
// the restarted agent withdrew it (two holders for 1.8–4.2 s in bench:lb). With the lifetime
// the kernel drops it by itself `lifetime` after the agent's last refresh, live agent or not;
// the cost is that a stall of this process longer than the lifetime minus one period drops
// the address too. Then the next refresh finds it missing and adds it back with gratuitous
// ARP (logged as a lapse). Every change runs in one queue, so a refresh never re-adds an
// address a reconcile just removed.
import { netnsHandle } from '../net/door.js'
import type { NetOps } from '../net/types.js'
import { logger } from '../util/log.js'

const log = logger('lb-speaker')
/** Gratuitous ARP repeats after the first, in ms. */
export const GARP_REPEAT_MS = [100, 300, 1000] as const
export const DEFAULT_VIP_LIFETIME_S = 2

export interface VipHolderOptions {
  iface: string
  /** Namespace holding `iface` (default: this process's own). */
  netns?: string
  /** valid_lft of each /32 in whole seconds; 0: permanent (the addresses outlive the agent). */
  lifetimeS?: number
  refreshMs?: number
}

export interface VipHolder {
  held(): string[]
  /** Add the /32 (ensure) and send gratuitous ARP. */
  add(ip: string): Promise<void>
  remove(ip: string): Promise<void>
  /** Stop refreshing; without `keep` remove every address, with it leave them to their lifetime. */
  close(o?: { keep?: boolean }): Promise<void>
}

export function createVipHolder(o: VipHolderOptions): VipHolder {
  const lifetimeS = o.lifetimeS ?? DEFAULT_VIP_LIFETIME_S
  const lft = lifetimeS > 0 ? { lifetimeS } : {}
  const door = netnsHandle(o.netns)
  const ops: NetOps = door.ops()
  const have = new Set<string>()
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn)
    queue = p.catch(() => undefined)
    return p
  }
  const garp = (ip: string): void => {
    const send = (): void =>
      void door.run('busybox', ['arping', '-U', '-c', '1', '-w', '1', '-I', o.iface, '-s', ip, ip], { allowFailure: true, timeoutMs: 5000 }).then((r) => {
        if (r.code !== 0) log.warn({ ip, err: r.stderr.trim() }, 'gratuitous ARP failed')
      })
    // at once, then again against a lost frame (100, 300 ms) and once after the neighbours'
    // locktime (1 s): a plain ARP reply seen within it of the previous update is ignored, a
    // gratuitous one is not — but not every neighbour's kernel is Linux's
    send()
    for (const ms of GARP_REPEAT_MS) setTimeout(send, ms).unref()
  }
  let refreshing = false
  const refresh = (): Promise<void> =>
    serial(async () => {
      if (!have.size) return
      const on = new Set((await ops.listAddresses(o.iface)).map((a) => a.cidr))
      for (const ip of have) {
        await ops.addAddress(o.iface, `${ip}/32`, lft)
        if (!on.has(`${ip}/32`)) {
          log.warn({ ip, lifetimeS }, 'an announced address lapsed (this process stalled longer than its lifetime): added again')
          garp(ip)
        }
      }
    })
  const timer =
    lifetimeS > 0
      ? setInterval(() => {
          if (refreshing) return
          refreshing = true
          refresh()
            .catch((err: Error) => log.warn({ err: err.message }, 'address refresh failed'))
            .finally(() => (refreshing = false))
        }, o.refreshMs ?? 250)
      : undefined
  return {
    held: () => [...have].sort(),
    add: (ip) =>
      serial(async () => {
        await ops.addAddress(o.iface, `${ip}/32`, lft)
        have.add(ip)
        garp(ip)
      }),
    remove: (ip) =>
      serial(async () => {
        await ops.delAddress(o.iface, `${ip}/32`)
        have.delete(ip)
      }),
    close: (c = {}) => {
      if (timer) clearInterval(timer)
      return serial(async () => {
        if (!c.keep) for (const ip of have) await ops.delAddress(o.iface, `${ip}/32`).catch(() => false)
        have.clear()
        ops.close()
      })
    },
  }
}
