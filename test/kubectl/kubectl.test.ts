// Real kubectl (bundled 1.27 and 1.33 clients, and the version-picking dispatcher) against
// a real netkube apiserver over HTTPS with the kubeconfig the server writes.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/util/exec.js'
import { withApiServer } from '../helpers/apiserver.js'
import { kubectlPath, need } from '../helpers/prereq.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
  { name: 'dispatcher', path: 'kubectl', skip: need('kubectl') },
]

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: agnhost
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: 8080
`

const podYaml = (name: string, app: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: ${app}}
spec:
  containers: [{name: c, image: agnhost}]
`

const cmYaml = (value: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: ${value}
`

t.test('kubectl suite', async (t) => {
  const srv = await withApiServer(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, text: string): string => {
    const p = join(dir, name)
    writeFileSync(p, text)
    return p
  }
  const manifest = file('web.yaml', MANIFEST)

  for (const client of CLIENTS) {
    t.test(`kubectl ${client.name}`, { skip: client.skip }, async (t) => {
      const ns = `k-${client.name.replace(/\W/g, '')}`
      const k = async (...args: string[]) => {
        const r = await run(client.path, ['--kubeconfig', srv.kubeconfigPath, ...args], { allowFailure: true, timeoutMs: 30_000 })
        return r
      }
      const ok = async (...args: string[]) => {
        const r = await k(...args)
        t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
        return r.stdout
      }

      t.match(await ok('apply', '-f', file(`ns-${ns}.yaml`, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`)), `namespace/${ns} created`)
      const first = await ok('apply', '-n', ns, '-f', manifest)
      t.match(first, 'deployment.apps/web created')
      t.match(first, 'service/web created')
      const second = await ok('apply', '-n', ns, '-f', manifest)
      t.match(second, /deployment\.apps\/web (unchanged|configured)/)
      t.match(second, /service\/web (unchanged|configured)/)

      const ip = (await ok('get', '-n', ns, 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}')).trim()
      t.match(ip, /^10\.(9[6-9]|1[01][0-9])\.\d+\.\d+$/, 'ClusterIP allocated')
      const wide = await ok('get', '-n', ns, 'deploy,svc', '-o', 'wide')
      t.match(wide, 'deployment.apps/web')
      t.match(wide, 'service/web')
      t.match(wide, ip, 'the ClusterIP is shown by get -o wide')

      await ok('apply', '-n', ns, '-f', file(`pods-${ns}.yaml`, `${podYaml('web-1', 'web')}---\n${podYaml('web-2', 'web')}---\n${podYaml('db-1', 'db')}`))
      const sel = await ok('get', '-n', ns, 'pods', '-l', 'app=web')
      t.match(sel, 'web-1')
      t.match(sel, 'web-2')
      t.notMatch(sel, 'db-1')

      // get -w: a pod created while watching shows up in the stream.
      const watcher = spawn(client.path, ['--kubeconfig', srv.kubeconfigPath, 'get', 'pods', '-n', ns, '-w'], { stdio: ['ignore', 'pipe', 'pipe'] })
      t.teardown(() => {
        if (watcher.exitCode === null) watcher.kill('SIGKILL')
      })
      let out = ''
      watcher.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
      const waitFor = async (re: RegExp, ms = 15_000): Promise<void> => {
        const deadline = Date.now() + ms
        while (!re.test(out)) {
          if (Date.now() > deadline) throw new Error(`get -w never showed ${re}; got:\n${out}`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      await waitFor(/db-1/)
      await ok('apply', '-n', ns, '-f', file(`late-${ns}.yaml`, podYaml('late-1', 'web')))
      await waitFor(/late-1/)
      t.pass('get -w received the new pod')
      watcher.kill('SIGTERM')

      t.match(await ok('scale', '-n', ns, 'deploy/web', '--replicas=5'), 'deployment.apps/web scaled')
      t.equal((await ok('get', '-n', ns, 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}')).trim(), '5')

      t.match(await ok('label', '-n', ns, 'pod', 'web-1', 'tier=frontend'), 'pod/web-1 labeled')
      t.equal((await ok('get', '-n', ns, 'pod', 'web-1', '-o', 'jsonpath={.metadata.labels.tier}')).trim(), 'frontend')
      t.match(await ok('get', '-n', ns, 'pods', '-l', 'tier=frontend', '-o', 'name'), 'pod/web-1')

      t.match(await ok('patch', '-n', ns, 'svc', 'web', '-p', '{"metadata":{"annotations":{"team":"net"}}}'), 'service/web patched')
      t.equal((await ok('get', '-n', ns, 'svc', 'web', '-o', 'jsonpath={.metadata.annotations.team}')).trim(), 'net')
      t.match(await ok('patch', '-n', ns, 'deploy', 'web', '--type=merge', '-p', '{"spec":{"minReadySeconds":3}}'), 'deployment.apps/web patched')
      t.match(await ok('patch', '-n', ns, 'deploy', 'web', '--type=json', '-p', '[{"op":"replace","path":"/spec/minReadySeconds","value":4}]'), 'deployment.apps/web patched')
      t.equal((await ok('get', '-n', ns, 'deploy', 'web', '-o', 'jsonpath={.spec.minReadySeconds}')).trim(), '4')

      await ok('create', '-n', ns, '-f', file(`cm1-${ns}.yaml`, cmYaml('one')))
      t.match(await ok('replace', '-n', ns, '-f', file(`cm2-${ns}.yaml`, cmYaml('two'))), 'configmap/settings replaced')
      t.equal((await ok('get', '-n', ns, 'cm', 'settings', '-o', 'jsonpath={.data.mode}')).trim(), 'two')

      // Typed generators (sent as protobuf by 1.32+ clients, JSON by older ones).
      t.match(await ok('create', 'namespace', `${ns}-typed`), `namespace/${ns}-typed created`)
      t.match(await ok('create', '-n', ns, 'configmap', 'lit', '--from-literal=a=b'), 'configmap/lit created')
      t.match(await ok('create', '-n', ns, 'deployment', 'gen', '--image=agnhost', '--replicas=0', '--port=8080'), 'deployment.apps/gen created')
      t.equal((await ok('get', '-n', ns, 'deploy', 'gen', '-o', 'jsonpath={.spec.replicas}/{.spec.template.spec.containers[0].ports[0].containerPort}')).trim(), '0/8080')
      t.match(await ok('create', '-n', ns, 'service', 'nodeport', 'gen', '--tcp=80:8080'), 'service/gen created')
      t.match((await ok('get', '-n', ns, 'svc', 'gen', '-o', 'jsonpath={.spec.ports[0].nodePort}')).trim(), /^3\d{4}$/)

      const nope = await k('get', '-n', ns, 'pods', 'nope')
      t.equal(nope.code, 1)
      t.equal(nope.stderr.trim(), 'Error from server (NotFound): pods "nope" not found')

      const del = await ok('delete', '-n', ns, '-f', manifest)
      t.match(del, 'deployment.apps "web" deleted')
      t.match(del, 'service "web" deleted')
      const gone = await k('get', '-n', ns, 'deploy', 'web')
      t.equal(gone.stderr.trim(), 'Error from server (NotFound): deployments.apps "web" not found')
      t.match(await ok('delete', '-n', ns, 'pod', 'web-1'), 'pod "web-1" deleted')
      t.match(await ok('delete', 'namespace', ns, `${ns}-typed`), `namespace "${ns}" deleted`)
    })
  }
})
