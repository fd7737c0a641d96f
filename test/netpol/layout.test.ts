// The sharded kernel layout (nftables.ts), read back from the planner's own output: every
// element of an allow set lands in the shard of its local pod (the address's low 6 bits), the
// shard vmap sends that shard to the chain that looks up exactly those sets, and a packet costs
// the same number of lookups whatever the number of policies.
import t from 'tap'
import { computeDesired, SETS } from '../../src/netpol/core.js'
import { baseObjects, CHAINS, kernelSet, NetpolNftState, SHARD_MAPS, SHARDS } from '../../src/netpol/nftables.js'
import { policy, world } from './world.js'

const lastBits = (addr: string): number => Number(addr.split('.')[3]) % SHARDS

t.test('every allow element sits in the shard of its local pod; isolation sets stay whole', async (t) => {
  const w = world()
  w.policies.push(
    policy('x', 'all', { policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ namespaceSelector: {} }] }], egress: [{ ports: [{ port: 80, endPort: 81, protocol: 'TCP' }] }] }),
    policy('y', 'p81', { ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }] }),
  )
  const d = computeDesired({ nodeName: 'node1', ...w })
  const tx = new NetpolNftState().planFull(d).tx
  let checked = 0
  for (const { obj } of tx.ops) {
    if (obj.kind !== 'element' || obj.set.endsWith('-shards')) continue
    const local = obj.key.split(' ')[0]!
    if (obj.set === SETS.ingressIsolated || obj.set === SETS.egressIsolated) continue
    const m = /^(.*)-(\d+)$/.exec(obj.set)
    t.ok(m && Number(m[2]) === lastBits(local), `${obj.key} in ${obj.set}`)
    checked++
  }
  t.ok(checked > 5, `${checked} allow elements checked`)
  t.equal(kernelSet(SETS.ingressIsolated, '10.244.1.10'), SETS.ingressIsolated, 'isolation: one hash set')
  t.equal(kernelSet(SETS.egressPorts, '10.244.1.77 . 10.0.0.0-10.255.255.255 . tcp . 80'), `${SETS.egressPorts}-13`, '77 & 63 = 13')
})

t.test('the shard vmaps dispatch each shard to the chain that reads its sets', async (t) => {
  const b = baseObjects()
  for (const dir of ['ingress', 'egress'] as const) {
    const els = b.shardElements.filter((e) => e.map === SHARD_MAPS[dir])
    t.equal(els.length, SHARDS, `${dir}: one map entry per shard`)
    const pair = dir === 'ingress' ? 'ip daddr . ip saddr' : 'ip saddr . ip daddr'
    for (const e of els) {
      const i = Number(e.key.split('.')[3])
      const chain = /^goto (\S+)$/.exec(e.value)![1]!
      const rules = b.rules.filter(([c]) => c === chain).map(([, r]) => r)
      t.same(rules, [`${pair} @${dir}-all-${i} return`, `${pair} . meta l4proto . th dport @${dir}-ports-${i} return`, `goto ${CHAINS.deny}`], `${dir} shard ${i}`, { diagnostic: false })
    }
    const check = b.rules.filter(([c]) => c === CHAINS[dir]).map(([, r]) => r)
    t.same(check, [`ip ${dir === 'ingress' ? 'daddr' : 'saddr'} & 0.0.0.${SHARDS - 1} vmap @${SHARD_MAPS[dir]}`, `goto ${CHAINS.deny}`], `${dir}-check: one vmap lookup`)
  }
  // lookups a new connection can cost: forward's 2 isolation sets, then per direction the
  // vmap and the shard's 2 sets — counted from the rules, the same with 1 or 10,000 policies
  const lookups = (chain: string): number => b.rules.filter(([c]) => c === chain).reduce((n, [, r]) => n + (r.match(/@/g)?.length ?? 0), 0)
  t.equal(lookups(CHAINS.forward) + lookups(CHAINS.ingress) + lookups('ingress-0') + lookups(CHAINS.egress) + lookups('egress-0'), 2 + 2 * 3)
})
