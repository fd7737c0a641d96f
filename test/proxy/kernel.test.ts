// The proxy against the real kernel, in namespaces this test creates: a node with a bridge and
// three pods answering their own name, and a client namespace acting as another host.
// The proxier is fed Service/EndpointSlice objects directly (no apiserver).
import t from 'tap'
import { NftExec } from '../../src/net/nft.js'
import { NftNetlinkRunner } from '../../src/net/nft-netlink.js'
import { nsenterRun } from '../../src/net/netns.js'
import { IptablesBackend, IptablesExec } from '../../src/proxy/iptables.js'
import { NftBackend } from '../../src/proxy/nft-backend.js'
import { NFT_TABLE } from '../../src/proxy/nftables.js'
import { ensureNodePrerequisites } from '../../src/proxy/node.js'
import { Proxier } from '../../src/proxy/proxier.js'
import type { ProxyBackend } from '../../src/proxy/backend.js'
import { buildTopology, connectMany, type Topology } from '../../bench/proxy-topology.js'
import { RUN_PREFIX, cleanupRunNamespaces } from '../helpers/netns.js'
import { slice, svc } from './fixtures.js'

const CIP = '10.96.0.20'
const NP = { type: 'NodePort' as const, ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] }

let topo: Topology
t.before(async () => {
  topo = await buildTopology(RUN_PREFIX)
  await ensureNodePrerequisites(topo.node, topo.serviceCIDR, topo.clusterCIDR)
})
t.teardown(async () => {
  await topo?.destroy()
  await cleanupRunNamespaces()
})

function proxier(backend: ProxyBackend): Proxier {
  return new Proxier({ backend, node: { name: 'node-a', ips: [topo.nodeIP], clusterCIDR: topo.clusterCIDR, serviceCIDR: topo.serviceCIDR }, manual: true })
}
const eps = () => topo.pods.map((p) => ({ ip: p.ip, node: 'node-a' }))

async function waitServers(): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await connectMany(topo.pods[0]!.ns, topo.pods[2]!.ip, 8080, 1, 500)
    if (r.counts.pod3) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('pod servers did not come up')
}

// The default (cascade over netlink, Services sharded over tables) and upstream's layout
// through `nft -f` (vmap) must behave the same for packets.
const SHARDS = 4
const VARIANTS = [
  {
    name: 'nftables mode (maps layout, netlink)',
    make: () => new NftBackend(new NftNetlinkRunner(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'maps' }, { adopt: true, chunkOps: 50 }),
    tables: [NFT_TABLE],
    // every Service here fits in map elements: no per-Service chains
    serviceChains: 0,
  },
  {
    name: 'nftables mode (default: netlink, sharded)',
    make: () => new NftBackend(new NftNetlinkRunner(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'cascade' }, { adopt: true, chunkOps: 50, shards: SHARDS }),
    tables: [NFT_TABLE, ...Array.from({ length: SHARDS }, (_, i) => `${NFT_TABLE}-${i}`)],
  },
  { name: 'nftables mode (upstream layout, nft -f)', make: () => new NftBackend(new NftExec(topo.node), { clusterCIDR: topo.clusterCIDR }), tables: [NFT_TABLE] },
]
const listAll = async (tables: string[]): Promise<string> => {
  const out: string[] = []
  for (const tb of tables) out.push((await new NftExec(topo.node).listTable('ip', tb)) ?? `(no table ${tb})`)
  return out.join('')
}

