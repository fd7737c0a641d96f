// The bridge plugin's whole ADD / DEL / CHECK story through the real handlers (handleCni →
// cmdAdd/cmdDel/cmdCheck) against a fake kernel (src/net/fake.ts + FakeNft) and a temp-dir
// IPAM store: no root, every namespace readable afterwards, every step breakable in turn.
// plugin.test.ts runs the same handlers against the real kernel.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hostVethName } from '../../cni/bridge.js'
import { FileStore } from '../../cni/ipam/store.js'
import { handleCni } from '../../cni/skel.js'
import { NftTransaction } from '../../src/net/nft.js'
import { fakeKernel, type FakeKernel } from './fake-kernel.js'
import { testNetconf } from './helpers.js'

// Fake namespaces only: nothing here exists in the kernel.
const NODE = 'nkfake-node'
const podNs = (name: string): string => `/run/netns/nkfake-${name}`

function dataDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'nkcnifake-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function netconf(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return testNetconf(dir, { ipMasq: true, ...extra }, { routes: [{ dst: '10.96.0.0/12' }] })
}

/** A node namespace (the host side, as the agent passes it) and the named pod namespaces. */
function world(...pods: string[]): FakeKernel {
  const k = fakeKernel()
  k.net.addNetns(NODE)
  for (const p of pods) k.net.addNetns(podNs(p))
  return k
}

interface Out {
  exit: number
  json: Record<string, unknown> | undefined
}

async function cni(k: FakeKernel, command: string, conf: object, c: { cid: string; netns?: string; ifname?: string }): Promise<Out> {
  const env = { CNI_COMMAND: command, CNI_CONTAINERID: c.cid, CNI_IFNAME: c.ifname ?? 'eth0', ...(c.netns ? { CNI_NETNS: c.netns } : {}) }
  const out = await handleCni({ env, stdin: JSON.stringify(conf) }, { hostNetns: NODE, kernel: k.kernel })
  return { exit: out.exit, json: out.stdout.trim() ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined }
}

const held = (dir: string): string[] =>
  new FileStore(dir, 'testnet')
    .list()
    .map((a) => a.ip)
    .sort()

function masqElements(k: FakeKernel): string[] {
  return (['ip', 'ip6'] as const).flatMap((fam) => [...(k.nft(NODE).tables.get(`${fam} netkube_cni`)?.sets.get('pods_testnet')?.elements.keys() ?? [])]).sort()
}

const linkNames = (k: FakeKernel, ns?: string): string[] => k.net.state(ns).links.map((l) => l.name)

t.test('ADD: bridge once, veth into the pod as CNI_IFNAME, addresses, routes, MTU, hairpin, sysctls, masquerade', async (t) => {
  const dir = dataDir(t)
  const k = world('p1', 'p2')
  const conf = netconf(dir)
  const podBefore = k.net.state(podNs('p1'))
  const a1 = await cni(k, 'ADD', conf, { cid: 'c1', netns: podNs('p1') })
  t.equal(a1.exit, 0, JSON.stringify(a1.json))
  const afterFirst = k.net.state(NODE)
  const a2 = await cni(k, 'ADD', conf, { cid: 'c2', netns: podNs('p2') })
  t.equal(a2.exit, 0, JSON.stringify(a2.json))
  t.equal(k.faults.log.filter((l) => l.startsWith('create bridge')).length, 1, 'the bridge is created once')

  const v1 = hostVethName('c1', 'eth0')
  const v2 = hostVethName('c2', 'eth0')
  const host = k.net.state(NODE)
  const [, br, h1, h2] = host.links
  t.same(linkNames(k, NODE), ['lo', 'cni0', v1, v2])
  t.match(br, { kind: 'bridge', mtu: 1400, up: true, hairpin: false })
  for (const [h, pod] of [
    [h1, 'p1'],
    [h2, 'p2'],
  ] as const) {
    t.match(h, { kind: 'veth', mtu: 1400, up: true, master: 'cni0', hairpin: true, peer: `${podNs(pod)}:eth0` }, `${h?.name}: a hairpin port of cni0, peer eth0 in ${pod}`)
  }
  t.same(host.addresses, [{ dev: 'cni0', cidr: '10.77.0.1/24' }], 'gateway address on the bridge, once')
  t.equal(host.sysctls['net.ipv4.ip_forward'], '1', 'forwarding on in the node namespace')
  t.equal(afterFirst.links[1]!.mac, h1!.mac, 'the bridge took its lowest port MAC')

  const pod1 = k.net.state(podNs('p1'))
  const eth0 = pod1.links[1]!
  t.same(
    pod1.links.map((l) => [l.name, l.kind, l.mtu, l.up, l.peer]),
    [
      ['lo', undefined, 65536, true, undefined],
      ['eth0', 'veth', 1400, true, `/run/netns/${NODE}:${v1}`],
    ],
    'the pod end was created in the pod namespace, already named eth0',
  )
  t.same(pod1.addresses, [{ dev: 'eth0', cidr: '10.77.0.2/24' }])
  t.same(pod1.routes, [
    { dst: '10.77.0.0/24', dev: 'eth0' },
    { dst: '10.96.0.0/12', via: '10.77.0.1', dev: 'eth0' },
    { dst: '0.0.0.0/0', via: '10.77.0.1', dev: 'eth0' },
  ])
  t.same(pod1.sysctls, podBefore.sysctls, 'pod sysctls untouched')

  t.same(
    a1.json,
    {
      cniVersion: '1.1.0',
      interfaces: [
        // read after the port was attached: the bridge's MAC had just changed to the port's
        { name: 'cni0', mac: h1!.mac },
        { name: v1, mac: h1!.mac },
        { name: 'eth0', mac: eth0.mac, mtu: 1400, sandbox: podNs('p1') },
      ],
      ips: [{ address: '10.77.0.2/24', gateway: '10.77.0.1', interface: 2 }],
      routes: [{ dst: '10.96.0.0/12' }, { dst: '0.0.0.0/0', gw: '10.77.0.1' }],
      dns: {},
    },
    'the ADD result',
  )
  t.match(a2.json, { ips: [{ address: '10.77.0.3/24' }] })
  t.same(held(dir), ['10.77.0.2', '10.77.0.3'])

  t.equal(
    k.nft(NODE).dump('ip', 'netkube_cni'),
    [
      'chain post_testnet [nat postrouting srcnat]',
      '  ip saddr @pods_testnet ip daddr != 10.77.0.0/24 ip daddr != 224.0.0.0/4 masquerade',
      'set pods_testnet',
      '  10.77.0.2',
      '  10.77.0.3',
      '',
    ].join('\n'),
    'one masquerade rule (the chain is refilled, not appended to), both pods in the set',
  )
  t.equal(k.nft(undefined).dump('ip', 'netkube_cni'), undefined, 'nothing in the namespace the agent itself runs in')
  t.equal(k.net.openHandles, 0, 'every NetOps closed')
})

