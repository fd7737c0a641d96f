// The plugin as a runtime sees it: the installed `netkube` executable, exec'd with the CNI
// environment inside a "node" namespace holding cni0, against real "pod" namespaces.
import t from 'tap'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { withNetns } from '../helpers/netns.js'
import { need } from '../helpers/prereq.js'
import { execCni, installPlugin, ipJson, pingFrom, testNetconf, type Plugin } from './helpers.js'
import { hostVethName } from '../../cni/bridge.js'
import { startCniServer } from '../../cni/server.js'
import { run } from '../../src/util/exec.js'

interface Link {
  ifname: string
  mtu: number
  master?: string
  operstate: string
  linkinfo?: { info_slave_data?: { hairpin?: boolean } }
}
interface Addr {
  ifname: string
  addr_info: { local: string; prefixlen: number; family: string }[]
}
interface Route {
  dst: string
  gateway?: string
  dev: string
}

function netconf(p: Plugin, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return testNetconf(p.dataDir, extra)
}

const ipFiles = (p: Plugin, net = 'testnet'): string[] =>
  existsSync(join(p.dataDir, net)) ? readdirSync(join(p.dataDir, net)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : []

t.test('ADD wires two pods on cni0; CHECK; DEL; DEL again', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'node')
  const pod1 = await withNetns(t, 'pod1')
  const pod2 = await withNetns(t, 'pod2')
  const conf = netconf(p)
  const a1 = await execCni(p, node, 'ADD', conf, { cid: 'c1', netns: `/run/netns/${pod1}` })
  t.equal(a1.exit, 0, a1.stdout)
  const a2 = await execCni(p, node, 'ADD', conf, { cid: 'c2', netns: `/run/netns/${pod2}` })
  t.equal(a2.exit, 0, a2.stdout)
  const r1 = a1.json as { ips: { address: string; gateway: string; interface: number }[]; interfaces: { name: string; sandbox?: string }[] }
  t.equal(r1.ips[0]!.address, '10.77.0.2/24')
  t.equal(r1.ips[0]!.gateway, '10.77.0.1')
  t.equal(r1.interfaces[r1.ips[0]!.interface]!.name, 'eth0')
  t.equal(r1.interfaces[r1.ips[0]!.interface]!.sandbox, `/run/netns/${pod1}`)

  const hostVeth = hostVethName('c1', 'eth0')
  const [hv] = await ipJson<Link[]>(node, ['-d', 'link', 'show', hostVeth])
  t.equal(hv!.master, 'cni0', 'host veth is on cni0')
  t.equal(hv!.linkinfo?.info_slave_data?.hairpin, true, 'hairpin enabled on the bridge port')
  const [eth0] = await ipJson<Link[]>(pod1, ['link', 'show', 'eth0'])
  t.equal(eth0!.mtu, 1400, 'pod MTU')
  const [addr] = await ipJson<Addr[]>(pod1, ['addr', 'show', 'eth0'])
  t.ok(addr!.addr_info.some((a) => a.local === '10.77.0.2' && a.prefixlen === 24), 'pod address')
  const routes = await ipJson<Route[]>(pod1, ['route'])
  t.ok(routes.some((r) => r.dst === 'default' && r.gateway === '10.77.0.1'), 'default route via the bridge')
  t.ok(await pingFrom(pod1, '10.77.0.1'), 'pod pings its gateway')
  t.ok(await pingFrom(pod1, '10.77.0.3'), 'pod pings the other pod')
  t.same(ipFiles(p).sort(), ['10.77.0.2', '10.77.0.3'])

  // CHECK against the ADD result
  const check = await execCni(p, node, 'CHECK', { ...conf, prevResult: a1.json }, { cid: 'c1', netns: `/run/netns/${pod1}` })
  t.equal(check.exit, 0, `CHECK passes: ${check.stdout}`)
  await run('ip', ['-n', pod1, 'route', 'del', 'default'])
  const bad = await execCni(p, node, 'CHECK', { ...conf, prevResult: a1.json }, { cid: 'c1', netns: `/run/netns/${pod1}` })
  t.not(bad.exit, 0, 'CHECK fails once the route is gone')
  t.match(bad.json, { code: 102, msg: /route 0\.0\.0\.0\/0 via 10\.77\.0\.1 missing/ })

  // DEL (with prevResult, as runtimes send it), then again, then without netns
  const d1 = await execCni(p, node, 'DEL', { ...conf, prevResult: a1.json }, { cid: 'c1', netns: `/run/netns/${pod1}` })
  t.equal(d1.exit, 0, d1.stdout)
  t.equal(d1.stdout, '', 'DEL prints nothing')
  t.same(await ipJson<Link[]>(node, ['link', 'show', 'master', 'cni0']).then((l) => l.map((x) => x.ifname)), [hostVethName('c2', 'eth0')], 'host veth gone')
  t.same(await ipJson<Link[]>(pod1, ['link', 'show', 'eth0']).catch(() => []), [], 'pod eth0 gone')
  t.same(ipFiles(p), ['10.77.0.3'], 'IP file released')
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'c1', netns: `/run/netns/${pod1}` })).exit, 0, 'second DEL succeeds')
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'c1' })).exit, 0, 'DEL without netns succeeds')
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'c9', netns: '/run/netns/does-not-exist' })).exit, 0, 'DEL with a vanished netns succeeds')
})

