// Issue #10 "kill -9 anything, lose nothing", bounded: a 3-node lab, ConfigMap writers, a
// Service + DNS client in a pod, and ~60 s (at least one round over every target) of seeded
// kill -9 of every supervised component and of DNS pods. Then: 0 acknowledged writes lost,
// 0 corrupt, resourceVersions increasing; components settled; proxy rules, DNS, IPAM and pod
// namespaces matching the API; and after `lab down`, nothing left. The recovery table goes to
// the TAP log. CHAOS_SEED reruns a seed.
import t from 'tap'
import { randomInt } from 'node:crypto'
import { withLab } from '../helpers/lab.js'
import { chaosSuite } from '../helpers/chaos.js'
import { need } from '../helpers/prereq.js'

const seed = Number(process.env.CHAOS_SEED ?? randomInt(1, 2 ** 31))
const durationMs = Number(process.env.CHAOS_DURATION_MS ?? 60_000)

t.test(`chaos in a 3-node lab (seed ${seed})`, { skip: need('build', 'etcd', 'dnsmasq', 'nft', 'dig') }, async (t) => {
  const lab = await withLab(t, { serverFlags: ['--dns-replicas', '2'] })
  await chaosSuite(t, lab, { seed, durationMs })
})
