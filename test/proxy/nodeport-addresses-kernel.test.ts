// --nodeport-addresses against the real kernel: the node has two addresses on its uplink; with
// NodePorts limited to a CIDR holding one of them, a client host reaches the NodePort on that
// address and is refused on the other (nothing listens there), in every mode that runs here.
import t from 'tap'
import { netnsHandle } from '../../src/net/door.js'
import { NftExec } from '../../src/net/nft.js'
import { NftNetlinkRunner } from '../../src/net/nft-netlink.js'
import type { ProxyBackend } from '../../src/proxy/backend.js'
import { IptablesBackend, IptablesExec } from '../../src/proxy/iptables.js'
import { NftBackend } from '../../src/proxy/nft-backend.js'
import { ensureNodePrerequisites } from '../../src/proxy/node.js'
import { parseNodePortAddresses } from '../../src/proxy/nodeport-addresses.js'
import { Proxier } from '../../src/proxy/proxier.js'
import { buildTopology, connectMany, type Topology } from '../../bench/proxy-topology.js'
import { RUN_PREFIX, cleanupRunNamespaces } from '../helpers/netns.js'
import { slice, svc } from './fixtures.js'

const SECOND = '192.168.50.11'
let topo: Topology
t.before(async () => {
  topo = await buildTopology(`${RUN_PREFIX}n`, 1)
  await netnsHandle(topo.node).ipBatch([`addr add ${SECOND}/24 dev up0`])
  await ensureNodePrerequisites(topo.node, topo.serviceCIDR, topo.clusterCIDR)
})
t.teardown(async () => {
  await topo?.destroy()
  await cleanupRunNamespaces()
})

const MODES: { name: string; make: () => ProxyBackend }[] = [
  { name: 'nftables (maps layout, netlink)', make: () => new NftBackend(new NftNetlinkRunner(topo.node), { clusterCIDR: topo.clusterCIDR, dispatch: 'maps' }, { adopt: true }) },
  { name: 'nftables (upstream layout, nft -f)', make: () => new NftBackend(new NftExec(topo.node), { clusterCIDR: topo.clusterCIDR }) },
  { name: 'iptables', make: () => new IptablesBackend(new IptablesExec(topo.node), { clusterCIDR: topo.clusterCIDR }) },
]

const answers = async (ip: string): Promise<string> => {
  const r = await connectMany(topo.client, ip, 30080, 1, 1000)
  return Object.keys(r.counts)[0] ?? Object.keys(r.errors)[0] ?? '?'
}

for (const mode of MODES)
  t.test(mode.name, async (t) => {
    const backend = mode.make()
    const p = new Proxier({
      backend,
      node: { name: 'node-a', ips: [topo.nodeIP], clusterCIDR: topo.clusterCIDR, serviceCIDR: topo.serviceCIDR },
      manual: true,
      nodePortAddresses: parseNodePortAddresses(['192.168.50.8/31', '192.168.50.10/32']).value,
      localAddresses: () => netnsHandle(topo.node).withOps(async (ops) => (await ops.listAddresses()).map((a) => a.cidr.split('/')[0]!)),
    })
    t.teardown(async () => {
      backend.close?.()
      // the next mode starts from a clean node
      await netnsHandle(topo.node).run('nft', ['flush', 'ruleset'], { allowFailure: true })
      await netnsHandle(topo.node).run('iptables-legacy', ['-t', 'nat', '-F'], { allowFailure: true })
    })
    p.onService(undefined, svc('web', { clusterIP: '10.96.0.20', type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] }))
    p.onEndpointSlice(undefined, slice('web', [{ ip: topo.pods[0]!.ip }]))
    p.setSynced()
    for (let i = 0; i < 30 && (await connectMany(topo.client, topo.pods[0]!.ip, 8080, 1, 300).catch(() => undefined)) === undefined; i++);
    await p.syncNow()
    t.same(p.nodePortIPs, [topo.nodeIP], 'only the address inside the CIDRs is a NodePort address')
    t.equal(await answers(topo.nodeIP), 'pod1', `the NodePort answers on ${topo.nodeIP}`)
    t.equal(await answers(SECOND), 'ECONNREFUSED', `and not on ${SECOND}`)
  })
