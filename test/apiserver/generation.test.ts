// metadata.generation for every kind in the catalogue, through the apiserver on real etcd:
// set (or not) on create as the kind's upstream strategy does, moved by content changes only
// as that strategy decides, never by status writes, never by labels/annotations (except
// Deployment annotations and EndpointSlice labels, as upstream), bumped by a finalizer-held
// delete where it is kept. A kind added to RESOURCES without a decision in GENERATION_RULES
// (or without a fixture / a content change here) fails with a message saying what to add.
import t from 'tap'
import { RESOURCES, groupVersion, type ResourceInfo } from '../../src/api/resources.js'
import { GENERATION_RULES, kindKey, type GenerationRule } from '../../src/apiserver/strategy.js'
import { withApiServer } from '../helpers/apiserver.js'
import { base, fixtureKey } from '../api/fixtures/manifests.js'
import { inj } from './util.js'

/**
 * Per kind: what upstream's strategy does with generation (read from its PrepareForCreate /
 * PrepareForUpdate — this test checks the server against these, not against the server's own
 * table), and a valid change outside metadata as a merge patch (null where a main-resource
 * write has none: a Namespace's spec belongs to its finalize subresource).
 */
const UPSTREAM: Record<string, [GenerationRule, Record<string, unknown> | null]> = {
  '/Namespace': ['none', null],
  '/Node': ['none', { spec: { unschedulable: true } }],
  '/Pod': ['none', { spec: { activeDeadlineSeconds: 30 } }],
  '/Service': ['none', { spec: { sessionAffinity: 'ClientIP' } }],
  '/Endpoints': ['none', { subsets: [{ addresses: [{ ip: '10.1.2.3' }], ports: [{ port: 80 }] }] }],
  '/ConfigMap': ['none', { data: { extra: 'y' } }],
  '/Secret': ['none', { data: { extra: 'eQ==' } }],
  '/ServiceAccount': ['none', { automountServiceAccountToken: false }],
  '/Event': ['none', { count: 2 }],
  'events.k8s.io/Event': ['none', { series: { count: 2, lastObservedTime: '2026-11-28T04:00:05.000000Z' } }],
  'coordination.k8s.io/Lease': ['none', { spec: { holderIdentity: 'someone-else' } }],
  'apps/Deployment': ['spec+annotations', { spec: { replicas: 5 } }],
  'apps/ReplicaSet': ['spec', { spec: { replicas: 5 } }],
  'apps/StatefulSet': ['spec', { spec: { replicas: 5 } }],
  'apps/DaemonSet': ['spec', { spec: { minReadySeconds: 5 } }],
  'batch/Job': ['spec', { spec: { parallelism: 3 } }],
  'batch/CronJob': ['spec', { spec: { suspend: true } }],
  'networking.k8s.io/NetworkPolicy': ['spec', { spec: { podSelector: { matchLabels: { app: 'other' } } } }],
  'discovery.k8s.io/EndpointSlice': ['content+labels', { endpoints: [{ addresses: ['10.1.2.3'] }] }],
  // Kinds other helpers are adding: their content rules (resize, immutability) are theirs.
  '/PersistentVolume': ['none', null],
  '/PersistentVolumeClaim': ['none', null],
  'storage.k8s.io/StorageClass': ['none', null],
  'apps/ControllerRevision': ['none', null],
  'networking.k8s.io/Ingress': ['spec', null],
  'networking.k8s.io/IngressClass': ['spec', null],
  'rbac.authorization.k8s.io/Role': ['none', { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] }],
  'rbac.authorization.k8s.io/ClusterRole': ['none', { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] }],
  // The CSR's spec is immutable and its strategy sets no generation: no content change to try.
  'certificates.k8s.io/CertificateSigningRequest': ['none', null],
  'rbac.authorization.k8s.io/RoleBinding': ['none', { subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' }] }],
  'rbac.authorization.k8s.io/ClusterRoleBinding': ['none', { subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' }] }],
}

const MERGE = { contentType: 'application/merge-patch+json' }
const NS = 'default' // the fixtures' events point at objects there

function url(r: ResourceInfo, name?: string, sub?: string): string {
  const root = r.group === '' ? '/api/v1' : `/apis/${groupVersion(r)}`
  const ns = r.namespaced ? `/namespaces/${NS}` : ''
  return `${root}${ns}/${r.plural}${name ? `/${name}` : ''}${sub ? `/${sub}` : ''}`
}

t.test('every served kind has a generation decision, a fixture and a content change', async (t) => {
  for (const r of RESOURCES) {
    const k = kindKey(r)
    t.ok(GENERATION_RULES[k], `${k} (${r.plural}) has no metadata.generation decision: add it to GENERATION_RULES in src/apiserver/strategy.ts, from the upstream strategy's PrepareForCreate/PrepareForUpdate`)
    t.ok(base[fixtureKey(r)], `${k} has no fixture: add "${fixtureKey(r)}" to test/api/fixtures/manifests.ts`)
    const up = UPSTREAM[k]
    t.ok(up, `${k} has no entry in UPSTREAM (test/apiserver/generation.test.ts): upstream's generation rule and a valid non-metadata merge patch (or null)`)
    if (up && GENERATION_RULES[k]) t.equal(GENERATION_RULES[k], up[0], `${k}: the server's rule is upstream's`)
  }
})

t.test('metadata.generation per kind, as upstream', async (t) => {
  const srv = await withApiServer(t)
  for (const r of RESOURCES) {
    const k = kindKey(r)
    const mk = base[fixtureKey(r)]
    if (!UPSTREAM[k] || !mk) continue // reported by the test above
    const [rule, change] = UPSTREAM[k]
    t.test(`${k}: ${rule}`, async (t) => {
      const obj = mk() as { metadata: Record<string, unknown> }
      const name = `gen-${r.plural.replace(/\W/g, '')}`.slice(0, 40)
      obj.metadata = { ...obj.metadata, name, generation: 7 } // a client cannot set it
      if (r.namespaced) obj.metadata.namespace = NS
      else delete obj.metadata.namespace
      const c = await inj(srv, 'POST', url(r), obj)
      t.equal(c.status, 201, c.text)
      if (c.status !== 201) return
      const tracked = rule !== 'none'
      let gen: number | undefined = tracked ? 1 : undefined
      t.equal(c.body.metadata.generation, gen, tracked ? 'starts at 1' : 'absent, as upstream')
      const step = async (what: string, method: 'PATCH' | 'PUT', body: unknown, bumps: boolean, sub?: string) => {
        const res = await inj(srv, method, url(r, name, sub), body, method === 'PATCH' ? MERGE : {})
        t.equal(res.status, 200, `${what}: ${res.text}`)
        if (bumps && tracked) gen = gen! + 1
        t.equal(res.body.metadata.generation, gen, `${what} ${bumps && tracked ? 'bumps' : 'keeps'} generation`)
        return res.body
      }
      await step('a label', 'PATCH', { metadata: { labels: { touched: 'yes' } } }, rule === 'content+labels')
      await step('an annotation', 'PATCH', { metadata: { annotations: { note: 'x' } } }, rule === 'spec+annotations')
      const cur = await step('a PUT of what GET returned', 'PUT', (await inj(srv, 'GET', url(r, name))).body, false)
      t.ok(cur, 'PUT ok')
      if (r.subresources.includes('status')) {
        // The Deployment controller writes its revision annotation this way.
        const st = await step('a status write with an annotation', 'PATCH', { metadata: { annotations: { 'deployment.kubernetes.io/revision': '1' } }, status: {} }, false, 'status')
        t.equal(st.metadata.annotations?.['deployment.kubernetes.io/revision'], '1', 'status writes may set annotations (upstream status strategies reset only spec)')
      }
      if (change) await step('a content change', 'PATCH', change, true)
      if (change) await step('the same change again', 'PATCH', change, false)
      if (r.kind === 'Namespace') return // deletion is the namespace lifecycle's
      await step('a finalizer', 'PATCH', { metadata: { finalizers: ['example.com/hold'] } }, false)
      const del = await inj(srv, 'DELETE', url(r, name))
      t.equal(del.status, 202, `held by its finalizer: ${del.text}`)
      if (tracked) gen = gen! + 1
      t.equal(del.body.metadata.generation, gen, tracked ? 'a finalizer-held delete bumps generation' : 'a delete leaves it absent')
      t.equal((await inj(srv, 'PATCH', url(r, name), { metadata: { finalizers: null } }, MERGE)).status, 200, 'finalizer removed')
    })
  }
})
