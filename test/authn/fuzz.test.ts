// The authentication fuzz, against a real apiserver over TLS (Node,RBAC, real etcd): 10,000
// seeded cases — odd Authorization headers (random bytes, unicode, Basic, up to ~900 kB, the
// admin token mutated, bootstrap-token shapes), JWTs forged with other keys and algorithms
// (alg none, HS256 keyed with the public key, RS256/ES256/EdDSA keys of an attacker), JWTs
// signed with the apiserver's own key but expired or meant for another audience or issuer,
// the genuine ServiceAccount token mutated — each a 401 with upstream's Status body; and client
// certificates with odd subjects: from another CA 401, from the cluster CA exactly their CN/O
// (SelfSubjectReview), an empty CN 401. The server answers afterwards.
// Replay a run with NETKUBE_FUZZ_SEED=<the seed it printed>.
import t from 'tap'
import { Agent, request } from 'node:https'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomInt, type KeyObject } from 'node:crypto'
import { SignJWT, exportJWK, decodeProtectedHeader } from 'jose'
import { withApiServer, type TestApiServer } from '../helpers/apiserver.js'
import { ensureClusterCA } from '../../src/apiserver/certs.js'
import { issueClientCert, loadClusterCA, type ClusterCA } from '../../src/authn/pki.js'
import { call, UNAUTHORIZED } from './helpers.js'
import { b64u, digest, Gen, headerCase, oddSubject, rng, type FuzzContext } from './fuzz-cases.js'

const CASES = 10_000
const CERT_CASES = 300
const CONCURRENCY = 8
const PATHS = ['/api/v1/namespaces', '/api', '/apis', '/healthz', '/version', '/readyz', '/apis/apps/v1/namespaces/default/deployments', '/api/v1/namespaces/kube-system/secrets', '/api/v1/pods?watch=true', '/apis/authentication.k8s.io/v1/selfsubjectreviews', '/openapi/v2']
const METHODS = ['GET', 'GET', 'GET', 'POST', 'DELETE', 'PATCH', 'PUT']

interface Reply {
  status: number
  text: string
}

