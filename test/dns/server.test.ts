// The server through the real `dig` on loopback ports: UDP, TCP, EDNS0, truncation,
// FORMERR, fuzzing, forwarding to a fake upstream (dns2), upstream timeouts, caching,
// metrics. All traffic stays on 127.0.0.1.
import { createSocket } from 'node:dgram'
import { request } from 'node:http'
import t, { type Test } from 'tap'
import dns2 from 'dns2'
import { DnsModel } from '../../src/dns/model.js'
import { freePort } from '../../src/util/ports.js'
import { startDnsServer, type DnsServerOptions } from '../../src/dns/server.js'
import { dig } from './dig.js'
import { clusterModel, svc } from './fixtures.js'

const { Packet } = dns2

/** A fake upstream resolver: example.com/www.example.com A 192.0.2.7 (TTL 60), big.example TXT, anything else NXDOMAIN. */
async function fakeUpstream(t: Test): Promise<{ port: number; hits: () => number }> {
  let hits = 0
  const server = dns2.createServer({
    udp: true,
    tcp: true,
    handle: (req: InstanceType<typeof Packet>, send: (p: InstanceType<typeof Packet>) => void) => {
      hits++
      const resp = Packet.createResponseFromRequest(req)
      const q = req.questions[0]!
      const name = q.name.toLowerCase()
      if ((name === 'example.com' || name === 'www.example.com') && q.type === Packet.TYPE.A)
        resp.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 60, address: '192.0.2.7' } as never)
      else if (name === 'big.example' && q.type === Packet.TYPE.TXT)
        // ~1.6 KB: dns2 sends it truncated (TC) over UDP, whole over TCP.
        for (let i = 0; i < 8; i++) resp.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 60, data: [`${i}`.repeat(200)] } as never)
      else if (name !== 'example.com' && name !== 'www.example.com' && name !== 'big.example') resp.header.rcode = Packet.RCODE.NXDOMAIN
      send(resp)
    },
  } as never)
  // UDP and TCP on one port, as a real resolver (the forwarder retries over TCP there).
  const port = await freePort()
  await server.listen({ udp: { port, address: '127.0.0.1' }, tcp: { port, address: '127.0.0.1' } } as never)
  t.teardown(() => server.close())
  return { port, hits: () => hits }
}

async function start(t: Test, extra: Partial<DnsServerOptions> = {}, model = clusterModel(60)) {
  const srv = await startDnsServer({ model, host: '127.0.0.1', port: 0, upstreams: [], metricsPort: 0, ...extra })
  t.teardown(() => srv.stop())
  return srv
}


t.test('UDP: A, AAAA, PTR, authoritative', async (t) => {
  const { port } = await start(t)
  const a = await dig(port, ['web.default.svc.cluster.local', 'A'])
  t.equal(a.status, 'NOERROR')
  t.ok(a.flags.includes('aa'), 'authoritative')
  t.same(a.answer, ['web.default.svc.cluster.local. 5 IN A 10.96.0.20'])
  const aaaa = await dig(port, ['web.default.svc.cluster.local', 'AAAA'])
  t.same(aaaa.answer, ['web.default.svc.cluster.local. 5 IN AAAA fd00:96::20'])
  const ptr = await dig(port, ['-x', '10.96.0.20'])
  t.same(ptr.answer, ['20.0.96.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local.'])
  const pod = await dig(port, ['10-244-1-5.default.pod.cluster.local'])
  t.same(pod.answer, ['10-244-1-5.default.pod.cluster.local. 5 IN A 10.244.1.5'])
  const txt = await dig(port, ['dns-version.cluster.local', 'TXT'])
  t.same(txt.answer, ['dns-version.cluster.local. 5 IN TXT "1.1.0"'])
})

t.test('NXDOMAIN and NODATA carry the SOA; case is echoed', async (t) => {
  const { port } = await start(t)
  const nx = await dig(port, ['missing.default.svc.cluster.local'])
  t.equal(nx.status, 'NXDOMAIN')
  t.match(nx.authority[0], /^cluster\.local\. 5 IN SOA ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 5$/)
  const nodata = await dig(port, ['web.default.svc.cluster.local', 'TXT'])
  t.equal(nodata.status, 'NOERROR')
  t.same(nodata.answer, [])
  t.match(nodata.authority[0], /IN SOA/)
  const upper = await dig(port, ['WEB.Default.SVC.cluster.LOCAL', 'A'])
  t.same(upper.answer, ['WEB.Default.SVC.cluster.LOCAL. 5 IN A 10.96.0.20'], 'answer owner echoes the question (0x20)')
  const headlessEmpty = await dig(port, ['empty.default.svc.cluster.local'])
  t.equal(headlessEmpty.status, 'NXDOMAIN')
})

