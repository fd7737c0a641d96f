// The kubelet projects each pod's API credentials (token bound to the pod, ca.crt, namespace)
// at /var/run/secrets/kubernetes.io/serviceaccount, with real processes against a real
// apiserver; automountServiceAccountToken: false (pod or ServiceAccount) leaves them out, and
// the token read inside the pod authenticates — until the pod is deleted.
import t from 'tap'
import { join } from 'node:path'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { startKubelet } from '../../src/kubelet/kubelet.js'
import { withApiServer } from '../helpers/apiserver.js'
import { RUN_PREFIX } from '../helpers/netns.js'
import { withCniNode } from '../helpers/cni-node.js'
import { need } from '../helpers/prereq.js'
import { waitUntil } from '../helpers/wait.js'
import { call } from '../authn/helpers.js'

const SA = '/var/run/secrets/kubernetes.io/serviceaccount'

t.test('projected ServiceAccount credentials', { skip: need('busybox', 'etcd', 'addon:setns') }, async (t) => {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const { netns: node, dir, confDir } = await withCniNode(t, '10.250.9.0/24')
  const k = await startKubelet({
    client, nodeName: 'n1', nodeIP: '10.250.9.1', stateDir: join(dir, 'kubelet'), netnsPrefix: `${RUN_PREFIX}-sa-`,
    cniBinDirs: ['/usr/lib/cni'], cniConfDir: confDir, cniNetns: node, clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local',
    port: 0, listenHost: '127.0.0.1', syncIntervalMs: 200,
  })
  t.teardown(() => k.stop({ killPods: true }))
  const sas = client.resource(resourceFor('serviceaccounts'), 'default')
  await sas.create({ metadata: { name: 'reader' } } as never)
  await sas.create({ metadata: { name: 'quiet' }, automountServiceAccountToken: false } as never)
  const pods = client.resource<Pod>(resourceFor('pods'), 'default')
  const script = `echo "ns=$(cat ${SA}/namespace 2>/dev/null || echo none) host=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"; cat ${SA}/token 2>/dev/null; echo; head -1 ${SA}/ca.crt 2>/dev/null; sleep 3600`
  const mk = (name: string, spec: Record<string, unknown>) =>
    pods.create({ metadata: { name }, spec: { nodeName: 'n1', terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', script] }], ...spec } } as Pod)
  await mk('with', { serviceAccountName: 'reader' })
  await mk('podoff', { serviceAccountName: 'reader', automountServiceAccountToken: false })
  await mk('saoff', { serviceAccountName: 'quiet' })
  const logs = async (pod: string) => {
    const r = await fetch(`http://127.0.0.1:${k.port}/containerLogs/default/${pod}/c`)
    return r.status === 200 ? r.text() : ''
  }
  for (const p of ['with', 'podoff', 'saoff']) await waitUntil(`${p} logged`, async () => (await logs(p)).includes('host='), 30_000)
  const out = await logs('with')
  const [first, token, ca] = out.split('\n')
  t.equal(first, 'ns=default host=10.96.0.1:443', 'namespace file and KUBERNETES_SERVICE_HOST/PORT')
  t.equal(ca, '-----BEGIN CERTIFICATE-----', 'ca.crt is the cluster CA')
  const claims = JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString())
  const pod = await pods.get('with')
  t.equal(claims.sub, 'system:serviceaccount:default:reader')
  t.equal(claims['kubernetes.io'].pod.uid, pod.metadata.uid, 'bound to the pod')
  t.equal(claims['kubernetes.io'].node.name, 'n1')
  // Who the token is (RBAC gives a bare ServiceAccount nothing else): SelfSubjectReview, as `kubectl auth whoami`.
  const me = await call(api, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { token: token! }, { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })
  t.equal(me.body?.status?.userInfo?.username, 'system:serviceaccount:default:reader', 'the in-pod token authenticates as its ServiceAccount')
  t.equal(await logs('podoff'), 'ns=none host=10.96.0.1:443\n\n', 'pod automountServiceAccountToken: false: nothing mounted')
  t.equal(await logs('saoff'), 'ns=none host=10.96.0.1:443\n\n', 'ServiceAccount automountServiceAccountToken: false: nothing mounted')
  await pods.delete('with', { gracePeriodSeconds: 0 })
  await waitUntil('pod gone', async () => (await pods.list()).items.every((p) => p.metadata.name !== 'with'), 20_000)
  t.equal((await call(api, 'GET', '/api/v1/namespaces/default/pods', { token: token! })).status, 401, 'deleting the pod revokes the token')
})
