// Pure parts of the plugin: config parsing, host-local allocation policy (fake store),
// result shapes per spec version, skeleton error codes. No root, no kernel.
import t from 'tap'
import { allocate, candidates, releaseAttachment, releaseStale } from '../../cni/ipam/allocator.js'
import { MemoryStore } from '../../cni/ipam/store.js'
import { applySubnetEnv, loadSubnetEnv, parseConfig, parseRange } from '../../cni/config.js'
import { parseSubnetEnv, renderSubnetEnv } from '../../src/overlay/subnetenv.js'
import { CniError } from '../../cni/errors.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderResult } from '../../cni/result.js'
import { handleCni } from '../../cni/skel.js'
import { masqAddTx, masqDelTx } from '../../cni/masq.js'
import { fakeKernel } from './fake-kernel.js'
import type { CniResult } from '../../cni/types.js'

const conf = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.1.0', name: 'n1', type: 'netkube', ipam: { subnet: '10.1.0.0/29', dataDir: '/nonexistent' }, ...extra })

t.test('range defaults: first usable .. last usable, gateway = first', async (t) => {
  t.same(parseRange({ subnet: '10.1.0.0/24' }), { subnet: '10.1.0.0/24', rangeStart: '10.1.0.1', rangeEnd: '10.1.0.254', gateway: '10.1.0.1' })
  t.same(parseRange({ subnet: '10.1.0.9/24', rangeStart: '10.1.0.100', rangeEnd: '10.1.0.110', gateway: '10.1.0.254' }), {
    subnet: '10.1.0.0/24',
    rangeStart: '10.1.0.100',
    rangeEnd: '10.1.0.110',
    gateway: '10.1.0.254',
  })
  t.throws(() => parseRange({ subnet: '10.1.0.0/24', rangeStart: '10.2.0.1' }), /not inside/)
  t.throws(() => parseRange({ subnet: '10.1.0.0/33' }), /bad prefix/)
  t.same(parseRange({ subnet: 'fd00::/120' }).rangeEnd, 'fd00::ff')
})

t.test('allocator: round robin from last reserved, skips gateway, wraps, exhausts cleanly', async (t) => {
  const store = new MemoryStore()
  const sets = [[parseRange({ subnet: '10.1.0.0/29' })]] // usable .1-.6, gw .1 → .2-.6
  const got = ['a', 'b', 'c'].map((id) => allocate(store, sets, id, 'eth0')[0]!.ip)
  t.same(got, ['10.1.0.2', '10.1.0.3', '10.1.0.4'])
  t.same(releaseAttachment(store, 'b', 'eth0'), ['10.1.0.3'])
  // round robin continues after the last reserved (.4), not at the freed .3
  t.equal(allocate(store, sets, 'd', 'eth0')[0]!.ip, '10.1.0.5')
  t.equal(allocate(store, sets, 'e', 'eth0')[0]!.ip, '10.1.0.6')
  t.equal(allocate(store, sets, 'f', 'eth0')[0]!.ip, '10.1.0.3', 'wraps around to the freed address')
  // same attachment again → same address (a retried ADD)
  t.equal(allocate(store, sets, 'f', 'eth0')[0]!.ip, '10.1.0.3')
  t.throws(() => allocate(store, sets, 'g', 'eth0'), { code: 100, message: /no IP addresses available/ })
  t.equal(store.list().filter((a) => a.containerID === 'g').length, 0)
})

t.test('allocator: multiple ranges in a set and dual-stack sets', async (t) => {
  const store = new MemoryStore()
  const v4 = [parseRange({ subnet: '10.1.0.0/30' }), parseRange({ subnet: '10.2.0.0/30' })]
  const v6 = [parseRange({ subnet: 'fd00::/126' })]
  t.same([...candidates(v4)].map((c) => c.ip), ['10.1.0.2', '10.2.0.2'])
  const a = allocate(store, [v4, v6], 'x', 'eth0')
  t.same(a.map((x) => x.ip), ['10.1.0.2', 'fd00::2'])
  const b = allocate(store, [v4, v6], 'y', 'eth0')
  t.same(b.map((x) => x.ip), ['10.2.0.2', 'fd00::3'])
  // v6 exhausted → the v4 address this call took is given back
  t.throws(() => allocate(store, [v4, [parseRange({ subnet: 'fd00::/126', rangeStart: 'fd00::2', rangeEnd: 'fd00::3' })]], 'z', 'eth0'))
  t.equal(store.list().filter((x) => x.containerID === 'z').length, 0)
})

