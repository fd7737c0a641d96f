// The reconcile plan for control-plane-owned objects (pure): create when absent, nothing
// when the stored object carries every declared field (defaults do not count as drift),
// update that puts declared fields back and keeps user-owned and undeclared ones.
import t from 'tap'
import type { KubeObject } from '../../src/api/types.js'
import { driftPaths, planReconcile } from '../../src/apiserver/reconcile.js'
import { dnsDeployment, dnsService, DNS_DEPLOYMENT_OWNERSHIP as OWN, SERVICE_OWNERSHIP } from '../../src/server/addons.js'

const want = dnsDeployment({ kubeconfig: '/k', clusterDomain: 'cluster.local', clusterIP: '10.96.0.10', replicas: 2 }) as KubeObject

function stored(mut: (o: any) => void = () => {}): KubeObject {
  const o: any = structuredClone(want)
  o.metadata = { ...o.metadata, uid: 'u1', resourceVersion: '7', labels: { ...o.metadata.labels, extra: 'kept' } }
  o.spec.revisionHistoryLimit = 10 // a default the apiserver filled in
  o.spec.template.spec.containers[0].imagePullPolicy = 'IfNotPresent'
  o.status = { replicas: 2 }
  mut(o)
  return o
}

t.test('driftPaths is a subset check', async (t) => {
  t.same(driftPaths({ a: 1, b: { c: [1, { d: 2 }] } }, { a: 1, x: 9, b: { c: [1, { d: 2, e: 3 }] } }), [])
  t.same(driftPaths({ a: 1, b: { c: [1, 2] } }, { a: 2, b: { c: [1] } }), ['a', 'b.c'])
  t.same(driftPaths({ b: { c: [{ d: 2 }] } }, { b: { c: [{ d: 3 }] } }), ['b.c[0].d'])
  t.same(driftPaths({ a: { b: 1 } }, { a: 'x' }), ['a'])
})

t.test('planReconcile', async (t) => {
  t.same(planReconcile(want, undefined, OWN), { op: 'create', object: want }, 'absent: create as declared')
  t.same(planReconcile(want, stored(), OWN), { op: 'none' }, 'defaults, status and extra labels are not drift')
  t.same(planReconcile(want, stored((o) => (o.spec.replicas = 5)), OWN), { op: 'none' }, 'a user-scaled replicas is not drift')
  t.equal(planReconcile(want, stored((o) => (o.spec.replicas = 5))).op, 'update', 'replicas is drift when not user-owned')

  const p = planReconcile(
    want,
    stored((o) => {
      o.spec.replicas = 5
      o.spec.template.spec.containers[0].image = 'evil/dns'
      o.spec.template.spec.containers[0].args = ['--oops']
      delete o.metadata.labels['addonmanager.kubernetes.io/mode']
    }),
    OWN,
  )
  if (p.op !== 'update') throw new Error(`expected update, got ${p.op}`)
  t.same(p.drift.sort(), ['metadata.labels.addonmanager.kubernetes.io/mode', 'spec.template.spec.containers[0].args', 'spec.template.spec.containers[0].image'])
  const c = (p.object as any).spec.template.spec.containers[0]
  t.equal(c.image, 'netkube/dns', 'image put back')
  t.same(c.args, (want as any).spec.template.spec.containers[0].args, 'args put back')
  t.equal((p.object as any).spec.replicas, 5, 'user-owned replicas kept')
  t.equal(p.object.metadata.resourceVersion, '7', 'update is conditional on the version read')
  t.equal(p.object.metadata.uid, 'u1')
  t.equal(p.object.metadata.labels?.extra, 'kept', 'labels the reconciler does not declare are kept')
  t.equal(p.object.metadata.labels?.['addonmanager.kubernetes.io/mode'], 'Reconcile')
  t.same(driftPaths(want.metadata.labels, p.object.metadata.labels), [])
})

t.test('a drifted immutable field is a recreate', async (t) => {
  const svc = dnsService('10.96.0.10') as KubeObject
  const elsewhere: any = structuredClone(svc)
  elsewhere.spec.clusterIP = '10.96.0.77'
  elsewhere.metadata.uid = 'u2'
  const p = planReconcile(svc, elsewhere, SERVICE_OWNERSHIP)
  t.same(p, { op: 'recreate', object: svc, drift: ['spec.clusterIP'] })
  const ports: any = structuredClone(svc)
  ports.spec.ports[0].port = 5353
  t.equal(planReconcile(svc, ports, SERVICE_OWNERSHIP).op, 'update', 'other fields update in place')
})
