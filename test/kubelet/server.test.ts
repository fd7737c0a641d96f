import t from 'tap'
import { Counter, Registry } from 'prom-client'
import { request as httpsRequest } from 'node:https'
import { startKubeletServer } from '../../src/kubelet/server.js'
import { KubeletClient, readBody } from '../../src/apiserver/kubelet-client.js'
import { withKubeletPki } from '../helpers/kubelet-pki.js'

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

t.test('kubelet HTTPS: a certificate from the cluster CA; only the apiserver\'s kubelet-client identity may call', async (t) => {
  const pki = await withKubeletPki(t)
  const registry = new Registry()
  const srv = await startKubeletServer({ host: '127.0.0.1', port: 0, registry, logSource: () => ({ code: 404, message: 'pod "p" does not exist' }), tls: pki.kubeletTLS })
  t.teardown(() => srv.close())
  const ep = { host: '127.0.0.1', port: srv.port }
  const get = (path: string, client?: { certPem: string; keyPem: string }, ca = pki.caPem) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: srv.port, path, agent: false, ca, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }))
      })
      req.on('error', reject)
      req.end()
    })
  t.same(await get('/healthz'), { status: 401, body: 'Unauthorized' }, 'no client certificate: 401')
  t.same(await get('/containerLogs/default/p/c', pki.stranger), { status: 403, body: 'Forbidden (user=mallory, verb=get, resource=nodes, subresource=proxy)' }, 'another identity of the same CA: 403, upstream\'s text')
  t.same(await get('/metrics', pki.stranger), { status: 403, body: 'Forbidden (user=mallory, verb=get, resource=nodes, subresource=metrics)' })
  t.same(await get('/healthz', pki.apiserverClient), { status: 200, body: 'ok' }, 'the apiserver\'s kubelet-client certificate is admitted')
  // The apiserver's side: KubeletClient verifies the kubelet against the cluster CA.
  const res = await pki.client.get(ep, '/healthz')
  t.equal(res.statusCode, 200)
  t.equal(await readBody(res), 'ok')
  await t.rejects(get('/healthz', pki.apiserverClient, pki.stranger.certPem), /self[- ]signed|unable to verify|unknown/i, 'a client not trusting the cluster CA refuses the kubelet')
  // An upgrade request by a stranger is refused before any handler sees it.
  const up = await new KubeletClient({ caPem: pki.caPem, certPem: pki.stranger.certPem, keyPem: pki.stranger.keyPem }).upgrade(ep, 'POST', '/exec/default/p/c?command=true', { Connection: 'Upgrade', Upgrade: 'SPDY/3.1' })
  t.equal(up.upgraded, false)
  t.equal(up.res.statusCode, 403)
  t.equal(await readBody(up.res), 'Forbidden (user=mallory, verb=create, resource=nodes, subresource=proxy)')
})
