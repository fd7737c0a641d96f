// Fuzz-ish equivalence: random sequences of Service / EndpointSlice changes, synced
// incrementally after each step, must end in exactly the state a full sync of the final
// objects builds — in the fake (many seeds) and in the real kernel through netlink with
// sharded tables (compared as `nft list table` parsed and normalized, in private namespaces).
// A restarted proxy adopting the incrementally built tables must then write nothing.
import t from 'tap'
import type { EndpointSlice, Service } from '../../src/api/types.js'
import { FakeNft, NftExec, type NftRunner, type NftTableState } from '../../src/net/nft.js'
import { normalizeRule } from '../../src/net/nft-list.js'
import { NftNetlinkRunner } from '../../src/net/nft-netlink.js'
import { NftBackend } from '../../src/proxy/nft-backend.js'
import { MAX_SLOTS } from '../../src/proxy/nft-maps.js'
import { Proxier } from '../../src/proxy/proxier.js'
import { withNetns, cleanupRunNamespaces } from '../helpers/netns.js'
import { need } from '../helpers/prereq.js'
import { NODE, slice, svc } from './fixtures.js'

t.teardown(cleanupRunNamespaces)

/** Small deterministic PRNG (mulberry32): a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f']
const IPS = ['10.244.1.11', '10.244.1.12', '10.244.2.13', '10.244.3.14']

function randomService(r: () => number, name: string, i: number): Service {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const udp = r() < 0.3
  const type = pick(['ClusterIP', 'ClusterIP', 'NodePort'] as const)
  const spec: Parameters<typeof svc>[1] = {
    clusterIP: `10.96.0.${20 + i}`,
    type,
    ports: [{ name: 'http', port: udp ? 53 : 80, targetPort: 8080, protocol: udp ? 'UDP' : 'TCP', ...(type === 'NodePort' ? { nodePort: 30080 + i } : {}) }],
  }
  if (r() < 0.3) spec.sessionAffinity = 'ClientIP'
  if (r() < 0.2) spec.internalTrafficPolicy = 'Local'
  if (type === 'NodePort' && r() < 0.3) spec.externalTrafficPolicy = 'Local'
  if (r() < 0.2) spec.externalIPs = [`192.168.50.${200 + i}`]
  return svc(name, spec)
}

// sometimes more endpoints than the maps layout has slots (MAX_SLOTS): the Service moves to chains and back
const MANY = Array.from({ length: MAX_SLOTS + 2 }, (_, i) => `10.244.4.${10 + i}`)

function randomSlice(r: () => number, name: string, udp: boolean): EndpointSlice {
  const ips = r() < 0.15 ? MANY : IPS
  const eps = ips.filter(() => r() < 0.6 || ips === MANY).map((ip) => ({ ip, node: r() < 0.5 ? NODE.name : 'node-b', ready: r() < 0.8 || ips === MANY }))
  return slice(name, eps, { protocol: udp ? 'UDP' : 'TCP' })
}

/** Drive `p` through `steps` random changes, syncing after each; returns the final objects. */
async function fuzz(p: Proxier, seed: number, steps: number): Promise<{ services: Map<string, Service>; slices: Map<string, EndpointSlice> }> {
  const r = rng(seed)
  const services = new Map<string, Service>()
  const slices = new Map<string, EndpointSlice>()
  p.setSynced()
  await p.syncNow()
  for (let k = 0; k < steps; k++) {
    const i = Math.floor(r() * NAMES.length)
    const name = NAMES[i]!
    const what = r()
    if (what < 0.35) {
      const next = randomService(r, name, i)
      p.onService(services.get(name), next)
      services.set(name, next)
    } else if (what < 0.45) {
      p.onService(services.get(name), undefined)
      services.delete(name)
    } else if (what < 0.9) {
      const udp = services.get(name)?.spec?.ports?.[0]?.protocol === 'UDP'
      const next = randomSlice(r, name, udp)
      p.onEndpointSlice(slices.get(name), next)
      slices.set(name, next)
    } else {
      p.onEndpointSlice(slices.get(name), undefined)
      slices.delete(name)
    }
    // sometimes several changes coalesce into one sync
    if (r() < 0.7) {
      const res = await p.syncNow()
      if (res.full) throw new Error(`seed ${seed} step ${k}: unexpected full sync`)
    }
  }
  await p.syncNow()
  return { services, slices }
}

function proxier(backend: NftBackend): Proxier {
  return new Proxier({ backend, node: { ...NODE }, manual: true })
}

function feedAll(p: Proxier, o: { services: Map<string, Service>; slices: Map<string, EndpointSlice> }): void {
  for (const s of o.services.values()) p.onService(undefined, s)
  for (const s of o.slices.values()) p.onEndpointSlice(undefined, s)
  p.setSynced()
}

/** A table's content, order-free where the kernel's order is not ours (sets, elements). */
function canonical(states: Map<string, NftTableState>): string {
  const out: string[] = []
  for (const name of [...states.keys()].sort()) {
    const st = states.get(name)!
    out.push(`table ${name}`)
    for (const c of [...st.chains.keys()].sort()) out.push(`chain ${c}`, ...st.chains.get(c)!.rules.map((x) => `  ${normalizeRule(x)}`))
    for (const s of [...st.sets.keys()].sort()) {
      const set = st.sets.get(s)!
      out.push(`${set.kind} ${s} ${set.type} ${[...set.flags].sort().join(',')} ${set.timeout ?? ''}`)
      out.push(...[...set.elements].map(([k, v]) => `  ${k} : ${normalizeRule(v ?? '')}`).sort())
    }
  }
  return out.join('\n')
}

