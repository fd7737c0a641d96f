// The overlay agent end to end, on a real kernel: three node namespaces on an underlay
// bridge, one `netkube overlay` process per node, a real etcd, pods on every node.
// See cluster.ts for the topology and how the agents reach etcd.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import { withEtcd } from '../helpers/etcd.js'
import { cleanupRunNamespaces } from '../helpers/netns.js'
import { run } from '../../src/util/exec.js'
import { vtepMac } from '../../src/overlay/device.js'
import { observe, privateBuild, stopChild, until, withLab, type Lab, type Node, type Pod } from './cluster.js'

const PREFIX = '/coreos.com/network'
const CONFIG = { Network: '10.5.0.0/16', SubnetMin: '10.5.1.0', SubnetMax: '10.5.4.0', Backend: { Type: 'vxlan' } }

t.teardown(cleanupRunNamespaces)

async function ping(from: Pod, to: string, extra: string[] = []): Promise<{ ok: boolean; out: string }> {
  const r = await run('ip', ['netns', 'exec', from.ns, 'ping', '-c', '1', '-W', '2', ...extra, to], { allowFailure: true })
  return { ok: r.code === 0, out: r.stdout + r.stderr }
}

/** Every pod → every pod on the other nodes: ping and a TCP echo. Returns the failures. */
async function crossNodeMatrix(lab: Lab): Promise<{ tried: number; failures: string[] }> {
  const failures: string[] = []
  let tried = 0
  const all = lab.nodes.flatMap((n) => n.pods.map((p) => ({ n, p })))
  const servers = all.map(({ p }) => lab.spawn('ip', ['netns', 'exec', p.ns, 'socat', 'TCP-LISTEN:7000,fork,reuseaddr', 'EXEC:cat'], `echo-${p.ns}.log`))
  try {
    for (const { p } of all) await until(`echo server in ${p.ns}`, async () => (await run('ip', ['netns', 'exec', p.ns, 'ss', '-ltn'])).stdout.includes(':7000'))
    const jobs: Promise<void>[] = []
    for (const a of all)
      for (const b of all) {
        if (a.n === b.n) continue
        tried++
        jobs.push(
          (async () => {
            const pg = await ping(a.p, b.p.ip)
            if (!pg.ok) failures.push(`ping ${a.p.ns} → ${b.p.ip}: ${pg.out.trim().split('\n').pop()}`)
            const msg = `hello ${a.p.ip} → ${b.p.ip}`
            const r = await run('ip', ['netns', 'exec', a.p.ns, 'socat', '-t', '2', '-T', '3', '-', `TCP:${b.p.ip}:7000,connect-timeout=3`], { input: msg + '\n', allowFailure: true })
            if (r.stdout.trim() !== msg) failures.push(`tcp ${a.p.ns} → ${b.p.ip}:7000: got ${JSON.stringify(r.stdout.trim())} ${r.stderr.trim()}`)
          })(),
        )
      }
    await Promise.all(jobs)
  } finally {
    for (const s of servers) await stopChild(s)
  }
  return { tried, failures }
}

/** What node `n` must have for the other nodes, given their subnet.env (VXLAN). */
function expectedVxlan(lab: Lab, n: Node, others = lab.nodes.filter((o) => o !== n)) {
  const routes: string[] = []
  const neighs: string[] = []
  const fdb: string[] = []
  for (const o of others) {
    const sub = lab.subnetEnv(o)!.FLANNEL_SUBNET!
    const [ip, len] = sub.split('/')
    const net = ip!.replace(/\.1$/, '.0')
    const mac = vtepMac(o.ip, 1)
    routes.push(`${net}/${len} via ${net} dev flannel.1 onlink`)
    neighs.push(`${net} ${mac} flannel.1`)
    fdb.push(`${mac} dst ${o.ip} flannel.1`)
  }
  return { routes: routes.sort(), neighs: neighs.sort(), fdb: fdb.sort() }
}

