// The etcd side of the overlay against a real etcd: compare-and-set acquisition, restart keeps
// the subnet, the race for the last subnet, TTL renewal, watch events and compaction resync.
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { withEtcd } from '../helpers/etcd.js'
import { parseNetworkConfig } from '../../src/overlay/config.js'
import { formatIp4Net, parseIp4Net } from '../../src/net/ip.js'
import type { Lease } from '../../src/overlay/lease.js'
import { SubnetRegistry, type LeaseList } from '../../src/overlay/registry.js'
import { NoFreeSubnetError } from '../../src/overlay/subnets.js'

const PREFIX = '/coreos.com/network'
const cfg = parseNetworkConfig(JSON.stringify({ Network: '10.5.0.0/16', SubnetMin: '10.5.1.0', SubnetMax: '10.5.3.0' }))
const attrs = (ip: string) => ({ publicIP: ip, backendType: 'vxlan' as const, vni: 1, vtepMAC: '0e:00:00:00:00:0' + ip.slice(-1) })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('subnet leases in etcd', async (t) => {
  const etcd = await withEtcd(t)
  const client = new Etcd3({ hosts: etcd.endpoint })
  t.teardown(() => client.close())
  const reg = new SubnetRegistry(client, PREFIX)
  await reg.putConfig(JSON.stringify({ Network: '10.5.0.0/16', SubnetMin: '10.5.1.0', SubnetMax: '10.5.3.0' }))
  t.same(parseNetworkConfig((await reg.getConfigJSON())!), cfg, 'config round-trips through <prefix>/config')

  const a = await reg.acquire(cfg, attrs('192.168.56.10'), 60)
  const raw = await client.get(`${PREFIX}/subnets/${formatIp4Net(a.lease.subnet).replace('/', '-')}`).string()
  t.same(JSON.parse(raw!), { PublicIP: '192.168.56.10', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:00' } }, 'flannel value format')
  const ttl = await client.leaseClient.leaseTimeToLive({ ID: await a.id })
  t.ok(Number(ttl.TTL) > 50 && Number(ttl.TTL) <= 60, `key attached to an etcd lease with TTL (${ttl.TTL} s left)`)

  // restart: same PublicIP gets the same subnet, key moves to the new etcd lease
  await a.stop(false)
  const a2 = await reg.acquire(cfg, attrs('192.168.56.10'), 60)
  t.same(a2.lease.subnet, a.lease.subnet, 'restart keeps the subnet')
  t.equal((await reg.list()).leases.length, 1, 'no second lease for the same node')

  // fill all but one subnet, then race two agents for the last one
  const b = await reg.acquire(cfg, attrs('192.168.56.11'), 60)
  const results = await Promise.allSettled([reg.acquire(cfg, attrs('192.168.56.12'), 60), reg.acquire(cfg, attrs('192.168.56.13'), 60)])
  const won = results.filter((r) => r.status === 'fulfilled')
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  t.equal(won.length, 1, 'exactly one agent wins the last subnet')
  t.equal(lost.length, 1, 'the other fails')
  t.ok(lost[0]!.reason instanceof NoFreeSubnetError, 'with NoFreeSubnetError')
  t.match(String(lost[0]!.reason.message), /no free subnet in 10\.5\.0\.0\/16: all 3 \/24 subnets between 10\.5\.1\.0 and 10\.5\.3\.0 are leased/)
  const list = await reg.list()
  t.equal(new Set(list.leases.map((l) => l.subnet.ip)).size, 3, 'three distinct subnets, no sharing')
  for (const o of [a2, b, ...won.map((w) => (w as PromiseFulfilledResult<Awaited<ReturnType<typeof reg.acquire>>>).value)]) await o.stop(true)
  await until('released leases gone', async () => (await reg.list()).leases.length === 0)
  t.pass('release revokes: subnets free again')
})

t.test('TTL: renewed while running, expires after the agent is gone', async (t) => {
  const etcd = await withEtcd(t)
  const client = new Etcd3({ hosts: etcd.endpoint })
  t.teardown(() => client.close())
  const reg = new SubnetRegistry(client, PREFIX)
  const owned = await reg.acquire(cfg, attrs('192.168.56.10'), 3)
  let lostWhy = ''
  owned.onLost = (w) => (lostWhy = w)
  await sleep(5000)
  t.equal((await reg.list()).leases.length, 1, 'still leased after 5 s with a 3 s TTL (renewed)')
  await owned.stop(false)
  await until('expired lease gone', async () => (await reg.list()).leases.length === 0, 8000)
  t.pass('not renewed: the key expires with its etcd lease')
  t.equal(lostWhy, '', 'a stopped lease does not report loss')

  // an agent whose etcd lease is revoked behind its back learns it at the next renewal
  const o2 = await reg.acquire(cfg, attrs('192.168.56.11'), 3)
  const lost = new Promise<string>((r) => (o2.onLost = r))
  await client.leaseClient.leaseRevoke({ ID: await o2.id })
  t.match(await lost, /expired/, 'lease loss reported')
  const again = await reg.reacquireSame(attrs('192.168.56.11'), o2.lease.subnet, 3)
  t.ok(again, 'the same subnet can be taken back when free')
  await again!.stop(true)
})

t.test('watch: events, resume from a revision, resync after compaction', async (t) => {
  const etcd = await withEtcd(t)
  const client = new Etcd3({ hosts: etcd.endpoint })
  t.teardown(() => client.close())
  const reg = new SubnetRegistry(client, PREFIX)
  const start = await reg.list()
  const seen = new Map<number, Lease>()
  const resyncs: LeaseList[] = []
  const h = {
    onPut: (l: Lease) => void seen.set(l.subnet.ip, l),
    onDelete: (s: { ip: number }) => void seen.delete(s.ip),
    onResync: (l: LeaseList) => {
      resyncs.push(l)
      seen.clear()
      for (const x of l.leases) seen.set(x.subnet.ip, x)
    },
  }
  const w = reg.watch(start.revision, h)
  t.teardown(() => w.close())
  const x = await reg.acquire(cfg, attrs('192.168.56.10'), 60)
  await until('put seen', () => seen.has(x.lease.subnet.ip))
  t.equal(seen.get(x.lease.subnet.ip)!.publicIP, '192.168.56.10', 'put event decoded')
  await reg.deleteLease(x.lease.subnet)
  await until('delete seen', () => !seen.has(x.lease.subnet.ip))
  t.pass('delete event')
  await x.stop(true)

  // a watch starting from a compacted revision is cancelled by etcd: re-list and go on
  const old = await reg.list()
  const y = await reg.acquire(cfg, attrs('192.168.56.11'), 60)
  await client.put('/unrelated').value('1')
  const head = (await client.get('/unrelated').exec()).header.revision
  await client.kv.compact({ revision: head, physical: true })
  const w2 = reg.watch(old.revision, h)
  t.teardown(() => w2.close())
  await until('resync after compaction', () => resyncs.length > 0)
  t.ok(seen.has(parseIp4Net(formatIp4Net(y.lease.subnet)).ip), 'the re-list brought the lease created before the compaction')
  const z = await reg.acquire(cfg, attrs('192.168.56.12'), 60)
  await until('events after resync', () => seen.has(z.lease.subnet.ip))
  t.pass('watching again from the re-list revision')
  await y.stop(true)
  await z.stop(true)
})
