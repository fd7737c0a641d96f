// Pure core of the overlay agent: config defaults, subnet choice, desired kernel state, diff.
import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, parseNetworkConfig, subnetCount } from '../../src/overlay/config.js'
import { desiredState, diffState, formatDiff, isEmptyDiff, ownedObserved, type KernelState } from '../../src/overlay/desired.js'
import { diffDevice, vtepMac, type VxlanSpec } from '../../src/overlay/device.js'
import { formatIp4Net, intToIp4, parseIp4Net } from '../../src/net/ip.js'
import { decodeLease, encodeLease, leaseKey, subnetFromKey, type Lease } from '../../src/overlay/lease.js'
import { chooseSubnet, NoFreeSubnetError } from '../../src/overlay/subnets.js'
import { parseSubnetEnv, readSubnetEnv, renderSubnetEnv, writeSubnetEnv } from '../../src/overlay/subnetenv.js'
import { overlayNftTransaction } from '../../src/overlay/nft.js'

t.test('network config defaults, as flannel computes them', async (t) => {
  const cases: { json: object; len: number; min: string; max: string; count: number }[] = [
    { json: { Network: '10.244.0.0/16' }, len: 24, min: '10.244.1.0', max: '10.244.255.0', count: 255 },
    { json: { Network: '10.5.0.0/24' }, len: 25, min: '10.5.0.128', max: '10.5.0.128', count: 1 },
    { json: { Network: '10.5.0.0/16', SubnetLen: 26 }, len: 26, min: '10.5.0.64', max: '10.5.255.192', count: 1023 },
    { json: { Network: '10.5.0.0/16', SubnetMin: '10.5.10.0', SubnetMax: '10.5.12.0' }, len: 24, min: '10.5.10.0', max: '10.5.12.0', count: 3 },
  ]
  for (const c of cases) {
    const cfg = parseNetworkConfig(JSON.stringify(c.json))
    t.same(
      { len: cfg.subnetLen, min: intToIp4(cfg.subnetMin), max: intToIp4(cfg.subnetMax), count: subnetCount(cfg) },
      { len: c.len, min: c.min, max: c.max, count: c.count },
      JSON.stringify(c.json),
    )
  }
  const cfg = parseNetworkConfig('{"Network":"10.5.0.0/16"}')
  t.same(cfg.backend, { type: 'vxlan', vni: 1, port: 8472, directRouting: false }, 'backend defaults: vxlan, VNI 1, port 8472')
  t.equal(parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}', 'host-gw').backend.type, 'host-gw', 'override')
  const bad: [string, RegExp][] = [
    ['{}', /no "Network"/],
    ['not json', /not JSON/],
    ['{"Network":"10.5.0.0/16","SubnetLen":8}', /larger than Network/],
    ['{"Network":"10.5.0.0/16","SubnetLen":31}', /\/30 or shorter/],
    ['{"Network":"10.5.0.0/16","SubnetMin":"10.6.0.0"}', /not inside Network/],
    ['{"Network":"10.5.0.0/16","SubnetMin":"10.5.0.7"}', /not aligned/],
    ['{"Network":"10.5.0.0/16","SubnetMin":"10.5.9.0","SubnetMax":"10.5.3.0"}', /above SubnetMax/],
    ['{"Network":"10.5.0.0/16","Backend":{"Type":"udp"}}', /not supported/],
    ['{"Network":"10.5.0.0/16","Backend":{"VNI":0}}', /VNI/],
  ]
  for (const [json, re] of bad) t.throws(() => parseNetworkConfig(json), { name: 'ConfigError', message: re }, json)
  t.ok(new ConfigError('x') instanceof Error)
})

const cfg3 = parseNetworkConfig(JSON.stringify({ Network: '10.5.0.0/16', SubnetMin: '10.5.1.0', SubnetMax: '10.5.3.0' }))
const L = (subnet: string, publicIP: string, mac = vtepMac(publicIP, 1)): Lease => ({
  subnet: parseIp4Net(subnet),
  publicIP,
  backendType: 'vxlan',
  vni: 1,
  vtepMAC: mac,
})

