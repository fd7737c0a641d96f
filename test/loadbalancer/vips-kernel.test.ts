// The announcer's edge (src/loadbalancer/vips.ts) against the real kernel, in namespaces this
// test creates: an outside namespace with the wire (a bridge) and two node namespaces on it.
// Node A holds a LoadBalancer IP and dies the way a killed agent leaves it — the refreshes
// stop, the /32 stays behind — and its cable is pulled; node B takes over a lease later, as
// the speakers decide. The kernel drops A's /32 by itself within its lifetime, so when A's
// cable goes back in, every ARP probe from outside is answered once, by B (sampled with
// `busybox arping -b` from the outside namespace), and `ip -j addr` in A shows no /32.
import t from 'tap'
import { netnsHandle } from '../../src/net/door.js'
import { createVipHolder, type VipHolder } from '../../src/loadbalancer/vips.js'
import { need } from '../helpers/prereq.js'
import { withNetns } from '../helpers/netns.js'

const VIP = '10.77.0.100'
const LIFETIME_S = 2

interface IpJsonAddr {
  addr_info: { family: string; local: string; prefixlen: number; dynamic?: boolean; valid_life_time?: number }[]
}

/** The VIP's entry in `ip -j addr show dev eth0` of `ns`, or undefined. */
async function vipIn(ns: string): Promise<IpJsonAddr['addr_info'][number] | undefined> {
  const r = await netnsHandle(ns).run('ip', ['-j', 'addr', 'show', 'dev', 'eth0'])
  return (JSON.parse(r.stdout) as IpJsonAddr[]).flatMap((l) => l.addr_info).find((a) => a.local === VIP && a.prefixlen === 32)
}

/**
 * Broadcast ARP probes for the VIP from outside, `probes` of them per sampler, samplers 1/n s
 * apart, each from its own address (.11, .12, …: arping counts only the replies to its own
 * source, not the other samplers'): every reply's MAC.
 */
async function arpSample(outside: string, samplers: number, probes: number): Promise<{ sent: number; macs: string[] }> {
  const one = async (delayMs: number, i: number): Promise<{ sent: number; macs: string[] }> => {
    await new Promise((r) => setTimeout(r, delayMs))
    // -b: keep broadcasting (after a reply arping would probe only the first answerer's MAC)
    const r = await netnsHandle(outside).run('busybox', ['arping', '-b', '-c', String(probes), '-w', String(probes), '-I', 'br0', '-s', `10.77.0.${11 + i}`, VIP], { allowFailure: true, timeoutMs: (probes + 5) * 1000 })
    return { sent: Number(/Sent (\d+) probe/.exec(r.stdout)?.[1] ?? 0), macs: [...r.stdout.matchAll(/reply from \S+ \[([0-9a-f:]+)\]/gi)].map((m) => m[1]!.toLowerCase()) }
  }
  const all = await Promise.all(Array.from({ length: samplers }, (_, i) => one((i * 1000) / samplers, i)))
  return { sent: all.reduce((a, x) => a + x.sent, 0), macs: all.flatMap((x) => x.macs) }
}

t.test('a dead holder’s /32 expires: after it returns, one node answers ARP', { skip: need('addon:setns', 'busybox') }, async (t) => {
  const outside = await withNetns(t, 'vo')
  const [a, b] = [await withNetns(t, 'va'), await withNetns(t, 'vb')]
  await netnsHandle(outside).ipBatch(['link add br0 type bridge', 'link set br0 up', 'addr add 10.77.0.1/24 dev br0', ...[11, 12, 13].map((x) => `addr add 10.77.0.${x}/24 dev br0`)])
  const macs: Record<string, string> = {}
  for (const [ns, x, ip] of [[a, 'a', '10.77.0.2'], [b, 'b', '10.77.0.3']] as const) {
    await netnsHandle(outside).ipBatch([`link add p${x} type veth peer name eth0 netns ${ns}`, `link set p${x} master br0 up`])
    await netnsHandle(ns).ipBatch(['link set eth0 up', `addr add ${ip}/24 dev eth0`])
    macs[x] = (await netnsHandle(ns).withOps((o) => o.getLink('eth0')))!.mac!
  }
  const cable = (up: boolean): Promise<unknown> => netnsHandle(outside).withOps((o) => o.setLink('pa', { up }))
  const holders: VipHolder[] = []
  t.teardown(async () => {
    for (const h of holders) await h.close().catch(() => undefined)
  })
  const holderA = createVipHolder({ iface: 'eth0', netns: a, lifetimeS: LIFETIME_S, refreshMs: 250 })
  holders.push(holderA)
  await holderA.add(VIP)

  // held past its lifetime: the refreshes keep it, with the lifetime the kernel counts down
  await new Promise((r) => setTimeout(r, (LIFETIME_S + 0.5) * 1000))
  const held = await vipIn(a)
  t.ok(held?.dynamic, `A holds ${VIP}/32 ${LIFETIME_S + 0.5} s after adding it, as a dynamic address (${JSON.stringify(held)})`)
  t.ok(held && held.valid_life_time! >= 1 && held.valid_life_time! <= LIFETIME_S, `valid_lft ${held?.valid_life_time} s of ${LIFETIME_S}: refreshed`)

  // A dies: its refreshes stop with the /32 left behind (what kill -9 leaves), its cable is out
  await cable(false)
  await holderA.close({ keep: true })
  const died = Date.now()
  t.ok(await vipIn(a), 'the dead agent left its /32 behind')
  // B takes over a lease later (the speakers' decision; speaker tests cover when)
  await new Promise((r) => setTimeout(r, 1000))
  const holderB = createVipHolder({ iface: 'eth0', netns: b, lifetimeS: LIFETIME_S, refreshMs: 250 })
  holders.push(holderB)
  await holderB.add(VIP)
  while ((await vipIn(a)) && Date.now() - died < (LIFETIME_S + 2) * 1000) await new Promise((r) => setTimeout(r, 50))
  const goneMs = Date.now() - died
  t.equal(await vipIn(a), undefined, `A's kernel dropped the /32 by itself, ${goneMs} ms after its last refresh`)
  t.ok(goneMs <= LIFETIME_S * 1000 + 1000, `within its lifetime (${LIFETIME_S} s) and the kernel's timer slack`)

  // A returns: cable in. Every probe sent from outside from then on gets one answer, B's.
  await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - died))))
  await cable(true)
  const sample = await arpSample(outside, 3, 2)
  t.comment(`after A returned: ${sample.sent} ARP probes, ${sample.macs.length} replies (${[...new Set(sample.macs)].join(', ')}); A ${macs.a}, B ${macs.b}`)
  t.ok(sample.sent >= 6, `${sample.sent} probes sent`)
  t.equal(sample.macs.length, sample.sent, 'each probe answered exactly once: no second holder')
  t.same([...new Set(sample.macs)], [macs.b], 'by B, the successor')
  t.equal(await vipIn(a), undefined, 'A holds nothing after its return')
  t.ok((await vipIn(b))?.dynamic, 'B holds it, refreshed')
})
