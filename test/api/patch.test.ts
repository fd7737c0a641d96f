import t from 'tap'
import { PatchError, applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from '../../src/api/patch.js'
import { resourceFor } from '../../src/api/resources.js'

const res = resourceFor

t.test('RFC 7386 merge patch: the RFC appendix table', async (t) => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ]
  for (const [target, patch, want] of cases) t.same(applyMergePatch(target, patch), want, `${JSON.stringify(target)} + ${JSON.stringify(patch)}`)
  const target = { a: { b: 1 } }
  applyMergePatch(target, { a: { b: 2 } })
  t.same(target, { a: { b: 1 } }, 'input not mutated')
})

t.test('kubectl scale / label send merge patches', async (t) => {
  const scale = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web' }, spec: { replicas: 1 }, status: { replicas: 1 } }
  t.same((applyMergePatch(scale, { spec: { replicas: 5 } }) as typeof scale).spec, { replicas: 5 })
  const dep = { metadata: { name: 'web', labels: { app: 'web', old: 'x' } } }
  t.same((applyMergePatch(dep, { metadata: { labels: { env: 'prod', old: null } } }) as typeof dep).metadata.labels, { app: 'web', env: 'prod' })
})

t.test('RFC 6902 JSON patch: appendix A examples', async (t) => {
  const ok: [unknown, unknown[], unknown][] = [
    [{ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { baz: 'qux', foo: 'bar' }],
    [{ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }], { foo: ['bar', 'qux', 'baz'] }],
    [{ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    [{ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }], { foo: ['bar', 'baz'] }],
    [{ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }], { baz: 'boo', foo: 'bar' }],
    [
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [{ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }], { foo: ['all', 'cows', 'eat', 'grass'] }],
    [{ baz: 'qux', foo: ['a', 2, 'c'] }, [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }], { baz: 'qux', foo: ['a', 2, 'c'] }],
    [{ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }], { foo: 'bar', child: { grandchild: {} } }],
    [{ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }], { foo: ['bar', ['abc', 'def']] }],
    [{ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
    [{ foo: 1 }, [{ op: 'copy', from: '/foo', path: '/bar' }], { foo: 1, bar: 1 }],
    [{ foo: 1 }, [{ op: 'replace', path: '', value: [1] }], [1]],
    [{ metadata: { labels: { 'app.kubernetes.io/name': 'x' } } }, [{ op: 'remove', path: '/metadata/labels/app.kubernetes.io~1name' }], { metadata: { labels: {} } }],
  ]
  for (const [doc, ops, want] of ok) t.same(applyJsonPatch(doc, ops), want, JSON.stringify(ops))

  const bad: [unknown, unknown][] = [
    [{ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]],
    [{ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]],
    [{ foo: 'bar' }, [{ op: 'remove', path: '/nope' }]],
    [{ foo: 'bar' }, [{ op: 'replace', path: '/nope', value: 1 }]],
    [{ foo: [1] }, [{ op: 'add', path: '/foo/5', value: 1 }]],
    [{ foo: [1] }, [{ op: 'add', path: '/foo/01', value: 1 }]],
    [{ foo: 'bar' }, [{ op: 'bogus', path: '/foo' }]],
    [{ foo: 'bar' }, [{ op: 'add', path: '/x' }]], // missing value
    [{ foo: 'bar' }, { op: 'add', path: '/x', value: 1 }], // not an array
    [{ foo: 'bar' }, [{ op: 'add', path: 'x', value: 1 }]], // not a pointer
    [{ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }]],
    [{ a: 1 }, [{ op: 'move', from: '/a', path: 1.5 }]], // a path that is not a string (was a TypeError)
    [{ a: 1 }, [{ op: 'copy', from: '/a', path: { x: 1 } }]],
  ]
  for (const [doc, ops] of bad) t.throws(() => applyJsonPatch(doc, ops), PatchError, JSON.stringify(ops))
  const doc = { a: [1] }
  applyJsonPatch(doc, [{ op: 'add', path: '/a/-', value: 2 }])
  t.same(doc, { a: [1] }, 'input not mutated')
})

const deployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'nginx:1.25',
            ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 8080, protocol: 'TCP' }],
            env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
            imagePullPolicy: 'IfNotPresent',
          },
          { name: 'sidecar', image: 'busybox', command: ['sleep', 'inf'] },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    },
  },
})

