// The authenticator chain against a real apiserver (real etcd, real TLS): anonymous only on
// the public paths, client certificates from the cluster CA (and not from another CA, nor a
// CA-signed server certificate), the token file, bootstrap tokens, ServiceAccount tokens.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { withApiServer } from '../helpers/apiserver.js'
import { ensureClusterCA } from '../../src/apiserver/certs.js'
import { issueClientCert, loadClusterCA } from '../../src/authn/pki.js'
import { call, UNAUTHORIZED } from './helpers.js'

t.test('authentication chain on a real apiserver', async (t) => {
  // Authentication alone: every authenticated request is allowed here (RBAC has its own suite, test/rbac).
  const srv = await withApiServer(t, { authorizationMode: 'AlwaysAllow' })
  const ca = await loadClusterCA(srv.server.caCertPath, srv.server.caKeyPath)
  const other = mkdtempSync(join(tmpdir(), 'netkube-otherca-'))
  t.teardown(() => rmSync(other, { recursive: true, force: true }))
  const o = await ensureClusterCA(other)
  const otherCA = await loadClusterCA(o.caCrt, o.caKey)

  await t.test('anonymous: public paths only, else upstream 401 body', async (t) => {
    for (const p of ['/healthz', '/livez', '/readyz', '/version']) t.equal((await call(srv, 'GET', p)).status, 200, `anonymous ${p}`)
    for (const p of ['/api', '/apis', '/api/v1/namespaces', '/metrics', '/openapi/v2']) {
      const r = await call(srv, 'GET', p)
      t.equal(r.status, 401, `anonymous ${p}`)
      t.same(r.body, UNAUTHORIZED)
    }
    t.equal((await call(srv, 'GET', '/healthz', { token: 'nope' })).status, 401, 'a bad credential is 401 even on a public path')
  })

  await t.test('x509 client certificates', async (t) => {
    const good = await issueClientCert(ca, { commonName: 'jane', organizations: ['dev'] })
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { cert: good.certPem, key: good.keyPem })).status, 200, 'cluster CA cert authenticates')
    const foreign = await issueClientCert(otherCA, { commonName: 'kubernetes-admin', organizations: ['system:masters'] })
    const r = await call(srv, 'GET', '/api/v1/namespaces', { cert: foreign.certPem, key: foreign.keyPem })
    t.equal(r.status, 401, 'another CA: the handshake completes, the x509 authenticator fails: 401 (as upstream)')
    t.same(r.body, UNAUTHORIZED)
    t.equal((await call(srv, 'GET', '/healthz', { cert: foreign.certPem, key: foreign.keyPem })).status, 401, 'a foreign cert is a failed credential on public paths too')
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { cert: foreign.certPem, key: foreign.keyPem, token: srv.token })).status, 200, 'a valid token beside a failed cert still authenticates (union)')
    const pki = join(srv.stateDir, 'pki')
    const serving = { cert: readFileSync(join(pki, 'apiserver.crt'), 'utf8'), key: readFileSync(join(pki, 'apiserver.key'), 'utf8') }
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', serving)).status, 401, 'a CA-signed certificate without clientAuth is refused')
    const noCN = await issueClientCert(ca, { commonName: '', organizations: ['system:masters'] })
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { cert: noCN.certPem, key: noCN.keyPem })).status, 401, 'no CN: no user')
    const expired = await issueClientCert(ca, { commonName: 'old' }, -3600)
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { cert: expired.certPem, key: expired.keyPem })).status, 401, 'an expired certificate is refused')
  })

  await t.test('token file', async (t) => {
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: srv.token })).status, 200)
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: srv.token + 'x' })).status, 401)
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { authorization: `Basic ${srv.token}` })).status, 401)
  })
})

