// `kubectl apply --server-side` with real kubectl 1.27, 1.33 and the dispatcher against a real apiserver + etcd:
// created, applied again without a write, a conflict with another manager (upstream's text),
// --force-conflicts taking ownership, managedFields kept by other writers, and the switch from
// client-side apply.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
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

  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `ssa-${c.name.replace(/\W/g, '')}`
      const k = (...args: string[]) => run(c.path, ['--kubeconfig', srv.kubeconfigPath, '-n', ns, ...args], { allowFailure: true, timeoutMs: 30_000 })
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
})
