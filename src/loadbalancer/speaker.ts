// The L2 announcer (in `netkube agent`), MetalLB's speaker in netkube's shape:
//   1. its own Lease kube-system/netkube-lb-speaker-<node>, renewed every 250 ms (the fast
//      signal: a dead agent is noticed after the lease duration, 1 s, not the 40 s node grace);
//   2. informers (Services, EndpointSlices, Nodes, the speaker Leases) → on each event and
//      at the exact moment a peer's lease runs out (a timer, not polling), announcements()
//      (pure, announce-core.ts) says which IPs are this node's;
//   3. the edge (vips.ts): each of its IPs as a /32 on the underlay interface, inside the
//      node's own namespace (never the host's), with a 2 s kernel lifetime refreshed every
//      250 ms, then gratuitous ARP (`busybox arping -U`, at 0, 100, 300 and 1000 ms) so the
//      neighbours' caches move at once; an IP no longer its is removed.
// Why an address and not a userspace ARP responder: the kernel answers ARP for a local
// address (arp_ignore=0) with no process in the path, and a packet to it is delivered on
// this node where kube-proxy's prerouting DNAT takes it (measured in the e2e: failover is the
// lease expiry plus one GARP). A killed agent's addresses outlive it only by their lifetime:
// the kernel drops them 2 s after the last refresh, so a node that dies and comes back (or
// whose agent is killed or frozen) stops answering ARP by itself; the successor keeps them
// (sticky, announce-core.ts), so a node that returns takes nothing back. A restarted agent
// still withdraws what its state file names first thing (withdrawStale): addresses left with
// `--lb-address-lifetime 0` (permanent) or by an older netkube.
// Liveness is judged on the renewal clock (renewalClock in announce-core.ts), not the wall
// clock: a slow apiserver delays every speaker's renewals alike and proves nobody dead.
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
import { logger } from '../util/log.js'
import { DEFAULT_LB_CLASS } from './allocate-core.js'
import { ANNOUNCING_ANNOTATION, SPEAKER_LABEL, SPEAKER_LEASE_PREFIX, announceDiff, parseAnnouncing, announcements, liveSpeakers, renewalClock, type SpeakerSeen } from './announce-core.js'
import { createVipHolder, DEFAULT_VIP_LIFETIME_S } from './vips.js'

const log = logger('lb-speaker')
const NS = 'kube-system'
export { GARP_REPEAT_MS } from './vips.js'
/** A look at this node's own liveness (its renewals failing) besides the renewal events. */
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
  /** Kernel lifetime of each announced /32 in whole seconds, refreshed every renewMs (default 2; 0: permanent). */
  addressLifetimeS?: number
  ourClass?: string
  /** Called after each address change (tests, the bench). */
  onChange?: (ips: string[]) => void
}

export interface Speaker {
  /** The IPs this node announces now. */
  announced(): string[]
  stop(opts?: { keepAddresses?: boolean }): Promise<void>
}

/**
 * What a killed run of this agent left on the interface (its state file says which /32s were
 * its) is removed at once, before anything waits for the apiserver: while the node was gone
 * another node took those addresses (and keeps them: announcements are sticky), so a kernel
 * still holding them would be a second ARP answerer the moment the node is back on the wire.
 * If they are still this node's, the first reconcile adds them again, with gratuitous ARP.
 */
