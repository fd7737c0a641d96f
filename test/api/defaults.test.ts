import t, { type Test } from 'tap'
import { applyDefaults, defaultPullPolicy, preserveOnUpdate } from '../../src/api/defaults.js'
import { RESOURCES, resourceFor } from '../../src/api/resources.js'
import type { KubeObject } from '../../src/api/types.js'

const res = resourceFor

function defaulted(plural: string, obj: unknown): KubeObject {
  const o = structuredClone(obj) as KubeObject
  applyDefaults(res(plural), o)
  return o
}

/** Defaulting twice must equal defaulting once. */
function idempotent(t: Test, plural: string, obj: unknown): void {
  const once = defaulted(plural, obj)
  const twice = structuredClone(once)
  applyDefaults(res(plural), twice)
  t.same(twice, once, `${plural} defaulting is idempotent`)
}

t.test('Service defaults (as kube-apiserver stores a minimal Service)', async (t) => {
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } }
  const out = defaulted('services', svc)
  t.same(out.spec, {
    selector: { app: 'web' },
    ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
    type: 'ClusterIP',
    sessionAffinity: 'None',
    internalTrafficPolicy: 'Cluster',
    ipFamilyPolicy: 'SingleStack',
    ipFamilies: ['IPv4'],
  })
  t.same(out.status, { loadBalancer: {} })
  idempotent(t, 'services', svc)

  const np = defaulted('services', { metadata: { name: 'n' }, spec: { type: 'NodePort', sessionAffinity: 'ClientIP', ports: [{ port: 53, protocol: 'UDP', targetPort: 'dns' }] } })
  const s = np.spec as Record<string, unknown>
  t.equal(s.externalTrafficPolicy, 'Cluster')
  t.same(s.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } })
  t.same(s.ports, [{ port: 53, protocol: 'UDP', targetPort: 'dns' }], 'named targetPort and protocol kept')

  const en = defaulted('services', { metadata: { name: 'e' }, spec: { type: 'ExternalName', externalName: 'example.com' } }).spec as Record<string, unknown>
  t.notOk('ipFamilies' in en, 'ExternalName gets no IP families')
  t.notOk('externalTrafficPolicy' in en)
  const none = defaulted('services', { metadata: { name: 'x' }, spec: { sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } }, ports: [{ port: 1, targetPort: 0 }] } }).spec as Record<string, unknown>
  t.notOk('sessionAffinityConfig' in none, 'config dropped when affinity None')
  t.same(none.ports, [{ port: 1, targetPort: 1, protocol: 'TCP' }], 'targetPort 0 means port')
  const withIP = defaulted('services', { metadata: { name: 'x' }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 53 }] } }).spec as Record<string, unknown>
  t.same(withIP.clusterIPs, ['10.96.0.10'])
})

t.test('Pod defaults', async (t) => {
  const pod = {
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      containers: [
        {
          name: 'c',
          image: 'nginx',
          ports: [{ containerPort: 80 }],
          readinessProbe: { httpGet: { port: 80 } },
          resources: { limits: { cpu: '500m' } },
          env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
        },
      ],
    },
  }
  const out = defaulted('pods', pod)
  const spec = out.spec as Record<string, unknown>
  t.equal(spec.restartPolicy, 'Always')
  t.equal(spec.dnsPolicy, 'ClusterFirst')
  t.equal(spec.terminationGracePeriodSeconds, 30)
  t.equal(spec.schedulerName, 'default-scheduler')
  t.equal(spec.enableServiceLinks, true)
  t.same(spec.securityContext, {})
  const c = (spec.containers as Record<string, unknown>[])[0]!
  t.equal(c.imagePullPolicy, 'Always', 'no tag → Always')
  t.equal(c.terminationMessagePath, '/dev/termination-log')
  t.equal(c.terminationMessagePolicy, 'File')
  t.same(c.ports, [{ containerPort: 80, protocol: 'TCP' }])
  t.same(c.readinessProbe, { httpGet: { port: 80, scheme: 'HTTP', path: '/' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 })
  t.same(c.resources, { limits: { cpu: '500m' }, requests: { cpu: '500m' } }, 'requests default to limits on pods')
  t.same(c.env, [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName', apiVersion: 'v1' } } }])
  idempotent(t, 'pods', pod)

  const hn = defaulted('pods', { metadata: { name: 'h' }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'x:1', ports: [{ containerPort: 53 }] }] } })
  t.same(((hn.spec as { containers: { ports: unknown[] }[] }).containers[0]!.ports), [{ containerPort: 53, hostPort: 53, protocol: 'TCP' }])
  const ip = defaulted('pods', { metadata: { name: 'h' }, spec: { containers: [] }, status: { podIP: '10.244.1.5' } })
  t.same((ip.status as { podIPs: unknown }).podIPs, [{ ip: '10.244.1.5' }])
})