async function converged(lab: Lab, nodes = lab.nodes, expected = expectedVxlan) {
  return until(
    'kernel state converged on every node',
    async () => {
      for (const n of nodes) {
        const have = await observe(n.ns)
        if (JSON.stringify(have) !== JSON.stringify(expected(lab, n, nodes.filter((o) => o !== n)))) return false
      }
      return true
    },
    20000,
    200,
  ).catch(async (err) => {
    for (const n of nodes) t.comment(`${n.name}: have ${JSON.stringify(await observe(n.ns))}\nwant ${JSON.stringify(expected(lab, n, nodes.filter((o) => o !== n)))}`)
    throw err
  })
}

t.test('flannel-style overlay across three node namespaces', async (t) => {
  const etcd = await withEtcd(t)
  const client = new Etcd3({ hosts: etcd.endpoint })
  t.teardown(() => client.close())
  await client.put(`${PREFIX}/config`).value(JSON.stringify(CONFIG))
  const dir = mkdtempSync(join(tmpdir(), 'nk-overlay-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cli = await privateBuild(t)
  const lab = await withLab(t, dir, etcd.endpoint, cli)
  for (let i = 1; i <= 3; i++) await lab.addNode(i)
  for (const n of lab.nodes) lab.startAgent(n, ['--metrics-port', '9101'])
  for (const n of lab.nodes) await until(`${n.name} subnet.env`, () => lab.subnetEnv(n), 20000)
  const subnets = lab.nodes.map((n) => lab.subnetEnv(n)!.FLANNEL_SUBNET!)
  t.equal(new Set(subnets).size, 3, `three distinct subnets: ${subnets.join(' ')}`)
  t.same(lab.subnetEnv(lab.nodes[0]!), { FLANNEL_NETWORK: '10.5.0.0/16', FLANNEL_SUBNET: subnets[0], FLANNEL_MTU: '1450', FLANNEL_IPMASQ: 'true' }, 'subnet.env: MTU = underlay 1500 − 50')

  const dev = JSON.parse((await run('ip', ['-n', lab.nodes[0]!.ns, '-d', '-j', 'link', 'show', 'flannel.1'])).stdout)[0]
  t.match(dev.linkinfo.info_data, { id: 1, local: '192.168.56.10', port: 8472, learning: false, link: 'eth0' }, 'flannel.1: VNI 1, local PublicIP, dstport 8472, nolearning, on eth0')
  t.equal(dev.mtu, 1450)
  t.equal(dev.address, vtepMac('192.168.56.10', 1))
  const addrs = (await run('ip', ['-n', lab.nodes[0]!.ns, '-4', '-o', 'addr', 'show', 'dev', 'flannel.1'])).stdout
  t.match(addrs, `${subnets[0]!.replace(/\.1\/24$/, '.0')}/32`, 'flannel.1 holds <subnet network>/32')
  t.equal((await run('ip', ['netns', 'exec', lab.nodes[0]!.ns, 'cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '1', 'ip_forward on in the node namespace')
  const nft = (await run('ip', ['netns', 'exec', lab.nodes[0]!.ns, 'nft', 'list', 'table', 'ip', 'netkube-overlay'])).stdout
  t.match(nft, /ip saddr 10\.5\.0\.0\/16 ip daddr 10\.5\.0\.0\/16 return/, 'pod → pod exempt from masquerade')
  t.match(nft, /ip saddr 10\.5\.0\.0\/16 ip daddr != 10\.5\.0\.0\/16 masquerade/, 'pod → outside masqueraded')

  await converged(lab)
  t.pass('every node: permanent ARP, FDB and onlink route for each other node, nothing else')

  // pods wired by netkube's CNI plugin from each node's subnet.env
  const cniMain = join(cli, '../../../cni/main.js')
  for (const n of lab.nodes) await lab.addPodsCni(n, 2, cniMain)
  const env1 = lab.subnetEnv(lab.nodes[0]!)!
  const podLink = JSON.parse((await run('ip', ['-n', lab.nodes[0]!.pods[0]!.ns, '-j', 'link', 'show', 'eth0'])).stdout)[0]
  t.equal(String(podLink.mtu), env1.FLANNEL_MTU, 'CNI plugin gave the pod FLANNEL_MTU')
  t.ok(lab.nodes.every((n) => n.pods.every((p) => p.ip.startsWith(lab.subnetEnv(n)!.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.')))), 'pod IPs from each node\'s FLANNEL_SUBNET')
  const m = await crossNodeMatrix(lab)
  t.same(m.failures, [], `VXLAN: ${m.tried} pod pairs across nodes: ping and TCP`)

  // pod → outside the cluster network is masqueraded to the node address; pod → pod is not
  const outside = lab.spawn('ip', ['netns', 'exec', lab.ul, 'socat', 'TCP-LISTEN:7001,bind=192.168.56.1,fork,reuseaddr', 'SYSTEM:echo $SOCAT_PEERADDR'], 'outside.log')
  await until('outside server', async () => (await run('ip', ['netns', 'exec', lab.ul, 'ss', '-ltn'])).stdout.includes(':7001'))
  const seenAs = await run('ip', ['netns', 'exec', lab.nodes[0]!.pods[0]!.ns, 'socat', '-T', '3', '-', 'TCP:192.168.56.1:7001,connect-timeout=3'], { allowFailure: true })
  await stopChild(outside)
  t.equal(seenAs.stdout.trim(), lab.nodes[0]!.ip, 'pod → outside arrives from the node address (masquerade)')

  // the wire: VXLAN on UDP 8472 with VNI 1 between the node addresses
  const [n1, n2, n3] = lab.nodes as [Node, Node, Node]
  const cap = lab.spawn('ip', ['netns', 'exec', lab.ul, 'tcpdump', '-i', 'br0', '-nn', '-l', '-c', '1', '-T', 'vxlan', 'udp dst port 8472'], 'tcpdump.log')
  let capOut = ''
  cap.once('exit', () => {})
  await until('tcpdump listening', async () => (await run('cat', [join(dir, 'tcpdump.log')], { allowFailure: true })).stdout.includes('listening'))
  await ping(n1.pods[0]!, n2.pods[0]!.ip)
  await until('tcpdump captured', () => cap.exitCode !== null, 5000)
  capOut = (await run('cat', [join(dir, 'tcpdump.log')])).stdout
  t.match(capOut, /192\.168\.56\.10\.\d+ > 192\.168\.56\.11\.8472: VXLAN, flags \[I\] \(0x08\), vni 1\b/, 'underlay carries VXLAN UDP 8472 VNI 1')
  t.match(capOut, new RegExp(`${n1.pods[0]!.ip.replace(/\./g, '\\.')} > ${n2.pods[0]!.ip.replace(/\./g, '\\.')}: ICMP echo request`), 'inner packet: pod to pod, not masqueraded')

  // MTU: the largest payload FLANNEL_MTU allows crosses with DF set; one byte more does not
  const mtu = Number(lab.subnetEnv(n1)!.FLANNEL_MTU)
  const big = await ping(n1.pods[0]!, n3.pods[1]!.ip, ['-M', 'do', '-s', String(mtu - 28)])
  t.ok(big.ok, `ping -M do -s ${mtu - 28} crosses (${mtu} bytes IP = FLANNEL_MTU)`)
  // one byte more does not fit flannel.1 (tried from the node, whose route to pods uses it)
  const over = await ping({ ns: n1.ns, ip: n1.ip }, n3.pods[1]!.ip, ['-M', 'do', '-s', String(mtu - 27)])
  t.notOk(over.ok, `-s ${mtu - 27} does not fit: ${over.out.trim().split('\n').find((l) => /too long|mtu/i.test(l)) ?? ''}`)

  // metrics and health
  const metrics = (await run('ip', ['netns', 'exec', n1.ns, 'curl', '-s', 'http://127.0.0.1:9101/metrics'], { allowFailure: true })).stdout
  if (metrics) {
    t.match(metrics, /netkube_overlay_leases_known 3/, 'metrics: leases known')
    t.match(metrics, /netkube_overlay_last_sync_timestamp_seconds \d/, 'metrics: last sync')
    t.match(metrics, /netkube_overlay_programming_errors_total 0/, 'metrics: no programming errors')
  } else {
    const r = await run('ip', ['netns', 'exec', n1.ns, 'socat', '-t', '2', '-', 'TCP:127.0.0.1:9101'], { input: 'GET /metrics HTTP/1.0\r\n\r\n', allowFailure: true })
    t.match(r.stdout, /netkube_overlay_leases_known 3/, 'metrics: leases known')
    t.match(r.stdout, /netkube_overlay_programming_errors_total 0/, 'metrics: no programming errors')
  }
  const hz = await run('ip', ['netns', 'exec', n1.ns, 'socat', '-t', '2', '-', 'TCP:127.0.0.1:9101'], { input: 'GET /healthz HTTP/1.0\r\n\r\n', allowFailure: true })
  t.match(hz.stdout, /200 OK[^]*ok/, '/healthz ok')

  // a route, an ARP entry and an FDB entry removed by hand come back
  const sub2 = lab.subnetEnv(n2)!.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0')
  await run('ip', ['-n', n1.ns, 'route', 'del', `${sub2}/24`])
  await run('ip', ['-n', n1.ns, 'neigh', 'del', sub2, 'dev', 'flannel.1'])
  await run('bridge', ['-n', n1.ns, 'fdb', 'del', vtepMac(n2.ip, 1), 'dev', 'flannel.1', 'dst', n2.ip])
  const t0 = Date.now()
  await converged(lab)
  t.pass(`hand-deleted route, ARP and FDB entries restored (${Date.now() - t0} ms)`)
  // a stray route into the cluster network is removed
  await run('ip', ['-n', n1.ns, 'route', 'add', '10.5.77.0/24', 'via', '10.5.77.0', 'dev', 'flannel.1', 'onlink'])
  await converged(lab)
  t.pass('stray overlay route removed')

  // removing a node: stop its agent, delete its lease → its entries vanish everywhere
  const sub3 = lab.subnetEnv(n3)!.FLANNEL_SUBNET!
  await lab.stopAgent(n3)
  await client.delete().key(`${PREFIX}/subnets/${sub3.replace(/\.1\/24$/, '.0-24')}`)
  await converged(lab, [n1, n2])
  t.pass('node 3 removed: its routes, ARP and FDB entries are gone on nodes 1 and 2')
  // restart: same subnet
  lab.startAgent(n3)
  await converged(lab)
  t.equal(lab.subnetEnv(n3)!.FLANNEL_SUBNET, sub3, 'node 3 restarted with the same subnet')

  // SIGKILL + restart: converges, same subnet, no duplicate or stale entries
  const sub2full = lab.subnetEnv(n2)!.FLANNEL_SUBNET
  await lab.stopAgent(n2, 'SIGKILL')
  lab.startAgent(n2)
  await until('n2 agent ready again', () => lab.agentLog(n2).split('overlay ready').length > 2, 20000)
  await converged(lab)
  t.equal(lab.subnetEnv(n2)!.FLANNEL_SUBNET, sub2full, 'SIGKILLed agent keeps its subnet')
  const leases = await client.getAll().prefix(`${PREFIX}/subnets/`).keys()
  t.equal(leases.length, 3, 'exactly three leases in etcd (no duplicate for the restarted node)')
  const m2 = await crossNodeMatrix(lab)
  t.same(m2.failures, [], `after restarts: ${m2.tried} pairs still reach each other`)

  // etcd unreachable for a while: a lease created meanwhile arrives through the resumed watch
  await lab.etcdOutage(async () => {
    await new Promise((r) => setTimeout(r, 1500))
    await client.put(`${PREFIX}/subnets/10.5.9.0-24`).value(JSON.stringify({ PublicIP: '192.168.56.99', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:99' } }))
  })
  await until('lease from the outage programmed on every node', async () => {
    for (const n of lab.nodes) if (!(await observe(n.ns)).routes.includes('10.5.9.0/24 via 10.5.9.0 dev flannel.1 onlink')) return false
    return true
  }, 20000)
  t.pass('after an etcd disconnect the watch resumed and delivered the change made meanwhile')
  await client.delete().key(`${PREFIX}/subnets/10.5.9.0-24`)
  await converged(lab)

  // own lease deleted under a running agent: it takes the same subnet back
  const key1 = `${PREFIX}/subnets/${lab.subnetEnv(n1)!.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0-24')}`
  await client.delete().key(key1)
  const back = await until('n1 lease re-acquired', async () => {
    const v = await client.get(key1).string()
    return v && JSON.parse(v).PublicIP === n1.ip ? v : undefined
  })
  t.ok(back, 'deleted own lease re-acquired (same subnet)')
  t.ok(n1.agent && n1.agent.exitCode === null, 'agent still running')
  // own subnet taken by another node: the agent must not keep routing it — it stops loudly
  const a1 = n1.agent!
  const a1exit = new Promise<number | null>((r) => a1.once('exit', (c) => r(c)))
  await client.put(key1).value(JSON.stringify({ PublicIP: '192.168.56.98', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:98' } }))
  t.equal(await a1exit, 1, 'agent exits 1 when its subnet is taken')
  t.match(lab.agentLog(n1), /lost the lease on 10\.5\.\d+\.0\/24 \(taken by 192\.168\.56\.98\) and could not take it back; stopping/, 'and says why')
  const vx = await run('ip', ['-n', n1.ns, 'link', 'show', 'flannel.1'], { allowFailure: true })
  t.not(vx.code, 0, 'flannel.1 removed: no more routing for a subnet it does not own')
  await client.delete().key(key1)
  lab.startAgent(n1)
  await converged(lab)
  t.pass('restarted agent takes its subnet back (from subnet.env) and everything converges')

  // two new nodes race for the last free subnet (range 10.5.1.0–10.5.4.0 = 4 subnets)
  const n4 = await lab.addNode(4)
  const n5 = await lab.addNode(5)
  const a4 = lab.startAgent(n4)
  const a5 = lab.startAgent(n5)
  const exit = (c: typeof a4) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))))
  const first = await Promise.race([exit(a4).then((c) => ({ who: n4, c })), exit(a5).then((c) => ({ who: n5, c }))])
  const loser = first.who
  const winner = loser === n4 ? n5 : n4
  t.equal(first.c, 1, `${loser.name} exits with an error`)
  t.match(lab.agentLog(loser), /no free subnet in 10\.5\.0\.0\/16: all 4 \/24 subnets between 10\.5\.1\.0 and 10\.5\.4\.0 are leased/, 'and says why')
  await until(`${winner.name} subnet.env`, () => lab.subnetEnv(winner), 20000)
  t.ok(winner.agent && winner.agent.exitCode === null, `${winner.name} won the last subnet ${lab.subnetEnv(winner)!.FLANNEL_SUBNET}`)
  await lab.stopAgent(winner)
  await client.delete().key(`${PREFIX}/subnets/${lab.subnetEnv(winner)!.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0-24')}`)
  lab.nodes.splice(3)
  await converged(lab)

  // host-gw: same nodes, same subnets, plain routes via the node addresses
  for (const n of lab.nodes) await lab.stopAgent(n)
  await client.put(`${PREFIX}/config`).value(JSON.stringify({ ...CONFIG, Backend: { Type: 'host-gw' } }))
  for (const n of lab.nodes) lab.startAgent(n)
  const expectedHostGw = (l: Lab, n: Node, others: Node[] = l.nodes.filter((o) => o !== n)) => ({
    routes: others.map((o) => `${l.subnetEnv(o)!.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0/24')} via ${o.ip} dev eth0`).sort(),
    neighs: [] as string[],
    fdb: [] as string[],
  })
  await converged(lab, lab.nodes, expectedHostGw)
  t.pass('host-gw: one route per remote subnet via its PublicIP; flannel.1 and its entries gone')
  t.same(lab.nodes.map((n) => lab.subnetEnv(n)!.FLANNEL_SUBNET), subnets, 'subnets kept across the backend switch')
  const m3 = await crossNodeMatrix(lab)
  t.same(m3.failures, [], `host-gw: ${m3.tried} pod pairs across nodes: ping and TCP`)
})
