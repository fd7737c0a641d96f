import t from 'tap'
import { withApiServer, apiRequest, apiWatch } from '../helpers/apiserver.js'

t.test('smoke: create/get/list/watch over HTTPS with a token', async (t) => {
  const srv = await withApiServer(t)
  const v = await apiRequest(srv, 'GET', '/version', undefined, { token: null })
  t.equal(v.status, 200)
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { x: '1' } }
  const c = await apiRequest(srv, 'POST', '/api/v1/namespaces/default/configmaps', cm)
  t.equal(c.status, 201, c.text)
  const g = await apiRequest(srv, 'GET', '/api/v1/namespaces/default/configmaps/a')
  t.equal(g.body.data.x, '1')
  const l = await apiRequest(srv, 'GET', '/api/v1/namespaces/default/configmaps')
  t.equal(l.body.items.length, 1)
  const w = await apiWatch(srv, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${l.body.metadata.resourceVersion}`)
  await apiRequest(srv, 'POST', '/api/v1/namespaces/default/configmaps', { ...cm, metadata: { name: 'b' } })
  const ev = await w.next((e) => e.type === 'ADDED')
  t.equal(ev.object.metadata.name, 'b')
  w.close()
  const nope = await apiRequest(srv, 'GET', '/api/v1/namespaces/default/pods/nope')
  t.equal(nope.status, 404)
  t.equal(nope.body.message, 'pods "nope" not found')
  const svc = await apiRequest(srv, 'GET', '/api/v1/namespaces/default/services/kubernetes')
  t.equal(svc.body.spec.clusterIP, '10.96.0.1', svc.text)
})
