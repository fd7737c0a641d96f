// certificates.k8s.io/v1 through kubectl 1.27 and 1.33 and the API: `kubectl get csr` columns,
// `kubectl certificate approve|deny`, the signer issuing for an approved kube-apiserver-client
// CSR (and its expirationSeconds), upstream's 422 texts, the /approval and /status rules, and
// `netkube server --authorization-mode AlwaysAllow` (a user without any binding may read).
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { X509Certificate } from 'node:crypto'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { createClient } from '../../src/client/rest.js'
import { freePort } from '../../src/util/ports.js'
import { createCsr } from '../../src/authn/pki.js'
import type { CertificateSigningRequest } from '../../src/certificates/csr.js'
import { withEtcd } from '../helpers/etcd.js'
import { kubectlPath, need } from '../helpers/prereq.js'
import { call } from '../authn/helpers.js'
import { CSRS, startServer, until } from './helpers.js'

const execFileP = promisify(execFile)

const csrBody = async (name: string, extra: Record<string, unknown> = {}, subject = { commonName: name, organizations: ['devs'] }) => ({
  apiVersion: 'certificates.k8s.io/v1',
  kind: 'CertificateSigningRequest',
  metadata: { name },
  spec: { request: Buffer.from((await createCsr(subject)).csrPem).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], ...extra },
})

