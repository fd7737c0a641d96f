import t from 'tap'
import { Counter, Registry } from 'prom-client'
import { startKubeletServer } from '../../src/kubelet/server.js'

t.test('kubelet endpoint: /healthz with the shared probe semantics, /metrics, logs 404', async (t) => {
  const registry = new Registry()
  new Counter({ name: 'netkube_kubelet_test_total', help: 'x', registers: [registry] }).inc()
  const srv = await startKubeletServer({ host: '127.0.0.1', port: 0, registry, logSource: () => ({ code: 404, message: 'pod "p" does not exist' }) })
  t.teardown(() => srv.close())
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${srv.port}${path}`)
    return { status: r.status, body: await r.text() }
  }
  t.same(await get('/healthz'), { status: 200, body: 'ok' })
  t.same(await get('/healthz?verbose'), { status: 200, body: '[+]ping ok\nhealthz check passed\n' })
  t.same(await get('/healthz/ping'), { status: 200, body: 'ok' })
  t.equal((await get('/healthz/nope')).status, 404)
  t.match((await get('/metrics')).body, /^netkube_kubelet_test_total 1$/m)
  t.equal((await get('/containerLogs/default/p/c')).status, 404)
})
