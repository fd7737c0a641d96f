// The batched UDP path (src/dns/native, recvmmsg/sendmmsg): used when the addon is built,
// answers correctly under a burst, and NETKUBE_DNS_NO_MMSG=1 falls back to dgram.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startDnsServer } from '../../src/dns/server.js'
import { run } from '../../src/util/exec.js'
import { need } from '../helpers/prereq.js'
import { dig } from './dig.js'
import { clusterModel } from './fixtures.js'

async function burst(t: Test, port: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-dns-burst-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const qfile = join(dir, 'q.txt')
  writeFileSync(qfile, 'web.default.svc.cluster.local A\nWEB.DEFAULT.SVC.CLUSTER.LOCAL A\nnope.default.svc.cluster.local A\n')
  // 2000 queries, 200 outstanding: many datagrams arrive per wakeup, so batches are > 1.
  const r = await run('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', qfile, '-n', '700', '-q', '200', '-t', '2'], { allowFailure: true, timeoutMs: 30_000 })
  t.match(r.stdout, /Queries completed:\s+2100 \(100\.00%\)/, 'every query of the burst answered')
  t.match(r.stdout, /NOERROR 1400 \(/, 'cache hits, both cases')
  t.match(r.stdout, /NXDOMAIN 700 \(/, 'negative answers')
  const d = await dig(port, ['WeB.default.svc.cluster.local', 'A'])
  t.equal(d.status, 'NOERROR')
  t.match(d.answer[0] ?? '', /^WeB\.default\.svc\.cluster\.local\. \d+ IN A /, 'question case preserved')
}

t.test('fast path is used when the addon is built, and answers a burst', { skip: process.env.NETKUBE_DNS_NO_MMSG === '1' ? 'NETKUBE_DNS_NO_MMSG=1 in the environment' : need('addon:mmsg', 'dnsperf', 'dig') }, async (t) => {
  const srv = await startDnsServer({ model: clusterModel(), host: '127.0.0.1', port: 0, upstreams: [] })
  t.teardown(() => srv.stop())
  t.equal(srv.udpPath, 'mmsg')
  await burst(t, srv.port)
})

t.test('NETKUBE_DNS_NO_MMSG=1 keeps the dgram path, same answers', { skip: need('dnsperf', 'dig') }, async (t) => {
  process.env.NETKUBE_DNS_NO_MMSG = '1'
  t.teardown(() => delete process.env.NETKUBE_DNS_NO_MMSG)
  const srv = await startDnsServer({ model: clusterModel(), host: '127.0.0.1', port: 0, upstreams: [] })
  t.teardown(() => srv.stop())
  t.equal(srv.udpPath, 'dgram')
  await burst(t, srv.port)
})
