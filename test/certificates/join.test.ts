// Issue #15, the node join: `netkube server` (from dist/) on a real etcd; a bootstrap token from
// `netkube token create --print-join-command`; cluster-info read anonymously with its JWS; the
// CSR flow (auto-approval for node client certificates only, signing from the cluster CA);
// the node's kubeconfig holding its own certificate (openssl x509 -subject); rotation through a
// selfnodeclient CSR; a wrong CA pin or token refused with a clear error and a non-zero exit;
// CSR validation texts; `kubectl get csr` and `kubectl certificate approve|deny` on 1.27 and 1.33;
// the server's --authorization-mode and --audit-log-path flags.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { createClient } from '../../src/client/rest.js'
import { resourceFor } from '../../src/api/resources.js'
import type { KubeObject } from '../../src/api/types.js'
import { freePort } from '../../src/util/ports.js'
import { createCsr, issueClientCert, loadClusterCA } from '../../src/authn/pki.js'
import { writeKubeconfig } from '../../src/apiserver/kubeconfig.js'
import { bootstrapNode, readNodeKubeconfig, startCertRotation } from '../../src/join/node.js'
import { DiscoveryError } from '../../src/join/discovery.js'
import type { CertificateSigningRequest } from '../../src/certificates/csr.js'
import { withEtcd } from '../helpers/etcd.js'
import { MAIN, need } from '../helpers/prereq.js'
import { call } from '../authn/helpers.js'
import { CSRS, startServer, until } from './helpers.js'

const execFileP = promisify(execFile)

const netkube = (args: string[]) => execFileP(process.execPath, [MAIN, ...args], { env: { ...process.env, NETKUBE_LOG_LEVEL: 'warn' } })