for (const variant of VARIANTS)
t.test(variant.name, async (t) => {
  await waitServers()
  const backend = variant.make()
  t.teardown(() => backend.close())
  const p = proxier(backend)
  let web = svc('web', { clusterIP: CIP, ...NP })
  let webSlice = slice('web', eps())
  p.onService(undefined, web)
  p.onEndpointSlice(undefined, webSlice)
  p.onService(undefined, svc('empty', { clusterIP: '10.96.0.30' }))
  p.setSynced()
  await p.syncNow()

  t.test('node prerequisites', async (t) => {
    const fwd = await nsenterRun(topo.node, 'cat', ['/proc/sys/net/ipv4/ip_forward'])
    t.equal(fwd.stdout.trim(), '1')
    const br = await nsenterRun(topo.node, 'cat', ['/proc/sys/net/bridge/bridge-nf-call-iptables'])
    t.equal(br.stdout.trim(), '1')
    const rt = await nsenterRun(topo.node, 'ip', ['route', 'show', '10.96.0.0/12'])
    t.match(rt.stdout, /10\.96\.0\.0\/12 dev br0/)
  })

  t.test('ClusterIP: 300 new connections spread over 3 endpoints, each ≥ 15 %', async (t) => {
    const r = await connectMany(topo.client, CIP, 80, 300)
    t.same(r.errors, {}, 'no errors')
    for (const pod of ['pod1', 'pod2', 'pod3']) t.ok((r.counts[pod] ?? 0) >= 45, `${pod}: ${r.counts[pod]} of 300`)
  })

  t.test('the node itself and a pod reach the ClusterIP; a pod reaches itself (hairpin)', async (t) => {
    const fromNode = await connectMany(topo.node, CIP, 80, 30)
    t.same(fromNode.errors, {})
    t.equal(Object.keys(fromNode.counts).length, 3, 'node spreads too')
    const fromPod = await connectMany(topo.pods[0]!.ns, CIP, 80, 30)
    t.same(fromPod.errors, {}, 'same-bridge pod traffic un-DNATs (bridge-nf-call-iptables)')
    t.ok((fromPod.counts.pod1 ?? 0) > 0, 'hairpin: pod1 reached itself through the service')
  })

  t.test('NodePort answers on the node address from another namespace', async (t) => {
    const r = await connectMany(topo.client, topo.nodeIP, 30080, 30)
    t.same(r.errors, {})
    t.equal(Object.values(r.counts).reduce((a, b) => a + b, 0), 30)
  })

  t.test('no endpoints: refused at once, not a timeout', async (t) => {
    const r = await connectMany(topo.client, '10.96.0.30', 80, 5, 3000)
    t.same(r.errors, { ECONNREFUSED: 5 })
    t.comment(`refused after ${r.times.map((x) => x.toFixed(1)).join(', ')} ms`)
    const fromNode = await connectMany(topo.node, '10.96.0.30', 80, 2, 3000)
    t.same(fromNode.errors, { ECONNREFUSED: 2 }, 'also from the node itself (output hook)')
  })

  t.test('ClientIP affinity: all connections go to one endpoint', async (t) => {
    const aff = svc('web', { clusterIP: CIP, ...NP, sessionAffinity: 'ClientIP' })
    p.onService(web, aff)
    web = aff
    const res = await p.syncNow()
    t.notOk(res.full, 'incremental')
    const r = await connectMany(topo.client, CIP, 80, 60)
    t.same(r.errors, {})
    t.equal(Object.keys(r.counts).length, 1, `one endpoint: ${JSON.stringify(r.counts)}`)
    const plain = svc('web', { clusterIP: CIP, ...NP })
    p.onService(web, plain)
    web = plain
    await p.syncNow()
  })

  t.test('removing an endpoint: no new connection reaches it', async (t) => {
    const two = slice('web', eps().slice(0, 2))
    p.onEndpointSlice(webSlice, two)
    webSlice = two
    const res = await p.syncNow()
    t.notOk(res.full)
    const r = await connectMany(topo.client, CIP, 80, 100)
    t.same(r.errors, {})
    t.notOk(r.counts.pod3, `pod3 got none: ${JSON.stringify(r.counts)}`)
    t.ok(r.counts.pod1 && r.counts.pod2)
  })

  t.test('a restarted proxy adopts the table: rewritten, not duplicated', async (t) => {
    const before = await listAll(variant.tables)
    const b2 = variant.make()
    t.teardown(() => b2.close())
    const p2 = proxier(b2)
    p2.onService(undefined, web)
    p2.onEndpointSlice(undefined, webSlice)
    p2.onService(undefined, svc('empty', { clusterIP: '10.96.0.30' }))
    p2.setSynced()
    t.ok((await p2.syncNow()).full)
    const after = await listAll(variant.tables)
    t.equal(after, before, 'same ruleset after adoption')
    t.equal((after.match(/chain service-[A-Z2-7]{8}-/g) ?? []).length, 'serviceChains' in variant ? variant.serviceChains : 1)
    const tables = await nsenterRun(topo.node, 'nft', ['list', 'tables'])
    t.same(tables.stdout.trim().split('\n').sort(), variant.tables.map((tb) => `table ip ${tb}`).sort())
    if (b2.opts.adopt) t.same(b2.lastPlan!.txs, [], 'adopting an up-to-date table writes nothing')
  })

  // subtests run after this body returns: clean up in teardown, before the iptables test
  t.teardown(async () => {
    for (const tb of variant.tables) await nsenterRun(topo.node, 'nft', ['delete', 'table', 'ip', tb], { allowFailure: true })
  })
})