t.test('strategic merge: containers merge by name, ports by containerPort, env by name', async (t) => {
  const d = deployment()
  const out = applyStrategicMergePatch(res('deployments'), d, {
    spec: {
      template: {
        spec: {
          containers: [
            { name: 'web', image: 'nginx:1.26', env: [{ name: 'B', value: '20' }, { name: 'C', value: '3' }], ports: [{ containerPort: 9090 }] },
          ],
        },
      },
    },
  }) as ReturnType<typeof deployment>
  const cs = out.spec.template.spec.containers
  t.equal(cs.length, 2, 'sidecar kept')
  t.equal(cs[0]!.image, 'nginx:1.26')
  t.equal(cs[0]!.imagePullPolicy, 'IfNotPresent', 'unpatched fields kept')
  t.same(cs[0]!.env, [{ name: 'A', value: '1' }, { name: 'B', value: '20' }, { name: 'C', value: '3' }])
  t.same(cs[0]!.ports!.map((p) => p.containerPort), [80, 8080, 9090])
  t.same(cs[1], d.spec.template.spec.containers[1])
  t.equal(d.spec.template.spec.containers[0]!.image, 'nginx:1.25', 'input not mutated')
})

t.test('strategic merge: the patch kubectl apply computes (second apply, changed image and replicas)', async (t) => {
  // What kubectl 1.27+ sends (client-side apply) after editing image, replicas, dropping port 8080
  // and env B from the manifest, and removing the label "tier".
  const d = deployment()
  ;(d.metadata.labels as Record<string, string>).tier = 'fe'
  const patch = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"new":true}\n' }, labels: { tier: null } },
    spec: {
      replicas: 3,
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'web' }, { name: 'sidecar' }],
          containers: [
            {
              '$setElementOrder/env': [{ name: 'A' }],
              '$setElementOrder/ports': [{ containerPort: 80 }],
              env: [{ $patch: 'delete', name: 'B' }],
              image: 'nginx:1.26',
              name: 'web',
              ports: [{ $patch: 'delete', containerPort: 8080 }],
            },
          ],
        },
      },
    },
  }
  const out = applyStrategicMergePatch(res('deployments'), d, patch) as ReturnType<typeof deployment>
  t.equal(out.spec.replicas, 3)
  t.same(out.metadata.labels, { app: 'web' })
  t.equal(out.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], '{"new":true}\n')
  const web = out.spec.template.spec.containers[0]!
  t.equal(web.image, 'nginx:1.26')
  t.same(web.env, [{ name: 'A', value: '1' }])
  t.same(web.ports, [{ containerPort: 80, protocol: 'TCP' }])
  t.same(out.spec.template.spec.containers.map((c) => c.name), ['web', 'sidecar'])
  t.notOk(JSON.stringify(out).includes('$'), 'no directive leaks into the object')
  // Applying the same patch again changes nothing (kubectl apply twice).
  t.same(applyStrategicMergePatch(res('deployments'), out, patch), out)
  // And an empty patch (what kubectl would compute for an unchanged manifest) is a no-op.
  t.same(applyStrategicMergePatch(res('deployments'), out, {}), out)
})

t.test('strategic merge: $setElementOrder reorders, new elements land where the order says', async (t) => {
  const d = deployment()
  const out = applyStrategicMergePatch(res('deployments'), d, {
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'init' }, { name: 'sidecar' }, { name: 'web' }],
          containers: [{ name: 'init', image: 'alpine' }],
        },
      },
    },
  }) as ReturnType<typeof deployment>
  t.same(out.spec.template.spec.containers.map((c) => c.name), ['init', 'sidecar', 'web'])
})

t.test('strategic merge: $patch replace / delete, $retainKeys, $deleteFromPrimitiveList', async (t) => {
  const r = res('deployments')
  const d = deployment()
  // Switching to Recreate: kubectl sends $retainKeys for the strategy (a retainKeys struct).
  let out = applyStrategicMergePatch(r, d, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } }) as ReturnType<typeof deployment>
  t.same(out.spec.strategy, { type: 'Recreate' })
  out = applyStrategicMergePatch(r, d, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }) as ReturnType<typeof deployment>
  t.same(out.spec.strategy, { type: 'Recreate' }, '$retainKeys alone clears rollingUpdate')
  t.throws(() => applyStrategicMergePatch(r, d, { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }), PatchError)

  out = applyStrategicMergePatch(r, d, { spec: { template: { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'x' }] } } } }) as ReturnType<typeof deployment>
  t.same(out.spec.template.spec.containers, [{ name: 'only', image: 'x' }])

  out = applyStrategicMergePatch(r, d, { spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }] } } } }) as ReturnType<typeof deployment>
  t.same(out.spec.template.spec.containers.map((c) => c.name), ['web'])

  out = applyStrategicMergePatch(r, d, { spec: { selector: { $patch: 'replace', matchLabels: { app: 'other' } } } }) as ReturnType<typeof deployment>
  t.same(out.spec.selector, { matchLabels: { app: 'other' } })

  out = applyStrategicMergePatch(r, d, { spec: { template: { spec: { volumes: null } } } }) as ReturnType<typeof deployment>
  t.notOk('volumes' in out.spec.template.spec)

  const withFin = { metadata: { name: 'x', finalizers: ['a.io/x', 'b.io/y'] } }
  t.same((applyStrategicMergePatch(r, withFin, { metadata: { finalizers: ['c.io/z'] } }) as typeof withFin).metadata.finalizers, ['a.io/x', 'b.io/y', 'c.io/z'], 'finalizers merge as a set')
  t.same(
    (applyStrategicMergePatch(r, withFin, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.io/x'] } }) as typeof withFin).metadata.finalizers,
    ['b.io/y'],
  )
  t.throws(() => applyStrategicMergePatch(r, d, { spec: { $patch: 'bogus' } }), PatchError)
  t.throws(() => applyStrategicMergePatch(r, d, { spec: { template: { spec: { containers: [{ image: 'no-name' }] } } } }), PatchError, 'merge key missing')
  t.throws(() => applyStrategicMergePatch(r, d, [1]), PatchError)
})

