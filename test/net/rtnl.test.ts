// src/net against the real kernel, in throwaway namespaces: both implementations of NetOps
// (netlink socket opened inside the namespace, and the `ip` fallback) run the same table.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { withNetns } from '../helpers/netns.js'
import { IpOps, NetError, openRtnl, run, watchLinks, writeSysctl, readSysctl, type NetOps } from './imports.js'
import { need } from '../helpers/prereq.js'

// A netlink socket for another namespace is opened through the setns addon.
const setns = need('addon:setns')

const impls: [string, (ns: string) => NetOps, string | false][] = [
  ['netlink', (ns) => openRtnl(ns), setns],
  ['ip fallback', (ns) => new IpOps(ns), false],
]

for (const [label, open, skip] of impls) {
  t.test(`${label}: bridge, veth into another namespace, addresses, routes`, { skip }, async (t) => {
    const node = await withNetns(t, `n${label[0]}`)
    const pod = await withNetns(t, `p${label[0]}`)
    const h = open(node)
    const p = open(pod)
    t.teardown(() => {
      h.close()
      p.close()
    })
    await h.createBridge({ name: 'br0', mtu: 1450 })
    await h.setLink('br0', { up: true })
    await h.addAddress('br0', '10.9.0.1/24')
    await h.addAddress('br0', '10.9.0.1/24') // ensure: EEXIST is fine
    await h.createVeth({ name: 'vh0', peerName: 'eth0', peerNetns: pod, mtu: 1450 })
    await h.setLink('vh0', { master: 'br0', up: true })
    await h.setHairpin('vh0', true)
    await p.addAddress('eth0', '10.9.0.2/24')
    await p.setLink('eth0', { up: true })
    await p.addRoute({ dst: 'default', via: '10.9.0.1', dev: 'eth0' })
    await p.addRoute({ dst: '10.50.0.0/16', via: '10.60.0.1', dev: 'eth0', onlink: true })
    await p.addRoute({ dst: '10.50.0.0/16', via: '10.9.0.1', dev: 'eth0' }, { replace: true })

    const br = await h.getLink('br0')
    const vh = await h.getLink('vh0')
    t.equal(br?.kind, 'bridge')
    t.equal(vh?.master, br?.index, 'host veth is on the bridge')
    t.equal(vh?.kind, 'veth')
    t.equal(await h.getLink('eth0'), undefined, 'the peer is not in the node namespace')
    const eth0 = await p.getLink('eth0')
    t.equal(eth0?.mtu, 1450)
    t.equal(eth0?.up, true)
    t.ok((await p.listAddresses('eth0')).some((a) => a.cidr === '10.9.0.2/24'))
    const routes = await p.listRoutes({ family: 4 })
    t.ok(routes.some((r) => r.dst === '0.0.0.0/0' && r.via === '10.9.0.1' && r.dev === 'eth0'), 'default route')
    t.ok(routes.some((r) => r.dst === '10.50.0.0/16' && r.via === '10.9.0.1'), 'replaced route')
    const hp = JSON.parse((await run('ip', ['-n', node, '-j', '-d', 'link', 'show', 'vh0'])).stdout) as { linkinfo: { info_slave_data: { hairpin: boolean } } }[]
    t.equal(hp[0]!.linkinfo.info_slave_data.hairpin, true, 'hairpin on the bridge port')
    const ping = await run('ip', ['netns', 'exec', pod, 'ping', '-c1', '-W2', '10.9.0.1'], { allowFailure: true })
    t.equal(ping.code, 0, 'pod pings the bridge address')

    // onlink: a gateway outside every connected prefix is accepted only with onlink
    await p.addRoute({ dst: '10.70.0.0/16', via: '10.80.0.1', dev: 'eth0', onlink: true })
    t.ok((await p.listRoutes({ family: 4 })).find((r) => r.dst === '10.70.0.0/16')?.onlink, 'onlink flag read back')
    const err = await p.addRoute({ dst: '10.71.0.0/16', via: '10.81.0.1', dev: 'eth0' }).catch((e: unknown) => e)
    t.ok(err instanceof NetError)
    t.match((err as NetError).message, /^add route 10\.71\.0\.0\/16 via 10\.81\.0\.1 dev eth0 .*ENETUNREACH/, 'error names op + object + errno')
    const dup = await h.createBridge({ name: 'br0' }).catch((e: unknown) => e)
    t.equal((dup as NetError).code, 'EEXIST')

    t.equal(await p.delRoute({ dst: '10.70.0.0/16', via: '10.80.0.1', dev: 'eth0' }), true)
    t.equal(await p.delRoute({ dst: '10.70.0.0/16', via: '10.80.0.1', dev: 'eth0' }), false, 'deleting a missing route is false, not an error')
    t.equal(await p.delAddress('eth0', '10.9.0.2/24'), true)
    t.equal(await p.delAddress('eth0', '10.9.0.2/24'), false)
    t.equal(await h.deleteLink('vh0'), true)
    t.equal(await h.deleteLink('vh0'), false)
    t.equal(await p.getLink('eth0'), undefined, 'deleting one veth end removes the other')

    await h.writeSysctl('net.ipv4.ip_forward', '1')
    t.equal(await h.readSysctl('net.ipv4.ip_forward'), '1')
  })
}