t.test('GC frees allocations not in cni.dev/valid-attachments (and the older cni.dev/attachments)', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'gcn')
  const pods = [await withNetns(t, 'gc1'), await withNetns(t, 'gc2'), await withNetns(t, 'gc3')]
  const conf = netconf(p)
  for (const [i, pod] of pods.entries()) t.equal((await execCni(p, node, 'ADD', conf, { cid: `g${i}`, netns: `/run/netns/${pod}` })).exit, 0)
  t.equal(ipFiles(p).length, 3)
  const gc = await execCni(p, node, 'GC', { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'g1', ifname: 'eth0' }] })
  t.equal(gc.exit, 0, gc.stdout)
  t.same(ipFiles(p), ['10.77.0.3'], 'only the valid attachment keeps its IP')
  const links = (await ipJson<Link[]>(node, ['link', 'show', 'master', 'cni0'])).map((l) => l.ifname)
  t.same(links, [hostVethName('g1', 'eth0')], 'stale host veths removed')
  const gc2 = await execCni(p, node, 'GC', { ...conf, 'cni.dev/attachments': [] })
  t.equal(gc2.exit, 0)
  t.same(ipFiles(p), [], 'older attachments key honoured')
})

t.test('bad env, stdin and config through the executable', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'errn')
  const pod = await withNetns(t, 'errp')
  const conf = netconf(p)
  const cases: [string, string, object | string, Parameters<typeof execCni>[4], number][] = [
    ['missing CNI_NETNS', 'ADD', conf, { cid: 'x' }, 4],
    ['no CNI_COMMAND', '', conf, { cid: 'x', netns: `/run/netns/${pod}` }, 4],
    ['bad stdin', 'ADD', '{"cniVersion":', { cid: 'x', netns: `/run/netns/${pod}` }, 6],
    ['bad config', 'ADD', { ...conf, ipam: { subnet: 'nope' } }, { cid: 'x', netns: `/run/netns/${pod}` }, 7],
    ['bridge name too long', 'ADD', { ...conf, bridge: 'a-very-long-bridge-name' }, { cid: 'x', netns: `/run/netns/${pod}` }, 7],
    ['old version', 'ADD', { ...conf, cniVersion: '0.1.0' }, { cid: 'x', netns: `/run/netns/${pod}` }, 1],
    ['netns missing', 'ADD', conf, { cid: 'x', netns: '/run/netns/nope-nope' }, 4],
  ]
  for (const [name, cmd, stdin, call, code] of cases) {
    const out = await execCni(p, node, cmd, stdin, call)
    t.not(out.exit, 0, `${name}: non-zero exit`)
    t.match(out.json, { code, msg: String }, `${name}: code ${code}`)
  }
  // exhausted range: a clean error, and the failed ADD holds nothing
  const tiny = { ...conf, ipam: { subnet: '10.78.0.0/30', dataDir: p.dataDir } } // one usable address
  t.equal((await execCni(p, node, 'ADD', tiny, { cid: 'e1', netns: `/run/netns/${pod}` })).exit, 0)
  const pod2 = await withNetns(t, 'errq')
  const ex = await execCni(p, node, 'ADD', tiny, { cid: 'e2', netns: `/run/netns/${pod2}` })
  t.match(ex.json, { code: 100, msg: /no IP addresses available/ })
  t.same(await ipJson<Link[]>(pod2, ['link', 'show', 'eth0']).catch(() => []), [], 'failed ADD left no interface')
  t.notOk(existsSync(join(p.dataDir, 'testnet', '10.78.0.3')))
})