t.test('TCP: SRV with additional records; headless', async (t) => {
  const { port } = await start(t)
  const srv = await dig(port, ['+tcp', '_pg._tcp.db.default.svc.cluster.local', 'SRV'])
  t.equal(srv.status, 'NOERROR')
  t.equal(srv.answer.length, 3)
  t.ok(srv.answer.includes('_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 33 5432 db-0.db.default.svc.cluster.local.'))
  t.ok(srv.additional.includes('db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.10'))
  // Headless A records rotate from one answer to the next (CoreDNS loadbalance), same set each time.
  const firsts = new Set<string>()
  for (let i = 0; i < 3; i++) {
    const h = await dig(port, ['db.default.svc.cluster.local'])
    t.same([...h.answer].sort(), ['db.default.svc.cluster.local. 5 IN A 10.244.1.10', 'db.default.svc.cluster.local. 5 IN A 10.244.2.11', 'db.default.svc.cluster.local. 5 IN A 10.244.3.12'])
    firsts.add(h.answer[0]!)
  }
  t.equal(firsts.size, 3, 'each of the three came first once')
  const host = await dig(port, ['+tcp', 'db-1.db.default.svc.cluster.local'])
  t.same(host.answer, ['db-1.db.default.svc.cluster.local. 5 IN A 10.244.2.11'])
  const ext = await dig(port, ['+tcp', 'ext.prod.svc.cluster.local', 'CNAME'])
  t.same(ext.answer, ['ext.prod.svc.cluster.local. 5 IN CNAME www.example.com.'])
})

t.test('EDNS0 and truncation on a big headless service', async (t) => {
  const { port } = await start(t)
  // 60 endpoints ≈ 1 KB: more than 512 bytes, less than 1232.
  const noedns = await dig(port, ['+noedns', '+ignore', 'big.default.svc.cluster.local'])
  t.ok(noedns.flags.includes('tc'), 'TC set without EDNS')
  t.equal(noedns.answer.length, 0)
  const small = await dig(port, ['+bufsize=512', '+ignore', 'big.default.svc.cluster.local'])
  t.ok(small.flags.includes('tc'), 'TC set with EDNS bufsize 512')
  t.match(small.raw, /EDNS: version: 0, flags:; udp: 1232/, 'OPT advertised on the truncated answer too')
  const big = await dig(port, ['+bufsize=1232', 'big.default.svc.cluster.local'])
  t.notOk(big.flags.includes('tc'))
  t.equal(big.answer.length, 60)
  t.match(big.raw, /EDNS: version: 0, flags:; udp: 1232/)
  // Without +ignore dig retries over TCP and gets everything.
  const retried = await dig(port, ['+noedns', 'big.default.svc.cluster.local'])
  t.equal(retried.answer.length, 60)
  const badvers = await dig(port, ['+edns=1', '+noednsnegotiation', 'web.default.svc.cluster.local'])
  t.equal(badvers.status, 'BADVERS')
})

function udpExchange(port: number, msg: Buffer, waitMs = 500): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4')
    const timer = setTimeout(() => {
      s.close()
      resolve(undefined)
    }, waitMs)
    s.on('message', (m) => {
      clearTimeout(timer)
      s.close()
      resolve(m)
    })
    s.send(msg, port, '127.0.0.1')
  })
}

t.test('malformed packets: FORMERR or dropped; random bytes never crash it', async (t) => {
  const { port } = await start(t)
  // Header claims one question; the name runs off the end of the packet.
  const garbage = Buffer.from([0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x05, 0x61, 0x62])
  const resp = await udpExchange(port, garbage)
  t.ok(resp, 'answered')
  t.equal(resp!.readUInt16BE(0), 0xbeef, 'same ID')
  t.equal(resp![2]! & 0x80, 0x80, 'QR set')
  t.equal(resp![3]! & 0x0f, 1, 'FORMERR')
  t.equal(await udpExchange(port, Buffer.from([1, 2, 3])), undefined, 'shorter than a header: dropped')
  // Two questions: FORMERR; an opcode we don't do: NOTIMP.
  const two = Buffer.from([0, 7, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1])
  t.equal((await udpExchange(port, two))![3]! & 0xf, 1)
  const notify = Buffer.from([0, 8, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1])
  t.equal((await udpExchange(port, notify))![3]! & 0xf, 4)
  // Fuzz: random packets, and valid queries with random bytes flipped.
  const valid = Buffer.from('abcd01000001000000000001037765620764656661756c740373766307636c7573746572056c6f63616c0000010001000029100000000000000000', 'hex')
  const s = createSocket('udp4')
  for (let i = 0; i < 3000; i++) {
    let b: Buffer
    if (i % 2) {
      b = Buffer.alloc(Math.floor(Math.random() * 80))
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(Math.random() * 256)
    } else {
      b = Buffer.from(valid.subarray(0, Math.floor(Math.random() * (valid.length + 1))))
      for (let k = 0; k < 3 && b.length; k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256)
    }
    s.send(b, port, '127.0.0.1')
    if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5))
  }
  await new Promise((r) => setTimeout(r, 200))
  s.close()
  const after = await dig(port, ['web.default.svc.cluster.local'])
  t.same(after.answer, ['web.default.svc.cluster.local. 5 IN A 10.96.0.20'], 'still serving after the fuzz')
})