t.test('subnet choice', async (t) => {
  t.same(chooseSubnet(cfg3, [], '192.168.56.10', undefined, () => 0), { kind: 'new', subnet: parseIp4Net('10.5.1.0/24') }, 'first free')
  t.same(chooseSubnet(cfg3, [], '192.168.56.10', undefined, () => 0.99), { kind: 'new', subnet: parseIp4Net('10.5.3.0/24') }, 'random among free')
  const leases = [L('10.5.1.0/24', '192.168.56.10'), L('10.5.2.0/24', '192.168.56.11')]
  const reuse = chooseSubnet(cfg3, leases, '192.168.56.11')
  t.equal(reuse.kind === 'reuse' && formatIp4Net(reuse.lease.subnet), '10.5.2.0/24', 'same PublicIP keeps its subnet')
  t.same(chooseSubnet(cfg3, leases, '192.168.56.12', parseIp4Net('10.5.2.0/24'), () => 0), { kind: 'new', subnet: parseIp4Net('10.5.3.0/24') }, 'previous subnet taken by another: not reused')
  t.same(chooseSubnet(cfg3, [], '192.168.56.12', parseIp4Net('10.5.3.0/24'), () => 0), { kind: 'new', subnet: parseIp4Net('10.5.3.0/24') }, 'previous subnet from subnet.env reused when free')
  t.same(chooseSubnet(cfg3, [], '192.168.56.12', parseIp4Net('10.9.3.0/24'), () => 0), { kind: 'new', subnet: parseIp4Net('10.5.1.0/24') }, 'previous outside the range ignored')
  const full = [...leases, L('10.5.3.0/24', '192.168.56.12')]
  t.throws(() => chooseSubnet(cfg3, full, '192.168.56.13'), NoFreeSubnetError)
  t.throws(() => chooseSubnet(cfg3, full, '192.168.56.13'), { message: /no free subnet in 10.5.0.0\/16: all 3 \/24 subnets between 10.5.1.0 and 10.5.3.0 are leased/ })
})