t.test('every spec version gets its result shape', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'vern')
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    const pod = await withNetns(t, `v${v.replace(/\./g, '')}`)
    const out = await execCni(p, node, 'ADD', netconf(p, { cniVersion: v }), { cid: `v${v}`, netns: `/run/netns/${pod}` })
    t.equal(out.exit, 0, out.stdout)
    const r = out.json as { cniVersion: string; ips: Record<string, unknown>[]; interfaces: Record<string, unknown>[] }
    t.equal(r.cniVersion, v)
    if (v.startsWith('0.')) t.equal(r.ips[0]!.version, '4', `${v}: ips[].version`)
    else t.notOk('version' in r.ips[0]!, `${v}: no ips[].version`)
    t.equal('mtu' in r.interfaces[2]!, v === '1.1.0', `${v}: interface mtu only in 1.1.0`)
    const ver = await execCni(p, node, 'VERSION', { cniVersion: v })
    t.same(ver.json, { cniVersion: v, supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] })
  }
})

t.test('node-aware mode: subnet.env supplies subnet, MTU; STATUS is 50 until it exists', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'nan')
  const pod = await withNetns(t, 'nap')
  const subnetFile = join(p.dir, 'node1', 'subnet.env')
  const conf = { cniVersion: '1.1.0', name: 'cbr0', type: 'netkube', subnetFile, ipam: { dataDir: p.dataDir } }
  const s1 = await execCni(p, node, 'STATUS', conf)
  t.match(s1.json, { code: 50 })
  t.not(s1.exit, 0)
  const add0 = await execCni(p, node, 'ADD', conf, { cid: 'n0', netns: `/run/netns/${pod}` })
  t.match(add0.json, { code: 50 }, 'ADD before subnet.env is not available')
  await run('mkdir', ['-p', join(p.dir, 'node1')])
  writeFileSync(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\n')
  const garbled = await execCni(p, node, 'ADD', conf, { cid: 'n0', netns: `/run/netns/${pod}` })
  t.match(garbled.json, { code: 7, msg: /subnet\.env: missing FLANNEL_IPMASQ/ }, 'ADD with a garbled subnet.env: invalid config, naming the field')
  writeFileSync(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n')
  t.equal((await execCni(p, node, 'STATUS', conf)).exit, 0, 'STATUS ok once subnet.env exists')
  const add = await execCni(p, node, 'ADD', conf, { cid: 'n1', netns: `/run/netns/${pod}` })
  t.equal(add.exit, 0, add.stdout)
  t.match(add.json, { ips: [{ address: '10.244.7.2/24', gateway: '10.244.7.1' }] })
  const [eth0] = await ipJson<Link[]>(pod, ['link', 'show', 'eth0'])
  t.equal(eth0!.mtu, 1450)
  const routes = await ipJson<Route[]>(pod, ['route'])
  t.ok(routes.some((r) => r.dst === '10.244.0.0/16' && r.gateway === '10.244.7.1'), 'cluster network route')
  t.ok(routes.some((r) => r.dst === 'default'), 'default route')
  t.ok(await pingFrom(pod, '10.244.7.1'))
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'n1', netns: `/run/netns/${pod}` })).exit, 0)
})

t.test('ipMasq: masquerade rules in netkube_cni inside the node namespace', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'mqn')
  const pod = await withNetns(t, 'mqp')
  const conf = netconf(p, { ipMasq: true })
  t.equal((await execCni(p, node, 'ADD', conf, { cid: 'm1', netns: `/run/netns/${pod}` })).exit, 0)
  const set = await run('ip', ['netns', 'exec', node, 'nft', 'list', 'set', 'ip', 'netkube_cni', 'pods_testnet'])
  t.match(set.stdout, /10\.77\.0\.2/)
  const chain = await run('ip', ['netns', 'exec', node, 'nft', 'list', 'chain', 'ip', 'netkube_cni', 'post_testnet'])
  t.match(chain.stdout, /masquerade/)
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'm1', netns: `/run/netns/${pod}` })).exit, 0)
  const after = await run('ip', ['netns', 'exec', node, 'nft', 'list', 'set', 'ip', 'netkube_cni', 'pods_testnet'])
  t.notMatch(after.stdout, /10\.77\.0\.2/, 'DEL removes the pod from the masquerade set')
})