t.test('strategic merge: Service ports merge by port; unknown lists are replaced', async (t) => {
  const svc = {
    metadata: { name: 'web' },
    spec: { type: 'NodePort', clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }], selector: { app: 'web' }, externalIPs: ['1.2.3.4'] },
  }
  const out = applyStrategicMergePatch(res('services'), svc, {
    spec: {
      '$setElementOrder/ports': [{ port: 80 }, { port: 443 }],
      ports: [{ name: 'https', port: 443, targetPort: 8443 }],
      externalIPs: ['5.6.7.8'],
    },
  }) as typeof svc
  t.same(out.spec.ports, [
    { name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' },
    { name: 'https', port: 443, targetPort: 8443 },
  ])
  t.same(out.spec.externalIPs, ['5.6.7.8'], 'list without merge key replaced')
  t.equal(out.spec.clusterIP, '10.96.0.20', 'allocated fields untouched')
})

t.test('strategic merge: pod status conditions merge by type (kubelet-style status patch)', async (t) => {
  const pod = {
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'c', image: 'i' }] },
    status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }] },
  }
  const out = applyStrategicMergePatch(res('pods'), pod, {
    status: { '$setElementOrder/conditions': [{ type: 'PodScheduled' }, { type: 'Ready' }], conditions: [{ type: 'Ready', status: 'True' }], phase: 'Running' },
  }) as typeof pod
  t.same(out.status.conditions, [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }])
  t.equal(out.status.phase, 'Running')
})

t.test('strategic merge: ownerReferences by uid; kinds without a table fall back to RFC 7386 + directives', async (t) => {
  const cm = { metadata: { name: 'c', ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'a', uid: '1' }] }, data: { a: '1', b: '2' } }
  const out = applyStrategicMergePatch(res('configmaps'), cm, {
    metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'b', uid: '2' }] },
    data: { a: null, c: '3' },
  }) as typeof cm
  t.same(out.metadata.ownerReferences.map((o) => o.uid), ['1', '2'])
  t.same(out.data, { b: '2', c: '3' })
})

t.test('strategic merge: a volume switching source with $retainKeys (what kubectl sends)', async (t) => {
  const d = deployment()
  const out = applyStrategicMergePatch(res('deployments'), d, {
    spec: {
      template: {
        spec: {
          '$setElementOrder/volumes': [{ name: 'data' }],
          volumes: [{ $retainKeys: ['configMap', 'name'], configMap: { name: 'cfg' }, emptyDir: null, name: 'data' }],
        },
      },
    },
  }) as ReturnType<typeof deployment>
  t.same(out.spec.template.spec.volumes, [{ name: 'data', configMap: { name: 'cfg' } }])
})

t.test('strategic merge: pod templates of any kind merge as pods do (kubectl set image on a Job / CronJob)', async (t) => {
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j' },
    spec: { template: { metadata: { finalizers: ['a'] }, spec: { containers: [{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:1' }] } } },
  }
  const out = applyStrategicMergePatch(resourceFor('jobs'), job, { spec: { template: { spec: { containers: [{ name: 'b', image: 'b:2' }] } } } }) as typeof job
  t.same(out.spec.template.spec.containers, [{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:2' }], 'containers merged by name, not replaced')
  const cj = { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'a', image: 'a:1', env: [{ name: 'X', value: '1' }] }] } } } } } }
  const cjOut = applyStrategicMergePatch(resourceFor('cronjobs'), cj, { spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'a', env: [{ name: 'Y', value: '2' }] }] } } } } } }) as typeof cj
  t.same(cjOut.spec.jobTemplate.spec.template.spec.containers[0]!.env, [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }], 'env merged by name at any depth')
})
