import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clientConfigFromEnv, loadKubeconfig, parseKubeconfig } from '../../src/client/kubeconfig.js'

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n'
const CA64 = Buffer.from(CA).toString('base64')

// As `kubectl config view --raw` prints it: sequences at the parent key's indentation.
const KUBECTL_YAML = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${CA64}
    server: https://127.0.0.1:6443
  name: netkube
- cluster:
    insecure-skip-tls-verify: true
    server: "https://10.0.0.1:443"   # quoted, with a comment
  name: other
contexts:
- context:
    cluster: netkube
    user: admin
  name: admin@netkube
- context:
    cluster: other
    namespace: kube-system
    user: 'reader'
  name: other
current-context: admin@netkube
kind: Config
preferences: {}
users:
- name: admin
  user:
    token: abc.def-123
- name: reader
  user:
    tokenFile: reader.token
`

function tmp(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'netkube-kc-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}

t.test('kubectl-style YAML: current context, inline CA and token', async (t) => {
  const cfg = parseKubeconfig(KUBECTL_YAML)
  t.same(cfg, { server: 'https://127.0.0.1:6443', caPem: CA, token: 'abc.def-123' })
})

t.test('named context: insecure flag, token file relative to the kubeconfig', async (t) => {
  const d = tmp(t)
  writeFileSync(join(d, 'config'), KUBECTL_YAML)
  writeFileSync(join(d, 'reader.token'), 'tok-from-file\n')
  const cfg = loadKubeconfig(join(d, 'config'), 'other')
  const { reload, ...plain } = cfg
  t.same(plain, { server: 'https://10.0.0.1:443', insecureSkipTLSVerify: true, token: 'tok-from-file' })
  t.same(reload?.(), { token: 'tok-from-file' }, 'reload reads the credentials again')
})

t.test('JSON kubeconfig (as the apiserver writes it) and certificate-authority by path', async (t) => {
  const d = tmp(t)
  writeFileSync(join(d, 'ca.crt'), CA)
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:7443', 'certificate-authority': 'ca.crt' } }],
    users: [{ name: 'u', user: { token: 't0k' } }],
    contexts: [{ name: 'u@c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'u@c',
  }
  writeFileSync(join(d, 'kc.json'), JSON.stringify(doc, null, 2))
  const { reload: _r, ...plain } = loadKubeconfig(join(d, 'kc.json'))
  t.same(plain, { server: 'https://127.0.0.1:7443', caPem: CA, token: 't0k' })
})

t.test('errors name the problem', async (t) => {
  t.throws(() => parseKubeconfig(KUBECTL_YAML, { context: 'nope' }), /no context named "nope"/)
  t.throws(() => parseKubeconfig('apiVersion: v1\nclusters: []\n'), /no current-context/)
  t.throws(() => parseKubeconfig('- a\n- b\n'), /not a kubeconfig/)
  t.throws(() => loadKubeconfig('/nonexistent/kubeconfig'), /cannot read kubeconfig/)
})

t.test('clientConfigFromEnv: --kubeconfig beats KUBECONFIG beats ~/.kube/config; flags override', async (t) => {
  const d = tmp(t)
  const mk = (name: string, server: string) => {
    const p = join(d, name)
    writeFileSync(p, `clusters:\n- name: c\n  cluster:\n    server: ${server}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: t-${name}\n`)
    return p
  }
  const a = mk('a', 'https://a:1')
  const b = mk('b', 'https://b:2')
  t.equal(clientConfigFromEnv(['--kubeconfig', a], { KUBECONFIG: b }).server, 'https://a:1')
  t.equal(clientConfigFromEnv([`--kubeconfig=${a}`], { KUBECONFIG: b }).token, 't-a')
  t.equal(clientConfigFromEnv([], { KUBECONFIG: `${join(d, 'missing')}:${b}` }).server, 'https://b:2', 'first existing file of the list')
  const home = join(d, 'home')
  mk('unused', 'x')
  t.throws(() => clientConfigFromEnv([], { HOME: home }), /no kubeconfig/)
  t.same(clientConfigFromEnv(['--server', 'https://s:3', '--token', 'T'], { HOME: home }), { server: 'https://s:3', token: 'T' })
  t.equal(clientConfigFromEnv(['--server=https://o:4'], { KUBECONFIG: a }).server, 'https://o:4')
})

t.test('YAML beyond what kubectl prints: anchors, block scalars, flow style; bad YAML names the file', async (t) => {
  // Hand-edited kubeconfigs use the YAML a user knows; the standard parser reads all of it.
  const text = `clusters:
- name: c
  cluster: &c
    server: >-
      https://10.0.0.7:6443
    insecure-skip-tls-verify: true
- name: d
  cluster: *c
users: [{name: u, user: {token: "t\\u0041"}}]
contexts:
- {name: x, context: {cluster: c, user: u}}
- {name: y, context: {cluster: d, user: u}}
current-context: x
`
  const cfg = parseKubeconfig(text)
  t.equal(cfg.server, 'https://10.0.0.7:6443', 'folded block scalar')
  t.equal(cfg.token, 'tA', 'flow mapping, double-quoted escape')
  t.equal(parseKubeconfig(text, { context: 'y' }).server, 'https://10.0.0.7:6443', 'alias of an anchored cluster')
  t.throws(() => parseKubeconfig('a: 1\n---\nb: 2\n', { file: 'multi.yaml' }), /^multi\.yaml: .*multiple documents/)
  t.throws(() => parseKubeconfig('clusters:\n\t- x\n', { file: 'tabs.yaml' }), /^tabs\.yaml: .*[Tt]ab/)
  t.throws(() => parseKubeconfig('clusters: [unterminated\n', { file: 'bad.yaml' }), /^bad\.yaml: /)
})
