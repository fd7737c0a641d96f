// etcd going away and coming back: requests fail with a Status (no hang, no crash), watches
// end so clients re-watch, and everything resumes from the same revisions afterwards.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEtcd, type EtcdProcess } from '../../src/etcd/process.js'
import { freePort } from '../../src/util/ports.js'
import { apiRequest, apiWatch, withApiServer } from '../helpers/apiserver.js'
import { cm } from './util.js'

t.test('etcd restart under a running apiserver', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-etcd-restart-'))
  const ports = { clientPort: await freePort(), peerPort: await freePort() }
  let etcd: EtcdProcess = await startEtcd({ dataDir: dir, ...ports })
  t.teardown(async () => {
    await etcd.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const srv = await withApiServer(t, { etcd })
  const base = '/api/v1/namespaces/default/configmaps'
  const a = await apiRequest<any>(srv, 'POST', base, cm('before'))
  t.equal(a.status, 201)
  const w = await apiWatch(srv, `${base}?watch=true&resourceVersion=${a.body.metadata.resourceVersion}`)

  await etcd.stop()
  const started = Date.now()
  const down = await apiRequest<any>(srv, 'GET', `${base}/before`)
  t.ok(down.status === 503 || down.status === 504, `GET while etcd is down: ${down.status} ${down.text.slice(0, 120)}`)
  t.equal(down.body?.kind, 'Status')
  t.ok(Date.now() - started < 15_000, 'fails within the call deadline')
  const notReady = await apiRequest(srv, 'GET', '/readyz', undefined, { token: null })
  t.equal(notReady.status, 500)
  t.match(notReady.text, /^\[-\]etcd failed: reason withheld$/m, 'readyz names the failing check')
  await Promise.race([w.ended, new Promise((_, rej) => setTimeout(() => rej(new Error('watch did not end')), 15_000))])
  t.pass('the watch ended when etcd went away')

  etcd = await startEtcd({ dataDir: dir, ...ports })
  const deadline = Date.now() + 30_000
  while ((await apiRequest(srv, 'GET', '/readyz', undefined, { token: null })).status !== 200) {
    if (Date.now() > deadline) throw new Error('apiserver never became ready again')
    await new Promise((r) => setTimeout(r, 200))
  }
  const got = await apiRequest<any>(srv, 'GET', `${base}/before`)
  t.equal(got.status, 200)
  t.equal(got.body.metadata.resourceVersion, a.body.metadata.resourceVersion, 'same revision after the restart')
  const w2 = await apiWatch(srv, `${base}?watch=true&resourceVersion=${a.body.metadata.resourceVersion}`)
  t.teardown(() => w2.close())
  t.equal((await apiRequest(srv, 'POST', base, cm('after'))).status, 201)
  const ev = await w2.next((e) => e.type === 'ADDED', 15_000)
  t.equal(ev.object.metadata.name, 'after')
})
