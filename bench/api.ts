// bench:api — latency (p50/p99) and throughput of the apiserver's main verbs over HTTPS
// with keep-alive, at a stated concurrency, against a real local etcd.
// Baseline: the Kubernetes API call latency SLO (sig-scalability): p99 ≤ 1 s for
// single-object mutating and read calls, ≤ 5 s for namespace-scoped LISTs; watch event
// delivery has no official SLO (the watch-latency SLI is WIP), the column shows the 1 s
// mutating budget as a yardstick. A watch event that never arrives (within --watch-wait ms
// after the last create) or arrives twice is an error: counted in the table, exit code 1.
// Authorization cost: GET as an unprivileged reader against two apiservers in one server
// process (bench/api-ab-servers.ts: Node,RBAC and AlwaysAllow, same etcd and objects), in
// interleaved rounds (RBAC, allow-all, allow-all, RBAC, …) so drift in the machine's load
// falls on both; latency p50/p99, the server process's CPU time per request, and the time
// spent inside the RBAC authorizer per request, with the ratios.
// Usage: npm run bench:api [-- --concurrency 16 --count 2000 --ab-count 6000 --ab-rounds 12]
import { Agent, request } from 'node:https'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { startEtcd } from '../src/etcd/process.js'
import { startApiServer } from '../src/apiserver/server.js'
import { start } from '../src/util/exec.js'

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

const CONCURRENCY = arg('concurrency', 16)
const COUNT = arg('count', 2000)
const LIST_COUNT = arg('lists', 200)
const WATCH_COUNT = arg('watch', 500)
const WATCH_WAIT_MS = arg('watch-wait', 30_000)
const AB_COUNT = arg('ab-count', COUNT * 3)
const AB_ROUNDS = arg('ab-rounds', 12)

interface AbStats {
  cpuUs: number
  authzNs: number
  authzCalls: number
}

/** The A/B server process: its two URLs, and its counters on demand. */
async function startAbServers(etcd: string, rbacDir: string, allowDir: string): Promise<{ urls: { rbac: { url: string; caPem: string }; allow: { url: string; caPem: string } }; stats(): Promise<AbStats>; stop(): Promise<void> }> {
  const child = start(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'api-ab-servers.js'), etcd, rbacDir, allowDir], { stdio: 'pipe' })
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d))
  const lines = createInterface({ input: child.stdout! })
  const waiting: { resolve: (l: string) => void; reject: (e: Error) => void }[] = []
  lines.on('line', (l) => waiting.shift()?.resolve(l))
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`api-ab-servers exited (${code})`))
  })
  const nextLine = (): Promise<string> => new Promise((resolve, reject) => waiting.push({ resolve, reject }))
  const urls = JSON.parse(await nextLine())
  return {
    urls,
    async stats() {
      const l = nextLine()
      child.stdin!.write('stats\n')
      return JSON.parse(await l) as AbStats
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.stdin!.end()
      }),
  }
}

interface Conn {
  url: string
  token: string
  agent: Agent
  ca: string
}