t.test('imagePullPolicy from the image reference', async (t) => {
  const cases: [string | undefined, string][] = [
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.25', 'IfNotPresent'],
    ['localhost:5000/busybox', 'Always'],
    ['localhost:5000/busybox:1', 'IfNotPresent'],
    ['registry.k8s.io/pause:3.9', 'IfNotPresent'],
    ['nginx@sha256:abcd', 'IfNotPresent'],
    ['localhost/netkube-busybox:latest', 'Always'],
    [undefined, 'IfNotPresent'],
  ]
  for (const [img, want] of cases) t.equal(defaultPullPolicy(img), want, String(img))
})

t.test('Deployment defaults (template pod spec defaulted, Pod-only fields not)', async (t) => {
  const dep = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }] } },
    },
  }
  const out = defaulted('deployments', dep)
  const spec = out.spec as Record<string, unknown>
  t.equal(spec.replicas, 1)
  t.same(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } })
  t.equal(spec.revisionHistoryLimit, 10)
  t.equal(spec.progressDeadlineSeconds, 600)
  const tspec = (spec.template as { spec: Record<string, unknown> }).spec
  t.same(tspec, {
    containers: [
      {
        name: 'web',
        image: 'nginx:1.25',
        ports: [{ containerPort: 80, protocol: 'TCP' }],
        imagePullPolicy: 'IfNotPresent',
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        resources: {},
      },
    ],
    restartPolicy: 'Always',
    dnsPolicy: 'ClusterFirst',
    terminationGracePeriodSeconds: 30,
    schedulerName: 'default-scheduler',
    securityContext: {},
  })
  idempotent(t, 'deployments', dep)
  const recreate = defaulted('deployments', { ...dep, spec: { ...dep.spec, replicas: 0, strategy: { type: 'Recreate' } } }).spec as Record<string, unknown>
  t.same(recreate.strategy, { type: 'Recreate' }, 'no rollingUpdate for Recreate')
  t.equal(recreate.replicas, 0, 'explicit 0 kept')

  const rs = defaulted('replicasets', { metadata: { name: 'r' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i' }] } } } })
  t.equal((rs.spec as { replicas: number }).replicas, 1)
  t.equal((rs.spec as { template: { spec: { restartPolicy: string } } }).template.spec.restartPolicy, 'Always')
})

t.test('Namespace, Node, Endpoints, EndpointSlice defaults', async (t) => {
  const ns = defaulted('namespaces', { metadata: { name: 'team-a' } })
  t.same(ns.spec, { finalizers: ['kubernetes'] })
  t.same(ns.status, { phase: 'Active' })
  t.same(ns.metadata.labels, { 'kubernetes.io/metadata.name': 'team-a' })
  idempotent(t, 'namespaces', { metadata: { name: 'team-a' } })

  const node = defaulted('nodes', { metadata: { name: 'n1' }, spec: { podCIDR: '10.244.1.0/24' }, status: { capacity: { cpu: '2', pods: '110' } } })
  t.same((node.spec as Record<string, unknown>).podCIDRs, ['10.244.1.0/24'])
  t.same((node.status as Record<string, unknown>).allocatable, { cpu: '2', pods: '110' })

  const ep = defaulted('endpoints', { metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] })
  t.same((ep.subsets as { ports: unknown[] }[])[0]!.ports, [{ port: 80, protocol: 'TCP' }])

  const es = defaulted('endpointslices', { metadata: { name: 's' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ port: 80 }] })
  t.same(es.ports, [{ port: 80, name: '', protocol: 'TCP' }])
  idempotent(t, 'endpointslices', es)
  // Defaulting never throws on garbage shapes (validation reports them).
  for (const r of RESOURCES) {
    for (const junk of [{ metadata: {} }, { metadata: {}, spec: 'x' }, { metadata: {}, spec: { containers: 'x', ports: 5, template: 7 } }]) {
      t.doesNotThrow(() => applyDefaults(r, structuredClone(junk) as KubeObject), `${r.plural} with ${JSON.stringify(junk)}`)
    }
  }
})

t.test('preserveOnUpdate keeps allocated Service fields on a PUT without them', async (t) => {
  const r = res('services')
  const old = defaulted('services', { metadata: { name: 'web' }, spec: { type: 'NodePort', clusterIP: '10.96.0.20', ports: [{ port: 80, nodePort: 30080 }, { port: 443, name: 'https', nodePort: 30443 }] } })
  const next = defaulted('services', { metadata: { name: 'web' }, spec: { type: 'NodePort', ports: [{ port: 80 }, { port: 443, name: 'https' }, { port: 8080 }] } })
  preserveOnUpdate(r, next, old)
  const s = next.spec as { clusterIP: string; clusterIPs: string[]; ports: { nodePort?: number }[] }
  t.equal(s.clusterIP, '10.96.0.20')
  t.same(s.clusterIPs, ['10.96.0.20'])
  t.same(s.ports.map((p) => p.nodePort), [30080, 30443, undefined])
  const explicit = defaulted('services', { metadata: { name: 'web' }, spec: { clusterIP: '10.96.0.99', ports: [{ port: 80 }] } })
  preserveOnUpdate(r, explicit, old)
  t.equal((explicit.spec as { clusterIP: string }).clusterIP, '10.96.0.99', 'an explicit change is left for validation to refuse')
})