function send(srv: TestApiServer, agent: Agent, method: string, path: string, authorization: string): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json', authorization }
  if (method !== 'GET') headers['content-length'] = '0'
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, srv.url), { method, headers, ca: srv.caPem, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** The genuine ServiceAccount token's claims, re-signed: with foreign keys (forged) and with the server's own key but one claim wrong. */
async function tokens(srv: TestApiServer, saToken: string, otherAudience: string): Promise<Pick<FuzzContext, 'forged' | 'badClaims'>> {
  const payload = JSON.parse(Buffer.from(saToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown> & { exp: number; iat: number }
  const { kid } = decodeProtectedHeader(saToken)
  const pubPem = readFileSync(join(srv.stateDir, 'pki', 'sa.pub'))
  const own = createPrivateKey(readFileSync(join(srv.stateDir, 'pki', 'sa.key'), 'utf8'))
  const pubJwk = createPublicKey(own).export({ format: 'jwk' })
  const sign = (claims: Record<string, unknown>, alg: string, key: KeyObject | Uint8Array, header: Record<string, unknown> = {}): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg, kid, ...header }).sign(key)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const now = Math.floor(Date.now() / 1000)
  const kube = payload['kubernetes.io'] as { namespace: string; serviceaccount: { name: string; uid: string } }
  const forged = [
    { what: 'alg none', token: `${b64u(JSON.stringify({ alg: 'none', kid }))}.${b64u(JSON.stringify(payload))}.` },
    { what: 'HS256 keyed with the public key (PEM)', token: await sign(payload, 'HS256', new Uint8Array(pubPem)) },
    { what: 'HS256 keyed with the public key (JWK x)', token: await sign(payload, 'HS256', Buffer.from(String(pubJwk.x), 'base64url')) },
    { what: 'HS512 keyed with the public key (PEM)', token: await sign(payload, 'HS512', new Uint8Array(pubPem)) },
    { what: 'RS256 with another key', token: await sign(payload, 'RS256', rsa) },
    { what: 'PS256 with another key', token: await sign(payload, 'PS256', rsa) },
    { what: 'ES256 with another key', token: await sign(payload, 'ES256', ec.privateKey) },
    { what: 'ES256 with another key embedded as jwk', token: await sign(payload, 'ES256', ec.privateKey, { jwk: await exportJWK(ec.publicKey) }) },
    { what: 'ES384 with another key', token: await sign(payload, 'ES384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey) },
    { what: 'EdDSA with another key', token: await sign(payload, 'EdDSA', generateKeyPairSync('ed25519').privateKey) },
  ]
  const edit = (change: Record<string, unknown>, drop: string[] = []): Record<string, unknown> => {
    const c: Record<string, unknown> = { ...payload, ...change }
    for (const d of drop) delete c[d]
    return c
  }
  const badClaims = [
    { what: 'expired', token: await sign(edit({ iat: now - 7200, nbf: now - 7200, exp: now - 60 }), 'ES256', own) },
    { what: 'not yet valid', token: await sign(edit({ nbf: now + 3600, exp: now + 7200 }), 'ES256', own) },
    { what: 'another audience', token: await sign(edit({ aud: ['https://vault.example'] }), 'ES256', own) },
    { what: 'no audience', token: await sign(edit({}, ['aud']), 'ES256', own) },
    { what: 'another issuer', token: await sign(edit({ iss: 'https://evil.example' }), 'ES256', own) },
    { what: 'no expiry', token: await sign(edit({}, ['exp']), 'ES256', own) },
    { what: 'subject of another ServiceAccount', token: await sign(edit({ sub: 'system:serviceaccount:kube-system:default' }), 'ES256', own) },
    { what: 'a ServiceAccount that does not exist', token: await sign(edit({ sub: 'system:serviceaccount:default:ghost', 'kubernetes.io': { ...kube, serviceaccount: { name: 'ghost', uid: kube.serviceaccount.uid } } }), 'ES256', own) },
    { what: 'the ServiceAccount with another UID', token: await sign(edit({ 'kubernetes.io': { ...kube, serviceaccount: { ...kube.serviceaccount, uid: '00000000-0000-0000-0000-000000000000' } } }), 'ES256', own) },
    { what: 'bound to a pod that does not exist', token: await sign(edit({ 'kubernetes.io': { ...kube, pod: { name: 'ghost', uid: 'x' } } }), 'ES256', own) },
    { what: 'no kubernetes.io claims', token: await sign(edit({}, ['kubernetes.io']), 'ES256', own) },
    { what: 'kubernetes.io claims not an object', token: await sign(edit({ 'kubernetes.io': 'system:masters' }), 'ES256', own) },
    { what: 'TokenRequest for another audience', token: otherAudience },
  ]
  return { forged, badClaims }
}

t.test('fuzzed credentials over TLS: 401 each, no crash', async (t) => {
  const seed = Number(process.env.NETKUBE_FUZZ_SEED ?? randomInt(2 ** 31))
  t.comment(`fuzz seed ${seed} (replay: NETKUBE_FUZZ_SEED=${seed} npx tap test/authn/fuzz.test.ts)`)
  const g = new Gen(rng(seed))
  const srv = await withApiServer(t)
  const admin = { token: srv.token }
  await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts', admin, { metadata: { name: 'fz' } })
  const saToken = (await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts/fz/token', admin, { spec: {} })).body.status.token as string
  const vault = (await call(srv, 'POST', '/api/v1/namespaces/default/serviceaccounts/fz/token', admin, { spec: { audiences: ['https://vault.example'] } })).body.status.token as string
  const whoami = (cred: { token?: string; cert?: string; key?: string }) => call(srv, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', cred, { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })
  // The positive controls: the credentials the mutations start from do authenticate.
  t.equal((await whoami({ token: saToken })).body?.status?.userInfo?.username, 'system:serviceaccount:default:fz', 'the genuine ServiceAccount token authenticates')
  t.equal((await whoami({ token: vault })).status, 401, 'a token for another audience does not')
  const ctx: FuzzContext = { adminToken: srv.token, saToken, ...(await tokens(srv, saToken, vault)) }

  const started = performance.now()
  const cpu0 = process.cpuUsage()
  const headerCases = Array.from({ length: CASES - CERT_CASES }, () => ({ ...headerCase(g, ctx), method: g.pick(METHODS), path: g.pick(PATHS) }))
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  t.teardown(() => agent.destroy())
  const families = new Map<string, number>()
  const wrong: string[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < headerCases.length; i = next++) {
        const c = headerCases[i]!
        const fam = c.family.replace(/:.*/, '')
        families.set(fam, (families.get(fam) ?? 0) + 1)
        let r: Reply
        try {
          r = await send(srv, agent, c.method, c.path, c.authorization)
        } catch (err) {
          r = { status: 0, text: (err as Error).message }
        }
        let body: unknown
        try {
          body = JSON.parse(r.text)
        } catch {
          body = r.text
        }
        if (r.status !== 401 || JSON.stringify(body) !== JSON.stringify(UNAUTHORIZED))
          wrong.push(`case ${i} (seed ${seed}) ${c.family}, ${c.method} ${c.path}, header ${c.authorization.length} B sha256 ${digest(c.authorization)} ${JSON.stringify(c.authorization.slice(0, 100))} → ${r.status} ${r.text.slice(0, 200)}`)
      }
    }),
  )
  const headerSecs = (performance.now() - started) / 1000
  t.same(wrong.slice(0, 5), [], `${headerCases.length} Authorization headers: each 401 with the Unauthorized Status (${wrong.length} wrong)`)
  t.comment(`header cases by family: ${[...families].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`).join(', ')}; ${headerSecs.toFixed(1)} s`)

  // Client certificates, each on its own connection.
  const dir = mkdtempSync(join(tmpdir(), 'netkube-fuzz-ca-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ca = await loadClusterCA(srv.server.caCertPath, srv.server.caKeyPath)
  const o = await ensureClusterCA(join(dir, 'other'))
  const other = await loadClusterCA(o.caCrt, o.caKey)
  const certCases = Array.from({ length: CERT_CASES }, (_, i) => ({ i, from: i % 2 === 0 ? 'cluster' : 'other', subject: oddSubject(g) }))
  const certWrong: string[] = []
  const counts = { other: 0, emptyCN: 0, mapped: 0 }
  next = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let k = next++; k < certCases.length; k = next++) {
        const c = certCases[k]!
        const issuer: ClusterCA = c.from === 'cluster' ? ca : other
        const cert = await issueClientCert(issuer, c.subject)
        const r = await whoami({ cert: cert.certPem, key: cert.keyPem })
        const label = `cert case ${c.i} (seed ${seed}) from the ${c.from} CA, CN ${JSON.stringify(c.subject.commonName.slice(0, 40))} (${c.subject.commonName.length} chars), ${c.subject.organizations.length} O`
        if (c.from === 'other' || c.subject.commonName === '') {
          counts[c.from === 'other' ? 'other' : 'emptyCN']++
          if (r.status !== 401 || JSON.stringify(r.body) !== JSON.stringify(UNAUTHORIZED)) certWrong.push(`${label} → ${r.status} ${r.text.slice(0, 200)}`)
          continue
        }
        counts.mapped++
        const u = r.body?.status?.userInfo
        const want = { username: c.subject.commonName, groups: [...c.subject.organizations, 'system:authenticated'] }
        if (r.status !== 201 || JSON.stringify({ username: u?.username, groups: u?.groups }) !== JSON.stringify(want)) certWrong.push(`${label} → ${r.status} ${JSON.stringify(u ?? r.text).slice(0, 300)}`)
      }
    }),
  )
  t.same(certWrong.slice(0, 5), [], `${CERT_CASES} client certificates: another CA's ${counts.other} and ${counts.emptyCN} with an empty CN 401; ${counts.mapped} odd subjects are exactly their CN/O, no group added (${certWrong.length} wrong)`)
  const certSample = certCases.find((c) => c.from === 'cluster' && c.subject.commonName !== '' && !c.subject.organizations.length)
  if (certSample) {
    const cert = await issueClientCert(ca, certSample.subject)
    const r = await call(srv, 'GET', '/api/v1/namespaces/kube-system/secrets', { cert: cert.certPem, key: cert.keyPem })
    t.match(r.body, { code: 403, reason: 'Forbidden', message: `secrets is forbidden: User ${JSON.stringify(certSample.subject.commonName)} cannot list resource "secrets" in API group "" in the namespace "kube-system"` }, 'an odd-subject identity has no rights beyond its own (upstream 403 text)')
  }

  // Past Node's parser limit as set to upstream's 1 MiB: 431 from the HTTP layer, nothing else.
  const over = await send(srv, new Agent({ keepAlive: false }), 'GET', '/api/v1/namespaces', `Bearer ${'A'.repeat(1_100_000)}`).catch((err: Error) => ({ status: 0, text: err.message }))
  t.ok(over.status === 431 || over.status === 0, `a 1.1 MB header is refused by the HTTP parser (${over.status || over.text})`)

  t.equal((await call(srv, 'GET', '/readyz')).status, 200, 'the apiserver still answers /readyz')
  t.equal((await call(srv, 'GET', '/api/v1/namespaces', admin)).status, 200, 'and serves the admin')
  t.equal((await whoami({ token: saToken })).body?.status?.userInfo?.username, 'system:serviceaccount:default:fz', 'and the genuine ServiceAccount token')
  const cpu = process.cpuUsage(cpu0)
  // The apiserver runs in this process: its CPU time is the cost of the cases, whatever the machine's load.
  t.comment(`${CASES} cases in ${((performance.now() - started) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU (client and apiserver)`)
})
