// Odd credentials never crash the apiserver and never authenticate: 10,000 fuzzed
// Authorization headers, forged JWTs (alg none, HS256 keyed with the public key, bad
// signatures, another key, claims edited), and client certificates with odd subjects —
// those from the cluster CA map exactly onto their CN/O, those from another CA are 401.
import t from 'tap'
import { createServer } from 'node:https'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { generateKeyPairSync } from 'node:crypto'
import { withApiServer } from '../helpers/apiserver.js'
import { ensureClusterCA, ensureServingCerts } from '../../src/apiserver/certs.js'
import { issueClientCert, loadClusterCA } from '../../src/authn/pki.js'
import { authenticateClientCert } from '../../src/authn/x509.js'
import { call, UNAUTHORIZED } from './helpers.js'

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32)
}

t.test('fuzzed credentials: all 401, no crash', async (t) => {
  // Authentication alone: every authenticated request is allowed here (RBAC has its own suite, test/rbac).
  const srv = await withApiServer(t, { authorizationMode: 'AlwaysAllow' })
  const app = srv.server.app
  const rnd = rng(15)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const randStr = (n: number, alphabet: string): string => Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('')
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('')
  const b64u = (s: string): string => Buffer.from(s).toString('base64url')
  const shapes: (() => string)[] = [
    () => 'Bearer',
    () => 'Bearer ',
    () => `Bearer ${randStr(1 + Math.floor(rnd() * 200), printable.trim())}`,
    () => `bearer ${srv.token.slice(0, Math.floor(rnd() * srv.token.length))}`,
    () => `Bearer ${srv.token}${randStr(1, 'abc')}`,
    () => `Basic ${Buffer.from(`admin:${randStr(8, 'abc')}`).toString('base64')}`,
    () => `Bearer ${randStr(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}.${randStr(16, 'abcdefghijklmnopqrstuvwxyz0123456789')}`,
    () => `Bearer ${b64u(JSON.stringify({ alg: pick(['none', 'ES256', 'RS256', 'HS256', '', 'ES256K']) }))}.${b64u(JSON.stringify({ sub: 'system:serviceaccount:kube-system:x' }))}.${randStr(20, 'abc-_')}`,
    () => `Bearer ${randStr(10, 'ab')}.${randStr(10, '!@#')}.${randStr(3, 'x')}`,
    () => `Bearer ..`,
    () => `Bearer ${'a.'.repeat(Math.floor(rnd() * 100))}`,
    () => `${randStr(1 + Math.floor(rnd() * 30), printable)}`,
    () => `Bearer ${'x'.repeat(4000 + Math.floor(rnd() * 4000))}`,
    () => `Bearer ${b64u('{')}.${b64u('}')}.`,
    () => `Bearer ${b64u(JSON.stringify({ alg: 'ES256', kid: { a: 1 } }))}.${b64u('[]')}.AAAA`,
  ]
  let codes = new Map<number, number>()
  for (let i = 0; i < 10_000; i++) {
    const h = pick(shapes)()
    const r = await app.inject({ method: 'GET', url: pick(['/api/v1/namespaces', '/healthz', '/api', '/apis/apps/v1/deployments']), headers: { authorization: h } })
    codes.set(r.statusCode, (codes.get(r.statusCode) ?? 0) + 1)
    if (r.statusCode !== 401) {
      t.fail(`header ${JSON.stringify(h.slice(0, 80))} → ${r.statusCode}`)
      break
    }
  }
  t.same([...codes.entries()], [[401, 10_000]], '10,000 odd Authorization headers: 401 each')

  await t.test('forged ServiceAccount JWTs', async (t) => {
    await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts', { token: srv.token }, { metadata: { name: 'fz' } })
    const real = (await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts/fz/token', { token: srv.token }, { spec: {} })).body.status.token as string
    t.equal((await call(srv, 'GET', '/api/v1/namespaces', { token: real })).status, 200, 'the genuine token works')
    const [h, p, s] = real.split('.') as [string, string, string]
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    const pub = readFileSync(join(srv.stateDir, 'pki', 'sa.pub'))
    const forged: Record<string, string> = {
      'alg none': `${b64u(JSON.stringify({ alg: 'none' }))}.${p}.`,
      'alg none, signature kept': `${b64u(JSON.stringify({ alg: 'none' }))}.${p}.${s}`,
      'HS256 keyed with the public key': await new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(pub)),
      'another ES256 key': await new SignJWT(payload).setProtectedHeader({ alg: 'ES256' }).sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      'signature bit flipped': `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`,
      'claims edited (other SA)': `${h}.${b64u(JSON.stringify({ ...payload, sub: 'system:serviceaccount:kube-system:default' }))}.${s}`,
      'claims edited (exp)': `${h}.${b64u(JSON.stringify({ ...payload, exp: payload.exp + 10 ** 6 }))}.${s}`,
      'signature missing': `${h}.${p}.`,
      'header garbage': `${b64u('{"alg":')}.${p}.${s}`,
    }
    for (const [what, tok] of Object.entries(forged)) {
      const r = await call(srv, 'GET', '/api/v1/namespaces', { token: tok })
      t.equal(r.status, 401, what)
      t.same(r.body, UNAUTHORIZED)
    }
  })

  await t.test('client certificates with odd subjects', async (t) => {
    const ca = await loadClusterCA(srv.server.caCertPath, srv.server.caKeyPath)
    const dir = mkdtempSync(join(tmpdir(), 'netkube-fuzz-ca-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const o = await ensureClusterCA(join(dir, 'other'))
    const other = await loadClusterCA(o.caCrt, o.caKey)
    // A bare TLS server that only runs the x509 authenticator: what user does each cert map to?
    const serving = await ensureServingCerts(join(dir, 'serve'), ['127.0.0.1'])
    const echo = createServer({ key: serving.keyPem, cert: serving.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      res.end(JSON.stringify(authenticateClientCert(req.socket) ?? null))
    })
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()))
    t.teardown(() => new Promise<void>((r) => echo.close(() => r())))
    const echoSrv = { url: `https://127.0.0.1:${(echo.address() as AddressInfo).port}`, caPem: serving.caPem }
    const subjects = [
      { commonName: 'a\nO=system:masters', organizations: [] },
      { commonName: 'CN=admin, O=system:masters', organizations: ['x,y'] },
      { commonName: 'ünïcødé 🔑', organizations: ['system:masters\u0000'] },
      { commonName: '"quoted"', organizations: ['=', '+', '\\'] },
      { commonName: 'x'.repeat(1000), organizations: Array.from({ length: 50 }, (_, i) => `g${i}`) },
      { commonName: ' ', organizations: [] },
    ]
    for (const s of subjects) {
      const c = await issueClientCert(ca, s)
      const r = await call(echoSrv, 'GET', '/', { cert: c.certPem, key: c.keyPem })
      t.same(r.body, { user: { name: s.commonName, uid: '', groups: s.organizations } }, `CN ${JSON.stringify(s.commonName.slice(0, 30))} maps to itself, no injected group`)
      const f = await issueClientCert(other, s)
      const api = await call(srv, 'GET', '/api/v1/namespaces', { cert: f.certPem, key: f.keyPem })
      t.equal(api.status, 401, 'the same subject from another CA: 401')
    }
    const r = await call(srv, 'GET', '/readyz')
    t.equal(r.status, 200, 'the apiserver is still serving')
  })
})
