// Ingress and IngressClass through real kubectl 1.27 and 1.33 against a real apiserver + etcd:
// `kubectl create ingress` (rules, TLS, class, default backend), the `get` tables, a 422 with
// upstream's words, and the status subresource.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withApiServer } from '../helpers/apiserver.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { kubectlRunner } from '../helpers/kubectl.js'

const CLIENTS = [
  { name: '1.27', path: kubectlPath('1.27'), skip: need('kubectl 1.27') },
  { name: '1.33', path: kubectlPath('1.33'), skip: need('kubectl 1.33') },
]

t.test('kubectl: ingresses and ingress classes', async (t) => {
  const srv = await withApiServer(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-ing-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `i-${c.name.replace(/\W/g, '')}`
      const { k, ok } = kubectlRunner(t, c.path, srv.kubeconfigPath)
      await ok('create', 'namespace', ns)
      const icFile = join(dir, `ic-${ns}.yaml`)
      writeFileSync(icFile, `apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: cls-${ns}\n  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}\nspec: {controller: netkube.io/ingress-controller}\n`)
      await ok('apply', '-f', icFile)
      t.match(await ok('get', 'ingressclass', `cls-${ns}`), new RegExp(`^NAME\\s+CONTROLLER\\s+PARAMETERS\\s+AGE\\ncls-${ns}\\s+netkube\\.io/ingress-controller\\s+<none>\\s+\\d+s\\n`))

      t.match(
        await ok('create', 'ingress', 'web', '-n', ns, `--class=cls-${ns}`, '--rule=a.example.com/=web:80', '--rule=a.example.com/api*=api:http', '--rule=b.example.com/*=web:80,tls=b-tls', '--default-backend=fallback:80'),
        'ingress.networking.k8s.io/web created',
      )
      const spec = JSON.parse(await ok('get', 'ing', 'web', '-n', ns, '-o', 'json')).spec
      t.same(spec.rules[0].http.paths[0], { path: '/', pathType: 'Exact', backend: { service: { name: 'web', port: { number: 80 } } } })
      t.same(spec.rules[0].http.paths[1], { path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { name: 'http' } } } })
      t.same(spec.tls, [{ hosts: ['b.example.com'], secretName: 'b-tls' }])
      t.same(spec.defaultBackend, { service: { name: 'fallback', port: { number: 80 } } })
      t.match(await ok('get', 'ingresses', '-n', ns), new RegExp(`^NAME\\s+CLASS\\s+HOSTS\\s+ADDRESS\\s+PORTS\\s+AGE\\nweb\\s+cls-${ns}\\s+a\\.example\\.com,b\\.example\\.com\\s+80, 443\\s+\\d+s\\n`))

      // Status through the subresource: the ADDRESS column fills.
      await ok('patch', 'ing', 'web', '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"192.168.56.200"}]}}}')
      t.match(await ok('get', 'ing', 'web', '-n', ns), /\nweb\s+\S+\s+\S+\s+192\.168\.56\.200\s+80, 443\s+/)

      // Bad input: a 422 with upstream's message.
      const bad = await k('create', 'ingress', 'bad', '-n', ns, '--rule=10.0.0.1/=web:80')
      t.equal(bad.code, 1)
      t.equal(bad.stderr.trim(), 'error: failed to create ingress: Ingress.networking.k8s.io "bad" is invalid: spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address')
      await ok('delete', 'ingressclass', `cls-${ns}`)
    })
  }
})

// kube-apiserver's DefaultIngressClass admission: a class-less Ingress gets the default class at
// create time; several defaults → the newest; a class or the legacy annotation is kept as sent.
t.test('kubectl: DefaultIngressClass admission', async (t) => {
  const srv = await withApiServer(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-kubectl-defic-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `d-${c.name.replace(/\W/g, '')}`
      const { ok } = kubectlRunner(t, c.path, srv.kubeconfigPath)
      const cls = (name: string, isDefault: boolean): Promise<string> => {
        const f = join(dir, `${name}.yaml`)
        writeFileSync(f, `apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: ${name}\n  annotations: {ingressclass.kubernetes.io/is-default-class: "${isDefault}"}\nspec: {controller: example.com/c}\n`)
        return ok('apply', '-f', f)
      }
      const classOf = async (name: string): Promise<string> => ok('get', 'ing', name, '-n', ns, '-o', 'jsonpath={.spec.ingressClassName}')
      await ok('create', 'namespace', ns)
      await cls(`plain-${ns}`, false)
      await ok('create', 'ingress', 'none', '-n', ns, '--rule=a.example.com/=web:80')
      t.equal(await classOf('none'), '', 'no default class: the Ingress stays without one')

      await cls(`old-${ns}`, true)
      await ok('create', 'ingress', 'one', '-n', ns, '--rule=a.example.com/=web:80')
      t.equal(await classOf('one'), `old-${ns}`, 'the one default class is written at create time')
      t.match(await ok('get', 'ing', 'one', '-n', ns), new RegExp(`\\none\\s+old-${ns}\\s+a\\.example\\.com\\s+`), 'CLASS column')
      await ok('create', 'ingress', 'named', '-n', ns, `--class=plain-${ns}`, '--rule=a.example.com/=web:80')
      t.equal(await classOf('named'), `plain-${ns}`, 'a named class is kept')
      const legacy = join(dir, `legacy-${ns}.yaml`)
      writeFileSync(legacy, `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: legacy\n  namespace: ${ns}\n  annotations: {kubernetes.io/ingress.class: other}\nspec: {defaultBackend: {service: {name: web, port: {number: 80}}}}\n`)
      await ok('apply', '-f', legacy)
      t.equal(await classOf('legacy'), '', 'the legacy annotation counts as a class: not defaulted')

      // creationTimestamp has second resolution: the second default is created a second later.
      await new Promise((r) => setTimeout(r, 1100))
      await cls(`new-${ns}`, true)
      await ok('create', 'ingress', 'two', '-n', ns, '--rule=a.example.com/=web:80')
      t.equal(await classOf('two'), `new-${ns}`, 'two default classes: the newest is taken')
      t.equal(await classOf('one'), `old-${ns}`, 'existing Ingresses keep theirs')
      for (const n of ['plain', 'old', 'new']) await ok('delete', 'ingressclass', `${n}-${ns}`)
    })
  }
})