async function readAll(nft: NftRunner, b: NftBackend): Promise<Map<string, NftTableState>> {
  return nft.readTables!('ip', b.state.tables)
}

const LAYOUTS = [
  { shards: 0, dispatch: 'cascade' },
  { shards: 3, dispatch: 'cascade' },
  { shards: 0, dispatch: 'maps' },
] as const

t.test('fake: incremental == full, 40 seeds × 60 steps, sharded, not, and the maps layout', async (t) => {
  for (const { shards, dispatch } of LAYOUTS)
    for (let seed = 1; seed <= 40; seed++) {
      const inc = new FakeNft()
      const bInc = new NftBackend(inc, { clusterCIDR: NODE.clusterCIDR, dispatch }, { adopt: true, shards })
      const final = await fuzz(proxier(bInc), seed, 60)
      const full = new FakeNft()
      const bFull = new NftBackend(full, { clusterCIDR: NODE.clusterCIDR, dispatch }, { shards })
      const pf = proxier(bFull)
      feedAll(pf, final)
      await pf.syncNow()
      const a = canonical(await readAll(inc, bInc))
      const b = canonical(await readAll(full, bFull))
      if (a !== b) {
        t.equal(a, b, `${dispatch} shards ${shards} seed ${seed}`)
        return
      }
      // a restart adopting the incrementally built tables writes nothing
      const bAdopt = new NftBackend(inc, { clusterCIDR: NODE.clusterCIDR, dispatch }, { adopt: true, shards })
      const pa = proxier(bAdopt)
      feedAll(pa, final)
      await pa.syncNow()
      if (bAdopt.lastPlan!.txs.length) {
        t.same(bAdopt.lastPlan!.txs.map((x) => x.render()), [], `${dispatch} shards ${shards} seed ${seed}: adoption wrote something`)
        return
      }
    }
  t.pass('all seeds equal, adoption wrote nothing')
})

t.test('kernel: netlink incremental == nft -f full sync, sharded', { skip: need('nft', 'addon:setns') }, async (t) => {
  const nsInc = await withNetns(t, 'eqi')
  const nsFull = await withNetns(t, 'eqf')
  for (const seed of [7, 8, 9]) {
    const inc = new NftNetlinkRunner(nsInc)
    const bInc = new NftBackend(inc, { clusterCIDR: NODE.clusterCIDR, dispatch: 'cascade' }, { adopt: true, chunkOps: 40, shards: 3 })
    const final = await fuzz(proxier(bInc), seed, 40)
    t.ok(inc.sent.netlink > 0, `seed ${seed}: ${inc.sent.netlink} netlink batches, ${inc.sent.nft} through nft -f`)
    const full = new NftExec(nsFull)
    const bFull = new NftBackend(full, { clusterCIDR: NODE.clusterCIDR, dispatch: 'cascade' }, { shards: 3 })
    const pf = proxier(bFull)
    feedAll(pf, final)
    await pf.syncNow()
    const a = await readAll(new NftExec(nsInc), bInc)
    t.equal(a.size, 4, 'main + 3 shard tables')
    t.equal(canonical(a), canonical(await readAll(full, bFull)), `seed ${seed}: the same tables`)
    const bAdopt = new NftBackend(new NftNetlinkRunner(nsInc), { clusterCIDR: NODE.clusterCIDR, dispatch: 'cascade' }, { adopt: true, chunkOps: 40, shards: 3 })
    const pa = proxier(bAdopt)
    feedAll(pa, final)
    await pa.syncNow()
    t.same(bAdopt.lastPlan!.txs.map((x) => x.render()), [], `seed ${seed}: adopting the kernel's tables writes nothing`)
    inc.close()
    bAdopt.close()
  }
})

t.test('kernel: maps layout, netlink incremental == nft -f full sync', { skip: need('nft', 'addon:setns') }, async (t) => {
  const nsInc = await withNetns(t, 'eqmi')
  const nsFull = await withNetns(t, 'eqmf')
  const cfg = { clusterCIDR: NODE.clusterCIDR, dispatch: 'maps' } as const
  for (const seed of [11, 12, 13]) {
    const inc = new NftNetlinkRunner(nsInc)
    const bInc = new NftBackend(inc, cfg, { adopt: true, chunkOps: 40 })
    const final = await fuzz(proxier(bInc), seed, 40)
    t.ok(inc.sent.netlink > inc.sent.nft, `seed ${seed}: ${inc.sent.netlink} netlink batches, ${inc.sent.nft} through nft -f`)
    const full = new NftExec(nsFull)
    const bFull = new NftBackend(full, cfg)
    const pf = proxier(bFull)
    feedAll(pf, final)
    await pf.syncNow()
    t.equal(canonical(await readAll(new NftExec(nsInc), bInc)), canonical(await readAll(full, bFull)), `seed ${seed}: the same table`)
    const bAdopt = new NftBackend(new NftNetlinkRunner(nsInc), cfg, { adopt: true, chunkOps: 40 })
    const pa = proxier(bAdopt)
    feedAll(pa, final)
    await pa.syncNow()
    t.same(bAdopt.lastPlan!.txs.map((x) => x.render()), [], `seed ${seed}: adopting the kernel's table writes nothing`)
    inc.close()
    bAdopt.close()
  }
})