t.test('50 parallel ADDs: 50 distinct IPs, consistent state; parallel DELs clean up', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'par')
  const pod = await withNetns(t, 'parp')
  const conf = netconf(p, { ipam: { subnet: '10.79.0.0/24', dataDir: p.dataDir } })
  const ids = Array.from({ length: 50 }, (_, i) => i)
  const adds = await Promise.all(ids.map((i) => execCni(p, node, 'ADD', conf, { cid: `par${i}`, netns: `/run/netns/${pod}`, ifname: `e${i}` })))
  t.same(adds.filter((a) => a.exit !== 0).map((a) => a.stdout + a.stderr), [], 'every ADD succeeded')
  const got = adds.map((a) => (a.json as { ips: { address: string }[] }).ips[0]!.address)
  t.equal(new Set(got).size, 50, '50 distinct IPs')
  t.equal(ipFiles(p).length, 50, '50 IP files')
  t.equal((await ipJson<Link[]>(node, ['link', 'show', 'master', 'cni0'])).length, 50, '50 ports on cni0')
  const addrs = await ipJson<Addr[]>(pod, ['addr'])
  const inPod = addrs.flatMap((a) => a.addr_info.filter((x) => x.family === 'inet' && x.local !== '127.0.0.1').map((x) => `${x.local}/${x.prefixlen}`))
  t.same(inPod.sort(), [...got].sort(), 'the pod holds exactly the allocated addresses')
  const dels = await Promise.all(ids.map((i) => execCni(p, node, 'DEL', conf, { cid: `par${i}`, netns: `/run/netns/${pod}`, ifname: `e${i}` })))
  t.same(dels.filter((d) => d.exit !== 0).map((d) => d.stdout + d.stderr), [], 'every DEL succeeded')
  t.equal(ipFiles(p).length, 0)
  t.equal((await ipJson<Link[]>(node, ['link', 'show', 'master', 'cni0'])).length, 0)
})

t.test('SIGKILL mid-ADD leaves nothing a later ADD/DEL/GC cannot recover', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'kil')
  const pod = await withNetns(t, 'kilp')
  const conf = netconf(p)
  const netns = `/run/netns/${pod}`
  const crash = (point: string, cid: string) => execCni(p, node, 'ADD', conf, { cid, netns, env: { NETKUBE_CNI_CRASH_AT: point } })

  const k1 = await crash('after-veth', 'k1')
  t.not(k1.exit, 0, 'killed by SIGKILL')
  t.same(ipFiles(p), ['10.77.0.2'], 'an IP is held')
  t.equal((await ipJson<Link[]>(node, ['link', 'show', 'master', 'cni0'])).length, 1, 'a half-set-up veth exists')
  // the runtime's DEL cleans up
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'k1', netns })).exit, 0)
  t.same(ipFiles(p), [])
  t.equal((await ipJson<Link[]>(node, ['link', 'show', 'master', 'cni0'])).length, 0)

  // killed while holding the IPAM lock: the next ADD is not blocked (flock dies with it)
  t.not((await crash('in-ipam-lock', 'k2')).exit, 0)
  const t0 = Date.now()
  const retry = await execCni(p, node, 'ADD', conf, { cid: 'k2', netns })
  t.equal(retry.exit, 0, `a retried ADD succeeds: ${retry.stdout}`)
  t.ok(Date.now() - t0 < 10_000, 'not stuck on a stale lock')
  t.match(retry.json, { ips: [{ address: '10.77.0.3/24' }] }, 'and gets back the address it had reserved')
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'k2', netns })).exit, 0)

  // GC recovers a crash the runtime forgot about
  t.not((await crash('after-veth', 'k3')).exit, 0)
  t.equal((await execCni(p, node, 'GC', { ...conf, 'cni.dev/valid-attachments': [] })).exit, 0)
  t.same(ipFiles(p), [])
  t.equal((await ipJson<Link[]>(node, ['link', 'show', 'master', 'cni0'])).length, 0)
  t.same(readdirSync(join(p.dataDir, 'testnet')).filter((f) => f.startsWith('.tmp')), [], 'no temp files left')
})

