// LoadBalancer IPs through the real kernel, in namespaces this test creates: the node holds
// the LB IP as a /32 on its uplink (what the L2 announcer does), a client on that link
// connects to it, and a pod server answers with the source address it saw. Per mode
// (nftables over nft -f and over netlink, iptables): Cluster → the node's address (SNAT),
// Local → the client's own, loadBalancerSourceRanges → others dropped, listed ones served.
import t from 'tap'
import type { ChildProcess } from 'node:child_process'
import type { Service } from '../../src/api/types.js'
import { NftExec } from '../../src/net/nft.js'
import { NftNetlinkRunner } from '../../src/net/nft-netlink.js'
import { ipBatch, nsenterRun } from '../../src/net/netns.js'
import { spawnInNetns } from '../../src/net/spawn.js'
import { IptablesBackend, IptablesExec } from '../../src/proxy/iptables.js'
import { NftBackend } from '../../src/proxy/nft-backend.js'
import { NFT_TABLE } from '../../src/proxy/nftables.js'
import { ensureNodePrerequisites } from '../../src/proxy/node.js'
import { Proxier } from '../../src/proxy/proxier.js'
import type { ProxyBackend } from '../../src/proxy/backend.js'
import { buildTopology, connectMany, type Topology } from '../../bench/proxy-topology.js'
import { RUN_PREFIX, cleanupRunNamespaces } from '../helpers/netns.js'
import { slice, svc } from './fixtures.js'

const LB_IP = '192.168.50.200'
let topo: Topology
const procs: ChildProcess[] = []
t.before(async () => {
  topo = await buildTopology(RUN_PREFIX)
  await ensureNodePrerequisites(topo.node, topo.serviceCIDR, topo.clusterCIDR)
  await ipBatch(topo.node, [`addr add ${LB_IP}/32 dev up0`])
  // pod1 answers with the peer address it saw (socat sets SOCAT_PEERADDR)
  procs.push(spawnInNetns(topo.pods[0]!.ns, ['socat', 'TCP-LISTEN:8081,fork,reuseaddr', 'SYSTEM:echo $SOCAT_PEERADDR']))
  for (let i = 0; i < 50; i++) {
    const r = await connectMany(topo.pods[1]!.ns, topo.pods[0]!.ip, 8081, 1, 500)
    if (Object.keys(r.counts).length) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('pod1 peer-address server did not come up')
})
t.teardown(async () => {
  for (const p of procs) p.kill('SIGKILL')
  await topo?.destroy()
  await cleanupRunNamespaces()
})

const lbService = (name: string, port: number, spec: Partial<Service['spec']> = {}): Service => ({
  ...svc(name, { clusterIP: `10.96.0.${port}`, type: 'LoadBalancer', ports: [{ name: 'http', port, targetPort: 8081, protocol: 'TCP' }], allocateLoadBalancerNodePorts: false, ...spec }),
  status: { loadBalancer: { ingress: [{ ip: LB_IP, ipMode: 'VIP' }] } },
})
// pod1 (local) and pod2 (on another node, by its slice): Local has one local endpoint
const lbSlice = (name: string) => slice(name, [{ ip: topo.pods[0]!.ip }], { port: 8081 })

const MODES: { name: string; make: () => ProxyBackend; cleanup: string[][] }[] = [
  { name: 'nftables (nft -f)', make: () => new NftBackend(new NftExec(topo.node), { clusterCIDR: topo.clusterCIDR }), cleanup: [['nft', 'delete', 'table', 'ip', NFT_TABLE]] },
  {
    // the default layout: plain LB Services are elements; Local and source ranges keep chains
    name: 'nftables (maps, netlink)',
    make: () => new NftBackend(new NftNetlinkRunner(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'maps' }, { adopt: true, chunkOps: 50 }),
    cleanup: [['nft', 'delete', 'table', 'ip', NFT_TABLE]],
  },
  {
    name: 'nftables (netlink, sharded)',
    make: () => new NftBackend(new NftNetlinkRunner(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'cascade' }, { adopt: true, chunkOps: 50, shards: 2 }),
    cleanup: [0, 1, 2].map((i) => ['nft', 'delete', 'table', 'ip', i === 0 ? NFT_TABLE : `${NFT_TABLE}-${i - 1}`]),
  },
  {
    name: 'iptables',
    make: () => new IptablesBackend(new IptablesExec(topo.node), { clusterCIDR: topo.clusterCIDR }),
    cleanup: [['sh', '-c', 'iptables-legacy-save >/dev/null; for t in nat filter; do iptables-legacy -t $t -S | grep -q KUBE && { iptables-legacy -t $t -F; iptables-legacy -t $t -X; }; done; true']],
  },
]

for (const mode of MODES)
  t.test(`LoadBalancer IP, ${mode.name}`, async (t) => {
    const backend = mode.make()
    t.teardown(async () => {
      backend.close?.()
      for (const c of mode.cleanup) await nsenterRun(topo.node, c[0]!, c.slice(1), { allowFailure: true })
    })
    const p = new Proxier({ backend, node: { name: 'node-a', ips: [topo.nodeIP], clusterCIDR: topo.clusterCIDR, serviceCIDR: topo.serviceCIDR }, manual: true })
    let fw = lbService('lbf', 83, { loadBalancerSourceRanges: ['10.9.9.0/24'] })
    for (const s of [lbService('lbc', 81), lbService('lbl', 82, { externalTrafficPolicy: 'Local' }), fw]) {
      p.onService(undefined, s)
      p.onEndpointSlice(undefined, lbSlice(s.metadata.name!))
    }
    p.setSynced()
    await p.syncNow()

    const cluster = await connectMany(topo.client, LB_IP, 81, 5)
    t.same(cluster.errors, {}, 'Cluster: answers')
    t.notOk(cluster.counts[topo.clientIP], `Cluster: the backend does not see the client (${JSON.stringify(cluster.counts)})`)
    t.same(Object.keys(cluster.counts), ['10.244.1.1'], 'Cluster: it sees the node (SNAT to its pod-network address)')

    const local = await connectMany(topo.client, LB_IP, 82, 5)
    t.same(local.counts, { [topo.clientIP]: 5 }, 'Local: the backend sees the client address')

    const denied = await connectMany(topo.client, LB_IP, 83, 2, 1000)
    t.same(denied.errors, { ETIMEDOUT: 2 }, 'source outside loadBalancerSourceRanges: dropped')
    const allowed = lbService('lbf', 83, { loadBalancerSourceRanges: ['10.9.9.0/24', `${topo.clientIP}/32`] })
    p.onService(fw, allowed)
    fw = allowed
    await p.syncNow()
    const ok = await connectMany(topo.client, LB_IP, 83, 3)
    t.same(ok.errors, {}, 'listed source: served')

    // the status changes (the address goes): no longer programmed
    const gone: Service = { ...lbService('lbc', 81), status: { loadBalancer: {} } }
    p.onService(lbService('lbc', 81), gone)
    await p.syncNow()
    const after = await connectMany(topo.client, LB_IP, 81, 1, 1000)
    t.notOk(after.counts['10.244.1.1'], `address withdrawn from status: not DNATed any more (${JSON.stringify(after)})`)
  })
