// The overlay agent (flannel's job, netkube's code). Design:
//
//   etcd ──list+watch──▶ leases (Map subnet → Lease) ──┐
//                                                      ├─▶ desiredState() ─▶ diffState() ─▶ kernel.apply()
//   kernel ──observe (routes, ARP, FDB we own)─────────┘
//
// One sync function, single-flight, triggered by watch events (debounced) and by a timer
// (default every 5 s), so entries removed by hand come back and entries of vanished nodes go
// away even if an event was missed. Startup order matters:
//   1. network config from etcd (waits until it exists);
//   2. underlay interface; VXLAN device (before the lease: its MAC goes into the lease);
//   3. lease (reuse ours by PublicIP, else previous subnet from subnet.env, else a free one);
//   4. device address <subnet network>/32, ip_forward, nftables table, subnet.env (last, so a
//      CNI plugin that sees the file finds a node ready to route);
//   5. list + watch from the list's revision, first sync.
// If our own lease disappears (deleted, expired, taken) we try to take the same subnet back;
// if that fails we tear down the device and stop with an error: routing a subnet we no longer
// own would blackhole another node's pods.
import { Etcd3 } from 'etcd3'
import { maybeRootNetns } from '../net/netns.js'
import { logger } from '../util/log.js'
import { type BackendType, type NetworkConfig, parseNetworkConfig, DEFAULT_PREFIX } from './config.js'
import { desiredState, diffState, formatDiff, isEmptyDiff, ownedObserved, vxlanDevName } from './desired.js'
import { VXLAN_OVERHEAD, vtepMac, type VxlanSpec } from './device.js'
import { formatIp4Net, intToIp4, parseIp4Net, type Ip4Net } from '../net/ip.js'
import { OverlayKernel, type Underlay } from './kernel.js'
import type { Lease, LeaseAttrs } from './lease.js'
import { OverlayMetrics } from './metrics.js'
import { DEFAULT_LEASE_TTL_SEC, type LeaseWatch, type OwnedLease, SubnetRegistry } from './registry.js'
import { DEFAULT_SUBNET_FILE, readSubnetEnv, type SubnetEnv, writeSubnetEnv } from './subnetenv.js'

const log = logger('overlay')

export interface OverlayAgentOptions {
  etcdEndpoints: string[]
  prefix?: string
  publicIP?: string
  iface?: string
  subnetFile?: string
  /** Overrides Backend.Type from the etcd config. */
  backend?: BackendType
  leaseTtlSec?: number
  reconcileIntervalMs?: number
  /** false: no lease watch; each periodic pass re-lists the leases (the polling baseline bench:overlay measures). */
  watchLeases?: boolean
  ipMasq?: boolean
  /** Operate on this namespace instead of the process's own (needs the setns addon). */
  netns?: string
  metrics?: OverlayMetrics
  /** Without `netns`, the agent programs its own namespace: allowed only when that is provably
   *  not the host's root namespace, unless this is set (a real node). */
  allowRootNetns?: boolean
  /** Called once when the agent stops on its own (lost lease it could not get back). */
  onFatal?: (err: Error) => void
}

