// The L2 announcer (in `netkube agent`), MetalLB's speaker in netkube's shape:
//   1. its own Lease kube-system/netkube-lb-speaker-<node>, renewed every 250 ms (the fast
//      signal: a dead agent is noticed after the lease duration, 1 s, not the 40 s node grace);
//   2. informers (Services, EndpointSlices, Nodes, the speaker Leases) → on each event and
//      at the exact moment a peer's lease runs out (a timer, not polling), announcements()
//      (pure, announce-core.ts) says which IPs are this node's;
//   3. the edge: each of its IPs as a /32 on the underlay interface, inside the node's own
//      namespace (never the host's), then gratuitous ARP (`busybox arping -U`, at 0, 100,
//      300 and 1000 ms) so the neighbours' caches move at once; an IP no longer its is removed.
// Why an address and not a userspace ARP responder: the kernel answers ARP for a local
// address (arp_ignore=0) with no process in the path, and a packet to it is delivered on
// this node where kube-proxy's prerouting DNAT takes it (measured in the e2e: failover is the
// lease expiry plus one GARP). The cost: a killed agent leaves its addresses behind until it
// restarts (it then withdraws what it no longer owns, from its state file) — meanwhile that
// node's kernel still answers ARP and, its nft rules intact, still serves the traffic.
// A graceful stop withdraws every address and deletes the Lease, so others take over at once.
import { readFileSync, writeFileSync } from 'node:fs'
import type { EndpointSlice, Lease, Node, Service } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import { sliceServiceKey } from '../api/meta.js'
import type { Client } from '../client/interfaces.js'
import { createInformer, type Informer } from '../client/informer.js'
import { isApiStatusError } from '../client/errors.js'
import { microTime } from '../events/recorder.js'
import { netnsHandle } from '../net/door.js'
import type { NetOps } from '../net/types.js'
import { logger } from '../util/log.js'
import { DEFAULT_LB_CLASS } from './allocate-core.js'
import { SPEAKER_LABEL, SPEAKER_LEASE_PREFIX, announceDiff, announcements, leaseWatchLag, liveSpeakers, nextExpiry, type SpeakerSeen } from './announce-core.js'

const log = logger('lb-speaker')
const NS = 'kube-system'
/** Gratuitous ARP repeats after the first, in ms. */
export const GARP_REPEAT_MS = [100, 300, 1000] as const
/** A slow look at liveness besides the timer set at the next lease expiry (clock jumps, missed timers). */
const SAFETY_TICK_MS = 1000

export interface SpeakerOptions {
  client: Client
  nodeName: string
  /** The underlay interface whose neighbours ARP for the LoadBalancer IPs. */
  iface: string
  /** Where the addresses it added are remembered across restarts. */
  stateFile: string
  /** Namespace holding `iface` (default: this process's own). */
  netns?: string
  renewMs?: number
  leaseMs?: number
  ourClass?: string
  /** Called after each address change (tests, the bench). */
  onChange?: (ips: string[]) => void
}

export interface Speaker {
  /** The IPs this node announces now. */
  announced(): string[]
  stop(opts?: { keepAddresses?: boolean }): Promise<void>
}

function readState(file: string): string[] {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}

