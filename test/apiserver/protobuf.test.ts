// Protobuf request bodies as kubectl 1.32+ sends them for `kubectl create …` (fixtures are
// bodies captured from kubectl.1.33), decoded to the JSON shapes kubectl would have sent.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeK8sProtobuf } from '../../src/apiserver/protobuf.js'
import { withApiServer } from '../helpers/apiserver.js'
import { ROOT } from '../helpers/root.js'

const fx = (name: string): Buffer => readFileSync(join(ROOT, 'test/apiserver/fixtures', `${name}.pb`))

t.test('decode kubectl create bodies', async (t) => {
  t.same(decodeK8sProtobuf(fx('namespace')), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'capns' } })
  t.same(decodeK8sProtobuf(fx('configmap')), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1' }, data: { a: 'b', c: 'd' } })
  t.same(decodeK8sProtobuf(fx('deployment')), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'dep1', labels: { app: 'dep1' } },
    spec: {
      replicas: 0, // --replicas=0: a pointer field keeps its zero
      selector: { matchLabels: { app: 'dep1' } },
      template: { metadata: { labels: { app: 'dep1' } }, spec: { containers: [{ name: 'agnhost', image: 'agnhost', ports: [{ containerPort: 8080 }] }] } },
    },
  })
  t.same(decodeK8sProtobuf(fx('service-nodeport')), {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'np1', labels: { app: 'np1' } },
    spec: { ports: [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30123 }], selector: { app: 'np1' }, type: 'NodePort' },
  })
  t.same(decodeK8sProtobuf(fx('service-externalname')).spec, { selector: { app: 'en1' }, type: 'ExternalName', externalName: 'example.com' })
  t.throws(() => decodeK8sProtobuf(Buffer.from('{"kind":"x"}')), { name: 'ProtobufError' })
  t.throws(() => decodeK8sProtobuf(fx('deployment').subarray(0, 60)), { name: 'ProtobufError' }, 'truncated body')
})

t.test('POST with application/vnd.kubernetes.protobuf creates the object', async (t) => {
  const srv = await withApiServer(t)
  const post = async (path: string, body: Buffer) =>
    srv.server.app.inject({ method: 'POST', url: path, payload: body, headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/vnd.kubernetes.protobuf', accept: 'application/vnd.kubernetes.protobuf,application/json' } })
  const ns = await post('/api/v1/namespaces', fx('namespace'))
  t.equal(ns.statusCode, 201, ns.body)
  t.equal(ns.headers['content-type'], 'application/json; charset=utf-8', 'answers in JSON, which the client accepts')
  const d = await post('/apis/apps/v1/namespaces/default/deployments', fx('deployment'))
  t.equal(d.statusCode, 201, d.body)
  t.equal(JSON.parse(d.body).spec.replicas, 0)
  const bad = await post('/api/v1/namespaces/default/configmaps', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0xff]))
  t.equal(bad.statusCode, 415)
  t.equal(JSON.parse(bad.body).kind, 'Status')
})