t.test('CSRs through the API and kubectl', { skip: need('build', 'etcd', 'kubectl 1.27', 'kubectl 1.33') }, async (t) => {
  const etcd = await withEtcd(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-csr-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const state = join(dir, 'server')
  // A token-file user with no RBAC binding at all: readable only because of AlwaysAllow.
  const extra = join(dir, 'extra-tokens.csv')
  appendFileSync(extra, 'nobody-token,nobody,nobody-uid,\n')
  await startServer(t, ['--etcd-servers', etcd.endpoint, '--state-dir', state, '--secure-port', String(port), '--no-dns', '--no-ingress', '--leader-elect=false', '--authorization-mode', 'AlwaysAllow', '--extra-token-file', extra])
  const kubeconfig = join(state, 'admin.kubeconfig')
  const cfg = loadKubeconfig(kubeconfig)
  const admin = createClient(cfg)
  const srv = { url: `https://127.0.0.1:${port}`, caPem: cfg.caPem! }
  const post = (body: unknown, path = '/apis/certificates.k8s.io/v1/certificatesigningrequests') => call(srv, 'POST', path, { token: cfg.token!, ...(cfg.certPem ? { cert: cfg.certPem, key: cfg.keyPem! } : {}) }, body)

  t.equal((await call(srv, 'GET', '/api/v1/namespaces/kube-system/secrets', { token: 'nobody-token' })).status, 200, '--authorization-mode AlwaysAllow: an unbound user reads secrets')

  // 422 texts, as upstream words them
  const bad = async (body: unknown) => (await post(body)).body
  let b = await bad(await csrBody('x1', { expirationSeconds: 599 }))
  t.equal(b.code, 422)
  t.equal(b.message, 'CertificateSigningRequest.certificates.k8s.io "x1" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)')
  b = await bad(await csrBody('x2', { usages: [], signerName: 'nodomain' }))
  t.equal(b.message, `CertificateSigningRequest.certificates.k8s.io "x2" is invalid: [spec.usages: Required value, spec.signerName: Invalid value: "nodomain": must be a fully qualified domain and path of the form 'example.com/signer-name']`)
  b = await bad(await csrBody('x3', { usages: ['client auth', 'client auth', 'flying'], signerName: 'kubernetes.io/legacy-unknown' }))
  t.match(b.message, /spec.usages\[1\]: Duplicate value: "client auth"/)
  t.match(b.message, /spec.usages\[2\]: Unsupported value: "flying": supported values: "any", "cert sign"/)
  t.match(b.message, /spec.signerName: Invalid value: "kubernetes.io\/legacy-unknown": the legacy signerName is not allowed via this API version/)
  b = await bad({ ...(await csrBody('x4')), spec: { ...(await csrBody('x4')).spec, request: Buffer.from('hello').toString('base64') } })
  t.equal(b.message, 'CertificateSigningRequest.certificates.k8s.io "x4" is invalid: spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f}: PEM block type must be CERTIFICATE REQUEST')
  b = await bad(await csrBody('x5', {}, { commonName: 'root', organizations: ['system:masters'] }))
  t.equal(b.code, 403)
  t.equal(b.message, 'certificatesigningrequests.certificates.k8s.io "x5" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed')

  // a valid one: created Pending, requester = the admin, spec immutable, approval only via /approval
  const created = await post(await csrBody('alice', { expirationSeconds: 3600, username: 'forged', groups: ['system:masters'] }))
  t.equal(created.status, 201)
  t.not(created.body.spec.username, 'forged', 'spec.username comes from the request')
  t.notOk(created.body.spec.groups.includes('system:masters') && created.body.spec.username === 'forged')
  const viaStatus = await call(srv, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/alice/status', { token: cfg.token! }, { ...created.body, status: { conditions: [{ type: 'Approved', status: 'True' }] } })
  t.equal(viaStatus.status, 422)
  t.match(viaStatus.body.message, /status.conditions: Forbidden: updates may not add a condition of type "Approved"/)
  const both = await call(srv, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/alice/approval', { token: cfg.token! }, { ...created.body, status: { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] } })
  t.match(both.body.message, /status.conditions\[1\].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive/)
  await post(await csrBody('bob'))

  for (const v of ['1.27', '1.33']) {
    const k = (args: string[]) => execFileP(kubectlPath(v), ['--kubeconfig', kubeconfig, ...args])
    await t.test(`kubectl ${v}`, async (t) => {
      const table = (await k(['get', 'csr'])).stdout
      t.match(table.split('\n')[0], /^NAME\s+AGE\s+SIGNERNAME\s+REQUESTOR\s+REQUESTEDDURATION\s+CONDITION$/)
      t.match(table, /alice\s+\S+\s+kubernetes.io\/kube-apiserver-client\s+\S+\s+60m\s+(Pending|Approved,Issued)/)
      if (v === '1.27') {
        t.match((await k(['certificate', 'approve', 'alice'])).stdout, /certificatesigningrequest.certificates.k8s.io\/alice approved/)
        t.match((await k(['certificate', 'deny', 'bob'])).stdout, /certificatesigningrequest.certificates.k8s.io\/bob denied/)
      } else {
        await k(['certificate', 'approve', 'bob']).then(
          () => t.fail('approving a denied CSR must fail'),
          (e: { stderr: string }) => t.match(e.stderr, /Denied|already|mutually exclusive/),
        )
      }
      const issued = await until('alice issued', async () => {
        const out = (await k(['get', 'csr', 'alice'])).stdout
        return /Approved,Issued/.test(out) ? out : undefined
      })
      t.match(issued, /alice\s+\S+\s+kubernetes.io\/kube-apiserver-client\s+\S+\s+60m\s+Approved,Issued/)
      t.match((await k(['get', 'csr', 'bob'])).stdout, /bob\s+.*\s+Denied$/m)
    })
  }
  const alice = await admin.resource<CertificateSigningRequest>(CSRS).get('alice')
  const cert = new X509Certificate(Buffer.from(alice.status!.certificate!, 'base64').toString('utf8'))
  t.match(cert.subject, /CN=alice/)
  const life = Date.parse(cert.validTo) - Date.now()
  t.ok(life > 3500_000 && life <= 3600_000, `expirationSeconds 3600 honoured (${Math.round(life / 1000)} s left)`)
  t.ok(cert.verify(new X509Certificate(cfg.caPem!).publicKey), 'signed by the cluster CA')
  t.match(alice.status!.conditions, [{ type: 'Approved', status: 'True', reason: 'KubectlApprove' }])
  const again = await call(srv, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/alice/status', { token: cfg.token! }, { ...alice, status: { ...alice.status, certificate: Buffer.from('x').toString('base64') } })
  t.match(again.body.message, /status.certificate: Forbidden: updates may not modify existing certificate content|status.certificate: Invalid value: "<certificate data>"/)
})