export async function startSpeaker(o: SpeakerOptions): Promise<Speaker> {
  const renewMs = o.renewMs ?? 250
  const leaseMs = o.leaseMs ?? 1000
  const ourClass = o.ourClass ?? DEFAULT_LB_CLASS
  const leaseName = `${SPEAKER_LEASE_PREFIX}${o.nodeName}`
  const leasesApi = o.client.resource<Lease>(resourceFor('leases'), NS)
  const services: Informer<Service> = createInformer(o.client.resource<Service>(resourceFor('services')), { name: 'speaker-services' })
  const slices: Informer<EndpointSlice> = createInformer(o.client.resource<EndpointSlice>(resourceFor('endpointslices')), { name: 'speaker-slices' })
  const nodes: Informer<Node> = createInformer(o.client.resource<Node>(resourceFor('nodes')), { name: 'speaker-nodes' })
  const leases: Informer<Lease> = createInformer(leasesApi, { name: 'speaker-leases', labelSelector: `${SPEAKER_LABEL}=true` })

  // Lease renewals seen, on our clock. A Lease first seen counts from its renewTime.
  const seen = new Map<string, SpeakerSeen & { renew: string }>()
  const noteLease = (l: Lease | undefined, deleted = false): void => {
    const node = l?.spec?.holderIdentity
    if (!l || !node) return
    if (deleted) return void seen.delete(node)
    const renew = l.spec?.renewTime ?? ''
    const prev = seen.get(node)
    if (prev?.renew === renew) return
    const now = Date.now()
    const seenAt = prev ? now : Math.min(now, Date.parse(renew) || 0)
    seen.set(node, { node, seenAt, renew })
    kick()
  }
  leases.addEventHandler({ onAdd: (l) => noteLease(l), onUpdate: (_a, l) => noteLease(l), onDelete: (l) => noteLease(l, true) })
  const slicesBySvc = new Map<string, Map<string, EndpointSlice>>()
  const noteSlice = (s: EndpointSlice, deleted = false): void => {
    const key = sliceServiceKey(s)
    if (!key) return
    let m = slicesBySvc.get(key)
    if (!m) slicesBySvc.set(key, (m = new Map()))
    if (deleted) m.delete(s.metadata.name!)
    else m.set(s.metadata.name!, s)
    kick()
  }
  slices.addEventHandler({ onAdd: (s) => noteSlice(s), onUpdate: (_a, s) => noteSlice(s), onDelete: (s) => noteSlice(s, true) })
  for (const inf of [services, nodes] as Informer<Service | Node>[]) inf.addEventHandler({ onAdd: () => kick(), onUpdate: () => kick(), onDelete: () => kick() })

  // ---- our Lease ----
  let lease: Lease | undefined
  let lastRenewOk = 0
  const renew = async (): Promise<void> => {
    const spec = { holderIdentity: o.nodeName, leaseDurationSeconds: Math.max(1, Math.ceil(leaseMs / 1000)), renewTime: microTime(Date.now()) }
    try {
      if (!lease) {
        try {
          lease = await leasesApi.get(leaseName)
        } catch (err) {
          if (!(isApiStatusError(err) && err.code === 404)) throw err
          lease = await leasesApi.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName, namespace: NS, labels: { [SPEAKER_LABEL]: 'true' } }, spec: { ...spec, acquireTime: spec.renewTime } })
          lastRenewOk = Date.now()
          return
        }
      }
      lease = await leasesApi.update({ ...lease, spec: { ...lease.spec, ...spec } })
      lastRenewOk = Date.now()
    } catch (err) {
      lease = undefined // conflict or gone: read it again next time
      log.debug({ err: (err as Error).message }, 'lease renewal failed')
    }
  }

  // ---- the edge: addresses on the interface, gratuitous ARP ----
  const door = netnsHandle(o.netns)
  const ops: NetOps = door.ops()
  let have = new Set<string>()
  const present = async (): Promise<Set<string>> =>
    new Set((await ops.listAddresses(o.iface)).filter((a) => a.family === 4 && a.cidr.endsWith('/32')).map((a) => a.cidr.slice(0, -3)))
  {
    // what an earlier run of this agent added is ours to keep or withdraw
    const on = await present()
    have = new Set(readState(o.stateFile).filter((ip) => on.has(ip)))
  }
  const saveState = (): void => writeFileSync(o.stateFile, JSON.stringify([...have].sort()))
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

  // The next time a live speaker's lease runs out: a timer fires exactly then, so a dead
  // node is noticed at its expiry, not up to a polling period later (that period was part of
  // the failover time).
  let expiryTimer: NodeJS.Timeout | undefined
  let expiryAt = Infinity
  const armExpiry = (live: ReadonlySet<string>, now: number): void => {
    const next = nextExpiry(seen.values(), live, o.nodeName, leaseMs)
    if (next === expiryAt) return
    if (expiryTimer) clearTimeout(expiryTimer)
    expiryTimer = undefined
    expiryAt = next
    if (next === Infinity || stopped) return
    // liveSpeakers() counts a speaker live while now - seenAt < leaseMs: fire at the first ms it is not
    // setImmediate: after a stall the timer phase runs before the pending socket reads, so
    // renewals already on the wire are read first, then judged
    expiryTimer = setTimeout(() => {
      expiryTimer = undefined
      expiryAt = Infinity
      setImmediate(kick)
    }, Math.max(0, next - now))
  }

  let synced = false
  let watchBehind = false
  let inherited = have.size > 0
  let lastLive = ''
  let running: Promise<void> | undefined
  let again = false
  let stopped = false
  function kick(): void {
    if (!synced || stopped) return
    if (running) {
      again = true
      return
    }
    running = reconcile()
      .catch((err: Error) => log.warn({ err: err.message }, 'announce reconcile failed'))
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          kick()
        }
      })
  }
  const reconcile = async (): Promise<void> => {
    // a running speaker whose last renewal went through is live to itself (its peers agree
    // one watch event later); without this a restarted agent would withdraw and re-add its IPs
    const now = Date.now()
    // Our own renewals come back through the same watch as everyone else's. When they went
    // through but their echo is late, the watch is behind (a loaded apiserver, or this process
    // stalled): every peer's silence may then be ours alone, so decide nothing until it catches
    // up (the echo's arrival kicks again). A dead peer is still noticed once the watch flows.
    const lag = leaseWatchLag(seen.get(o.nodeName)?.seenAt, lastRenewOk, leaseMs)
    if (lag > 0) {
      if (!watchBehind) log.info({ behindMs: lag }, 'lease watch is behind our own renewals: holding announcements')
      watchBehind = true
      return
    }
    watchBehind = false
    const self = now - lastRenewOk < leaseMs ? [{ node: o.nodeName, seenAt: lastRenewOk }] : []
    const live = liveSpeakers([...seen.values(), ...self], now, leaseMs, nodes.store.list())
    const liveText = [...live].sort().join(',')
    if (liveText !== lastLive) log.info({ live: [...live].sort(), was: lastLive.split(',').filter(Boolean) }, 'live speakers changed')
    lastLive = liveText
    armExpiry(live, now)
    const want = announcements({ services: services.store.list(), slicesOf: (k) => slicesBySvc.get(k)?.values() ?? [], live, ourClass })
      .filter((a) => a.node === o.nodeName)
      .map((a) => a.ip)
    const d = announceDiff(want, have)
    if (inherited) {
      // addresses kept from before a restart: the neighbours may have moved to another node
      // meanwhile, so announce the ones still ours again
      inherited = false
      for (const ip of want) if (have.has(ip)) garp(ip)
    }
    if (!d.add.length && !d.remove.length) return
    for (const ip of d.remove) {
      await ops.delAddress(o.iface, `${ip}/32`)
      have.delete(ip)
    }
    for (const ip of d.add) {
      await ops.addAddress(o.iface, `${ip}/32`)
      have.add(ip)
      garp(ip)
    }
    saveState()
    log.info({ add: d.add, remove: d.remove, announced: [...have].sort() }, 'announcements changed')
    o.onChange?.([...have].sort())
  }

  await Promise.all([services.start(), slices.start(), nodes.start(), leases.start()])
  await renew()
  // one renewal at a time: overlapping ones race on the resourceVersion and the loser's 409
  // costs a GET — under load that turned a slow round trip into a gap peers read as death
  let renewing = false
  const renewer = setInterval(() => {
    if (renewing) return
    renewing = true
    void renew().finally(() => (renewing = false))
  }, renewMs)
  // liveness also changes with time alone (a lease expiring): armExpiry's timer, and this
  const ticker = setInterval(() => setImmediate(kick), SAFETY_TICK_MS)
  synced = true
  kick()
  log.info({ node: o.nodeName, iface: o.iface, renewMs, leaseMs }, 'L2 announcer running')
  return {
    announced: () => [...have].sort(),
    async stop(so = {}) {
      stopped = true
      clearInterval(renewer)
      clearInterval(ticker)
      if (expiryTimer) clearTimeout(expiryTimer)
      await running
      for (const inf of [services, slices, nodes, leases] as Informer<Service>[]) inf.stop()
      if (!so.keepAddresses) {
        for (const ip of have) await ops.delAddress(o.iface, `${ip}/32`).catch(() => false)
        have.clear()
        saveState()
        // others take over now rather than after the lease duration
        await leasesApi.delete(leaseName).catch(() => undefined)
      }
      ops.close()
    },
  }
}
