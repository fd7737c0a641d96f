import t from 'tap'
import { Counter, Registry } from 'prom-client'
import { startStatusServer } from '../../src/util/status-server.js'

t.test('/metrics and kube-style probe endpoints over a real socket', async (t) => {
  const registry = new Registry()
  new Counter({ name: 'netkube_test_things_total', help: 'things', registers: [registry] }).inc(3)
  let informerReason: string | undefined = 'caches not synced'
  const srv = await startStatusServer({
    component: 'test',
    port: 0,
    registry,
    checks: {
      healthz: [{ name: 'loop', check: () => undefined }],
      readyz: [{ name: 'informer-sync', check: () => informerReason }],
    },
    routes: { '/custom': () => ({ status: 418, contentType: 'application/json', body: '{"x":1}' }) },
  })
  t.teardown(() => srv.close())
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${srv.port}${path}`)
    return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() }
  }

  const m = await get('/metrics')
  t.equal(m.status, 200)
  t.equal(m.type, registry.contentType)
  t.match(m.body, /^netkube_test_things_total 3$/m)

  t.same(await get('/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok' })
  t.equal((await get('/livez')).body, 'ok', 'livez defaults to the healthz checks')
  t.equal((await get('/healthz?verbose')).body, '[+]ping ok\n[+]loop ok\nhealthz check passed\n')

  const notReady = await get('/readyz')
  t.equal(notReady.status, 500, 'a failing check fails the endpoint')
  t.equal(notReady.body, '[+]ping ok\n[-]informer-sync failed: reason withheld\nreadyz check failed\n')
  t.same(await get('/readyz/informer-sync'), { status: 500, type: 'text/plain; charset=utf-8', body: 'internal server error: caches not synced\n' }, 'one check by path says why')
  t.equal((await get('/readyz?exclude=informer-sync')).status, 200, 'an excluded check does not count')
  t.equal((await get('/readyz?exclude=informer-sync&verbose')).body, '[+]ping ok\n[+]informer-sync excluded: ok\nreadyz check passed\n')
  t.equal((await get('/readyz/nope')).status, 404)

  informerReason = undefined
  t.equal((await get('/readyz')).status, 200, 'checks are evaluated per request')
  t.equal((await get('/readyz/informer-sync')).body, 'ok')

  t.same(await get('/custom'), { status: 418, type: 'application/json', body: '{"x":1}' }, 'a component route')
  t.equal((await get('/nothing')).status, 404)
})

t.test('a throwing check is a failed check, not a crashed server', async (t) => {
  const srv = await startStatusServer({ component: 'test', port: 0, checks: { healthz: [{ name: 'boom', check: () => { throw new Error('kaput') } }] } })
  t.teardown(() => srv.close())
  const r = await fetch(`http://127.0.0.1:${srv.port}/healthz/boom`)
  t.equal(r.status, 500)
  t.equal(await r.text(), 'internal server error: kaput\n')
  t.equal((await fetch(`http://127.0.0.1:${srv.port}/metrics`)).status, 404, 'no registry, no /metrics')
})

t.test('close() frees the port even with a keep-alive client; a taken port is an error', async (t) => {
  const a = await startStatusServer({ component: 'test', port: 0 })
  await fetch(`http://127.0.0.1:${a.port}/healthz`) // leaves a keep-alive connection open
  await t.rejects(startStatusServer({ component: 'test', port: a.port }), /EADDRINUSE/)
  await a.close()
  const b = await startStatusServer({ component: 'test', port: a.port })
  t.equal(b.port, a.port)
  await b.close()
})