t.test('nftables cascade dispatch: the same spread without anonymous vmaps', async (t) => {
  const p = proxier(new NftBackend(new NftExec(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'cascade' }))
  p.onService(undefined, svc('web', { clusterIP: CIP }))
  p.onEndpointSlice(undefined, slice('web', eps()))
  p.setSynced()
  await p.syncNow()
  t.teardown(() => nsenterRun(topo.node, 'nft', ['delete', 'table', 'ip', NFT_TABLE], { allowFailure: true }).then(() => undefined))
  const r = await connectMany(topo.client, CIP, 80, 300)
  t.same(r.errors, {})
  for (const pod of ['pod1', 'pod2', 'pod3']) t.ok((r.counts[pod] ?? 0) >= 45, `${pod}: ${r.counts[pod]} of 300`)
})

t.test('iptables mode: the same ClusterIP spread, NodePort and reject', async (t) => {
  const ipt = new IptablesBackend(new IptablesExec(topo.node), { clusterCIDR: topo.clusterCIDR })
  const p = proxier(ipt)
  p.onService(undefined, svc('web', { clusterIP: CIP, ...NP }))
  p.onEndpointSlice(undefined, slice('web', eps()))
  p.onService(undefined, svc('empty', { clusterIP: '10.96.0.30' }))
  p.setSynced()
  await p.syncNow()
  await p.syncNow() // a second restore (partial, nothing changed) must not duplicate anything
  const r = await connectMany(topo.client, CIP, 80, 300)
  t.same(r.errors, {})
  for (const pod of ['pod1', 'pod2', 'pod3']) t.ok((r.counts[pod] ?? 0) >= 45, `${pod}: ${r.counts[pod]} of 300`)
  const np = await connectMany(topo.client, topo.nodeIP, 30080, 10)
  t.same(np.errors, {})
  const rej = await connectMany(topo.client, '10.96.0.30', 80, 3, 3000)
  t.same(rej.errors, { ECONNREFUSED: 3 })
  const save = await nsenterRun(topo.node, 'iptables-legacy-save', ['-t', 'nat'])
  t.equal((save.stdout.match(/-A PREROUTING .*KUBE-SERVICES/g) ?? []).length, 1, 'jump ensured once')
  t.equal((save.stdout.match(/^:KUBE-SVC-/gm) ?? []).length, 1)

  // partial syncs (only changed Services' chains in the restore) keep traffic right
  const natSave = async (): Promise<string> => (await nsenterRun(topo.node, 'iptables-legacy-save', ['-t', 'nat'])).stdout
  const chainsOf = (text: string, re: RegExp): string[] => text.split('\n').filter((l) => re.test(l)).map((l) => l.slice(1).split(' ')[0]!)
  const webSvcChains = chainsOf(await natSave(), /^:KUBE-(SVC|SEP|EXT)-/)

  t.test('iptables partial sync: an endpoint removed from one Service', async (t) => {
    p.onEndpointSlice(slice('web', eps()), slice('web', eps().slice(0, 2)))
    t.notOk((await p.syncNow()).full)
    t.same(ipt.last, { full: false, written: 4, deleted: 1 }, 'SVC, EXT and two SEP chains written, one SEP deleted')
    const r = await connectMany(topo.client, CIP, 80, 100)
    t.same(r.errors, {})
    t.notOk(r.counts.pod3, `pod3 got none: ${JSON.stringify(r.counts)}`)
    t.ok(r.counts.pod1 && r.counts.pod2)
  })

  t.test('iptables partial sync: a new Service works, the others are not rewritten', async (t) => {
    p.onService(undefined, svc('other', { clusterIP: '10.96.0.40' }))
    p.onEndpointSlice(undefined, slice('other', eps().slice(2)))
    t.notOk((await p.syncNow()).full)
    t.same(ipt.last, { full: false, written: 2, deleted: 0 }, "only other's SVC and SEP chains written")
    const r = await connectMany(topo.client, '10.96.0.40', 80, 20)
    t.same(r.counts, { pod3: 20 }, 'the new Service reaches its one endpoint')
    const w = await connectMany(topo.client, CIP, 80, 30)
    t.same(w.errors, {}, 'the kept chains of web still answer')
  })

  t.test('iptables partial sync: a removed Service has no chains left', async (t) => {
    p.onService(svc('web', { clusterIP: CIP, ...NP }), undefined)
    t.notOk((await p.syncNow()).full)
    const after = await natSave()
    const left = chainsOf(after, /^:KUBE-(SVC|SEP|EXT)-/)
    for (const c of webSvcChains) t.notOk(left.includes(c), `${c} deleted`)
    t.notMatch(after, /10\.96\.0\.20/, 'no rule mentions its ClusterIP')
    t.notMatch(after, /--dport 30080/, 'nor its NodePort')
    t.equal(left.length, 2, "only other's two chains remain")
    const r = await connectMany(topo.client, '10.96.0.40', 80, 20)
    t.same(r.counts, { pod3: 20 })
  })
})
