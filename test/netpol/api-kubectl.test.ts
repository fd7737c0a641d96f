// NetworkPolicy through a real apiserver with real kubectl (1.27 and 1.33): discovery, apply
// (twice: unchanged), `get netpol` as a Table, defaulted policyTypes, and a 422 with field paths.
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
]

const POLICIES = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress}
spec:
  podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}, {protocol: UDP, port: 8000, endPort: 8100}]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
`

const BAD = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [192.168.0.0/24]}}]
    ports: [{port: 90, endPort: 80}]
`

// the other two upstream refusals: a CIDR that does not parse, endPort on a named port
const BAD2 = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad2}
spec:
  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/33}}]
    ports: [{port: http, endPort: 90}]
`

t.test('networkpolicies with kubectl', async (t) => {
  const srv = await withApiServer(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-netpol-api-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, text: string): string => {
    const p = join(dir, name)
    writeFileSync(p, text)
    return p
  }
  for (const c of CLIENTS) {
    t.test(`kubectl ${c.name}`, { skip: c.skip }, async (t) => {
      const ns = `np-${c.name.replace(/\W/g, '')}`
      const k = (...args: string[]) => run(c.path, ['--kubeconfig', srv.kubeconfigPath, ...args], { allowFailure: true, timeoutMs: 30_000 })
      const ok = async (...args: string[]): Promise<string> => {
        const r = await k(...args)
        t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
        return r.stdout
      }
      t.match(await ok('api-resources', '--api-group=networking.k8s.io'), /networkpolicies\s+netpol\s+networking\.k8s\.io\/v1\s+true\s+NetworkPolicy/)
      await ok('create', 'namespace', ns)
      const first = await ok('apply', '-n', ns, '-f', file(`p-${ns}.yaml`, POLICIES))
      t.match(first, 'networkpolicy.networking.k8s.io/default-deny-ingress created')
      t.match(first, 'networkpolicy.networking.k8s.io/allow-client created')
      // ports is an atomic list: the server-defaulted protocol makes kubectl send it again
      // ("configured"), as against kube-apiserver; a policy without ports stays unchanged.
      const second = await ok('apply', '-n', ns, '-f', file(`p-${ns}.yaml`, POLICIES))
      t.match(second, 'networkpolicy.networking.k8s.io/default-deny-ingress unchanged')
      t.match(second, /networkpolicy\.networking\.k8s\.io\/allow-client (unchanged|configured)/)
      const table = await ok('get', 'netpol', '-n', ns)
      t.match(table, /^NAME\s+POD-SELECTOR\s+AGE$/m)
      t.match(table, /^allow-client\s+app=web\s+\d+s$/m)
      t.match(table, /^default-deny-ingress\s+<none>\s+\d+s$/m)
      t.equal((await ok('get', 'networkpolicy', 'allow-client', '-n', ns, '-o', 'jsonpath={.spec.policyTypes}')).trim(), '["Ingress","Egress"]')
      t.equal((await ok('get', 'netpol', 'default-deny-ingress', '-n', ns, '-o', 'jsonpath={.spec.policyTypes}')).trim(), '["Ingress"]')
      const bad = await k('apply', '-n', ns, '-f', file(`bad-${ns}.yaml`, BAD))
      t.not(bad.code, 0, 'invalid policy refused')
      t.match(bad.stderr, 'The NetworkPolicy "bad" is invalid')
      t.match(bad.stderr, 'spec.ingress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to `port`')
      t.match(bad.stderr, 'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`')
      t.match((await k('get', 'netpol', 'bad', '-n', ns)).stderr, 'NotFound', 'nothing half-written')
      const bad2 = await k('apply', '-n', ns, '-f', file(`bad2-${ns}.yaml`, BAD2))
      t.not(bad2.code, 0, 'invalid policy refused')
      t.match(bad2.stderr, 'The NetworkPolicy "bad2" is invalid')
      t.match(bad2.stderr, 'spec.egress[0].to[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')
      t.match(bad2.stderr, 'spec.egress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric')
      t.match((await k('get', 'netpol', 'bad2', '-n', ns)).stderr, 'NotFound', 'nothing half-written')
      t.match(await ok('delete', 'netpol', 'allow-client', '-n', ns), 'networkpolicy.networking.k8s.io "allow-client" deleted')
    })
  }
})
