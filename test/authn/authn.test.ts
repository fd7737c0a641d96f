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
  const srv = await withApiServer(t)
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
