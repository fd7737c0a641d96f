// The apiserver under malformed input (issue #10): ≥ 10,000 seeded requests over every
// resource, verb and subresource. Bad input is a 4xx with a Kubernetes Status, never a 5xx;
// the server still works afterwards; nothing it rejected was stored. The bulk goes through
// fastify's inject, every 25th case through the real HTTPS socket.
// Replay: NETKUBE_FUZZ_SEED=<seed> (printed) and, for one case, NETKUBE_FUZZ_CASE=<index>.
import t from 'tap'
import { RESOURCES } from '../../src/api/resources.js'
import { apiRequest, withApiServer, type TestApiServer } from '../helpers/apiserver.js'
import { FUZZ_NS, SEED_LABEL, collectionPath, generateCases, seedName, validObject, type FuzzCase } from './fuzz-cases.js'

const COUNT = Number(process.env.NETKUBE_FUZZ_COUNT ?? 11_000)
const SEED = Number(process.env.NETKUBE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const ONLY = process.env.NETKUBE_FUZZ_CASE
const CONCURRENCY = 16
const SOCKET_EVERY = 25

interface Answer {
  status: number
  body: unknown
}

async function send(srv: TestApiServer, c: FuzzCase, overSocket: boolean): Promise<Answer> {
  const token = c.token === 'none' ? null : c.token === 'wrong' ? 'not-a-token' : srv.token
  if (overSocket) {
    const res = await apiRequest(srv, c.method, c.url, undefined, {
      token,
      ...(c.accept !== undefined ? { accept: c.accept } : {}),
      ...(c.body !== undefined ? { rawBody: c.body, contentType: c.contentType ?? '' } : {}),
    })
    return { status: res.status, body: res.body }
  }
  const headers: Record<string, string> = { accept: c.accept ?? 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (c.body !== undefined) headers['content-type'] = c.contentType ?? ''
  const res = await srv.server.app.inject({ method: c.method, url: c.url, headers, ...(c.body !== undefined ? { payload: c.body } : {}) })
  let body: unknown
  try {
    body = res.body ? JSON.parse(res.body) : undefined
  } catch {
    body = undefined
  }
  return { status: res.statusCode, body }
}

const DEPTH_REFUSED = /exceeded max depth/

/** Why an answer breaks the contract, or undefined. */
function violation(c: FuzzCase, a: Answer): string | undefined {
  if (a.status >= 500) return `server error ${a.status}`
  const message = String((a.body as { message?: unknown } | undefined)?.message ?? '')
  if (c.depth === 'past' && (a.status !== 400 || !DEPTH_REFUSED.test(message))) return `a body past the depth limit got ${a.status} ${message.slice(0, 100)}`
  if (c.depth === 'within' && DEPTH_REFUSED.test(message)) return `a body within the depth limit was refused for its depth`
  if (a.status < 400) return undefined
  const s = a.body as { kind?: unknown; apiVersion?: unknown; status?: unknown; reason?: unknown; code?: unknown } | undefined
  if (!s || s.kind !== 'Status' || s.apiVersion !== 'v1' || s.status !== 'Failure' || typeof s.reason !== 'string' || !s.reason || s.code !== a.status)
    return `${a.status} without a matching Failure Status: ${JSON.stringify(a.body)?.slice(0, 200)}`
  return undefined
}

function show(c: FuzzCase, index: number): string {
  const body = c.body === undefined ? '' : Buffer.isBuffer(c.body) ? `0x${c.body.subarray(0, 120).toString('hex')}` : c.body.slice(0, 300)
  const size = c.body === undefined ? 0 : Buffer.byteLength(c.body)
  return `case ${index} [${c.category}] ${c.method} ${c.url} content-type=${JSON.stringify(c.contentType ?? null)}${c.accept ? ` accept=${JSON.stringify(c.accept)}` : ''} body(${size} B)=${body}`
}

t.test(`apiserver fuzz (seed ${SEED}, replay with NETKUBE_FUZZ_SEED=${SEED})`, async (t) => {
  const srv = await withApiServer(t)
  t.equal((await apiRequest(srv, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: FUZZ_NS } })).status, 201)
  for (const r of RESOURCES) {
    const obj = validObject(r, seedName(r))
    ;(obj.metadata as { labels?: Record<string, string> }).labels = { ...(obj.metadata as { labels?: Record<string, string> }).labels, [SEED_LABEL]: 'true' }
    const res = await apiRequest(srv, 'POST', collectionPath(r), obj)
    t.equal(res.status, 201, `seed ${r.plural}: ${res.text.slice(0, 200)}`)
  }

  // What the fuzz found, pinned: each once a 500 (or a non-Status 400).
  const cm = collectionPath(RESOURCES.find((r) => r.plural === 'configmaps')!)
  const known: [FuzzCase, number, RegExp][] = [
    // Decoded once, as kube-apiserver does: `%25zz` is the name `a%zzb`, which does not exist.
    [{ category: 'known', method: 'GET', url: `${cm}/a%25zzb` }, 404, /^configmaps "a%zzb" not found$/],
    [{ category: 'known', method: 'GET', url: `${cm}/a%252Fb` }, 404, /^configmaps "a%2Fb" not found$/],
    [{ category: 'known', method: 'GET', url: `${cm}/x/%` }, 400, /is not a valid url component/],
    [{ category: 'known', method: 'DELETE', url: `${cm}/nope`, contentType: 'application/json', body: 'null' }, 400, /must be of type DeleteOptions/],
    [{ category: 'known', method: 'DELETE', url: `${cm}/nope`, contentType: 'application/json', body: '[1]' }, 400, /must be of type DeleteOptions/],
    [{ category: 'known', method: 'PATCH', url: `${cm}/${seedName(RESOURCES.find((r) => r.plural === 'configmaps')!)}`, contentType: 'application/json-patch+json', body: '[{"op":"move","from":"/data","path":1.5}]' }, 422, /path must be a string/],
  ]
  for (const [c, code, message] of known) {
    const a = await send(srv, c, false)
    t.equal(violation(c, a), undefined, `${c.method} ${c.url}: a Status`)
    t.match(a, { status: code, body: { code, message } }, `${c.method} ${c.url} ${c.body ?? ''} → ${code}`)
  }

  const all = generateCases(SEED, COUNT)
  const cases = ONLY !== undefined ? [[Number(ONLY), all[Number(ONLY)]!] as const] : all.map((c, i) => [i, c] as const)
  const perCategory = new Map<string, number>()
  const histogram = new Map<number, number>()
  const failures: string[] = []
  // key → whether any create of it succeeded (or found it already there).
  const created = new Map<string, { r: FuzzCase['creates']; ok: boolean }>()
  const started = Date.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const [i, c] = cases[next++]!
      const a = await send(srv, c, i % SOCKET_EVERY === 0)
      perCategory.set(c.category, (perCategory.get(c.category) ?? 0) + 1)
      histogram.set(a.status, (histogram.get(a.status) ?? 0) + 1)
      const why = violation(c, a)
      if (why) failures.push(`${why}\n  ${show(c, i)}\n  answer: ${JSON.stringify(a.body)?.slice(0, 300)}`)
      if (c.creates && typeof c.creates.name === 'string') {
        const key = `${c.creates.r.plural}/${c.creates.name}`
        const prev = created.get(key)
        created.set(key, { r: c.creates, ok: (prev?.ok ?? false) || a.status < 300 || a.status === 409 })
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const seconds = (Date.now() - started) / 1000

  t.comment(`${cases.length} cases in ${seconds.toFixed(1)} s (seed ${SEED})`)
  t.comment(`per category: ${[...perCategory].map(([k, v]) => `${k}=${v}`).join(' ')}`)
  t.comment(`status codes: ${[...histogram].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`).join(' ')}`)
  if (ONLY === undefined) t.ok(cases.length >= 10_000, `${cases.length} cases`)
  // The first failure first: it is usually the smallest reproduction.
  t.same(failures.slice(0, 5), [], `${failures.length} cases broke the contract (replay: NETKUBE_FUZZ_SEED=${SEED} NETKUBE_FUZZ_CASE=<index>)`)

  // Alive: a normal create and get still work, over the socket.
  const probe = validObject(RESOURCES.find((r) => r.plural === 'configmaps')!, 'fz-alive')
  t.equal((await apiRequest(srv, 'POST', collectionPath(RESOURCES.find((r) => r.plural === 'configmaps')!), probe)).status, 201, 'create after the fuzz')
  const got = await apiRequest<{ metadata: { name: string } }>(srv, 'GET', `${collectionPath(RESOURCES.find((r) => r.plural === 'configmaps')!)}/fz-alive`)
  t.equal(got.status, 200, 'get after the fuzz')
  t.equal(got.body.metadata.name, 'fz-alive')

  // Nothing half-written: a name whose every create was rejected does not exist.
  const stored = new Set<string>()
  for (const r of RESOURCES) {
    const list = await apiRequest<{ items: { metadata: { name: string } }[] }>(srv, 'GET', collectionPath(r, r.namespaced ? undefined : FUZZ_NS))
    t.equal(list.status, 200, `list ${r.plural}`)
    for (const o of list.body.items) stored.add(`${r.plural}/${o.metadata.name}`)
  }
  const rejected = [...created].filter(([, v]) => !v.ok).map(([k]) => k)
  const halfWritten = rejected.filter((k) => stored.has(k))
  if (ONLY === undefined) t.ok(rejected.length > cases.length / 10, `${rejected.length} rejected creates checked`)
  t.same(halfWritten.slice(0, 10), [], `${halfWritten.length} rejected creates were stored anyway`)
})