t.test('join with a bootstrap token, CSR flow, rotation, refusals', { skip: need('build', 'etcd', 'openssl') }, async (t) => {
  const etcd = await withEtcd(t)
  const dir = mkdtempSync(join(tmpdir(), 'netkube-join-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const audit = join(dir, 'audit.log')
  await startServer(t, ['--etcd-servers', etcd.endpoint, '--state-dir', join(dir, 'server'), '--secure-port', String(port), '--no-dns', '--no-ingress', '--leader-elect=false', '--audit-log-path', audit])
  const adminPath = join(dir, 'server', 'admin.kubeconfig')
  const admin = createClient(loadKubeconfig(adminPath))
  const server = `https://127.0.0.1:${port}`
  const caPem = readFileSync(join(dir, 'server', 'pki', 'ca.crt'), 'utf8')

  // netkube token create --print-join-command
  const out = (await netkube(['token', 'create', '--print-join-command', '--kubeconfig', adminPath, '--ttl', '1h'])).stdout.trim()
  const m = /^netkube agent --server (\S+) --bootstrap-token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})$/.exec(out)
  t.ok(m, `join command: ${out}`)
  const [, joinServer, id, secret, hash] = m!
  t.equal(joinServer, server)
  const token = `${id}.${secret}`
  const list = (await netkube(['token', 'list', '--kubeconfig', adminPath])).stdout
  t.match(list, /^TOKEN\s+TTL\s+EXPIRES\s+USAGES\s+DESCRIPTION\s+EXTRA GROUPS/)
  t.match(list, new RegExp(`${token}\\s+(59m|60m|1h)`))
  // kubeadm token create [token]: one chosen beforehand (the Vagrant lab's installer does so)
  const chosen = 'vgrnt1.0123456789abcdef'
  const given = (await netkube(['token', 'create', chosen, '--print-join-command', '--kubeconfig', adminPath])).stdout.trim()
  t.equal(given, `netkube agent --server ${server} --bootstrap-token ${chosen} --discovery-token-ca-cert-hash ${hash}`, 'the join command carries the given token')
  t.match((await netkube(['token', 'list', '--kubeconfig', adminPath])).stdout, new RegExp(`${chosen.replace('.', '\\.')}\\s+23h`))
  const bad = await netkube(['token', 'create', 'NOT-A-TOKEN', '--kubeconfig', adminPath]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  )
  t.equal(bad.code, 1, 'a malformed token is refused')
  t.equal(bad.stderr, 'error: the bootstrap token "NOT-A-TOKEN" was not of the form "\\\\A([a-z0-9]{6})\\\\.([a-z0-9]{16})\\\\z"\n', "kubeadm's wording")
  const again = await netkube(['token', 'create', chosen, '--kubeconfig', adminPath]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  )
  t.equal(again.code, 1, 'the same token twice: refused')
  t.match(again.stderr, /already exists/)

  // cluster-info, anonymously, signed for this token
  let last = ''
  const ci = await until('cluster-info signed for the token', async () => {
    const r = await call({ url: server, caPem }, 'GET', '/api/v1/namespaces/kube-public/configmaps/cluster-info')
    last = r.text
    return r.status === 200 && r.body.data[`jws-kubeconfig-${id}`] ? r.body : undefined
  }).catch((err: Error) => {
    throw new Error(`${err.message}; last answer ${last.slice(0, 400)}`)
  })
  t.match(ci.data.kubeconfig, /certificate-authority-data/)
  t.equal((await call({ url: server, caPem }, 'GET', '/api/v1/namespaces/kube-public/configmaps')).status, 401, 'anonymous: only cluster-info itself')

  // refusals: a wrong pin, a wrong secret, no pin — clear errors; the agent exits non-zero
  const kc = join(dir, 'node1', 'kubelet.kubeconfig')
  const wrongHash = `sha256:${'0'.repeat(64)}`
  await t.rejects(bootstrapNode({ kubeconfigPath: kc, server, token, caCertHashes: [wrongHash], nodeName: 'node1' }), { name: 'DiscoveryError', message: /cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "sha256:[0-9a-f]{64}" are pinned/ })
  await t.rejects(bootstrapNode({ kubeconfigPath: kc, server, token: `${id}.${'x'.repeat(16)}`, caCertHashes: [hash!], nodeName: 'node1' }), { message: "failed to verify JWS signature of received cluster info object, can't trust this API Server" })
  await t.rejects(bootstrapNode({ kubeconfigPath: kc, server, token: `zzzzzz.${secret}`, caCertHashes: [hash!], nodeName: 'node1' }), { message: /token id "zzzzzz" is invalid for this cluster/ })
  await t.rejects(bootstrapNode({ kubeconfigPath: kc, server, token, caCertHashes: [], nodeName: 'node1' }), DiscoveryError)
  const agent = await netkube(['agent', '--server', server, '--bootstrap-token', token, '--discovery-token-ca-cert-hash', wrongHash, '--node-name', 'node1', '--node-ip', '127.0.0.1', '--etcd-endpoints', etcd.endpoint, '--state-dir', join(dir, 'agent')]).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  )
  t.equal(agent.code, 1, 'agent with a wrong CA pin exits 1')
  t.match(agent.stderr, /error: join failed: cluster CA found in cluster-info ConfigMap is invalid/)
  t.notOk(existsSync(kc), 'nothing written on a refused join')

  // the join: its own certificate, auto-approved as nodeclient
  t.equal(await bootstrapNode({ kubeconfigPath: kc, server, token, caCertHashes: [hash!], nodeName: 'node1', pollMs: 100 }), 'joined')
  const cert = readNodeKubeconfig(kc, 'node1')!
  t.ok(cert, 'the kubeconfig holds a certificate for system:node:node1')
  const certFile = join(dir, 'node1.crt')
  writeFileSync(certFile, cert.certPem)
  const subject = (await execFileP('openssl', ['x509', '-noout', '-subject', '-in', certFile])).stdout.trim()
  t.equal(subject, 'subject=CN = system:node:node1, O = system:nodes', 'openssl x509 -subject')
  t.notMatch(readFileSync(kc, 'utf8'), /insecure-skip-tls-verify|token/, 'no insecure flag, no token in the node kubeconfig')
  const csrs = (await admin.resource<CertificateSigningRequest>(CSRS).list()).items
  const joined = csrs.find((c) => c.spec.username === `system:bootstrap:${id}`)!
  t.ok(joined, 'the CSR records the bootstrap token as its requester')
  t.same(joined.spec.groups?.sort(), ['system:authenticated', 'system:bootstrappers', 'system:bootstrappers:netkube:default-node-token'])
  t.match(joined.status?.conditions, [{ type: 'Approved', status: 'True', reason: 'AutoApproved', message: 'Auto approving kubelet client certificate after SubjectAccessReview.' }])
  const node = createClient(loadKubeconfig(kc))
  const who = JSON.parse((await node.raw('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }), 'application/json')).body)
  t.equal(who.status.userInfo.username, 'system:node:node1', 'the node talks as itself')
  t.equal(await bootstrapNode({ kubeconfigPath: kc, server, token, caCertHashes: [hash!], nodeName: 'node1' }), 'existing', 'a restart keeps its certificate')

  // rotation: a certificate near its end is renewed through a selfnodeclient CSR
  const ca = await loadClusterCA(join(dir, 'server', 'pki', 'ca.crt'), join(dir, 'server', 'pki', 'ca.key'))
  const short = await issueClientCert(ca, { commonName: 'system:node:node2', organizations: ['system:nodes'] }, 30)
  const kc2 = join(dir, 'node2.kubeconfig')
  writeKubeconfig(kc2, server, caPem, { certPem: short.certPem, keyPem: short.keyPem }, 'system:node:node2')
  const rotated = new Promise<void>((resolve) => {
    const rot = startCertRotation({ kubeconfigPath: kc2, nodeName: 'node2', expirationSeconds: 3600, onRotated: () => resolve() })
    t.teardown(() => rot.stop())
  })
  await Promise.race([rotated, new Promise((_, rej) => setTimeout(() => rej(new Error('no rotation within 20 s')), 20_000))])
  const after = readNodeKubeconfig(kc2, 'node2')!
  t.not(after.certPem, short.certPem, 'a new certificate')
  t.ok(after.notAfter - after.notBefore >= 3600_000 && after.notAfter - Date.now() <= 3600_000 + 1000, 'expirationSeconds honoured')
  const self = (await admin.resource<CertificateSigningRequest>(CSRS).list()).items.find((c) => c.spec.username === 'system:node:node2')!
  t.match(self.status?.conditions, [{ type: 'Approved', reason: 'AutoApproved', message: 'Auto approving self kubelet client certificate after SubjectAccessReview.' }])

  // only node client CSRs are auto-approved: a kube-apiserver-client CSR (even from a bootstrap token) waits
  const boot = createClient({ server, caPem, token })
  const { csrPem } = await createCsr({ commonName: 'someone', organizations: ['devs'] })
  const waiting = await boot.resource<CertificateSigningRequest>(CSRS).create({
    apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name: 'someone' },
    spec: { request: Buffer.from(csrPem).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] },
  } as CertificateSigningRequest)
  t.equal(waiting.spec.username, `system:bootstrap:${id}`, 'requester from the request, not the body')
  const ev = await until('the WaitingForApproval event', async () =>
    (await admin.resource<KubeObject & { reason?: string; message?: string }>(resourceFor('events'), 'default').list({ fieldSelector: 'involvedObject.name=someone' })).items.find((e) => e.reason === 'WaitingForApproval'))
  t.match(ev.message, /Not auto-approved: not a node client certificate request/)
  t.notOk((await admin.resource<CertificateSigningRequest>(CSRS).get('someone')).status?.conditions, 'still pending')
  // a bootstrap token may not approve
  const approveAsBoot = await call({ url: server, caPem }, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/someone/approval', { token }, {
    ...waiting, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'x' }] },
  })
  t.equal(approveAsBoot.status, 403)

  // the audit log (--audit-log-path) recorded the join's CSR create
  const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  t.ok(lines.some((e) => e.verb === 'create' && e.objectRef?.resource === 'certificatesigningrequests' && e.user?.username === `system:bootstrap:${id}`), 'audit: the CSR create by the bootstrap token')
})