t.test('forwarding to upstream with a cache; ExternalName is chased', async (t) => {
  const up = await fakeUpstream(t)
  const { port } = await start(t, { upstreams: [`127.0.0.1:${up.port}`] })
  const first = await dig(port, ['example.com'])
  t.equal(first.status, 'NOERROR')
  t.same(first.answer, ['example.com. 60 IN A 192.0.2.7'])
  t.notOk(first.flags.includes('aa'), 'not authoritative for forwarded names')
  t.equal(up.hits(), 1)
  const second = await dig(port, ['EXAMPLE.com'])
  t.match(second.answer[0], /^EXAMPLE\.com\. (60|59|58) IN A 192\.0\.2\.7$/)
  t.equal(up.hits(), 1, 'second answer came from the cache')
  const nx = await dig(port, ['nope.example.net'])
  t.equal(nx.status, 'NXDOMAIN')
  await dig(port, ['nope.example.net'])
  t.equal(up.hits(), 2, 'NXDOMAIN cached too')
  const ext = await dig(port, ['ext.prod.svc.cluster.local', 'A'])
  t.same(ext.answer, ['ext.prod.svc.cluster.local. 5 IN CNAME www.example.com.', 'www.example.com. 60 IN A 192.0.2.7'])
  // Too big for UDP upstream: the client sees TC, retries over TCP, and so do we.
  const bigUdp = await dig(port, ['+ignore', 'big.example', 'TXT'])
  t.ok(bigUdp.flags.includes('tc'), 'TC passed on over UDP')
  const bigTcp = await dig(port, ['big.example', 'TXT'])
  t.equal(bigTcp.answer.length, 8, 'dig retried over TCP and we forwarded over TCP')
  const unknownPtr = await dig(port, ['-x', '192.0.2.99'])
  t.equal(unknownPtr.status, 'NXDOMAIN', 'reverse names we do not own go upstream')
})

t.test('upstream timeout answers SERVFAIL', async (t) => {
  const silent = createSocket('udp4')
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()))
  t.teardown(() => silent.close())
  const { port } = await start(t, { upstreams: [`127.0.0.1:${silent.address().port}`], upstreamTimeoutMs: 300 })
  const started = Date.now()
  const r = await dig(port, ['example.org'])
  t.equal(r.status, 'SERVFAIL')
  t.ok(Date.now() - started < 2500, 'answered within the upstream timeout, before dig gave up')
  const none = await start(t, { upstreams: [] })
  t.equal((await dig(none.port, ['example.org'])).status, 'SERVFAIL', 'no upstream at all: SERVFAIL')
})

t.test('SERVFAIL until synced; the cache follows model changes', async (t) => {
  const model = new DnsModel()
  model.upsertService(svc('default', 'web', { clusterIP: '10.96.0.20' }))
  const { port } = await start(t, {}, model)
  t.equal((await dig(port, ['web.default.svc.cluster.local'])).status, 'SERVFAIL')
  model.setSynced(true)
  t.same((await dig(port, ['web.default.svc.cluster.local'])).answer, ['web.default.svc.cluster.local. 5 IN A 10.96.0.20'])
  model.upsertService(svc('default', 'web', { clusterIP: '10.96.0.21' }))
  t.same((await dig(port, ['web.default.svc.cluster.local'])).answer, ['web.default.svc.cluster.local. 5 IN A 10.96.0.21'])
  model.deleteService('default', 'web')
  t.equal((await dig(port, ['web.default.svc.cluster.local'])).status, 'NXDOMAIN')
})

t.test('metrics and health over HTTP', async (t) => {
  const srv = await start(t)
  await dig(srv.port, ['web.default.svc.cluster.local'])
  await dig(srv.port, ['web.default.svc.cluster.local'])
  await dig(srv.port, ['missing.default.svc.cluster.local'])
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: srv.metricsPort, path }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
        .on('error', reject)
        .end()
    })
  t.equal((await get('/healthz')).status, 200)
  t.equal((await get('/readyz')).status, 200)
  const m = (await get('/metrics')).body
  t.match(m, /netkube_dns_queries_total\{type="A",rcode="NOERROR"\} 2/)
  t.match(m, /netkube_dns_queries_total\{type="A",rcode="NXDOMAIN"\} 1/)
  t.match(m, /netkube_dns_request_duration_seconds_count\{source="cache"\} 1/)
})

t.test('/readyz waits for the informers (CoreDNS /ready), /healthz does not', async (t) => {
  const model = new DnsModel()
  const srv = await start(t, {}, model)
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${srv.metricsPort}${path}`)
    return { status: r.status, body: await r.text() }
  }
  t.equal((await get('/healthz')).status, 200, 'alive before sync')
  t.same(await get('/readyz'), { status: 500, body: '[+]ping ok\n[-]informer-sync failed: reason withheld\nreadyz check failed\n' }, 'not ready before sync')
  t.equal((await get('/readyz/informer-sync')).body, 'internal server error: caches not synced\n')
  model.setSynced(true)
  t.same(await get('/readyz'), { status: 200, body: 'ok' }, 'ready once synced')
})