export async function withdrawStale(o: Pick<SpeakerOptions, 'iface' | 'stateFile' | 'netns'>): Promise<string[]> {
  const mine = readState(o.stateFile)
  if (!mine.length) return []
  const ops = netnsHandle(o.netns).ops()
  try {
    const on = new Set((await ops.listAddresses(o.iface)).filter((a) => a.family === 4).map((a) => a.cidr))
    const gone: string[] = []
    for (const ip of mine) if (on.has(`${ip}/32`) && (await ops.delAddress(o.iface, `${ip}/32`).catch(() => false))) gone.push(ip)
    writeFileSync(o.stateFile, '[]')
    if (gone.length) log.info({ withdrawn: gone }, 'withdrew the addresses a previous run left behind')
    return gone
  } finally {
    ops.close()
  }
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

  // A Lease first seen counts from its renewTime.
  // Lease renewals seen, on our clock, with the IPs each speaker says it announces.
  const seen = new Map<string, SpeakerSeen & { renew: string; announcing: Set<string> }>()
  const noteLease = (l: Lease | undefined, deleted = false): void => {
    const node = l?.spec?.holderIdentity
    if (!l || !node) return
    if (deleted) return void seen.delete(node)
    const renew = l.spec?.renewTime ?? ''
    const announcing = parseAnnouncing(l.metadata.annotations?.[ANNOUNCING_ANNOTATION])
    const prev = seen.get(node)
    if (prev?.renew === renew) {
      prev.announcing = announcing
      return
    }
    const now = Date.now()
    const seenAt = prev ? now : Math.min(now, Date.parse(renew) || 0)
    seen.set(node, { node, seenAt, renew, announcing })
    // after the pending socket reads: renewals that arrived together are all noted first, or
    // the first one read would advance the renewal clock past the others
    setImmediate(kick)
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
  // The apiserver's pace for our own renewals (logged with each liveness change): when the
  // renewal in flight started (0: none) and the last few round trips.
  let renewStarted = 0
  let lastRenewFailed = false
  const recentRenewMs: number[] = []
  const renew = async (): Promise<void> => {
    renewStarted = Date.now()
    try {
      await renewOnce()
    } finally {
      const ms = Date.now() - renewStarted
      renewStarted = 0
      recentRenewMs.push(ms)
      if (recentRenewMs.length > 4) recentRenewMs.shift()
      if (ms > leaseMs / 2) log.info({ ms }, 'slow lease renewal')
    }
  }
  const renewOnce = async (): Promise<void> => {
    const spec = { holderIdentity: o.nodeName, leaseDurationSeconds: Math.max(1, Math.ceil(leaseMs / 1000)), renewTime: microTime(Date.now()) }
    // what this node holds, for the others' stickiness (written with every renewal)
    const annotations = { [ANNOUNCING_ANNOTATION]: [...have].sort().join(',') }
    try {
      if (!lease) {
        try {
          lease = await leasesApi.get(leaseName)
        } catch (err) {
          if (!(isApiStatusError(err) && err.code === 404)) throw err
          lease = await leasesApi.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName, namespace: NS, labels: { [SPEAKER_LABEL]: 'true' }, annotations }, spec: { ...spec, acquireTime: spec.renewTime } })
          lastRenewOk = Date.now()
          lastRenewFailed = false
          return
        }
      }
      lease = await leasesApi.update({ ...lease, metadata: { ...lease.metadata, annotations: { ...lease.metadata.annotations, ...annotations } }, spec: { ...lease.spec, ...spec } })
      lastRenewOk = Date.now()
      lastRenewFailed = false
    } catch (err) {
      lastRenewFailed = true
      lease = undefined // conflict or gone: read it again next time
      log.debug({ err: (err as Error).message }, 'lease renewal failed')
    }
  }

  // ---- the edge: addresses on the interface with a kernel lifetime, gratuitous ARP (vips.ts) ----
  // the agent already did this before it waited for the apiserver; a speaker started alone does it here
  await withdrawStale(o)
  const addressLifetimeS = o.addressLifetimeS ?? DEFAULT_VIP_LIFETIME_S
  const vips = createVipHolder({ iface: o.iface, lifetimeS: addressLifetimeS, refreshMs: renewMs, ...(o.netns ? { netns: o.netns } : {}) })
  // the IPs this node announces (vips.held(), kept here for the Lease annotation's reads)
  const have = new Set<string>()
  const saveState = (): void => writeFileSync(o.stateFile, JSON.stringify([...have].sort()))

  let synced = false
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
    // Liveness on the renewal clock (renewalClock): a peer is gone once the others' renewals,
    // ours included, went on arriving for a lease after its last one. The wall clock would
    // count the apiserver's slowness as the peers' silence: at load 30-40 one renewal round trip
    // took 0.5-2.5 s for every speaker at once, and 17 false takeovers in 60 s followed.
    const now = Date.now()
    const selfSeenAt = Math.max(lastRenewOk, seen.get(o.nodeName)?.seenAt ?? 0)
    const peers = [...seen.values()].filter((x) => x.node !== o.nodeName)
    const clock = renewalClock([...peers, { node: o.nodeName, seenAt: selfSeenAt }])
    // this node is also gone when its own renewals fail (cut off from the apiserver) for a lease
    const cutOff = lastRenewFailed && now - lastRenewOk >= leaseMs
    const self = cutOff ? [] : [{ node: o.nodeName, seenAt: selfSeenAt }]
    const live = liveSpeakers([...peers, ...self], clock, leaseMs, nodes.store.list())
    const liveText = [...live].sort().join(',')
    if (liveText !== lastLive) {
      const was = lastLive.split(',').filter(Boolean)
      // how long each lost peer was silent on the renewal clock and on the wall clock, and how
      // late its last renewal reached us (seen minus its renewTime: meaningful where the nodes
      // share a clock, as in the lab — where a takeover's time goes under load)
      const lost = Object.fromEntries(
        was
          .filter((n) => !live.has(n))
          .map((n) => {
            const p = seen.get(n)
            return [n, { clock: clock - (p?.seenAt ?? 0), wall: now - (p?.seenAt ?? 0), ...(p?.renew ? { lastRenewLag: p.seenAt - Date.parse(p.renew), sinceRenewTime: now - Date.parse(p.renew) } : {}) }]
          }),
      )
      log.info({ live: [...live].sort(), was, silentMs: lost, cutOff, ownRenewInFlightMs: renewStarted ? now - renewStarted : 0, recentRenewMs }, 'live speakers changed')
    }
    lastLive = liveText
    const holding = (n: string): ReadonlySet<string> | undefined => (n === o.nodeName ? have : seen.get(n)?.announcing)
    const want = announcements({ services: services.store.list(), slicesOf: (k) => slicesBySvc.get(k)?.values() ?? [], live, ourClass, holding })
      .filter((a) => a.node === o.nodeName)
      .map((a) => a.ip)
    const d = announceDiff(want, have)
    if (!d.add.length && !d.remove.length) return
    for (const ip of d.remove) {
      await vips.remove(ip)
      have.delete(ip)
    }
    for (const ip of d.add) {
      await vips.add(ip)
      have.add(ip)
    }
    saveState()
    // tell the others now rather than at the next period: until they read it, a newcomer that
    // wins the hash could take the address
    renewSoon()
    log.info({ add: d.add, remove: d.remove, announced: [...have].sort() }, 'announcements changed')
    o.onChange?.([...have].sort())
  }

  await Promise.all([services.start(), slices.start(), nodes.start(), leases.start()])
  await renew()
  // one renewal at a time: overlapping ones race on the resourceVersion and the loser's 409
  // costs a GET — under load that turned a slow round trip into a gap peers read as death
  let renewing = false
  let renewAgain = false
  function renewSoon(): void {
    if (stopped) return
    if (renewing) return void (renewAgain = true)
    renewing = true
    void renew().finally(() => {
      renewing = false
      if (renewAgain) {
        renewAgain = false
        renewSoon()
      }
    })
  }
  const renewer = setInterval(() => {
    if (!renewing) renewSoon()
  }, renewMs)
  // our own liveness also changes with time alone (renewals failing for a lease)
  const ticker = setInterval(() => setImmediate(kick), SAFETY_TICK_MS)
  synced = true
  kick()
  log.info({ node: o.nodeName, iface: o.iface, renewMs, leaseMs, addressLifetimeS }, 'L2 announcer running')
  return {
    announced: () => [...have].sort(),
    async stop(so = {}) {
      stopped = true
      clearInterval(renewer)
      clearInterval(ticker)
      await running
      for (const inf of [services, slices, nodes, leases] as Informer<Service>[]) inf.stop()
      // kept addresses stay until their kernel lifetime runs out
      await vips.close({ keep: !!so.keepAddresses })
      if (!so.keepAddresses) {
        have.clear()
        saveState()
        // others take over now rather than after the lease duration
        await leasesApi.delete(leaseName).catch(() => undefined)
      }
    },
  }
}
