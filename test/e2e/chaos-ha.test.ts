// Issue #10's chaos suite against `lab up --ha` (3 etcd members, apiservers on node1 and
// node2, relays that fail over): the same seeded kill -9 loop, now over etcd members, each
// apiserver and the relays as well. Besides the checks of chaos.test.ts, writes must continue
// through the death of one etcd member or one apiserver: p99 of the longest stretch without
// an acknowledged write after such a kill under 2 s. CHAOS_SEED reruns a seed.
import t from 'tap'
import { randomInt } from 'node:crypto'
import { labPlan } from '../../src/lab/plan.js'
import { summarize } from '../../src/chaos/recovery.js'
import { withLab } from '../helpers/lab.js'
import { chaosSuite } from '../helpers/chaos.js'
import { need } from '../helpers/prereq.js'

const seed = Number(process.env.CHAOS_SEED ?? randomInt(1, 2 ** 31))
const durationMs = Number(process.env.CHAOS_DURATION_MS ?? 60_000)
// `lab up --ha` comes with branch h-labha; until it is merged this file says so as a skip.
const haBuilt = (labPlan as (...a: unknown[]) => { ha?: boolean })('chk', 3, { ha: true }).ha === true

t.test(`chaos in a 3-node HA lab (seed ${seed})`, { skip: haBuilt ? need('build', 'etcd', 'dnsmasq', 'nft', 'dig') : 'lab up --ha is not in this build (h-labha not merged)' }, async (t) => {
  const lab = await withLab(t, { ha: true, serverFlags: ['--dns-replicas', '2'] })
  await chaosSuite(t, lab, {
    seed,
    durationMs,
    between: (report) => {
      for (const want of ['etcd/node1', 'etcd/node2', 'etcd/node3', 'server/node1', 'server/node2', 'relay/host']) t.ok(report.targets.includes(want), `${want} is in the kill-set`)
      // One member or one apiserver of several: the cluster keeps accepting writes.
      const blips = summarize(report.rows.filter((r) => /^(etcd|server)\//.test(r.target)).map((r) => r.writeBlipMs))
      t.equal(blips.missing, 0, 'writes were acknowledged after every etcd-member and apiserver kill')
      t.ok((blips.p99 ?? Infinity) < 2000, `write blip p99 after an etcd-member or apiserver kill < 2 s (p50 ${blips.p50} ms, p99 ${blips.p99} ms, max ${blips.max} ms over ${blips.n})`)
    },
  })
})