t.test('agent mode: the thin executable forwards to startCniServer over a unix socket', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'agn')
  const pod = await withNetns(t, 'agp')
  const socketPath = join(p.dir, 'cni.sock')
  const served: string[] = []
  const srv = await startCniServer({ socketPath, hostNetns: node, onRequest: (cmd) => served.push(cmd) })
  t.teardown(() => srv.close())
  const conf = netconf(p)
  // The crash hook only fires in a plugin process: if the shim fell back to running the plugin
  // itself, this ADD would die; served by the agent, it succeeds.
  const viaAgent = { NETKUBE_CNI_SOCKET: socketPath, NETKUBE_CNI_CRASH_AT: 'in-ipam-lock' }
  const add = await execCni(p, node, 'ADD', conf, { cid: 'a1', netns: `/run/netns/${pod}`, env: viaAgent })
  t.equal(add.exit, 0, add.stdout)
  t.same(served, ['ADD'], 'served by the agent (no local fallback)')
  t.ok(await pingFrom(pod, '10.77.0.1'))
  const bad = await execCni(p, node, 'ADD', '{', { cid: 'a2', netns: `/run/netns/${pod}`, env: viaAgent })
  t.match(bad.json, { code: 6 })
  t.not(bad.exit, 0, 'errors keep their exit code through the socket')
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'a1', netns: `/run/netns/${pod}`, env: viaAgent })).exit, 0)
  t.same(ipFiles(p), [])
  // agent gone → the same executable falls back to running the plugin itself
  await srv.close()
  const fb = await execCni(p, node, 'ADD', conf, { cid: 'a3', netns: `/run/netns/${pod}`, env: { NETKUBE_CNI_SOCKET: socketPath } })
  t.equal(fb.exit, 0, fb.stdout)
  t.equal(served.length, 3)
  t.equal((await execCni(p, node, 'DEL', conf, { cid: 'a3', netns: `/run/netns/${pod}` })).exit, 0)
})

// When setup.sh built the shim, runtimes exec it (and the agent-mode test above goes through it);
// without it every test here would still pass on the Node launcher, so say which one ran.
t.test('the installed executable is the C shim, with the Node launcher beside it as its fallback', { skip: need('addon:shim') }, async (t) => {
  const p = installPlugin(t)
  t.same([...readFileSync(p.bin).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'netkube is an ELF executable, not the Node launcher')
  t.ok(existsSync(join(p.dir, 'bin', 'netkube.js')), 'netkube.js next to it')
})

t.test('without the setns addon the plugin falls back to ip/nsenter and still works', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'fbn')
  const pod1 = await withNetns(t, 'fb1')
  const pod2 = await withNetns(t, 'fb2')
  const conf = netconf(p)
  const env = { NETKUBE_NO_SETNS: '1' }
  const a1 = await execCni(p, node, 'ADD', conf, { cid: 'f1', netns: `/run/netns/${pod1}`, env })
  t.equal(a1.exit, 0, a1.stdout)
  t.equal((await execCni(p, node, 'ADD', conf, { cid: 'f2', netns: `/run/netns/${pod2}`, env })).exit, 0)
  t.ok(await pingFrom(pod1, '10.77.0.3'), 'pods reach each other')
  t.equal((await execCni(p, node, 'CHECK', { ...conf, prevResult: a1.json }, { cid: 'f1', netns: `/run/netns/${pod1}`, env })).exit, 0)
  for (const [cid, pod] of [['f1', pod1], ['f2', pod2]] as const) {
    t.equal((await execCni(p, node, 'DEL', conf, { cid, netns: `/run/netns/${pod}`, env })).exit, 0)
  }
  t.same(ipFiles(p), [])
})

t.test('chained: a prevResult from an earlier plugin is returned with our changes appended', async (t) => {
  const p = installPlugin(t)
  const node = await withNetns(t, 'chn')
  const pod = await withNetns(t, 'chp')
  const prevResult = {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'lo', sandbox: `/run/netns/${pod}` }],
    ips: [{ version: '4', address: '127.0.0.1/8', interface: 0 }],
    dns: { nameservers: ['10.96.0.10'] },
  }
  const out = await execCni(p, node, 'ADD', netconf(p, { cniVersion: '0.4.0', prevResult }), { cid: 'ch1', netns: `/run/netns/${pod}` })
  t.equal(out.exit, 0, out.stdout)
  t.match(out.json, {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'lo' }, { name: 'cni0' }, { name: hostVethName('ch1', 'eth0') }, { name: 'eth0' }],
    ips: [
      { version: '4', address: '127.0.0.1/8', interface: 0 },
      { version: '4', address: '10.77.0.2/24', interface: 3 },
    ],
    dns: { nameservers: ['10.96.0.10'] },
  })
  t.equal((await execCni(p, node, 'DEL', netconf(p, { cniVersion: '0.4.0' }), { cid: 'ch1', netns: `/run/netns/${pod}` })).exit, 0)
})
