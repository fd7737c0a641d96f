// A client of two real apiservers (one etcd, shared CA and token): when the one it uses is
// killed -9, gets, lists, creates and an informer's watch go on through the other; it stays
// on the one that works. With one server only, the same kill leaves it stranded (the control).
import t from 'tap'
import type { ConfigMap, KubeObject } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { createInformer } from '../../src/client/informer.js'
import { withApiServers } from '../../src/client/kubeconfig.js'
import { freePort } from '../../src/util/ports.js'
import { withApiServer } from '../helpers/apiserver.js'
import { startApiServerChild } from '../helpers/apiserver-child.js'
import { withEtcd } from '../helpers/etcd.js'
import { waitUntil } from '../helpers/wait.js'

const CM = resourceFor('configmaps')
const cm = (name: string): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: name } }) as ConfigMap

t.test('a client with two apiservers survives the death of the one it uses', async (t) => {
  const etcd = await withEtcd(t)
  const port = await freePort('127.0.0.2')
  const a = await withApiServer(t, { etcd, host: '127.0.0.2', port })
  const b = await startApiServerChild(t, { etcd: etcd.endpoint, host: '127.0.0.3', port, shareFrom: a.stateDir })

  // B first: it is the one that dies.
  const cfg = withApiServers({ server: a.url, token: a.token, caPem: a.caPem }, `${b.url},${a.url}`)
  const client = createClient(cfg)
  const single = createClient({ server: b.url, token: a.token, caPem: a.caPem })
  t.teardown(() => {
    client.close()
    single.close()
  })
  const cms = client.resource<ConfigMap>(CM, 'default')
  await cms.create(cm('before'))
  t.equal(client.server, b.url, 'starts on the first server')

  const seen = new Set<string>()
  const inf = createInformer(client.resource<KubeObject>(CM, 'default'), { name: 'failover', backoff: { initialMs: 50, maxMs: 500 } })
  inf.addEventHandler({ onAdd: (o) => seen.add(o.metadata.name!) })
  t.teardown(() => inf.stop())
  await inf.start()
  t.ok(seen.has('before'), 'listed through B')

  await b.kill9()
  const killed = Date.now()
  const l = await cms.list()
  const firstAnswer = Date.now() - killed
  t.ok(l.items.some((c) => c.metadata.name === 'before'), 'list answers after B died')
  t.equal(client.server, a.url, 'moved to A')
  t.comment(`first answer ${firstAnswer} ms after the server in use died (kill -9)`)

  t.equal((await cms.create(cm('after'))).metadata.name, 'after', 'a create (not idempotent, but never sent to B: refused) goes to A')
  t.equal((await cms.get('after')).data?.k, 'after')
  await waitUntil('the informer sees an object created after the kill', async () => seen.has('after'), 15_000, 50)
  t.comment(`informer caught up ${Date.now() - killed} ms after the kill`)
  await cms.create(cm('later'))
  await waitUntil('and keeps watching on A', async () => seen.has('later'), 10_000, 50)
  t.equal(client.server, a.url, 'sticky on A')

  const lone = await single.resource<ConfigMap>(CM, 'default').list().then(() => 'answered', (e: Error & { code?: string }) => e.code)
  t.equal(lone, 'ECONNREFUSED', 'the same request to B alone fails: the failover is what kept the client working')
})

t.test('--api-servers parsing', async (t) => {
  const base = { server: 'https://k:6443', token: 'x' }
  t.same(withApiServers(base, undefined), base, 'absent: the kubeconfig server')
  t.same(withApiServers(base, 'https://a:1, https://b:2'), { ...base, server: 'https://a:1', servers: ['https://a:1', 'https://b:2'] })
  t.throws(() => withApiServers(base, ''), /--api-servers: no server given/)
  t.throws(() => withApiServers(base, 'a:1'), /want https:\/\/ or http:\/\//)
  t.throws(() => withApiServers(base, 'nope'), /"nope" is not a URL/)
  t.throws(() => createClient({ server: 'x', servers: ['https://a:1', 'http://b:2'] }), /all must use one scheme/)
})