t.test('lease keys and values (flannel format)', async (t) => {
  const s = parseIp4Net('10.5.2.0/24')
  t.equal(leaseKey('/coreos.com/network', s), '/coreos.com/network/subnets/10.5.2.0-24')
  t.same(subnetFromKey('/coreos.com/network', '/coreos.com/network/subnets/10.5.2.0-24'), s)
  t.equal(subnetFromKey('/coreos.com/network', '/coreos.com/network/config'), undefined)
  t.equal(subnetFromKey('/coreos.com/network', '/coreos.com/network/subnets/garbage'), undefined)
  const v = encodeLease({ publicIP: '192.168.56.11', backendType: 'vxlan', vni: 1, vtepMAC: '0e:01:02:03:04:05' })
  t.same(JSON.parse(v), { PublicIP: '192.168.56.11', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:01:02:03:04:05' } })
  t.same(decodeLease(s, v), { subnet: s, publicIP: '192.168.56.11', backendType: 'vxlan', vni: 1, vtepMAC: '0e:01:02:03:04:05' })
  t.same(decodeLease(s, '{"PublicIP":"192.168.56.11","BackendType":"host-gw"}'), { subnet: s, publicIP: '192.168.56.11', backendType: 'host-gw' })
  t.throws(() => decodeLease(s, '{"PublicIP":"192.168.56.11","BackendType":"vxlan","BackendData":{"VtepMAC":"zz"}}'), /bad VtepMAC/)
})

const own = L('10.5.1.0/24', '192.168.56.10')
const remotes = [own, L('10.5.2.0/24', '192.168.56.11', '0e:00:00:00:00:02'), L('10.5.3.0/24', '10.0.0.9', '0e:00:00:00:00:03')]
const base = { own, remotes, vxlanDev: 'flannel.1', underlayDev: 'eth0', underlayNet: parseIp4Net('192.168.56.0/24') }

t.test('desired state per backend', async (t) => {
  const vx = desiredState({ ...base, backend: { type: 'vxlan', vni: 1, port: 8472, directRouting: false } })
  t.same(vx.neighs, [
    { ip: '10.5.2.0', mac: '0e:00:00:00:00:02', dev: 'flannel.1' },
    { ip: '10.5.3.0', mac: '0e:00:00:00:00:03', dev: 'flannel.1' },
  ])
  t.same(vx.fdb, [
    { mac: '0e:00:00:00:00:02', dst: '192.168.56.11', dev: 'flannel.1' },
    { mac: '0e:00:00:00:00:03', dst: '10.0.0.9', dev: 'flannel.1' },
  ])
  t.same(vx.routes, [
    { dst: '10.5.2.0/24', via: '10.5.2.0', dev: 'flannel.1', onlink: true },
    { dst: '10.5.3.0/24', via: '10.5.3.0', dev: 'flannel.1', onlink: true },
  ], 'own lease excluded; onlink route via the remote subnet network address')
  const dr = desiredState({ ...base, backend: { type: 'vxlan', vni: 1, port: 8472, directRouting: true } })
  t.same(dr.routes, [
    { dst: '10.5.2.0/24', via: '192.168.56.11', dev: 'eth0', onlink: false },
    { dst: '10.5.3.0/24', via: '10.5.3.0', dev: 'flannel.1', onlink: true },
  ], 'DirectRouting: plain route on the same L2, VXLAN otherwise')
  t.equal(dr.neighs.length, 1)
  const hg = desiredState({ ...base, backend: { type: 'host-gw', vni: 1, port: 8472, directRouting: false } })
  t.same(hg, {
    routes: [{ dst: '10.5.2.0/24', via: '192.168.56.11', dev: 'eth0', onlink: false }],
    neighs: [],
    fdb: [],
    skipped: [{ subnet: '10.5.3.0/24', reason: 'host-gw: 10.0.0.9 is not on 192.168.56.0/24' }],
  }, 'host-gw: a route via PublicIP; unreachable next hop skipped with a reason')
})

t.test('diff against observed state', async (t) => {
  const want = desiredState({ ...base, backend: { type: 'vxlan', vni: 1, port: 8472, directRouting: false } })
  t.ok(isEmptyDiff(diffState(want, want)), 'desired == observed: nothing to do')
  const have: KernelState = {
    routes: [
      { dst: '10.5.2.0/24', via: '10.5.2.0', dev: 'flannel.1', onlink: true },
      { dst: '10.5.3.0/24', via: '10.5.3.9', dev: 'flannel.1', onlink: true }, // wrong gateway
      { dst: '10.5.4.0/24', via: '10.5.4.0', dev: 'flannel.1', onlink: true }, // vanished node
    ],
    neighs: [{ ip: '10.5.2.0', mac: '0E:00:00:00:00:02', dev: 'flannel.1' }], // case differs only
    fdb: [
      { mac: '0e:00:00:00:00:02', dst: '192.168.56.11', dev: 'flannel.1' },
      { mac: '0e:00:00:00:00:02', dst: '192.168.56.99', dev: 'flannel.1' }, // duplicate MAC, stale dst
      { mac: '0e:00:00:00:00:04', dst: '192.168.56.14', dev: 'flannel.1' },
    ],
  }
  const d = diffState(want, have)
  t.same(formatDiff(d), [
    '- route 10.5.4.0/24 via 10.5.4.0 dev flannel.1 onlink',
    '- fdb 0e:00:00:00:00:02 dst 192.168.56.99 dev flannel.1 self permanent',
    '- fdb 0e:00:00:00:00:04 dst 192.168.56.14 dev flannel.1 self permanent',
    '+ neigh 10.5.3.0 lladdr 0e:00:00:00:00:03 dev flannel.1 permanent',
    '+ fdb 0e:00:00:00:00:03 dst 10.0.0.9 dev flannel.1 self permanent',
    '+ route 10.5.3.0/24 via 10.5.3.0 dev flannel.1 onlink',
  ], 'readable diff: deletions first, then ARP, FDB, route')
})

t.test('only our entries are considered observed', async (t) => {
  const all: KernelState = {
    routes: [
      { dst: '10.5.1.0/24', via: '', dev: 'cni0', onlink: false }, // own bridge route
      { dst: '10.5.1.0/24', via: '10.5.1.0', dev: 'flannel.1', onlink: true }, // own subnet: never ours to route away
      { dst: '10.5.2.0/24', via: '10.5.2.0', dev: 'flannel.1', onlink: true },
      { dst: '192.168.56.0/24', via: '', dev: 'eth0', onlink: false },
      { dst: '10.6.0.0/24', via: '192.168.56.1', dev: 'eth0', onlink: false },
    ],
    neighs: [
      { ip: '10.5.2.0', mac: '0e:00:00:00:00:02', dev: 'flannel.1' },
      { ip: '192.168.56.1', mac: '02:00:00:00:00:01', dev: 'eth0' },
    ],
    fdb: [{ mac: '0e:00:00:00:00:02', dst: '192.168.56.11', dev: 'flannel.1' }],
  }
  const o = ownedObserved(all, parseIp4Net('10.5.0.0/16'), parseIp4Net('10.5.1.0/24'), 'flannel.1')
  t.same(o.routes, [{ dst: '10.5.2.0/24', via: '10.5.2.0', dev: 'flannel.1', onlink: true }])
  t.same(o.neighs, [{ ip: '10.5.2.0', mac: '0e:00:00:00:00:02', dev: 'flannel.1' }])
  t.equal(o.fdb.length, 1)
})

t.test('vxlan device: recreate only on a real difference', async (t) => {
  const want: VxlanSpec = { name: 'flannel.1', vni: 1, local: '192.168.56.10', port: 8472, learning: false, mtu: 1450, link: 'eth0', mac: vtepMac('192.168.56.10', 1) }
  const have = { kind: 'vxlan', vni: 1, local: '192.168.56.10', port: 8472, learning: false, mtu: 1450, link: 'eth0', mac: want.mac, up: true }
  t.same(diffDevice(want, have), { recreate: [], update: [] }, 'identical: keep')
  t.equal(diffDevice(want, undefined), undefined, 'missing: create')
  t.same(diffDevice(want, { ...have, mtu: 1500 }), { recreate: [], update: ['mtu: have 1500, want 1450'] }, 'MTU: in place')
  t.same(diffDevice(want, { ...have, port: 4789, learning: true }), {
    recreate: ['port: have 4789, want 8472', 'learning: have true, want false'],
    update: [],
  }, 'port/learning: recreate, with a readable reason')
  t.match(diffDevice(want, { kind: 'bridge', mtu: 1450, mac: want.mac, up: true })!.recreate, ['kind: have "bridge", want "vxlan"'])
  t.match(vtepMac('192.168.56.10', 1), /^0e(:[0-9a-f]{2}){5}$/, 'locally administered unicast')
  t.equal(vtepMac('192.168.56.10', 1), vtepMac('192.168.56.10', 1), 'stable')
  t.not(vtepMac('192.168.56.10', 1), vtepMac('192.168.56.11', 1))
})

t.test('subnet.env: flannel format, round trip, clear errors, atomic write', async (t) => {
  const e = { network: '10.5.0.0/16', subnet: '10.5.2.1/24', mtu: 1450, ipMasq: true }
  t.equal(renderSubnetEnv(e), 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.2.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n')
  for (const x of [e, { ...e, ipMasq: false, mtu: 9000 }, { network: 'fd00::/56', subnet: 'fd00:0:0:7::1/64', mtu: 1400, ipMasq: false }]) {
    t.same(parseSubnetEnv(renderSubnetEnv(x)), x, `round trip ${x.subnet} ipMasq=${x.ipMasq}`)
  }
  // the file as flannel itself writes it on an IPv6-enabled node (extra keys ignored)
  const flannel = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=fd00::/56\nFLANNEL_IPV6_SUBNET=fd00:0:0:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n'
  t.same(parseSubnetEnv(flannel), { network: '10.244.0.0/16', subnet: '10.244.1.1/24', mtu: 1450, ipMasq: false }, "flannel's own file")
  t.same(parseSubnetEnv('# written by hand\n FLANNEL_NETWORK = "10.5.0.0/16"\nFLANNEL_SUBNET=10.5.2.1/24\r\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true'), e, 'comments, quotes, spaces, CRLF, no final newline')
  const bad: [string, RegExp][] = [
    ['', /^subnet\.env: missing FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ$/],
    ['FLANNEL_SUBNET=10.5.2.1/24\nFLANNEL_MTU=1450\n', /missing FLANNEL_NETWORK, FLANNEL_IPMASQ$/],
    ['FLANNEL_NETWORK=\nFLANNEL_SUBNET=10.5.2.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true', /missing FLANNEL_NETWORK$/],
    [renderSubnetEnv(e).replace('10.5.0.0/16', '10.5.0.0'), /FLANNEL_NETWORK=10\.5\.0\.0 is not a CIDR/],
    [renderSubnetEnv(e).replace('10.5.2.1/24', '10.5.2.1/33'), /FLANNEL_SUBNET=10\.5\.2\.1\/33 is not a CIDR/],
    [renderSubnetEnv(e).replace('10.5.2.1/24', '10.6.2.1/24'), /FLANNEL_SUBNET=10\.6\.2\.1\/24 is not inside FLANNEL_NETWORK 10\.5\.0\.0\/16/],
    [renderSubnetEnv(e).replace('1450', '14x0'), /FLANNEL_MTU=14x0 is not an MTU/],
    [renderSubnetEnv(e).replace('1450', '67'), /FLANNEL_MTU=67 is not an MTU/],
    [renderSubnetEnv(e).replace('1450', '65536'), /FLANNEL_MTU=65536 is not an MTU/],
    [renderSubnetEnv(e).replace('IPMASQ=true', 'IPMASQ=yes'), /FLANNEL_IPMASQ=yes is neither true nor false/],
  ]
  for (const [text, msg] of bad) t.throws(() => parseSubnetEnv(text), { name: 'SubnetEnvError', message: msg }, JSON.stringify(text))
  t.throws(() => parseSubnetEnv('', '/run/flannel/subnet.env'), { message: /^\/run\/flannel\/subnet\.env: missing/ }, 'errors name the file')
  const dir = mkdtempSync(join(tmpdir(), 'nk-subnetenv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const p = join(dir, 'run', 'subnet.env')
  writeSubnetEnv(p, e)
  writeSubnetEnv(p, { ...e, mtu: 1400 })
  t.equal(readFileSync(p, 'utf8'), renderSubnetEnv({ ...e, mtu: 1400 }))
  t.same(readdirSync(join(dir, 'run')), ['subnet.env'], 'no temp file left behind')
  t.same(readSubnetEnv(p), { ...e, mtu: 1400 })
  t.equal(readSubnetEnv(join(dir, 'absent.env')), undefined, 'no file yet: undefined, not an error')
  t.throws(() => writeSubnetEnv(p, { ...e, subnet: '10.9.0.1/24' }), /not inside FLANNEL_NETWORK/, 'the writer refuses a file the reader would reject')
  t.equal(readFileSync(p, 'utf8'), renderSubnetEnv({ ...e, mtu: 1400 }), '... and leaves the old file in place')
})

t.test('nftables: pod → pod exempt, pod → outside masqueraded, own table only', async (t) => {
  const text = overlayNftTransaction('10.5.0.0/16', true).render()
  t.match(text, /add table ip netkube-overlay/)
  t.match(text, /ip saddr 10.5.0.0\/16 ip daddr 10.5.0.0\/16 return\n[^]*ip saddr 10.5.0.0\/16 ip daddr != 10.5.0.0\/16 masquerade/)
  t.notMatch(overlayNftTransaction('10.5.0.0/16', false).render(), /postrouting ip saddr/)
})
