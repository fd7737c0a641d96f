// `kubectl apply --server-side` with real kubectl 1.27, 1.33 and the dispatcher against a real apiserver + etcd:
// created, applied again without a write, a conflict with another manager (upstream's text),
// --force-conflicts taking ownership, managedFields kept by other writers, and the switch from
// client-side apply.
import t from 'tap'
import type { Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
import { createClient } from '../../src/client/rest.js'
import { kubectlPath, need } from '../helpers/prereq.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
  // The machine's dispatcher picks a bundled client from GET /version.
  { name: 'dispatcher', path: 'kubectl', skip: need('kubectl') },
]

const deployment = (replicas: number, image = 'agnhost') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        ports: [{containerPort: 8080}]
`

t.test('kubectl apply --server-side', async (t) => {
  const srv = await withApiServer(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-ssa-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  /** One kubectl binary in one namespace: run, run-and-assert-success, and a manifest file. */
  const kubectlIn = (t: Test, path: string, ns: string) => {
    const k = (...args: string[]) => run(path, ['--kubeconfig', srv.kubeconfigPath, '-n', ns, ...args], { allowFailure: true, timeoutMs: 30_000 })
    const ok = async (...args: string[]) => {
      const r = await k(...args)
      t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
      return r.stdout
    }
    const file = (name: string, text: string) => {
      const p = join(dir, `${ns}-${name}.yaml`)
      writeFileSync(p, text)
      return p
    }
    return { k, ok, file }
  }

  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `ssa-${c.name.replace(/\W/g, '')}`
      const { k, ok, file } = kubectlIn(t, c.path, ns)
      await run(c.path, ['--kubeconfig', srv.kubeconfigPath, 'create', 'namespace', ns])
      const f1 = file('d1', deployment(2))
      t.equal((await ok('apply', '--server-side', '-f', f1)).trim(), 'deployment.apps/web serverside-applied')
      const rv1 = (await ok('get', 'deploy', 'web', '-o', 'jsonpath={.metadata.resourceVersion}')).trim()
      t.equal((await ok('apply', '--server-side', '-f', f1)).trim(), 'deployment.apps/web serverside-applied')
      t.equal((await ok('get', 'deploy', 'web', '-o', 'jsonpath={.metadata.resourceVersion}')).trim(), rv1, 'the second apply changed nothing: same resourceVersion')
      t.equal((await ok('get', 'deploy', 'web', '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields[0].manager}/{.metadata.managedFields[0].operation}')).trim(), 'kubectl/Apply')

      // Another manager takes spec.replicas; re-applying the old value conflicts.
      await ok('scale', 'deploy', 'web', '--replicas=5')
      const conflict = await k('apply', '--server-side', '-f', f1)
      t.equal(conflict.code, 1)
      t.match(conflict.stderr, /Apply failed with 1 conflict: conflict with "kubectl[^"]*" with subresource "scale" using apps\/v1: \.spec\.replicas/)
      t.match(conflict.stderr, /--force-conflicts/, "kubectl's own advice follows the server's message")
      t.equal((await ok('get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}')).trim(), '5', 'nothing written')
      t.match(await ok('apply', '--server-side', '--force-conflicts', '-f', f1), 'serverside-applied')
      t.equal((await ok('get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}')).trim(), '2', 'forced: the applier owns replicas again')

      // A field dropped from the configuration is removed.
      t.match(await ok('apply', '--server-side', '-f', file('d2', deployment(2).replace('  labels: {app: web}\nspec:', 'spec:'))), 'serverside-applied')
      t.equal((await ok('get', 'deploy', 'web', '-o', 'jsonpath={.metadata.labels}')).trim(), '', 'metadata.labels no longer applied: gone')

      // Client-side apply first, then server-side: kubectl migrates ownership, no conflict.
      const cm = file('cm', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {a: "1"}\n')
      await ok('apply', '-f', cm)
      t.match(await ok('apply', '--server-side', '-f', file('cm2', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {a: "2"}\n')), 'configmap/conf serverside-applied')
      t.equal((await ok('get', 'cm', 'conf', '-o', 'jsonpath={.data.a}')).trim(), '2', await ok('get', 'cm', 'conf', '-o', 'json', '--show-managed-fields'))
    })
  }

  // Server-side apply to deployments/web/scale: the API with a Scale configuration, and kubectl
  // 1.33's --subresource=scale (1.27 has no --subresource on apply).
  t.test('server-side apply to the scale subresource', { skip: need('kubectl 1.33') }, async (t) => {
    const ns = 'ssa-scale'
    const { k, ok, file } = kubectlIn(t, kubectlPath('1.33'), ns)
    const client = createClient({ server: srv.url, token: srv.token, caPem: srv.caPem })
    t.teardown(() => client.close())
    const applyScale = (replicas: number, manager: string, force = false) =>
      client.raw('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web/scale?fieldManager=${manager}${force ? '&force=true' : ''}`, `apiVersion: autoscaling/v1\nkind: Scale\nmetadata: {name: web}\nspec: {replicas: ${replicas}}\n`, 'application/apply-patch+yaml')
    type Entry = { manager: string; operation: string; subresource?: string; fieldsV1: { 'f:spec'?: Record<string, unknown> } }
    const owners = async () => JSON.parse(await ok('get', 'deploy', 'web', '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields}')) as Entry[]
    const replicasOwners = async () => (await owners()).filter((m) => m.fieldsV1['f:spec']?.['f:replicas'] !== undefined).map((m) => `${m.manager}/${m.operation}${m.subresource ? `/${m.subresource}` : ''}`)
    const rv = async () => (await ok('get', 'deploy', 'web', '-o', 'jsonpath={.metadata.resourceVersion}')).trim()
    await ok('create', 'namespace', ns)
    await ok('apply', '--server-side', '-f', file('d', deployment(2)))

    const conflict = await applyScale(4, 'autoscaler')
    t.equal(conflict.status, 409, 'the Scale shows the parent\'s owner of spec.replicas')
    t.match(JSON.parse(conflict.body), { reason: 'Conflict', message: 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas', details: { causes: [{ field: '.spec.replicas' }] } })
    t.equal((await ok('get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}')).trim(), '2', 'nothing written')
    const forced = await applyScale(4, 'autoscaler', true)
    t.equal(forced.status, 200, forced.body)
    t.match(JSON.parse(forced.body), { kind: 'Scale', spec: { replicas: 4 }, metadata: { managedFields: [{ manager: 'autoscaler', operation: 'Apply', subresource: 'scale', apiVersion: 'autoscaling/v1' }] } })
    t.equal((await ok('get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}')).trim(), '4', 'the parent\'s spec.replicas is the Scale\'s')
    t.same(await replicasOwners(), ['autoscaler/Apply/scale'], 'replicas moved to the scale applier')
    t.ok((await owners()).some((m) => m.manager === 'kubectl' && m.fieldsV1['f:spec']?.['f:template'] !== undefined), 'kubectl keeps its other fields')
    const rv1 = await rv()
    t.equal((await applyScale(4, 'autoscaler')).status, 200, 'applied again: it owns replicas now')
    t.equal(await rv(), rv1, 'no change, no write')
    // The parent's applier now conflicts with the scale applier, named with its subresource.
    const back = await k('apply', '--server-side', '-f', file('d2', deployment(2)))
    t.equal(back.code, 1)
    t.match(back.stderr, /conflict with "autoscaler" with subresource "scale": \.spec\.replicas/)
    const bad = await applyScale(-1, 'autoscaler')
    t.equal(bad.status, 422)
    t.match(bad.body, /spec\.replicas: Invalid value: -1: must be greater than or equal to 0/)
    // kubectl --subresource=scale sends the file's object: a Deployment is not a Scale configuration.
    const viaKubectl = await k('apply', '--server-side', '--subresource=scale', '-f', file('d3', deployment(3)))
    t.equal(viaKubectl.code, 1)
    t.match(viaKubectl.stderr, /Incorrect version specified in apply patch\. Specified patch version: apps\/v1, expected: autoscaling\/v1/, viaKubectl.stderr)
  })
})