t.test('the result JSON follows each spec version', async (t) => {
  const dir = dataDir(t)
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    const k = world('p')
    const out = await cni(k, 'ADD', netconf(dir, { cniVersion: v }), { cid: `v${v}`, netns: podNs('p') })
    t.equal(out.exit, 0, JSON.stringify(out.json))
    const r = out.json as { cniVersion: string; ips: Record<string, unknown>[]; interfaces: Record<string, unknown>[] }
    t.equal(r.cniVersion, v)
    t.equal(r.ips[0]!.version, v.startsWith('0.') ? '4' : undefined, `${v}: ips[].version only before 1.0.0`)
    t.equal('mtu' in r.interfaces[2]!, v === '1.1.0', `${v}: interface mtu only in 1.1.0`)
  }
})

t.test('DEL: removes what ADD made, is idempotent, survives a vanished netns, ignores only "already gone"', async (t) => {
  const dir = dataDir(t)
  const k = world('p1', 'p2', 'p3', 'p4')
  const conf = netconf(dir)
  const before = { host: k.net.state(NODE), pod: k.net.state(podNs('p1')) }
  t.equal((await cni(k, 'ADD', conf, { cid: 'c1', netns: podNs('p1') })).exit, 0)
  t.equal((await cni(k, 'DEL', conf, { cid: 'c1', netns: podNs('p1') })).exit, 0)
  t.same(linkNames(k, NODE), ['lo', 'cni0'], 'host veth gone; the shared bridge stays')
  t.same(k.net.state(podNs('p1')), before.pod, 'pod namespace as before ADD')
  t.same(held(dir), [], 'IP released')
  t.same(masqElements(k), [], 'masquerade element removed')
  const afterDel = { host: k.net.state(NODE), pod: k.net.state(podNs('p1')), nft: k.nft(NODE).dump('ip', 'netkube_cni') }
  t.equal((await cni(k, 'DEL', conf, { cid: 'c1', netns: podNs('p1') })).exit, 0, 'second DEL succeeds')
  t.same({ host: k.net.state(NODE), pod: k.net.state(podNs('p1')), nft: k.nft(NODE).dump('ip', 'netkube_cni') }, afterDel, 'and changes nothing')
  t.same(before.host.links.map((l) => l.name), ['lo'])

  // the runtime removed the namespace first: the veth died with it, DEL still releases the rest
  t.equal((await cni(k, 'ADD', conf, { cid: 'c2', netns: podNs('p2') })).exit, 0)
  k.net.deleteNetns(podNs('p2'))
  t.same(linkNames(k, NODE), ['lo', 'cni0'], 'the host end went with the namespace')
  t.equal((await cni(k, 'DEL', conf, { cid: 'c2', netns: podNs('p2') })).exit, 0, 'DEL of a missing netns succeeds')
  t.same(held(dir), [])
  t.same(masqElements(k), [])

  // no CNI_NETNS at all: the host end is found by its derived name, and the pod end goes with it
  t.equal((await cni(k, 'ADD', conf, { cid: 'c3', netns: podNs('p3') })).exit, 0)
  t.equal((await cni(k, 'DEL', conf, { cid: 'c3' })).exit, 0)
  t.same(linkNames(k, podNs('p3')), ['lo'], 'the pod end went with the host end')
  t.same(held(dir), [])

  // nft failing for another reason is reported, with the allocation kept for the retry
  const a4 = await cni(k, 'ADD', conf, { cid: 'c4', netns: podNs('p4') })
  const ip4 = (a4.json as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!
  k.nft(NODE).failNext = 'permission'
  const failed = await cni(k, 'DEL', conf, { cid: 'c4', netns: podNs('p4') })
  t.equal(failed.exit, 1, 'DEL fails when nft fails for a reason other than "not found"')
  t.match(failed.json, { code: 101, msg: new RegExp(`delete masquerade for ${ip4.replace(/\./g, '\\.')}`) })
  t.same(held(dir), [ip4], 'the IP stays held, so the retry knows what to clean')
  t.same(linkNames(k, podNs('p4')), ['lo', 'eth0'], 'and nothing else was torn down yet')
  // someone removed our table meanwhile: "no such table" is already gone, the retry succeeds
  await k.nft(NODE).apply(new NftTransaction('ip', 'netkube_cni').delete({ kind: 'table' }))
  t.equal((await cni(k, 'DEL', conf, { cid: 'c4', netns: podNs('p4') })).exit, 0, 'retried DEL succeeds')
  t.same(held(dir), [])
  t.same(linkNames(k, podNs('p4')), ['lo'])
  t.equal(k.net.openHandles, 0)
})

t.test('CHECK passes on what ADD made and fails once a route is removed', async (t) => {
  const dir = dataDir(t)
  const k = world('p1')
  const conf = netconf(dir)
  const add = await cni(k, 'ADD', conf, { cid: 'c1', netns: podNs('p1') })
  t.equal(add.exit, 0)
  const check = { ...conf, prevResult: add.json }
  const ok = await cni(k, 'CHECK', check, { cid: 'c1', netns: podNs('p1') })
  t.same(ok, { exit: 0, json: undefined }, 'CHECK passes and prints nothing')
  const pod = k.net.openNetOps(podNs('p1'))
  t.equal(await pod.delRoute({ dst: 'default', via: '10.77.0.1', family: 4 }), true)
  pod.close()
  const bad = await cni(k, 'CHECK', check, { cid: 'c1', netns: podNs('p1') })
  t.equal(bad.exit, 1)
  t.match(bad.json, { code: 102, msg: /route 0\.0\.0\.0\/0 via 10\.77\.0\.1 missing/ })
  t.equal(k.net.openHandles, 0)
})

t.test('a failed ADD releases everything it took, whichever step fails', async (t) => {
  const dir = dataDir(t)
  // dual stack: two allocations, two masquerade transactions (the first must be undone when the second fails)
  const conf = (d: string): Record<string, unknown> =>
    netconf(d, { ipam: { ranges: [[{ subnet: '10.77.0.0/24' }], [{ subnet: 'fd77::/64' }]], dataDir: d } })
  const k0 = world('p')
  const start = k0.faults.count
  const ok = await cni(k0, 'ADD', conf(dir), { cid: 'c1', netns: podNs('p') })
  t.equal(ok.exit, 0, JSON.stringify(ok.json))
  const steps = k0.faults.log.slice(start)
  t.ok(steps.length >= 20, `ADD is ${steps.length} kernel steps`)
  t.same(masqElements(k0), ['10.77.0.2', 'fd77::2'])
  t.equal(steps.filter((s) => s.startsWith('nft apply')).length, 2)

  for (const [i, step] of steps.entries()) {
    const d = dataDir(t)
    const k = world('p')
    k.faults.failAt(i + 1, 'EIO')
    const out = await cni(k, 'ADD', conf(d), { cid: 'c1', netns: podNs('p') })
    t.equal(out.exit, 1, `step ${i + 1} (${step}) fails the ADD`)
    t.match(out.json, { code: 101, msg: `${step}: EIO` }, `step ${i + 1}: the error names the step`)
    t.same(held(d), [], `step ${i + 1}: no IP held`)
    t.same(
      linkNames(k, NODE).filter((n) => n !== 'cni0'),
      ['lo'],
      `step ${i + 1}: no host veth (only the shared bridge may stay)`,
    )
    t.same(k.net.state(podNs('p')).links.map((l) => l.name), ['lo'], `step ${i + 1}: nothing in the pod namespace`)
    t.same(masqElements(k), [], `step ${i + 1}: no masquerade element`)
    t.equal(k.net.openHandles, 0, `step ${i + 1}: no NetOps left open`)
    // and the runtime's retry goes through on what is left
    const retry = await cni(k, 'ADD', conf(d), { cid: 'c1', netns: podNs('p') })
    t.equal(retry.exit, 0, `step ${i + 1}: retried ADD succeeds ${JSON.stringify(retry.json)}`)
  }
})