function call(c: Conn, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${c.token}`, Accept: 'application/json' }
    if (payload) {
      headers['Content-Type'] = 'application/json'
      headers['Content-Length'] = String(Buffer.byteLength(payload))
    }
    const req = request(new URL(path, c.url), { method, headers, agent: c.agent, ca: c.ca }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    if (payload) req.write(payload)
    req.end()
  })
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

interface Row {
  op: string
  n: number
  conc: number
  p50: number
  p99: number
  rps: number
  slo: string
  /** operations that did not happen as they should (watch: events missing or duplicated) */
  errors: number
}

/** Run `n` operations with `conc` in flight; returns per-op latencies (ms) and wall time. */
async function drive(n: number, conc: number, op: (i: number) => Promise<void>): Promise<{ lat: number[]; wallMs: number }> {
  const lat: number[] = []
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (;;) {
        const i = next++
        if (i >= n) return
        const s = performance.now()
        await op(i)
        lat.push(performance.now() - s)
      }
    }),
  )
  return { lat: lat.sort((a, b) => a - b), wallMs: performance.now() - t0 }
}

function row(op: string, conc: number, r: { lat: number[]; wallMs: number }, slo: string, errors = 0): Row {
  return { op, n: r.lat.length, conc, p50: pct(r.lat, 50), p99: pct(r.lat, 99), rps: (r.lat.length / r.wallMs) * 1000, slo, errors }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'netkube-bench-api-'))
  const etcd = await startEtcd({ dataDir: join(dir, 'etcd') })
  // An unprivileged reader (RBAC: `view` through a RoleBinding) for the authorization rows; the
  // admin (system:masters) is allowed before any rule is read, so it would measure nothing.
  const READER = 'bench-reader-token'
  for (const d of ['state', 'state-allow']) {
    mkdirSync(join(dir, d), { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, d, 'tokens.csv'), `${READER},bench-reader,bench-reader,""\n`, { mode: 0o600 })
  }
  const api = await startApiServer({ etcdEndpoints: [etcd.endpoint], stateDir: join(dir, 'state-main'), port: 0, logLevel: 'warn' })
  // The RBAC and allow-all paths: one other process, on the same etcd, same objects, same run.
  const ab = await startAbServers(etcd.endpoint, join(dir, 'state'), join(dir, 'state-allow'))
  const c: Conn = { url: api.url, token: api.token, agent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 }), ca: api.caPem }
  const reader: Conn = { url: ab.urls.rbac.url, token: READER, agent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 }), ca: ab.urls.rbac.caPem }
  const readerAllowAll: Conn = { url: ab.urls.allow.url, token: READER, agent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 }), ca: ab.urls.allow.caPem }
  const rows: Row[] = []
  let watchErrors = 0
  let authzCost: { p50: number; p99: number; cpuRbac: number; cpuAllow: number; authzUs: number; n: number } | undefined
  try {
    await call(c, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } })
    const base = '/api/v1/namespaces/bench/configmaps'
    const cm = (i: number) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, labels: { app: 'bench', shard: String(i % 10) } }, data: { i: String(i), pad: 'x'.repeat(256) } })
    const check = (r: { status: number; text: string }, want: number): void => {
      if (r.status !== want) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`)
    }

    rows.push(row('create configmap', CONCURRENCY, await drive(COUNT, CONCURRENCY, async (i) => check(await call(c, 'POST', base, cm(i)), 201)), '≤ 1 s'))
    rows.push(row('get configmap', CONCURRENCY, await drive(COUNT, CONCURRENCY, async (i) => check(await call(c, 'GET', `${base}/cm-${i % COUNT}`), 200)), '≤ 1 s'))
    // Authorization cost: GET as the reader, RBAC (Node,RBAC) vs AlwaysAllow, rounds interleaved.
    check(
      await call(c, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/bench/rolebindings', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'bench-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bench-reader' }],
      }),
      201,
    )
    for (;;) {
      if ((await call(reader, 'GET', `${base}/cm-0`)).status === 200) break
      await new Promise((r) => setTimeout(r, 50))
    }
    for (const conn of [reader, readerAllowAll])
      for (;;) {
        if ((await call(conn, 'GET', `${base}/cm-0`)).status === 200) break
        await new Promise((r) => setTimeout(r, 50))
      }
    const rbacRuns: { lat: number[]; wallMs: number }[] = []
    const allowRuns: { lat: number[]; wallMs: number }[] = []
    const used = { rbac: { cpuUs: 0, authzNs: 0, authzCalls: 0 }, allow: { cpuUs: 0, authzNs: 0, authzCalls: 0 } }
    const n = Math.ceil(AB_COUNT / AB_ROUNDS)
    const measured = async (mode: 'rbac' | 'allow', round: number): Promise<void> => {
      const conn = mode === 'rbac' ? reader : readerAllowAll
      const before = await ab.stats()
      const r = await drive(n, CONCURRENCY, async (i) => check(await call(conn, 'GET', `${base}/cm-${(round * n + i) % COUNT}`), 200))
      const after = await ab.stats()
      ;(mode === 'rbac' ? rbacRuns : allowRuns).push(r)
      used[mode].cpuUs += after.cpuUs - before.cpuUs
      used[mode].authzNs += after.authzNs - before.authzNs
      used[mode].authzCalls += after.authzCalls - before.authzCalls
    }
    // A warm-up round of each first (JIT, caches), not counted.
    await drive(n, CONCURRENCY, async (i) => check(await call(reader, 'GET', `${base}/cm-${i % COUNT}`), 200))
    await drive(n, CONCURRENCY, async (i) => check(await call(readerAllowAll, 'GET', `${base}/cm-${i % COUNT}`), 200))
    for (let round = 0; round < AB_ROUNDS; round++) {
      // ABBA order: RBAC first in even rounds, allow-all first in odd ones.
      for (const mode of round % 2 === 0 ? (['rbac', 'allow'] as const) : (['allow', 'rbac'] as const)) await measured(mode, round)
    }
    const merge = (runs: { lat: number[]; wallMs: number }[]) => ({ lat: runs.flatMap((r) => r.lat).sort((a, b) => a - b), wallMs: runs.reduce((a, r) => a + r.wallMs, 0) })
    const rbacRow = row('get configmap, RBAC (reader)', CONCURRENCY, merge(rbacRuns), '≤ 1 s')
    const allowRow = row('get configmap, AlwaysAllow (reader)', CONCURRENCY, merge(allowRuns), '≤ 1 s')
    rows.push(allowRow, rbacRow)
    authzCost = {
      p50: ((rbacRow.p50 - allowRow.p50) / allowRow.p50) * 100,
      p99: ((rbacRow.p99 - allowRow.p99) / allowRow.p99) * 100,
      cpuRbac: used.rbac.cpuUs / rbacRow.n,
      cpuAllow: used.allow.cpuUs / allowRow.n,
      authzUs: used.rbac.authzNs / 1000 / Math.max(1, used.rbac.authzCalls),
      n: rbacRow.n,
    }
    rows.push(row('update configmap (PUT)', CONCURRENCY, await drive(COUNT, CONCURRENCY, async (i) => check(await call(c, 'PUT', `${base}/cm-${i}`, { ...cm(i), data: { i: 'u' } }), 200)), '≤ 1 s'))
    rows.push(row(`list ${COUNT} (all)`, 4, await drive(Math.max(4, Math.floor(LIST_COUNT / 10)), 4, async () => check(await call(c, 'GET', base), 200)), '≤ 5 s'))
    rows.push(row(`list labelSelector (1/10)`, CONCURRENCY, await drive(LIST_COUNT, CONCURRENCY, async (i) => check(await call(c, 'GET', `${base}?labelSelector=shard%3D${i % 10}`), 200)), '≤ 5 s'))
    rows.push(row('list limit=100', CONCURRENCY, await drive(LIST_COUNT, CONCURRENCY, async () => check(await call(c, 'GET', `${base}?limit=100`), 200)), '≤ 5 s'))

    // Watch delivery: time from sending a create to its ADDED event arriving on an open watch.
    const rv = JSON.parse((await call(c, 'GET', `/api/v1/namespaces/bench/pods?limit=1`)).text).metadata.resourceVersion as string
    const sent = new Map<string, number>()
    const delivered: number[] = []
    const arrived = new Set<string>()
    let duplicated = 0
    let wantDone!: () => void
    const allDone = new Promise<void>((r) => (wantDone = r))
    const wreq = request(new URL(`/api/v1/namespaces/bench/endpoints?watch=true&resourceVersion=${rv}`, c.url), { headers: { Authorization: `Bearer ${c.token}` }, ca: c.ca }, (res) => {
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        buf += d
        let i: number
        while ((i = buf.indexOf('\n')) >= 0) {
          const ev = JSON.parse(buf.slice(0, i)) as { type: string; object: { metadata: { name: string } } }
          buf = buf.slice(i + 1)
          const name = ev.object.metadata.name
          const s = sent.get(name)
          if (ev.type === 'ADDED' && s !== undefined) {
            if (arrived.has(name)) duplicated++
            else delivered.push(performance.now() - s)
            arrived.add(name)
          }
          if (arrived.size >= WATCH_COUNT) wantDone()
        }
      })
    })
    wreq.end()
    await new Promise((r) => setTimeout(r, 200))
    const tw = performance.now()
    await drive(WATCH_COUNT, CONCURRENCY, async (i) => {
      const name = `ep-${i}`
      sent.set(name, performance.now())
      check(await call(c, 'POST', '/api/v1/namespaces/bench/endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name } }), 201)
    })
    await Promise.race([allDone, new Promise((r) => setTimeout(r, WATCH_WAIT_MS))])
    const wallMs = performance.now() - tw
    wreq.destroy()
    const missing = WATCH_COUNT - arrived.size
    watchErrors = missing + duplicated
    if (watchErrors) console.error(`watch: ${missing} of ${WATCH_COUNT} ADDED events never arrived (within ${WATCH_WAIT_MS} ms), ${duplicated} arrived twice`)
    rows.push(row('watch delivery (create→event)', CONCURRENCY, { lat: delivered.sort((a, b) => a - b), wallMs }, '(1 s)', watchErrors))

    rows.push(row('delete configmap', CONCURRENCY, await drive(COUNT, CONCURRENCY, async (i) => check(await call(c, 'DELETE', `${base}/cm-${i}`), 200)), '≤ 1 s'))
  } finally {
    c.agent.destroy()
    reader.agent.destroy()
    readerAllowAll.agent.destroy()
    await ab.stop()
    await api.close()
    await etcd.stop()
    rmSync(dir, { recursive: true, force: true })
  }

  const f = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1))
  const header = ['operation', 'n', 'errors', 'conc', 'p50 ms', 'p99 ms', 'ops/s', 'SLO p99']
  const lines = rows.map((r) => [r.op, String(r.n), String(r.errors), String(r.conc), f(r.p50), f(r.p99), f(r.rps), r.slo])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  console.log(`netkube apiserver bench — HTTPS keep-alive, concurrency ${CONCURRENCY}, local etcd 3.4, ${COUNT} objects`)
  console.log('baseline: Kubernetes API call latency SLO (p99 ≤ 1 s single-object calls, ≤ 5 s namespaced LIST)\n')
  console.log(fmt(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const l of lines) console.log(fmt(l))
  if (authzCost) {
    const a = authzCost
    const sign = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`
    console.log(`\nauthorization cost, RBAC vs AlwaysAllow (one server process, same etcd, ${AB_ROUNDS} interleaved ABBA rounds, ${a.n} GETs each):`)
    console.log(`  latency      p50 ${sign(a.p50)}, p99 ${sign(a.p99)} (goal < 5 %)`)
    console.log(`  server CPU   ${a.cpuAllow.toFixed(0)} µs/request allow-all, ${a.cpuRbac.toFixed(0)} µs/request RBAC: ${sign(((a.cpuRbac - a.cpuAllow) / a.cpuAllow) * 100)} (ratio ${(a.cpuRbac / a.cpuAllow).toFixed(3)})`)
    console.log(`  authorizer   ${a.authzUs.toFixed(1)} µs/request inside Node,RBAC authorize() = ${((a.authzUs / a.cpuRbac) * 100).toFixed(1)} % of the RBAC request's server CPU`)
  }
  console.log('\nerrors: HTTP calls stop the run at the first wrong status; watch = ADDED events missing or duplicated')
  if (watchErrors) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
