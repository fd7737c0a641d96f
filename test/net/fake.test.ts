// FakeNet is only worth its tests if it answers like the kernel: the same story of NetOps
// calls runs against FakeNet and against real throwaway namespaces (netlink), and the two
// transcripts — results and errno names, including the rules the fake claims (veth ends die
// together, a bridge takes its port's MAC, routes need an up device and a reachable gateway)
// — must be equal.
import t from 'tap'
import { FakeNet, FaultPlan } from '../../src/net/fake.js'
import { withNetns } from '../helpers/netns.js'
import { errnoOf, openRtnl, type NetOps } from './imports.js'

async function story(open: (ns: string) => NetOps, node: string, pod: string): Promise<[string, unknown][]> {
  const out: [string, unknown][] = []
  const errno = (p: Promise<unknown>): Promise<string> => p.then(
    () => 'ok',
    (e: unknown) => errnoOf(e),
  )
  const h = open(node)
  const p = open(pod)
  try {
    await h.createBridge({ name: 'br0' })
    out.push(['bridge twice', await errno(h.createBridge({ name: 'br0' }))])
    await h.createVeth({ name: 'vh0', peerName: 'eth0', peerNetns: pod, mtu: 1400 })
    out.push(['veth name taken in the peer namespace', await errno(h.createVeth({ name: 'vh1', peerName: 'eth0', peerNetns: pod }))])
    out.push(['no half pair left', (await h.getLink('vh1')) === undefined])
    const brBefore = (await h.getLink('br0'))!.mac
    await h.setLink('vh0', { master: 'br0', up: true })
    await h.setHairpin('vh0', true)
    const [br, vh] = [(await h.getLink('br0'))!, (await h.getLink('vh0'))!]
    out.push(['port on the bridge', vh.master === br.index])
    out.push(['bridge took the port MAC', br.mac === vh.mac && br.mac !== brBefore])
    out.push(['pod links', (await p.listLinks()).map((l) => [l.name, l.kind, l.mtu, l.up])])
    out.push(['route on a down device', await errno(p.addRoute({ dst: '10.9.9.0/24', dev: 'eth0' }))])
    await p.addAddress('eth0', '10.9.0.2/24')
    await p.addAddress('eth0', '10.9.0.2/24')
    await p.setLink('eth0', { up: true })
    out.push(['unreachable gateway', await errno(p.addRoute({ dst: 'default', via: '10.10.0.1', dev: 'eth0', family: 4 }))])
    out.push(['onlink gateway', await errno(p.addRoute({ dst: '10.50.0.0/16', via: '10.10.0.1', dev: 'eth0', onlink: true }))])
    await p.addRoute({ dst: 'default', via: '10.9.0.1', dev: 'eth0', family: 4 })
    out.push(['same route twice', await errno(p.addRoute({ dst: 'default', via: '10.9.0.1', dev: 'eth0', family: 4 }))])
    await p.addRoute({ dst: 'default', via: '10.9.0.254', dev: 'eth0', family: 4 }, { replace: true })
    const routes = async (): Promise<string[]> =>
      (await p.listRoutes({ family: 4 })).map((r) => `${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}`).sort()
    out.push(['routes', await routes()])
    out.push(['addresses', (await p.listAddresses('eth0')).filter((a) => a.family === 4).map((a) => a.cidr)])
    out.push(['delete a route', await p.delRoute({ dst: '10.50.0.0/16', via: '10.10.0.1', dev: 'eth0' })])
    out.push(['delete it again', await p.delRoute({ dst: '10.50.0.0/16', via: '10.10.0.1', dev: 'eth0' })])
    await h.writeSysctl('net.ipv4.ip_forward', '1')
    out.push(['sysctl', [await h.readSysctl('net/ipv4/ip_forward'), await p.readSysctl('net.ipv4.ip_forward')]])
    out.push(['delete the host end', await h.deleteLink('vh0')])
    out.push(['pod end went with it', (await p.listLinks()).map((l) => l.name)])
    out.push(['and its routes', await routes()])
    out.push(['delete again', await h.deleteLink('vh0')])
    out.push(['set a missing link', await errno(h.setLink('vh0', { up: true }))])
  } finally {
    h.close()
    p.close()
  }
  return out
}

t.test('FakeNet and the kernel tell the same story', async (t) => {
  const node = await withNetns(t, 'fkn')
  const pod = await withNetns(t, 'fkp')
  const real = await story((ns) => openRtnl(ns), node, pod)
  const net = new FakeNet(new FaultPlan())
  net.addNetns(node)
  net.addNetns(pod)
  const fake = await story((ns) => net.openNetOps(ns), node, pod)
  t.same(fake, real, 'same results and errno names')
  t.equal(net.openHandles, 0)
  // the transcript says something: the rules are exercised, not all "ok"
  t.match(Object.fromEntries(real), {
    'bridge twice': 'EEXIST',
    'route on a down device': 'ENETDOWN',
    'same route twice': 'EEXIST',
    'bridge took the port MAC': true,
    'pod end went with it': ['lo'],
  })
})

t.test('FaultPlan fails the chosen operation once, counting across handles', async (t) => {
  const faults = new FaultPlan()
  const net = new FakeNet(faults)
  net.addNetns('a')
  const a = net.openNetOps('a')
  const self = net.openNetOps()
  faults.failAt(2, 'EBUSY')
  await a.createBridge({ name: 'br0' })
  await t.rejects(self.createBridge({ name: 'br1' }), { code: 'EBUSY', message: /^create bridge br1: EBUSY/ })
  await self.createBridge({ name: 'br1' })
  t.same(faults.log, ['open netlink /run/netns/a', 'open netlink current netns', 'create bridge br0 (netns a)', 'create bridge br1', 'create bridge br1'])
  a.close()
  self.close()
  t.equal(net.openHandles, 0)
  await t.rejects(a.listLinks(), /after close/)
})