t.test('GC releases everything not in valid attachments', async (t) => {
  const store = new MemoryStore()
  const sets = [[parseRange({ subnet: '10.1.0.0/24' })]]
  for (const id of ['a', 'b', 'c']) allocate(store, sets, id, 'eth0')
  const stale = releaseStale(store, [{ containerID: 'b', ifname: 'eth0' }])
  t.same(stale.map((s) => s.containerID).sort(), ['a', 'c'])
  t.same(store.list().map((s) => s.containerID), ['b'])
})

t.test('config: options, defaults, node-aware mode', async (t) => {
  const c = parseConfig(conf({ isDefaultGateway: true, mtu: 1450, hairpinMode: true }))
  t.equal(c.bridge, 'cni0')
  t.equal(c.isGateway, true, 'isDefaultGateway implies isGateway')
  t.equal(c.mtu, 1450)
  t.equal(c.nodeAware, false)
  const n = parseConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'cbr', type: 'netkube', subnetFile: '/x/subnet.env', ipam: { dataDir: '/d' } }))
  t.equal(n.nodeAware, true)
  const env = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n')
  t.same(env, { subnet: '10.244.3.1/24', network: '10.244.0.0/16', mtu: 1450, ipMasq: true }, 'the overlay\'s SubnetEnv, same field names')
  const r = applySubnetEnv(n, env)
  t.same(r.ipam.ranges, [[{ subnet: '10.244.3.0/24', rangeStart: '10.244.3.1', rangeEnd: '10.244.3.254', gateway: '10.244.3.1' }]])
  t.same(r.ipam.routes, [{ dst: '10.244.0.0/16' }])
  t.equal(r.mtu, 1450)
  t.equal(r.isDefaultGateway, true)
  t.equal(r.ipMasq, false, 'the agent masquerades (FLANNEL_IPMASQ=true), so the plugin does not')
  const explicit = applySubnetEnv(parseConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'cbr', mtu: 1400, ipMasq: true })), env)
  t.equal(explicit.mtu, 1400, 'explicit options win over subnet.env')
  t.equal(explicit.ipMasq, true)
})

t.test('subnet.env as the plugin loads it: what the overlay writes, missing = 50, garbled = 7', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nk-cni-subnetenv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const p = join(dir, 'subnet.env')
  const code = (f: () => unknown) => {
    try {
      f()
    } catch (err) {
      return err instanceof CniError ? { code: err.code, msg: err.message } : { code: -1, msg: String(err) }
    }
    return undefined
  }
  t.match(code(() => loadSubnetEnv(p)), { code: 50, msg: /not available yet/ }, 'missing file: not available')
  const written = { network: '10.244.0.0/16', subnet: '10.244.3.1/24', mtu: 1450, ipMasq: false }
  writeFileSync(p, renderSubnetEnv(written))
  t.same(loadSubnetEnv(p), written, 'reads back exactly what the overlay renders')
  t.equal(applySubnetEnv(parseConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'cbr' })), loadSubnetEnv(p)).ipMasq, true, 'FLANNEL_IPMASQ=false: the plugin masquerades')
  writeFileSync(p, 'FLANNEL_SUBNET=10.244.3.1/24\n')
  t.match(code(() => loadSubnetEnv(p)), { code: 7, msg: /subnet\.env: missing FLANNEL_NETWORK, FLANNEL_MTU, FLANNEL_IPMASQ/ }, 'garbled: invalid config, naming what is missing')
})

const ips: CniResult = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'cni0', mac: 'aa:aa:aa:aa:aa:aa' }, { name: 'veth1' }, { name: 'eth0', mtu: 1400, sandbox: '/run/netns/p' }],
  ips: [
    { address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 2 },
    { address: 'fd00::2/64', gateway: 'fd00::1', interface: 2 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400 }],
}

t.test('result shape for every supported version', async (t) => {
  for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
    const r = renderResult(ips, v) as { cniVersion: string; ips: { version: string }[]; interfaces: { mtu?: number }[]; routes: object[] }
    t.equal(r.cniVersion, v)
    t.same(r.ips.map((i) => i.version), ['4', '6'], `${v}: ips carry version`)
    t.equal(r.interfaces[2]!.mtu, undefined)
    t.same(r.routes, [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }])
  }
  const r10 = renderResult(ips, '1.0.0') as { ips: Record<string, unknown>[]; routes: object[] }
  t.notOk('version' in r10.ips[0]!, '1.0.0: no version in ips')
  t.same(r10.routes, [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }])
  const r11 = renderResult(ips, '1.1.0') as { interfaces: { mtu?: number }[]; routes: object[] }
  t.equal(r11.interfaces[2]!.mtu, 1400, '1.1.0: interface mtu')
  t.same(r11.routes, [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400 }])
})

