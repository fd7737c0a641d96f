// The netlink encoder against the real kernel and the real nft: every rule form the proxy
// writes, sent once through `nft -f` into one table and once as a netlink batch into another,
// must list identically (`nft list table`); errors come back classified and change nothing.
import t from 'tap'
import { NftExec, NftTransaction, type NftSet } from '../../src/net/nft.js'
import { NftNetlink, encodeRule } from '../../src/net/nft-netlink.js'
import { runIn } from '../../src/net/netns.js'
import { withNetns, cleanupRunNamespaces } from '../helpers/netns.js'
import { need } from '../helpers/prereq.js'

t.teardown(cleanupRunNamespaces)

export const RULE_FORMS = [
  'ip daddr 10.96.1.1 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade',
  'ip daddr 10.96.1.1 udp dport 53 ip saddr != 10.240.0.0/12 jump mark-for-masquerade',
  'ip daddr 10.96.1.1 sctp dport 9 ip saddr != 10.0.0.0/8 jump mark-for-masquerade',
  'ip saddr @aff goto c2',
  'numgen random mod 3 == 0 goto c2',
  'numgen random mod 7 == 0 goto c2',
  'goto c2',
  'jump c2',
  'ip saddr 10.244.1.11 jump mark-for-masquerade',
  'update @aff { ip saddr }',
  'meta l4proto tcp dnat to 10.244.1.11:8080',
  'meta l4proto udp dnat to 10.244.1.12:53',
  'ip saddr 10.244.0.0/16 goto c2',
  'ip saddr 10.244.16.0/20 goto c2',
  'fib saddr type local jump mark-for-masquerade',
  'fib saddr type local goto c2',
  'drop',
]
const AFF: NftSet = { kind: 'set', name: 'aff', type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 10800 }

function base(table: string): NftTransaction {
  const tx = new NftTransaction('ip', table)
  tx.add({ kind: 'table' })
  tx.add({ kind: 'chain', name: 'mark-for-masquerade' })
  tx.add({ kind: 'map', name: 'm', type: 'ipv4_addr . inet_proto . inet_service : verdict' })
  tx.add({ kind: 'map', name: 'n', type: 'inet_proto . inet_service : verdict' })
  return tx
}
function body(table: string): NftTransaction {
  const tx = new NftTransaction('ip', table)
  tx.add(AFF)
  tx.add({ kind: 'chain', name: 'c' }).add({ kind: 'chain', name: 'c2' })
  for (const rule of RULE_FORMS) tx.add({ kind: 'rule', chain: 'c', rule })
  tx.add({ kind: 'element', set: 'm', key: '10.96.1.1 . tcp . 80', value: 'goto c' })
  tx.add({ kind: 'element', set: 'm', key: '10.96.1.2 . udp . 53', value: 'drop' })
  tx.add({ kind: 'element', set: 'm', key: '10.96.1.3 . tcp . 443', value: 'goto reject-chain' })
  tx.add({ kind: 'element', set: 'n', key: 'tcp . 30080', value: 'goto c2' })
  return tx
}

t.test('netlink and nft -f write the same table', { skip: need('nft', 'addon:setns') }, async (t) => {
  const ns = await withNetns(t, 'nl')
  const nft = new NftExec(ns)
  const nl = new NftNetlink(ns)
  t.teardown(() => nl.close())
  for (const name of ['viatext', 'vianl']) {
    const b = base(name)
    b.add({ kind: 'chain', name: 'reject-chain' })
    await nft.apply(b)
  }
  await nft.apply(body('viatext'))
  await nl.apply(body('vianl'))
  const text = (await nft.listTable('ip', 'viatext'))!
  const viaNl = (await nft.listTable('ip', 'vianl'))!.replace('table ip vianl', 'table ip viatext')
  t.equal(viaNl, text, 'nft lists the netlink-written table exactly as the nft-written one')
  t.match(text, /numgen random mod 3 0 goto c2/)

  // incremental ops: delete elements, flush and delete a chain, delete the set
  const inc = (name: string): NftTransaction =>
    new NftTransaction('ip', name)
      .delete({ kind: 'element', set: 'm', key: '10.96.1.2 . udp . 53' })
      .delete({ kind: 'element', set: 'm', key: '10.96.1.1 . tcp . 80' })
      .delete({ kind: 'element', set: 'n', key: 'tcp . 30080' })
      .flush({ kind: 'chain', name: 'c' })
      .delete({ kind: 'chain', name: 'c' })
      .add({ kind: 'rule', chain: 'c2', rule: 'meta l4proto tcp dnat to 10.244.1.13:8080' })
  await nft.apply(inc('viatext'))
  await nl.apply(inc('vianl'))
  t.equal((await nft.listTable('ip', 'vianl'))!.replace('table ip vianl', 'table ip viatext'), await nft.listTable('ip', 'viatext'))

  // a batch with one failing op fails as a whole: nothing changes
  const before = await nft.listTable('ip', 'vianl')
  const bad = new NftTransaction('ip', 'vianl').add({ kind: 'chain', name: 'new-one' }).delete({ kind: 'chain', name: 'does-not-exist' })
  await t.rejects(nl.apply(bad), { message: /.+/, kind: 'notFound' })
  t.equal(await nft.listTable('ip', 'vianl'), before, 'a failed batch changed nothing')
  // and the socket still works afterwards
  await nl.apply(new NftTransaction('ip', 'vianl').add({ kind: 'chain', name: 'new-one' }))
  t.match(await nft.listTable('ip', 'vianl'), /chain new-one/)

  // chunked: many batches, each its own transaction
  const big = new NftTransaction('ip', 'vianl')
  for (let i = 0; i < 3000; i++) big.add({ kind: 'chain', name: `k${i}` }).add({ kind: 'rule', chain: `k${i}`, rule: `meta l4proto tcp dnat to 10.244.1.11:${1000 + i}` })
  const n = await nl.applyChunked(big, 64 * 1024)
  t.ok(n > 3, `split into ${n} batches`)
  const list = await runIn(ns, 'nft', ['list', 'chain', 'ip', 'vianl', 'k2999'])
  t.match(list.stdout, /dnat to 10.244.1.11:3999/)
})

t.test('rules outside the vocabulary are refused before anything is sent', async (t) => {
  for (const r of ['ct state new jump x', 'counter', 'ip daddr 10.0.0.1 goto a b', 'numgen inc mod 2 == 0 goto x', 'numgen random mod 2 vmap { 0 : goto a, 1 : goto b }'])
    t.throws(() => encodeRule(r), { name: 'NftUnsupported' }, r)
  t.ok(encodeRule('goto x').length > 0)
})
