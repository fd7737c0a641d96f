// The edge without root: the controller over FakeNft. First sync full (adopts a predecessor's
// table), then element diffs only; status churn costs nothing; a failed transaction changes
// nothing and the next sync is full; incremental and full syncs reach the same kernel state.
import t from 'tap'
import { FakeNft } from '../../src/net/nft.js'
import { NetpolController } from '../../src/netpol/controller.js'
import { NFT_FAMILY, NFT_TABLE } from '../../src/netpol/nftables.js'
import { NetpolMetrics } from '../../src/netpol/metrics.js'
import { policy, world } from './world.js'

function setup() {
  const w = world()
  const nft = new FakeNft()
  const metrics = new NetpolMetrics()
  const c = new NetpolController({ nft, nodeName: 'node1', manual: true, metrics, source: { pods: () => w.pods, namespaces: () => w.namespaces, policies: () => w.policies } })
  c.setSynced()
  return { w, nft, c, metrics }
}

t.test('full first, then element diffs; full and incremental agree', async (t) => {
  const { w, nft, c } = setup()
  // a predecessor's leftovers are replaced, not duplicated
  nft.tables.set(`${NFT_FAMILY} ${NFT_TABLE}`, { chains: new Map([['stale', { rules: ['drop'] }]]), sets: new Map() })
  const first = await c.syncNow()
  t.equal(first.full, true)
  t.notMatch(nft.dump(NFT_FAMILY, NFT_TABLE)!, /stale/, 'predecessor table replaced')
  // replies of allowed flows first, then egress on the source node, then ingress
  t.match(nft.dump(NFT_FAMILY, NFT_TABLE)!, /chain netpol-forward \[filter forward 0\]\n  ct state established,related accept\n  ip saddr @egress-isolated jump egress-check\n  ip daddr @ingress-isolated jump ingress-check\n/)

  w.policies.push(policy('x', 'deny', {}))
  c.onChange('policy', undefined, w.policies[0])
  const inc = await c.syncNow()
  t.equal(inc.full, false)
  t.ok(inc.added > 0 && inc.deleted === 0)
  const tx = nft.lastTransaction!.render()
  t.notMatch(tx, /table|chain|rule/, 'an incremental sync touches elements only')
  t.match(tx, /^add element ip netkube-netpol ingress-isolated \{ 10\.244\.1\.10 \}$/m)

  const incremental = nft.dump(NFT_FAMILY, NFT_TABLE)
  await c.syncNow(true)
  t.equal(nft.dump(NFT_FAMILY, NFT_TABLE), incremental, 'a full rebuild gives the same table')

  c.onChange('policy', w.policies.pop(), undefined)
  const del = await c.syncNow()
  t.ok(del.deleted > 0 && del.added === 0, 'policy deleted: its elements go')
  t.match(nft.lastTransaction!.render(), /^delete element ip netkube-netpol ingress-isolated \{ 10\.244\.1\.10 \}$/m)
})

t.test('change tracking: status churn is no change, a label is', async (t) => {
  const { w, c } = setup()
  await c.syncNow()
  const p = w.pods[0]!
  const churn = structuredClone(p)
  churn.status!.conditions = [{ type: 'Ready', status: 'True' }]
  c.onChange('pod', p, churn)
  t.equal(c.changes.size, 0, 'conditions do not matter to policy')
  const relabel = structuredClone(p)
  relabel.metadata.labels = { pod: 'z' }
  c.onChange('pod', p, relabel)
  t.equal(c.changes.size, 1)
  c.onChange('pod', relabel, p)
  t.equal(c.changes.size, 0, 'a change undone before the sync vanishes')
})

t.test('a failed transaction: nothing changes, the next sync is full', async (t) => {
  const { w, nft, c, metrics } = setup()
  await c.syncNow()
  const before = nft.dump(NFT_FAMILY, NFT_TABLE)
  w.policies.push(policy('x', 'deny', {}))
  nft.failNext = 'other'
  await t.rejects(c.syncNow())
  t.equal(nft.dump(NFT_FAMILY, NFT_TABLE), before, 'kernel unchanged')
  t.equal((await metrics.failures.get()).values[0]!.value, 1)
  const retry = await c.syncNow()
  t.equal(retry.full, true, 'full resync after the failure')
  t.match(nft.dump(NFT_FAMILY, NFT_TABLE)!, /10\.244\.1\.10/)
  const lat = await metrics.programmingLatency.get()
  t.ok(lat.values.some((v) => v.metricName?.endsWith('_count')), 'programming latency observed')
})
