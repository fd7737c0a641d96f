// Every component has its own credentials: `netkube server` writes a kubeconfig per in-process
// component (client certificate, CN/O as agreed with the RBAC policy) and uses it; the lab's
// agents get kubelet/kube-proxy/network kubeconfigs of their own; the add-ons run as
// ServiceAccounts. And, grep-able: no component is handed the admin token.
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../helpers/root.js'
import { startServer } from '../../src/server/server.js'
import { freePort } from '../../src/util/ports.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { ensureNodeKubeconfigs } from '../../src/lab/credentials.js'
import { resourceFor } from '../../src/api/resources.js'
import type { Deployment } from '../../src/api/types.js'
import { withEtcd } from '../helpers/etcd.js'
import { call } from './helpers.js'

const subjectOf = (path: string): string => new X509Certificate(loadKubeconfig(path).certPem!).subject.split('\n').join(',')

t.test('netkube server and lab write one identity per component', async (t) => {
  const etcd = await withEtcd(t)
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-ident-'))
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }))
  const server = await startServer({ stateDir, etcdServers: [etcd.endpoint], securePort: await freePort(), leaderElection: { enabled: false, timing: { leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 2000 }, namespace: 'kube-system' } as never })
  t.teardown(() => server.stop())
  const want: Record<string, string> = {
    'controller-manager.kubeconfig': 'CN=system:kube-controller-manager',
    'scheduler.kubeconfig': 'CN=system:kube-scheduler',
    'addon-manager.kubeconfig': 'CN=system:netkube:addon-manager',
  }
  const srv = { url: server.api.url, caPem: server.api.caPem }
  for (const [file, subject] of Object.entries(want)) {
    const path = join(stateDir, file)
    t.equal(subjectOf(path), subject, file)
    const cfg = loadKubeconfig(path)
    t.notOk(cfg.token, `${file} carries no token`)
    t.equal((await call(srv, 'GET', '/api', { cert: cfg.certPem!, key: cfg.keyPem! })).status, 200, `${file} authenticates`)
  }
  const nodeDir = join(stateDir, 'node7')
  const p = await ensureNodeKubeconfigs(join(stateDir, 'pki'), nodeDir, 'node7', server.api.url)
  t.equal(subjectOf(p.kubelet), 'CN=system:node:node7,O=system:nodes')
  t.equal(subjectOf(p.proxy), 'CN=system:kube-proxy')
  t.equal(subjectOf(p.network), 'CN=system:netkube:agent:node7,O=system:netkube:agents')
  for (const f of [p.kubelet, p.proxy, p.network]) {
    const c = loadKubeconfig(f)
    t.equal((await call(srv, 'GET', '/api', { cert: c.certPem!, key: c.keyPem! })).status, 200)
  }
  const before = readFileSync(p.kubelet, 'utf8')
  await ensureNodeKubeconfigs(join(stateDir, 'pki'), nodeDir, 'node7', server.api.url)
  t.equal(readFileSync(p.kubelet, 'utf8'), before, 'a current kubeconfig is kept')
  await ensureNodeKubeconfigs(join(stateDir, 'pki'), nodeDir, 'node7', 'https://127.0.0.2:1')
  t.not(readFileSync(p.kubelet, 'utf8'), before, 'another server: rewritten')

  const deps = server.client.resource<Deployment>(resourceFor('deployments'), 'kube-system')
  for (const [name, sa] of [['netkube-dns', 'coredns'], ['netkube-ingress-controller', 'netkube-ingress']] as const) {
    const d = await deps.get(name)
    t.equal(d.spec!.template.spec!.serviceAccountName, sa, `${name} runs as kube-system/${sa}`)
    const args = d.spec!.template.spec!.containers[0]!.args!
    const kc = JSON.parse(readFileSync(args[args.indexOf('--kubeconfig') + 1]!, 'utf8'))
    t.same(kc.users[0].user, { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' }, `${name}'s kubeconfig holds no credential: the pod's projected token`)
    t.equal((await server.client.resource(resourceFor('serviceaccounts'), 'kube-system').get(sa)).metadata.name, sa)
  }
})

t.test('no component is handed the admin credentials (grep)', async (t) => {
  const root = join(ROOT, 'src')
  const files: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e)
      if (statSync(p).isDirectory()) walk(p)
      else if (p.endsWith('.ts')) files.push(p)
    }
  }
  walk(root)
  const offenders: string[] = []
  for (const f of files) {
    const text = readFileSync(f, 'utf8')
    // The ApiServer's admin token (`api.token`, `server.api.token`) or admin.kubeconfig given to a component.
    if (/\bapi\.token\b/.test(text)) offenders.push(`${f}: api.token`)
    if (/['"`]--kubeconfig['"`],\s*join\([^)]*admin\.kubeconfig/.test(text)) offenders.push(`${f}: admin.kubeconfig as --kubeconfig`)
    if (/node\.kubeconfig/.test(text)) offenders.push(`${f}: the shared node.kubeconfig (a copy of the admin's)`)
  }
  t.same(offenders, [], 'src/ hands no component the admin token')
})