t.test('bootstrap tokens and ServiceAccount tokens', async (t) => {
  // Authentication alone: every authenticated request is allowed here (RBAC has its own suite, test/rbac).
  const srv = await withApiServer(t, { authorizationMode: 'AlwaysAllow' })
  const admin = { token: srv.token }
  const b64 = (s: string): string => Buffer.from(s).toString('base64')
  const secret = (id: string, sec: string, extra: Record<string, string> = {}) => ({
    apiVersion: 'v1', kind: 'Secret', type: 'bootstrap.kubernetes.io/token',
    metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
    data: Object.fromEntries(Object.entries({ 'token-id': id, 'token-secret': sec, 'usage-bootstrap-authentication': 'true', ...extra }).map(([k, v]) => [k, b64(v)])),
  })
  const put = async (s: object) => t.equal((await call(srv, 'POST', '/api/v1/namespaces/kube-system/secrets', admin, s)).status, 201)

  await t.test('bootstrap tokens', async (t) => {
    await put(secret('abcdef', '0123456789abcdef', { expiration: new Date(Date.now() + 3600_000).toISOString() }))
    await put(secret('expire', '0123456789abcdef', { expiration: new Date(Date.now() - 1000).toISOString() }))
    await put(secret('nouse1', '0123456789abcdef', { 'usage-bootstrap-authentication': 'false' }))
    const ok = (tok: string) => call(srv, 'GET', '/api/v1/namespaces', { token: tok }).then((r) => r.status)
    t.equal(await ok('abcdef.0123456789abcdef'), 200, 'valid bootstrap token')
    t.equal(await ok('abcdef.0123456789abcdeX'), 401, 'wrong secret')
    t.equal(await ok('abcdef.0123456789abcdee'), 401, 'wrong secret (right alphabet)')
    t.equal(await ok('expire.0123456789abcdef'), 401, 'expired')
    t.equal(await ok('nouse1.0123456789abcdef'), 401, 'not for authentication')
    t.equal(await ok('zzzzzz.0123456789abcdef'), 401, 'no secret')
    t.equal((await call(srv, 'DELETE', '/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef', admin)).status, 200)
    t.equal(await ok('abcdef.0123456789abcdef'), 401, 'revoked by deleting its Secret')
  })

  await t.test('TokenRequest: bound, expiring, revocable', async (t) => {
    t.equal((await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts', admin, { metadata: { name: 'robot' } })).status, 201)
    const tr = (body: object, sa = 'robot') => call(srv, 'POST', `/api/v1/namespaces/default/serviceaccounts/${sa}/token`, admin, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', ...body })
    const r = await tr({ spec: {} })
    t.equal(r.status, 201)
    t.equal(r.body.kind, 'TokenRequest')
    t.same(r.body.spec.audiences, ['https://kubernetes.default.svc.cluster.local'], 'audience defaults to the API audience')
    t.equal(r.body.spec.expirationSeconds, 3600)
    const exp = Date.parse(r.body.status.expirationTimestamp)
    t.ok(Math.abs(exp - Date.now() - 3600_000) < 10_000, 'expires in 1 h')
    const tok: string = r.body.status.token
    const claims = JSON.parse(Buffer.from(tok.split('.')[1]!, 'base64url').toString())
    t.equal(claims.sub, 'system:serviceaccount:default:robot')
    t.equal(JSON.parse(Buffer.from(tok.split('.')[0]!, 'base64url').toString()).alg, 'ES256')
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: tok })).status, 200, 'the token authenticates')

    const short = await tr({ spec: { expirationSeconds: 599 } })
    t.equal(short.status, 422)
    t.equal(short.body.message, 'TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes')
    t.equal((await tr({ spec: {} }, 'ghost')).status, 404, 'no such ServiceAccount')
    t.equal((await call(srv, 'GET', '/api/v1/namespaces/default/serviceaccounts/robot/token', admin)).status, 405)

    const other = await tr({ spec: { audiences: ['vault'] } })
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: other.body.status.token })).status, 401, 'a token for another audience is refused')

    const pod = { metadata: { name: 'p' }, spec: { serviceAccountName: 'robot', containers: [{ name: 'c', image: 'busybox' }] } }
    const created = await call(srv, 'POST', '/api/v1/namespaces/default/pods', admin, pod)
    t.equal(created.status, 201)
    const bound = await tr({ spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: created.body.metadata.uid } } })
    t.equal(bound.status, 201)
    const podTok: string = bound.body.status.token
    t.equal(JSON.parse(Buffer.from(podTok.split('.')[1]!, 'base64url').toString())['kubernetes.io'].pod.uid, created.body.metadata.uid)
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: podTok })).status, 200)
    const wrongUid = await tr({ spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: 'nope' } } })
    t.equal(wrongUid.status, 409)
    t.match(wrongUid.body.message, /the UID in the bound object reference \(nope\) does not match the UID in record/)
    t.equal((await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts', admin, { metadata: { name: 'other' } })).status, 201)
    const mismatch = await tr({ spec: { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p' } } }, 'other')
    t.equal(mismatch.status, 400)
    t.equal(mismatch.body.message, 'cannot bind token for serviceaccount "other" to pod running with different serviceaccount name.')
    t.equal((await tr({ spec: { boundObjectRef: { kind: 'ConfigMap', apiVersion: 'v1', name: 'x' } } })).status, 400)

    t.equal((await call(srv, 'DELETE', '/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0', admin)).status, 200)
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: podTok })).status, 401, 'deleting the pod revokes its token')
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: tok })).status, 200, 'an unbound token lives on')
    t.equal((await call(srv, 'DELETE', '/api/v1/namespaces/default/serviceaccounts/robot', admin)).status, 200)
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: tok })).status, 401, 'deleting the ServiceAccount revokes its tokens')
  })

  await t.test('an expired token is 401', async (t) => {
    const { ServiceAccountTokens, ensureServiceAccountKey } = await import('../../src/authn/serviceaccount.js')
    t.equal((await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts', admin, { metadata: { name: 'late' } })).status, 201)
    const sa = (await call(srv, 'GET', '/api/v1/namespaces/default/serviceaccounts/late', admin)).body
    // Signed with the server's own key, two hours ago, for one hour.
    const past = new ServiceAccountTokens(ensureServiceAccountKey(join(srv.stateDir, 'pki')), async () => undefined, undefined, undefined, () => Date.now() - 7200_000)
    const old = await past.issue({ namespace: 'default', serviceAccount: { name: 'late', uid: sa.metadata.uid }, audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 })
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: old.token })).status, 401, 'expired')
    const now = new ServiceAccountTokens(ensureServiceAccountKey(join(srv.stateDir, 'pki')), async () => undefined)
    const fresh = await now.issue({ namespace: 'default', serviceAccount: { name: 'late', uid: sa.metadata.uid }, audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 })
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: fresh.token })).status, 200, 'the same token made now works (the check is the expiry)')
  })
})
