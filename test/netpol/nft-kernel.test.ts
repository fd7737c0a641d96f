// The netpol table in a real kernel: a full sync through `nft -f`, then element diffs (ranges
// in concatenated interval sets) sent once through `nft -f` into one table and once as a
// netlink batch (NftNetlinkRunner) into a twin: both must list identically, the netlink path
// must really have been taken, and a delete of a range element must remove exactly it.
import t from 'tap'
import { NftExec } from '../../src/net/nft.js'
import { NftNetlinkRunner } from '../../src/net/nft-netlink.js'
import { IncrementalNetpol, objectKey } from '../../src/netpol/incremental.js'
import { NetpolNftState } from '../../src/netpol/nftables.js'
import { withNetns, cleanupRunNamespaces } from '../helpers/netns.js'
import { need } from '../helpers/prereq.js'
import { policy, world } from './world.js'

t.teardown(cleanupRunNamespaces)

t.test('element diffs: netlink and nft -f give the same table', { skip: need('nft', 'addon:setns') }, async (t) => {
  const ns = await withNetns(t, 'np')
  const exec = new NftExec(ns)
  const nl = new NftNetlinkRunner(ns)
  t.teardown(() => nl.close())
  const w = world()
  const core = new IncrementalNetpol('node1')
  for (const n of w.namespaces) core.setNamespace(n.metadata.name!, n)
  for (const p of w.pods) core.setPod(objectKey(p), p)
  core.flush()
  const tables = { viatext: new NetpolNftState('viatext'), vianl: new NetpolNftState('vianl') }
  for (const s of Object.values(tables)) await exec.apply(s.planFull(core.desired()).tx)
  // policies with ranges on both axes: an ipBlock with except, endPort, named and all-ports rules
  const steps = [
    policy('x', 'except', { policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.2.0/24'] } }], ports: [{ port: 80, endPort: 90, protocol: 'TCP' }] }], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] }),
    policy('x', 'named', { ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }] }),
  ]
  const check = async (what: string): Promise<string> => {
    const text = (await exec.listTable('ip', 'viatext'))!
    const viaNl = (await exec.listTable('ip', 'vianl'))!.replace('table ip vianl', 'table ip viatext')
    t.equal(viaNl, text, what)
    return text
  }
  for (const np of steps) {
    core.setPolicy(objectKey(np), np)
    const diff = core.flush()
    await exec.apply(tables.viatext.planDiff(diff).tx)
    await nl.apply(tables.vianl.planDiff(diff).tx)
  }
  const both = await check('two policies added as element diffs')
  t.match(both, /10\.244\.1\.10 \. 10\.244\.0\.0-10\.244\.1\.9 \. tcp \. 80-90/, 'a range on the address and on the port')
  t.equal(nl.sent.netlink, 2, 'the diffs went over netlink, not through nft')
  // delete the first: its range elements go, the other policy's stay
  core.setPolicy('x/except', undefined)
  const diff = core.flush()
  await exec.apply(tables.viatext.planDiff(diff).tx)
  await nl.apply(tables.vianl.planDiff(diff).tx)
  const after = await check('a policy deleted as element diffs')
  t.notMatch(after, /80-90/, 'range elements deleted')
  t.match(after, /udp \. 81/, 'the other policy stays')
})