export interface OverlayAgent {
  readonly lease: Lease
  readonly subnetEnv: SubnetEnv
  readonly config: NetworkConfig
  readonly metrics: OverlayMetrics
  /** Run one reconcile now. */
  sync(): Promise<void>
  /** A reason when unhealthy, undefined when fine. */
  health(): string | undefined
  /** Stop; with `release` the lease is revoked and the subnet freed. Kernel state is kept. */
  stop(opts?: { release?: boolean }): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function startOverlayAgent(opts: OverlayAgentOptions): Promise<OverlayAgent> {
  if (!opts.netns && !opts.allowRootNetns && maybeRootNetns()) {
    throw new Error('refusing to program the root network namespace (give netns, run inside the node namespace, or set allowRootNetns)')
  }
  const prefix = opts.prefix ?? DEFAULT_PREFIX
  const subnetFile = opts.subnetFile ?? DEFAULT_SUBNET_FILE
  const ttl = opts.leaseTtlSec ?? DEFAULT_LEASE_TTL_SEC
  const interval = opts.reconcileIntervalMs ?? 5000
  const ipMasq = opts.ipMasq ?? true
  const metrics = opts.metrics ?? new OverlayMetrics()
  const client = new Etcd3({ hosts: opts.etcdEndpoints, dialTimeout: 3000 })
  const registry = new SubnetRegistry(client, prefix)
  let kernel: OverlayKernel | undefined
  try {
    // 1. config
    let json: string | null = null
    for (let i = 0; ; i++) {
      try {
        json = await registry.getConfigJSON()
      } catch (err) {
        if (i % 10 === 0) log.warn({ err: (err as Error).message, endpoints: opts.etcdEndpoints }, 'etcd not reachable yet')
      }
      if (json) break
      if (i % 10 === 0) log.info({ key: `${prefix}/config` }, 'waiting for the network config in etcd')
      await sleep(500)
    }
    const cfg = parseNetworkConfig(json, opts.backend)
    const network = formatIp4Net(cfg.network)
    // 2. underlay + device
    kernel = new OverlayKernel(opts.netns)
    const k = kernel
    const underlay = await k.findUnderlay({ ...(opts.iface ? { iface: opts.iface } : {}), ...(opts.publicIP ? { publicIP: opts.publicIP } : {}) })
    const vni = cfg.backend.vni
    const vxDev = vxlanDevName(vni)
    const isVxlan = cfg.backend.type === 'vxlan'
    const mtu = isVxlan ? underlay.mtu - VXLAN_OVERHEAD : underlay.mtu
    const attrs: LeaseAttrs = { publicIP: underlay.ip, backendType: cfg.backend.type }
    let spec: VxlanSpec | undefined
    if (isVxlan) {
      spec = { name: vxDev, vni, local: underlay.ip, port: cfg.backend.port, learning: false, mtu, link: underlay.dev, mac: vtepMac(underlay.ip, vni) }
      const r = await k.ensureVxlan(spec)
      if (r.action !== 'kept') log.info({ dev: vxDev, action: r.action, diff: r.diff }, 'vxlan device')
      attrs.vni = vni
      attrs.vtepMAC = spec.mac
    } else if (await k.deleteLink(vxDev)) {
      log.info({ dev: vxDev }, 'removed the vxlan device of a previous vxlan run')
    }
    // 3. lease
    // the subnet this node had before a restart, worth asking for again (flannel does the same)
    let previous: Ip4Net | undefined
    try {
      const prev = readSubnetEnv(subnetFile)
      if (prev) previous = parseIp4Net(prev.subnet, true)
    } catch (err) {
      log.warn({ subnetFile, err: (err as Error).message }, 'ignoring the previous subnet.env')
    }
    let owned: OwnedLease = await registry.acquire(cfg, attrs, ttl, previous)
    const subnet = owned.lease.subnet
    // 4. address, forwarding, subnet.env
    if (isVxlan) await k.ensureOnlyAddress(vxDev, `${intToIp4(subnet.ip)}/32`)
    await k.ensureForwarding(network, ipMasq)
    const subnetEnv: SubnetEnv = { network, subnet: `${intToIp4(subnet.ip + 1)}/${subnet.prefix}`, mtu, ipMasq }
    writeSubnetEnv(subnetFile, subnetEnv)
    log.info({ subnet: formatIp4Net(subnet), publicIP: underlay.ip, dev: underlay.dev, backend: cfg.backend.type, mtu, subnetFile }, 'overlay ready')

    // 5. leases, watch, sync
    const leases = new Map<number, Lease>()
    let stopped = false
    let fatal: Error | undefined
    let lastSyncAt = 0
    let watch: LeaseWatch | undefined
    const setAll = (ls: Lease[]) => {
      leases.clear()
      for (const l of ls) leases.set(l.subnet.ip, l)
      metrics.leasesKnown.set(leases.size)
    }
    const initial = await registry.list()
    setAll(initial.leases)

    let running: Promise<void> | undefined
    let again = false
    // the device is checked on the periodic pass (someone deleted or changed it); event-driven
    // passes only handle lease changes, which keeps a join's latency to a few netlink dumps
    let checkDevice = true
    const syncOnce = async () => {
      const started = Date.now()
      const remotes = [...leases.values()].filter((l) => l.subnet.ip !== subnet.ip)
      const want = desiredState({ backend: cfg.backend, own: owned.lease, remotes, vxlanDev: vxDev, underlayDev: underlay.dev, underlayNet: underlay.net })
      if (isVxlan && spec && checkDevice) {
        checkDevice = false
        // someone deleted or changed the device: fix it (recreated → entries are re-added below)
        const r = await k.ensureVxlan(spec)
        if (r.action !== 'kept') {
          log.warn({ dev: vxDev, action: r.action, diff: r.diff }, 'vxlan device repaired')
          await k.ensureOnlyAddress(vxDev, `${intToIp4(subnet.ip)}/32`)
        }
      }
      const have = ownedObserved(await k.observe(vxDev, network), cfg.network, subnet, vxDev)
      const diff = diffState(want, have)
      metrics.syncs.inc()
      if (!isEmptyDiff(diff)) {
        const res = await k.apply(diff)
        metrics.changes.inc(res.applied.length)
        log.info({ changes: formatDiff(diff), ms: Date.now() - started }, 'kernel reconciled')
        if (res.errors.length) {
          metrics.programmingErrors.inc(res.errors.length)
          log.error({ errors: res.errors }, 'kernel programming errors (retried next sync)')
          return
        }
      }
      for (const s of want.skipped) log.debug(s, 'lease not programmed')
      lastSyncAt = Date.now()
      metrics.lastSync.set(lastSyncAt / 1000)
    }
    const sync = async (): Promise<void> => {
      if (stopped) return
      if (running) {
        again = true
        return running
      }
      running = (async () => {
        do {
          again = false
          try {
            await syncOnce()
          } catch (err) {
            metrics.programmingErrors.inc()
            log.error({ err: (err as Error).message }, 'sync failed')
          }
        } while (again && !stopped)
      })().finally(() => (running = undefined))
      return running
    }
    let debounce: NodeJS.Timeout | undefined
    const kick = () => {
      if (debounce || stopped) return
      debounce = setTimeout(() => {
        debounce = undefined
        void sync()
      }, 20)
    }

    const shutdown = async (release: boolean, dropDevice = false) => {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      if (debounce) clearTimeout(debounce)
      await watch?.close()
      if (running) await running.catch(() => {})
      await owned.stop(release)
      // Only once no sync can run: a pass kicked by the same lease event would re-create it.
      if (dropDevice) await shutdownKernel().catch((err: Error) => log.error({ err: err.message, dev: vxDev }, 'removing the overlay device failed'))
      client.close()
      k.close()
    }

    // Our lease is gone: take the same subnet back, or stop loudly.
    let recovering = false
    const lost = async (why: string) => {
      if (recovering || stopped) return
      recovering = true
      log.warn({ subnet: formatIp4Net(subnet), why }, 'own subnet lease lost; trying to take it back')
      try {
        await owned.stop(false)
        const again = await registry.reacquireSame(attrs, subnet, ttl)
        if (again) {
          owned = again
          owned.onLost = (w) => void lost(w)
          log.info({ subnet: formatIp4Net(subnet) }, 'own subnet lease re-acquired')
          recovering = false
          return
        }
      } catch (err) {
        log.error({ err: (err as Error).message }, 're-acquiring the lease failed')
      }
      fatal = new Error(`lost the lease on ${formatIp4Net(subnet)} (${why}) and could not take it back; stopping`)
      log.fatal({ subnet: formatIp4Net(subnet) }, fatal.message)
      // stop routing for a subnet we no longer own
      await shutdown(false, true)
      opts.onFatal?.(fatal)
    }
    const shutdownKernel = async () => {
      if (isVxlan) await k.deleteLink(vxDev)
    }
    owned.onLost = (w) => void lost(w)

    const isOwnGone = (l: Lease | undefined) => !l || l.publicIP !== attrs.publicIP
    const relist = async (): Promise<void> => {
      try {
        setAll((await registry.list()).leases)
        if (isOwnGone(leases.get(subnet.ip))) void lost('missing from the lease list')
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'lease list failed; reconciling with the last one')
      }
    }
    if (opts.watchLeases !== false) watch = registry.watch(initial.revision, {
      onPut: (l) => {
        leases.set(l.subnet.ip, l)
        metrics.leasesKnown.set(leases.size)
        if (l.subnet.ip === subnet.ip && isOwnGone(l)) void lost(`taken by ${l.publicIP}`)
        kick()
      },
      onDelete: (s) => {
        leases.delete(s.ip)
        metrics.leasesKnown.set(leases.size)
        if (s.ip === subnet.ip) void lost('key deleted')
        kick()
      },
      onResync: (list) => {
        metrics.resyncs.inc()
        setAll(list.leases)
        if (isOwnGone(leases.get(subnet.ip))) void lost('missing after resync')
        kick()
      },
    })
    const timer = setInterval(() => {
      checkDevice = true
      void (watch ? sync() : relist().then(sync))
    }, interval)
    timer.unref()
    await sync()

    return {
      get lease() {
        return owned.lease
      },
      subnetEnv,
      config: cfg,
      metrics,
      sync,
      health() {
        if (fatal) return fatal.message
        if (stopped) return 'stopped'
        if (Date.now() - lastSyncAt > 3 * interval + 1000) return `no successful sync for ${Math.round((Date.now() - lastSyncAt) / 1000)} s`
        return undefined
      },
      stop: (o) => shutdown(o?.release ?? false),
    }
  } catch (err) {
    kernel?.close()
    client.close()
    throw err
  }
}

export type { Underlay }