for (const [label, open, skip] of impls) {
  t.test(`${label}: an address with a lifetime is refreshed by adding it again, and the kernel drops it`, { skip }, async (t) => {
    const node = await withNetns(t, `l${label[0]}`)
    const h = open(node)
    t.teardown(() => h.close())
    await h.createBridge({ name: 'br0' })
    await h.addAddress('br0', '10.9.0.1/24')
    await h.addAddress('br0', '10.9.1.9/32', { lifetimeS: 1 })
    const lft = async (cidr: string): Promise<number | undefined | null> => {
      const a = (await h.listAddresses('br0')).find((x) => x.cidr === cidr)
      return a ? a.validLft : null
    }
    t.equal(await lft('10.9.0.1/24'), undefined, 'a permanent address has no lifetime')
    t.ok((await lft('10.9.1.9/32'))! <= 1, 'valid_lft 1 s')
    // an add with a lifetime replaces: 0.6 s + 0.6 s with a refresh between outlives 1 s
    await new Promise((r) => setTimeout(r, 600))
    await h.addAddress('br0', '10.9.1.9/32', { lifetimeS: 1 })
    await new Promise((r) => setTimeout(r, 600))
    t.not(await lft('10.9.1.9/32'), null, 'still there 1.2 s after it was first added: the add restarted its lifetime')
    const since = Date.now()
    while ((await lft('10.9.1.9/32')) !== null && Date.now() - since < 3000) await new Promise((r) => setTimeout(r, 20))
    t.equal(await lft('10.9.1.9/32'), null, `the kernel removed it by itself ${Date.now() - since + 600} ms after the last add`)
    t.equal(await lft('10.9.0.1/24'), undefined, 'the permanent one stays')
    await t.rejects(h.addAddress('br0', '10.9.1.8/32', { lifetimeS: 0 }), { code: 'EINVAL' }, 'a zero lifetime is refused before the kernel')
  })
}

t.test('sysctls are per namespace (the root namespace is not touched)', async (t) => {
  const ns = await withNetns(t, 'sy')
  const before = readFileSync('/proc/sys/net/ipv4/conf/all/forwarding', 'utf8').trim()
  const target = before === '1' ? '0' : '1'
  await writeSysctl(ns, 'net/ipv4/conf/all/forwarding', target)
  t.equal(await readSysctl(ns, 'net.ipv4.conf.all.forwarding'), target)
  t.equal(readFileSync('/proc/sys/net/ipv4/conf/all/forwarding', 'utf8').trim(), before, 'root namespace unchanged')
})

t.test('link events', { skip: setns }, async (t) => {
  const ns = await withNetns(t, 'ev')
  const seen: string[] = []
  const stop = watchLinks(ns, (e) => seen.push(`${e.type} ${e.name}`))
  t.teardown(stop)
  const h = openRtnl(ns)
  t.teardown(() => h.close())
  await h.createBridge({ name: 'evbr' })
  await h.deleteLink('evbr')
  for (let i = 0; i < 50 && !seen.includes('del evbr'); i++) await new Promise((r) => setTimeout(r, 10))
  t.ok(seen.includes('new evbr'), 'NEW seen')
  t.ok(seen.includes('del evbr'), 'DEL seen')
})
