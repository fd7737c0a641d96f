// Subresources (status, scale, binding, log), finalizers, graceful pod deletion and the
// namespace lifecycle.
import t from 'tap'
import { createServer as createHttpsServer } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { issueKubeletServingCert } from '../../src/apiserver/certs.js'
import { withApiServer } from '../helpers/apiserver.js'
import { cm, deployment, inj, pod } from './util.js'

const merge = { contentType: 'application/merge-patch+json' }

async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 100))
  }
}

t.test('subresources and lifecycle', async (t) => {
  const srv = await withApiServer(t)
  const deploys = '/apis/apps/v1/namespaces/default/deployments'
  const pods = '/api/v1/namespaces/default/pods'

  t.test('status subresource: only status changes, generation kept', async (t) => {
    const c = await inj(srv, 'POST', deploys, deployment('st', 2))
    const put = await inj(srv, 'PUT', `${deploys}/st/status`, { ...c.body, spec: { ...c.body.spec, replicas: 9 }, status: { replicas: 2, observedGeneration: 1 } })
    t.equal(put.status, 200, put.text)
    t.equal(put.body.spec.replicas, 2, 'spec ignored on status update')
    t.equal(put.body.status.replicas, 2)
    t.equal(put.body.metadata.generation, 1)
    const stale = await inj(srv, 'PUT', `${deploys}/st/status`, { ...c.body, status: { replicas: 5 } })
    t.equal(stale.status, 409, 'status update with a stale RV')
    const patch = await inj(srv, 'PATCH', `${deploys}/st/status`, { status: { readyReplicas: 1 } }, merge)
    t.equal(patch.status, 200)
    t.same(patch.body.status, { replicas: 2, observedGeneration: 1, readyReplicas: 1 })
    const get = await inj(srv, 'GET', `${deploys}/st/status`)
    t.equal(get.body.status.readyReplicas, 1)
    const main = await inj(srv, 'PUT', `${deploys}/st`, { ...get.body, status: { replicas: 0 } })
    t.equal(main.body.status.replicas, 2, 'status ignored on main update')
    const missing = await inj(srv, 'GET', `${deploys}/st/nothing`)
    t.equal(missing.status, 404)
  })

  t.test('scale subresource: GET/PUT/PATCH on deployments and replicasets', async (t) => {
    await inj(srv, 'POST', deploys, deployment('sc', 2))
    const s = await inj(srv, 'GET', `${deploys}/sc/scale`)
    t.equal(s.status, 200)
    t.equal(s.body.apiVersion, 'autoscaling/v1')
    t.equal(s.body.kind, 'Scale')
    t.equal(s.body.spec.replicas, 2)
    t.equal(s.body.status.selector, 'app=sc')
    const put = await inj(srv, 'PUT', `${deploys}/sc/scale`, { ...s.body, spec: { replicas: 4 } })
    t.equal(put.status, 200, put.text)
    t.equal(put.body.spec.replicas, 4)
    const stale = await inj(srv, 'PUT', `${deploys}/sc/scale`, { ...s.body, spec: { replicas: 6 } })
    t.equal(stale.status, 409)
    const p = await inj(srv, 'PATCH', `${deploys}/sc/scale`, { spec: { replicas: 5 } }, merge)
    t.equal(p.status, 200, p.text)
    const d = await inj(srv, 'GET', `${deploys}/sc`)
    t.equal(d.body.spec.replicas, 5)
    t.equal(d.body.metadata.generation, 3, 'each replica change is a spec change')
    const neg = await inj(srv, 'PATCH', `${deploys}/sc/scale`, { spec: { replicas: -1 } }, merge)
    t.equal(neg.status, 422)
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs1' }, spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } }
    t.equal((await inj(srv, 'POST', '/apis/apps/v1/namespaces/default/replicasets', rs)).status, 201)
    const rsScale = await inj(srv, 'PATCH', '/apis/apps/v1/namespaces/default/replicasets/rs1/scale', { spec: { replicas: 3 } }, merge)
    t.equal(rsScale.body.spec.replicas, 3)
    t.equal((await inj(srv, 'GET', '/api/v1/namespaces/default/configmaps/x/scale')).status, 404, 'no scale on configmaps')
  })

  t.test('binding: sets nodeName once, 409 when already bound', async (t) => {
    await inj(srv, 'POST', pods, pod('b1'))
    const bind = (node: string) => inj(srv, 'POST', `${pods}/b1/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'b1' }, target: { apiVersion: 'v1', kind: 'Node', name: node } })
    const b = await bind('n1')
    t.equal(b.status, 201, b.text)
    t.equal(b.body.status, 'Success')
    const p = await inj(srv, 'GET', `${pods}/b1`)
    t.equal(p.body.spec.nodeName, 'n1')
    t.equal(p.body.status.conditions.find((c: any) => c.type === 'PodScheduled')?.status, 'True')
    const again = await bind('n2')
    t.equal(again.status, 409)
    t.equal(again.body.reason, 'Conflict')
    t.match(again.body.message, /pod b1 is already assigned to node "n1"/)
    t.equal((await inj(srv, 'POST', `${pods}/ghost/binding`, { kind: 'Binding', metadata: { name: 'ghost' }, target: { name: 'n1' } })).status, 404)
  })

  t.test('pod deletion: unscheduled at once; scheduled gets a grace period the kubelet ends with grace 0', async (t) => {
    await inj(srv, 'POST', pods, pod('unsched'))
    const d0 = await inj(srv, 'DELETE', `${pods}/unsched`)
    t.equal(d0.status, 200)
    t.equal((await inj(srv, 'GET', `${pods}/unsched`)).status, 404)

    await inj(srv, 'POST', pods, pod('sched', {}, { nodeName: 'n1', terminationGracePeriodSeconds: 30 }))
    const d1 = await inj(srv, 'DELETE', `${pods}/sched`)
    t.equal(d1.status, 202)
    t.ok(d1.body.metadata.deletionTimestamp)
    t.equal(d1.body.metadata.deletionGracePeriodSeconds, 30)
    const still = await inj(srv, 'GET', `${pods}/sched`)
    t.equal(still.status, 200, 'pod stays until the kubelet confirms')
    const shorter = await inj(srv, 'DELETE', `${pods}/sched`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 5 })
    t.equal(shorter.body.metadata.deletionGracePeriodSeconds, 5, 'a later delete may shorten the grace')
    const longer = await inj(srv, 'DELETE', `${pods}/sched?gracePeriodSeconds=60`)
    t.equal(longer.body.metadata.deletionGracePeriodSeconds, 5, '…never extend it')
    const fin = await inj(srv, 'DELETE', `${pods}/sched?gracePeriodSeconds=0`)
    t.equal(fin.status, 200)
    t.equal((await inj(srv, 'GET', `${pods}/sched`)).status, 404)
  })

  t.test('finalizers: delete sets deletionTimestamp; removing the last finalizer removes the object', async (t) => {
    const c = await inj(srv, 'POST', '/api/v1/namespaces/default/configmaps', { ...cm('fin'), metadata: { name: 'fin', finalizers: ['example.com/hold'] } })
    t.equal(c.status, 201)
    const d = await inj(srv, 'DELETE', '/api/v1/namespaces/default/configmaps/fin')
    t.equal(d.status, 202)
    t.ok(d.body.metadata.deletionTimestamp)
    const g = await inj(srv, 'GET', '/api/v1/namespaces/default/configmaps/fin')
    t.equal(g.status, 200)
    t.ok(g.body.metadata.deletionTimestamp)
    const setTs = await inj(srv, 'PATCH', '/api/v1/namespaces/default/configmaps/fin', { metadata: { deletionTimestamp: null, labels: { x: 'y' } } }, merge)
    t.ok(setTs.body.metadata.deletionTimestamp, 'deletionTimestamp cannot be cleared by an update')
    const rm = await inj(srv, 'PATCH', '/api/v1/namespaces/default/configmaps/fin', { metadata: { finalizers: null } }, merge)
    t.equal(rm.status, 200)
    t.equal((await inj(srv, 'GET', '/api/v1/namespaces/default/configmaps/fin')).status, 404)
  })

  t.test('delete preconditions', async (t) => {
    const c = await inj(srv, 'POST', '/api/v1/namespaces/default/configmaps', cm('pre'))
    const bad = await inj(srv, 'DELETE', '/api/v1/namespaces/default/configmaps/pre', { preconditions: { uid: 'not-the-uid' } })
    t.equal(bad.status, 409)
    t.match(bad.body.message, /Precondition failed: UID in precondition: not-the-uid/)
    const ok = await inj(srv, 'DELETE', '/api/v1/namespaces/default/configmaps/pre', { preconditions: { uid: c.body.metadata.uid, resourceVersion: c.body.metadata.resourceVersion } })
    t.equal(ok.status, 200)
  })

  t.test('propagationPolicy Orphan/Foreground hand the object to the GC through a finalizer', async (t) => {
    const path = '/api/v1/namespaces/default/configmaps'
    await inj(srv, 'POST', path, cm('orph'))
    const o = await inj(srv, 'DELETE', `${path}/orph?propagationPolicy=Orphan`)
    t.equal(o.status, 202)
    t.same(o.body.metadata.finalizers, ['orphan'])
    t.ok(o.body.metadata.deletionTimestamp)
    await inj(srv, 'POST', path, cm('fg'))
    const f = await inj(srv, 'DELETE', `${path}/fg`, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' })
    t.same(f.body.metadata.finalizers, ['foregroundDeletion'])
    // What the garbage collector does when it is done: drop its finalizer; the object goes.
    const done = await inj(srv, 'PATCH', `${path}/fg`, { metadata: { finalizers: null } }, merge)
    t.equal(done.status, 200)
    t.equal((await inj(srv, 'GET', `${path}/fg`)).status, 404)
    await inj(srv, 'POST', path, cm('bg'))
    t.equal((await inj(srv, 'DELETE', `${path}/bg?propagationPolicy=Background`)).status, 200, 'background deletes at once')
    const bad = await inj(srv, 'DELETE', `${path}/orph?propagationPolicy=Sideways`)
    t.equal(bad.status, 400)
  })

  t.test('namespace deletion: Terminating, no new content, contents removed, then the namespace', async (t) => {
    const nsPath = '/api/v1/namespaces'
    t.equal((await inj(srv, 'POST', nsPath, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } })).status, 201)
    const nsObj = await inj(srv, 'GET', `${nsPath}/doomed`)
    t.equal(nsObj.body.status.phase, 'Active')
    await inj(srv, 'POST', `${nsPath}/doomed/configmaps`, cm('c1'))
    await inj(srv, 'POST', `${nsPath}/doomed/pods`, pod('p1'))
    await inj(srv, 'POST', '/apis/apps/v1/namespaces/doomed/deployments', deployment('d1'))
    await inj(srv, 'POST', `${nsPath}/doomed/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 's1' }, spec: { ports: [{ port: 80 }] } })
    const d = await inj(srv, 'DELETE', `${nsPath}/doomed`)
    t.equal(d.body.status.phase, 'Terminating')
    t.ok(d.body.metadata.deletionTimestamp)
    const refused = await inj(srv, 'POST', `${nsPath}/doomed/configmaps`, cm('late'))
    if (refused.status !== 404) {
      t.equal(refused.status, 403)
      t.equal(refused.body.reason, 'Forbidden')
      t.match(refused.body.message, /because it is being terminated/)
    }
    await eventually(async () => ((await inj(srv, 'GET', `${nsPath}/doomed`)).status === 404 ? true : undefined))
    for (const p of [`${nsPath}/doomed/configmaps`, `${nsPath}/doomed/pods`, '/apis/apps/v1/namespaces/doomed/deployments', `${nsPath}/doomed/services`]) {
      t.equal((await inj(srv, 'GET', p)).body.items.length, 0, `${p} empty`)
    }
    const sys = await inj(srv, 'DELETE', `${nsPath}/kube-system`)
    t.equal(sys.status, 403)
    t.equal(sys.body.message, 'namespaces "kube-system" is forbidden: this namespace may not be deleted')
  })

  t.test('pods/log is proxied to the kubelet of the pod\'s node', async (t) => {
    const seen: string[] = []
    const callers: string[] = []
    // The kubelet serves a certificate from the cluster CA and sees the apiserver's kubelet-client identity.
    const dir = mkdtempSync(join(tmpdir(), 'netkube-fake-kubelet-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const serving = await issueKubeletServingCert(join(srv.stateDir, 'pki'), dir, 'logs-node', ['127.0.0.1'])
    const kubelet = createHttpsServer({ key: serving.keyPem, cert: serving.certPem, ca: srv.caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      seen.push(req.url ?? '')
      callers.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN))
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.end('hello from the kubelet\n')
    })
    await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', () => r()))
    t.teardown(() => new Promise<void>((r) => kubelet.close(() => r())))
    const port = (kubelet.address() as { port: number }).port
    await inj(srv, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'logs-node' }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } })
    await inj(srv, 'POST', pods, pod('logpod', {}, { nodeName: 'logs-node' }))
    const r = await inj(srv, 'GET', `${pods}/logpod/log?tailLines=5`, undefined, { accept: '*/*' })
    t.equal(r.status, 200, r.text)
    t.equal(r.text, 'hello from the kubelet\n')
    t.same(seen, ['/containerLogs/default/logpod/c?tailLines=5'])
    t.same(callers, ['kube-apiserver-kubelet-client'], 'the apiserver presents its kubelet-client certificate')
    const unsched = await inj(srv, 'POST', pods, pod('nolog'))
    t.equal(unsched.status, 201)
    const bad = await inj(srv, 'GET', `${pods}/nolog/log`)
    t.equal(bad.status, 400)
    const wrong = await inj(srv, 'GET', `${pods}/logpod/log?container=zz`)
    t.equal(wrong.status, 400)
    t.equal(wrong.body.message, 'container zz is not valid for pod logpod')
  })
})
