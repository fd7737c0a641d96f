import t from 'tap'
import type { EndpointSlice, Pod, Service } from '../../src/api/types.js'
import { desiredEndpoints, desiredSliceContents, reconcileSlices, MANAGED_BY } from '../../src/controllers/endpoints-core.js'

const svc = (o: Partial<Service['spec']> = {}): Service => ({
  metadata: { name: 'web', namespace: 'd', uid: 'svc-uid', labels: { team: 'a' } },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'raw', port: 81, targetPort: 9000 }], ...o },
})

function pod(name: string, ip: string | undefined, o: { ready?: boolean; port?: number; hostname?: string; subdomain?: string; deleting?: boolean; labels?: Record<string, string> } = {}): Pod {
  const p: Pod = {
    metadata: { name, namespace: 'd', uid: `u-${name}`, labels: o.labels ?? { app: 'web' } },
    spec: {
      nodeName: 'n1',
      containers: [{ name: 'c', ports: o.port === undefined ? [] : [{ name: 'http', containerPort: o.port }] }],
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.subdomain ? { subdomain: o.subdomain } : {}),
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }], ...(ip ? { podIP: ip } : {}) },
  }
  if (o.deleting) p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z'
  return p
}

t.test('Endpoints: named ports per pod, ready/not-ready, hostname, no IP, terminating, other labels', async (t) => {
  const pods = [
    pod('a', '10.0.0.2', { port: 8080, hostname: 'a', subdomain: 'web' }),
    pod('b', '10.0.0.10', { port: 8080, ready: false }),
    pod('c', '10.0.0.3', { port: 8081 }),
    pod('noip', undefined, { port: 8080 }),
    pod('term', '10.0.0.4', { port: 8080, deleting: true }),
    pod('other', '10.0.0.5', { port: 8080, labels: { app: 'db' } }),
    pod('hn', '10.0.0.6', { port: 8080, hostname: 'x', subdomain: 'elsewhere' }),
  ]
  const ep = desiredEndpoints(svc(), pods)!
  t.equal(ep.metadata.name, 'web')
  t.equal(ep.subsets?.length, 2, 'pods with different resolved ports are in different subsets')
  const s8080 = ep.subsets!.find((s) => s.ports?.some((p) => p.port === 8080))!
  t.same(s8080.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'raw', port: 9000, protocol: 'TCP' }])
  t.same(s8080.addresses!.map((a) => [a.ip, a.hostname]), [['10.0.0.2', 'a'], ['10.0.0.6', undefined]])
  t.same(s8080.notReadyAddresses!.map((a) => a.ip), ['10.0.0.10'])
  t.same(s8080.addresses![0]!.targetRef, { kind: 'Pod', namespace: 'd', name: 'a', uid: 'u-a' })
  t.equal(s8080.addresses![0]!.nodeName, 'n1')
  const s8081 = ep.subsets!.find((s) => s.ports?.some((p) => p.port === 8081))!
  t.same(s8081.addresses!.map((a) => a.ip), ['10.0.0.3'])

  const pub = desiredEndpoints(svc({ publishNotReadyAddresses: true }), pods)!
  const all = pub.subsets!.flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort()
  t.same(all, ['10.0.0.10', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.6'], 'publishNotReadyAddresses: all ready, terminating kept')
  t.equal(desiredEndpoints(svc({ selector: undefined }), pods), undefined, 'no selector: left alone')
})

t.test('EndpointSlices: conditions, ≤100 per slice, labels, owner, in-place updates', async (t) => {
  const pods = [pod('a', '10.0.0.2', { port: 8080 }), pod('b', '10.0.0.3', { port: 8080, ready: false }), pod('t', '10.0.0.4', { port: 8080, deleting: true })]
  const c = desiredSliceContents(svc(), pods)
  t.equal(c.length, 1)
  t.same(c[0]!.endpoints.map((e) => [e.addresses[0], e.conditions]), [
    ['10.0.0.2', { ready: true, serving: true, terminating: false }],
    ['10.0.0.3', { ready: false, serving: false, terminating: false }],
    ['10.0.0.4', { ready: false, serving: true, terminating: true }],
  ])
  const many = Array.from({ length: 250 }, (_, i) => pod(`p${i}`, `10.1.${Math.floor(i / 200)}.${i % 200}`, { port: 8080 }))
  const acts = reconcileSlices(svc(), many, [])
  t.equal(acts.length, 3)
  t.same(acts.map((a) => (a.kind === 'create' ? a.slice.endpoints.length : -1)), [100, 100, 50])
  const s0 = (acts[0] as { slice: EndpointSlice }).slice
  t.same(s0.metadata.labels, { team: 'a', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': MANAGED_BY })
  t.same(s0.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }])
  t.equal(s0.metadata.generateName, 'web-')
  // Stored slices: unchanged ones stay, a changed one is updated in place, surplus deleted.
  const stored = acts.map((a, i) => ({ ...(a as { slice: EndpointSlice }).slice, metadata: { ...(a as { slice: EndpointSlice }).slice.metadata, name: `web-${i}` } }))
  t.same(reconcileSlices(svc(), many, stored), [], 'converged: nothing to do')
  const fewer = many.slice(0, 120)
  const a2 = reconcileSlices(svc(), fewer, stored)
  t.same(a2.map((a) => a.kind).sort(), ['delete', 'update'])
  t.same(reconcileSlices(svc({ selector: undefined }), many, stored).map((a) => a.kind), ['delete', 'delete', 'delete'])
})