t.test('skeleton: error codes on stdout with non-zero exit', async (t) => {
  // a fake kernel: none of these may reach it (every case fails before, or needs none)
  const k = fakeKernel()
  const ctx = { kernel: k.kernel }
  const cases: [string, Record<string, string>, string, number][] = [
    ['no command', {}, conf(), 4],
    ['unknown command', { CNI_COMMAND: 'FROB' }, conf(), 4],
    ['missing env', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c' }, conf(), 4],
    ['bad container id', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'a b', CNI_IFNAME: 'eth0' }, conf(), 4],
    ['bad ifname', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c', CNI_IFNAME: 'a/b' }, conf(), 4],
    ['bad stdin', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/x', CNI_IFNAME: 'eth0' }, '{not json', 6],
    ['unsupported version', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/x', CNI_IFNAME: 'eth0' }, conf({ cniVersion: '0.2.0' }), 1],
    ['bad subnet', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/x', CNI_IFNAME: 'eth0' }, conf({ ipam: { subnet: '10.0.0.0/99' } }), 7],
    ['wrong option type', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/x', CNI_IFNAME: 'eth0' }, conf({ ipMasq: 'yes' }), 7],
    ['other ipam', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/x', CNI_IFNAME: 'eth0' }, conf({ ipam: { type: 'dhcp' } }), 7],
    ['STATUS without subnet.env', { CNI_COMMAND: 'STATUS' }, JSON.stringify({ cniVersion: '1.1.0', name: 'n', subnetFile: '/nonexistent/subnet.env' }), 50],
  ]
  for (const [name, env, stdin, code] of cases) {
    const out = await handleCni({ env, stdin }, ctx)
    t.equal(out.exit, 1, `${name}: non-zero exit`)
    const err = JSON.parse(out.stdout) as { code: number; msg: string; cniVersion: string }
    t.equal(err.code, code, `${name}: code ${code} (${err.msg})`)
    t.type(err.msg, 'string')
    t.ok(err.cniVersion)
  }
  const v = await handleCni({ env: { CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"0.4.0"}' }, ctx)
  t.same(JSON.parse(v.stdout), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] })
  const st = await handleCni({ env: { CNI_COMMAND: 'STATUS' }, stdin: conf() }, ctx)
  t.same(st, { exit: 0, stdout: '' })
  t.equal(k.faults.count, 0, 'no kernel operation was attempted')
})

t.test('masquerade transactions', async (t) => {
  t.equal(
    masqAddTx('my-net', '10.1.0.2', '10.1.0.0/24').render(),
    [
      'add table ip netkube_cni',
      'add set ip netkube_cni pods_my_net { type ipv4_addr ; }',
      'add chain ip netkube_cni post_my_net { type nat hook postrouting priority srcnat ; }',
      'flush chain ip netkube_cni post_my_net',
      'add rule ip netkube_cni post_my_net ip saddr @pods_my_net ip daddr != 10.1.0.0/24 ip daddr != 224.0.0.0/4 masquerade',
      'add element ip netkube_cni pods_my_net { 10.1.0.2 }',
      '',
    ].join('\n'),
  )
  t.match(masqAddTx('my-net', 'fd00::2', 'fd00::/64').render(), /^add table ip6 netkube_cni\n.*type ipv6_addr.*ip6 daddr != ff00::\/8 masquerade\n/s)
  t.equal(masqDelTx('my-net', 'fd00::2').render(), 'delete element ip6 netkube_cni pods_my_net { fd00::2 }\n')
})

t.test('agent wire format round-trips env and stdin', async (t) => {
  const { encodeRequest, decodeRequest, encodeResponse } = await import('../../cni/server.js')
  const stdin = '{"cniVersion":"1.1.0","x":"a\\u0000b é"}'
  const buf = encodeRequest({ CNI_COMMAND: 'ADD', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=a=b', HOME: '/root' }, stdin)
  t.same(decodeRequest(buf), { env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=a=b' }, stdin }, 'only CNI_* travels')
  t.equal(decodeRequest(Buffer.from('GET / HTTP/1.1\r\n')), undefined)
  t.equal(encodeResponse({ exit: 1, stdout: '{"code":7}\n' }), '1\n{"code":7}\n')
})
