// bench:dns — netkube's DNS against dnsmasq, NSD and Knot DNS serving the same records, in one
// run, back to back, with dnsperf as the load and only correct answers counted.
//
// Fairness:
// - Equal threads: the headline compares netkube with one worker (one Node process) against
//   each peer at one serving thread (dnsmasq is single-threaded; NSD `server-count: 1`; Knot
//   `udp-workers: 1`). A second group runs netkube --workers 2 against NSD and Knot at 2.
// - Same data: one record set (dns-data.ts) rendered into a zone file (NSD, Knot), hosts files
//   + srv-host lines (dnsmasq) and Services/EndpointSlices (netkube's read model). The query
//   file mixes A (a tenth in mixed case), headless multi-A, SRV and NXDOMAIN names.
// - Correct answers only: dnsperf -v reports every answer's rcode, checked per query against
//   its class; `dig` checks rcode and the full answer of samples of every class before and
//   after each run. A class whose sample is wrong counts no correct answers in that run.
// - Churn: a third group repeats the 1-thread rows while 5 headless services change one pod IP
//   every second, through each server's real update path (dns-peers.ts); afterwards every
//   changed name must answer its last value.
// CPU per answer is the servers' own CPU (every process of the server, /proc) over the run,
// divided by correct answers: the figure that survives a loaded machine better than qps.
import cluster from 'node:cluster'
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDnsServer } from '../src/dns/server.js'
import { freePort } from '../src/util/ports.js'
import { run } from '../src/util/exec.js'
import { procCpuTicks } from '../src/util/proc.js'
import {
  answerProblem, benchModel, benchQueries, benchRecords, churnTick, expectedAnswer, headlessName, headlessSlice,
  parseDig, renderQueryFile, sampleQueries, svcName, tallyRcodes, CLASSES, CHURN_PER_TICK,
  type BenchRecords, type Query, type QueryClass,
} from './dns-data.js'
import { startDnsmasq, startKnot, startNsd, HOST, PEER_COMMANDS, type BenchServer } from './dns-peers.js'

const SERVICES = Number(process.env.BENCH_DNS_SERVICES ?? 1000)
const SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 5)
/** Runs per row, servers taking turns: load from the neighbours drifts, turns spread it evenly. */
const ROUNDS = Number(process.env.BENCH_DNS_ROUNDS ?? 3)
const OUTSTANDING = Number(process.env.BENCH_DNS_OUTSTANDING ?? 100)
const MULTI = Number(process.env.BENCH_DNS_MULTI_THREADS ?? 2)
const COREDNS_QPS = 34_000

// ---------- netkube: N cluster workers sharing the UDP socket (`netkube dns --workers N`) ----------

type WorkerMsg = { ready: 'mmsg' | 'dgram' } | { applied: number }

/** Inside a worker: the server, plus churn ticks from the primary applied as EndpointSlice updates (what the informer feed does). */
async function worker(): Promise<void> {
  const r = benchRecords(SERVICES)
  const model = benchModel(r)
  const h = await startDnsServer({ model, host: process.env.BENCH_DNS_WORKER_HOST!, port: Number(process.env.BENCH_DNS_WORKER_PORT), upstreams: [] })
  process.on('message', (m: { tick: number }) => {
    for (const j of churnTick(r, m.tick)) model.upsertEndpointSlice(headlessSlice(r, j))
    process.send!({ applied: m.tick } satisfies WorkerMsg)
  })
  process.send!({ ready: h.udpPath } satisfies WorkerMsg)
}

let udpPath = ''

async function startNetkube(threads: number): Promise<BenchServer> {
  const port = await freePort(HOST)
  const ws = Array.from({ length: threads }, () => cluster.fork({ BENCH_DNS_WORKER_HOST: HOST, BENCH_DNS_WORKER_PORT: String(port) }))
  await Promise.all(ws.map((w) => new Promise<void>((resolve, reject) => {
    w.once('message', (m: WorkerMsg) => {
      if ('ready' in m) udpPath = m.ready
      resolve()
    })
    w.once('exit', (code) => reject(new Error(`bench worker exited ${code}`)))
  })))
  await waitForAnswer(port)
  return {
    name: 'netkube',
    threads,
    port,
    cpuSeconds: () => ws.reduce((sum, w) => sum + procCpuTicks(w.process.pid!), 0) / 100,
    update: async (_r, _changed, tick) => {
      await Promise.all(ws.map((w) => new Promise<void>((resolve) => {
        const on = (m: WorkerMsg): void => {
          if ('applied' in m && m.applied === tick) {
            w.off('message', on)
            resolve()
          }
        }
        w.on('message', on)
        w.send({ tick })
      })))
    },
    stop: () => Promise.all(ws.map((w) => new Promise<void>((resolve) => {
      w.removeAllListeners('exit')
      if (w.isDead()) return resolve()
      w.once('exit', () => resolve())
      w.process.kill('SIGTERM')
    }))).then(() => undefined),
  }
}

// ---------- checks and load ----------

async function waitForAnswer(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await run('dig', [`@${HOST}`, '-p', String(port), '+short', '+tries=1', '+time=1', svcName(1)], { allowFailure: true })
    if (r.stdout.trim()) return
    await new Promise((res) => setTimeout(res, 100))
  }
  throw new Error(`no answer for ${svcName(1)} on port ${port}`)
}

interface DigCheck {
  /** Classes with a wrong sampled answer, and the first problem seen. */
  wrong: Map<QueryClass, string>
  /** Classes whose sampled answers lacked the AA flag. */
  noAA: Set<QueryClass>
  checked: number
}

/** One `dig` asking every sampled query (no recursion, no EDNS: as dnsperf asks). */
async function digCheck(s: BenchServer, qs: readonly Query[], r: BenchRecords): Promise<DigCheck> {
  const args = [`@${HOST}`, '-p', String(s.port), '+norec', '+noedns', '+tries=3', '+time=2', '+noall', '+comments', '+question', '+answer']
  for (const q of qs) args.push(q.name, q.type)
  const out = await run('dig', args, { allowFailure: true })
  const got = parseDig(out.stdout)
  // what dig said instead of an answer (a timeout, a refused socket), for the report
  const why = /^;; (communications error.*|connection refused.*|no servers could be reached.*)$/m.exec(out.stdout + out.stderr)?.[1]
  const res: DigCheck = { wrong: new Map(), noAA: new Set(), checked: qs.length }
  for (const q of qs) {
    const a = got.find((g) => g.name === q.name.toLowerCase() && g.type === q.type)
    const problem = a || !why ? answerProblem(expectedAnswer(r, q), a) : `no answer (${why})`
    if (problem && !res.wrong.has(q.cls)) res.wrong.set(q.cls, `${q.name} ${q.type}: ${problem}`)
    if (a && !a.aa) res.noAA.add(q.cls)
  }
  return res
}

/** Poll until every sampled answer is right (a reload may land after its command returned), up to `ms`. */
async function digConverged(s: BenchServer, qs: readonly Query[], r: BenchRecords, ms: number): Promise<DigCheck & { checks: number }> {
  const t0 = Date.now()
  for (let checks = 1; ; checks++) {
    const c = await digCheck(s, qs, r)
    if (c.wrong.size === 0 || Date.now() - t0 >= ms) return { ...c, checks }
    await new Promise((res) => setTimeout(res, 100))
  }
}

interface RowResult {
  group: string
  /** Correct answers/s of each round, in order. */
  rounds: number[]
  server: string
  threads: number
  qps: number
  correctPerSec: number
  correct: number
  wrong: number
  lost: number
  cpuUsPerAnswer: number
  /** Server CPU over the run's wall time, % of one core: how close to saturated it was. */
  cpuPct: number
  avgLatencyMs: number
  maxLatencyMs: number
  notes: string[]
  /** Churn rows: record changes applied, their mean apply time (ms), and per round the dig check after it at which every changed name was right (0: never, within 3 s). */
  updates?: { count: number; meanMs: number; rightAtCheck: number[] }
}

interface Load {
  qfile: string
  queries: Query[]
  classOf: Map<string, QueryClass>
  samples: Query[]
}

async function dnsperf(port: number, qfile: string): Promise<string> {
  const r = await run('dnsperf', ['-s', HOST, '-p', String(port), '-d', qfile, '-l', String(SECONDS), '-q', String(OUTSTANDING), '-c', '4', '-t', '2', '-v'], {
    timeoutMs: (SECONDS + 30) * 1000,
  })
  return r.stdout
}

/** A server with the records it serves and the churn ticks it has had (they go on across rounds). */
interface Subject {
  s: BenchServer
  r: BenchRecords
  ticks: number
}

/** One dnsperf run against `s`, its CPU measured around it, checked before and after; `churn` changes records meanwhile. */
async function measure(group: string, subj: Subject, load: Load, churn: boolean): Promise<RowResult> {
  const { s, r } = subj
  const before = await digCheck(s, load.samples, r)
  const tick0 = subj.ticks
  let updateMs = 0
  let pending: Promise<void> = Promise.resolve()
  const changedNames = new Set<number>()
  const timer = churn
    ? setInterval(() => {
        // one change at a time: a slow reload delays the next tick rather than piling up
        pending = pending.then(async () => {
          const t0 = performance.now()
          const changed = churnTick(r, ++subj.ticks)
          for (const j of changed) changedNames.add(j)
          await s.update(r, changed, subj.ticks)
          updateMs += performance.now() - t0
        })
      }, 1000)
    : undefined
  const cpu0 = s.cpuSeconds()
  const out = await dnsperf(s.port, load.qfile)
  const cpu = s.cpuSeconds() - cpu0
  if (timer) clearInterval(timer)
  await pending
  // after churn: every changed name and the usual samples must show the last change
  const finalQs = [...load.samples, ...[...changedNames].map((j): Query => ({ name: headlessName(j), type: 'A', cls: 'headless' }))]
  const after = churn ? await digConverged(s, finalQs, r, 3000) : await digConverged(s, load.samples, r, 0)
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN)
  const runtime = num(/Run time \(s\):\s+([\d.]+)/)
  const tally = tallyRcodes(out, load.classOf)
  const notes: string[] = []
  let correct = 0
  for (const cls of CLASSES) {
    const bad = before.wrong.get(cls) ?? after.wrong.get(cls)
    if (bad) notes.push(`${cls} counted wrong (${before.wrong.has(cls) ? 'before' : 'after'} the run: ${bad})`)
    else correct += tally.right.get(cls) ?? 0
  }
  for (const [k, n] of tally.wrong) notes.push(`${n} answers with a wrong rcode (${k})`)
  if (cpu <= 0 && correct > 0) notes.push('server CPU read as 0: its processes were not found, CPU/answer is wrong')
  const noAA = [...new Set([...before.noAA, ...after.noAA])]
  if (noAA.length) notes.push(`AA flag off on: ${noAA.join(', ')} (not counted)`)
  const res: RowResult = {
    group,
    rounds: [correct / runtime],
    server: s.name,
    threads: s.threads,
    qps: num(/Queries per second:\s+([\d.]+)/),
    correctPerSec: correct / runtime,
    correct,
    wrong: tally.answered - correct,
    lost: num(/Queries lost:\s+(\d+)/),
    cpuUsPerAnswer: correct > 0 ? (cpu * 1e6) / correct : NaN,
    cpuPct: (cpu / runtime) * 100,
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    maxLatencyMs: num(/Average Latency \(s\):.*max ([\d.]+)\)/) * 1000,
    notes,
  }
  const ticks = subj.ticks - tick0
  if (churn) res.updates = { count: ticks, meanMs: ticks ? updateMs / ticks : 0, rightAtCheck: [after.wrong.size === 0 ? after.checks : 0] }
  return res
}

const median = (xs: number[]): number => {
  const a = [...xs].sort((x, y) => x - y)
  return a.length % 2 ? a[(a.length - 1) / 2]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2
}

/** A row from its rounds: medians of the rates and latencies, sums of the counts, every note once. */
function combine(rs: RowResult[]): RowResult {
  const m = (f: (r: RowResult) => number): number => median(rs.map(f))
  const sum = (f: (r: RowResult) => number): number => rs.reduce((a, r) => a + f(r), 0)
  const row: RowResult = {
    ...rs[0]!,
    rounds: rs.flatMap((r) => r.rounds),
    qps: m((r) => r.qps),
    correctPerSec: m((r) => r.correctPerSec),
    correct: sum((r) => r.correct),
    wrong: sum((r) => r.wrong),
    lost: sum((r) => r.lost),
    cpuUsPerAnswer: m((r) => r.cpuUsPerAnswer),
    cpuPct: m((r) => r.cpuPct),
    avgLatencyMs: m((r) => r.avgLatencyMs),
    maxLatencyMs: Math.max(...rs.map((r) => r.maxLatencyMs)),
    notes: [...new Set(rs.flatMap((r) => r.notes))],
  }
  const ups = rs.flatMap((r) => (r.updates ? [r.updates] : []))
  if (ups.length) {
    const count = ups.reduce((a, u) => a + u.count, 0)
    row.updates = { count, meanMs: count ? ups.reduce((a, u) => a + u.meanMs * u.count, 0) / count : 0, rightAtCheck: ups.flatMap((u) => u.rightAtCheck) }
  }
  return row
}

/** ROUNDS runs of every subject, taking turns; one combined row per subject. */
async function rowsOf(group: string, subjects: Subject[], load: Load, churn: boolean): Promise<RowResult[]> {
  const runs: RowResult[][] = subjects.map(() => [])
  for (let round = 0; round < ROUNDS; round++)
    for (const [i, subj] of subjects.entries()) runs[i]!.push(await measure(group, subj, load, churn))
  return runs.map(combine)
}

// ---------- output ----------

const spread = (xs: number[]): string => `${(Math.min(...xs) / 1000).toFixed(1)}k-${(Math.max(...xs) / 1000).toFixed(1)}k`

function printTable(rows: RowResult[]): void {
  const base = (r: RowResult): RowResult | undefined => rows.find((b) => b.group === r.group && b.server === 'netkube')
  const table: string[][] = [['group', 'server', 'threads', 'qps', 'correct/s', 'rounds min-max', 'correct/s/thread', 'CPU us/answer', 'server CPU %', 'avg ms', 'max ms', 'lost', 'wrong', 'correct/s vs netkube', 'CPU/answer vs netkube']]
  for (const r of rows) {
    const b = base(r)
    table.push([
      r.group, r.server, String(r.threads), r.qps.toFixed(0), r.correctPerSec.toFixed(0), spread(r.rounds), (r.correctPerSec / r.threads).toFixed(0),
      r.cpuUsPerAnswer.toFixed(1), r.cpuPct.toFixed(0), r.avgLatencyMs.toFixed(3), r.maxLatencyMs.toFixed(1), String(r.lost), String(r.wrong),
      b ? `${(r.correctPerSec / b.correctPerSec).toFixed(2)}x` : '-', b ? `${(r.cpuUsPerAnswer / b.cpuUsPerAnswer).toFixed(2)}x` : '-',
    ])
  }
  const w = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)))
  for (const r of table) console.log(r.map((v, c) => (c < 2 ? v.padEnd(w[c]!) : v.padStart(w[c]!))).join('  '))
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

/** The peers come from Debian packages scripts/setup.sh installs: run it once when one is missing. */
async function ensureTools(): Promise<void> {
  const missing = async (): Promise<string[]> => {
    const out: string[] = []
    for (const c of [...PEER_COMMANDS, 'dnsperf', 'dig'])
      if ((await run('sh', ['-c', `command -v ${c} || [ -x /usr/sbin/${c} ]`], { allowFailure: true })).code !== 0) out.push(c)
    return out
  }
  if ((await missing()).length === 0) return
  const setup = fileURLToPath(new URL('../../scripts/setup.sh', import.meta.url))
  console.log('bench:dns: installing the missing servers (scripts/setup.sh)')
  await run('bash', [setup], { timeoutMs: 20 * 60_000 })
  const still = await missing()
  if (still.length) throw new Error(`bench:dns needs ${still.join(', ')}`)
}

async function main(): Promise<void> {
  await ensureTools()
  const dir = mkdtempSync(join(tmpdir(), 'netkube-bench-dns-'))
  const running = new Set<BenchServer>()
  const cleanup = async (): Promise<void> => {
    for (const s of [...running].reverse()) await s.stop().catch(() => undefined)
    running.clear()
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)))
  const start = async (p: Promise<BenchServer>): Promise<BenchServer> => {
    const s = await p
    running.add(s)
    return s
  }
  const stop = async (s: BenchServer): Promise<void> => {
    running.delete(s)
    await s.stop()
  }
  try {
    const r0 = benchRecords(SERVICES)
    const queries = benchQueries(r0)
    const load: Load = {
      qfile: join(dir, 'queries.txt'),
      queries,
      classOf: new Map(queries.map((q) => [`${q.name.toLowerCase()} ${q.type}`, q.cls])),
      samples: sampleQueries(queries),
    }
    writeFileSync(load.qfile, renderQueryFile(queries))
    const loadStart = loadavg()
    const rows: RowResult[] = []

    // 1 thread each: static, then the same instances under churn. Every server has its own
    // copy of the records so its churn ticks land on its own state.
    const one: Subject[] = []
    for (const mk of [
      (_r: BenchRecords) => startNetkube(1),
      (r: BenchRecords) => startDnsmasq(dir, r, waitForAnswer),
      (r: BenchRecords) => startNsd(dir, r, 1, waitForAnswer),
      (r: BenchRecords) => startKnot(dir, r, 1, waitForAnswer),
    ]) {
      const r = benchRecords(SERVICES)
      one.push({ s: await start(mk(r)), r, ticks: 0 })
    }
    rows.push(...(await rowsOf('1 thread', one, load, false)))
    rows.push(...(await rowsOf('1 thread + churn', one, load, true)))
    for (const { s } of one) await stop(s)

    // MULTI threads: netkube workers, NSD server processes, Knot UDP workers (dnsmasq has one thread).
    const multi: Subject[] = []
    for (const mk of [
      (_r: BenchRecords) => startNetkube(MULTI),
      (r: BenchRecords) => startNsd(dir, r, MULTI, waitForAnswer),
      (r: BenchRecords) => startKnot(dir, r, MULTI, waitForAnswer),
    ]) {
      const r = benchRecords(SERVICES)
      multi.push({ s: await start(mk(r)), r, ticks: 0 })
    }
    rows.push(...(await rowsOf(`${MULTI} threads`, multi, load, false)))
    for (const { s } of multi) await stop(s)

    const counts = CLASSES.map((c) => `${c} ${queries.filter((q) => q.cls === c).length}`).join(', ')
    console.log(`\nbench:dns  ${SERVICES} services + ${r0.headless.length} headless (3 pods each), ${queries.length} queries per pass (${counts})`)
    console.log(`dnsperf -l ${SECONDS} -q ${OUTSTANDING} -c 4 on loopback (${HOST}), ${ROUNDS} rounds per row (servers take turns; rates are medians, max latency the worst round), all rows in this one invocation back to back; netkube UDP path: ${udpPath}\n`)
    printTable(rows)
    const head = rows.filter((r) => r.group === '1 thread')
    const nk = head.find((r) => r.server === 'netkube')!
    console.log(`\nheadline (1 thread each, correct answers/s): ${head.filter((r) => r !== nk).map((r) => `netkube/${r.server} ${(nk.correctPerSec / r.correctPerSec).toFixed(2)}x`).join('   ')}`)
    console.log(`          CPU per correct answer:           ${head.filter((r) => r !== nk).map((r) => `${r.server}/netkube ${(r.cpuUsPerAnswer / nk.cpuUsPerAnswer).toFixed(2)}x`).join('   ')}`)
    console.log(`          netkube 1 worker / CoreDNS published (~${COREDNS_QPS} qps, 2 vCPU, all cores): ${(nk.correctPerSec / COREDNS_QPS).toFixed(2)}x`)
    console.log(`\ncorrectness: every answer's rcode checked against its query's class (dnsperf -v); rcode and full answer of ${load.samples.length} sampled queries (every class) checked with dig before and after each row, and after churn every changed name; a class with a wrong sample counts no correct answers for that row.`)
    console.log(`churn: ${CHURN_PER_TICK} headless services change one pod IP each second. netkube: EndpointSlice updates into the worker's read model; dnsmasq: the --hostsdir file rewritten (inotify re-read); NSD: zone file rewritten + nsd-control reload; Knot: one knotc zone-begin/unset/set/commit transaction.`)
    for (const r of rows) {
      const u = r.updates
      const extra = u
        ? [`${u.count} updates, mean apply ${u.meanMs.toFixed(1)} ms; every changed name right after the run at dig check ${u.rightAtCheck.map((c) => (c ? `#${c}` : 'never (3 s)')).join(', ')} (100 ms apart)`]
        : []
      const notes = [...extra, ...r.notes]
      if (notes.length) console.log(`  ${r.group} ${r.server}: ${notes.join('; ')}`)
    }
    console.log(`  dnsmasq has no ${MULTI}-thread row: it serves from one thread.`)
    console.log(`\nmachine: ${cpus().length} CPUs shared with other work; load average ${loadStart} at start, ${loadavg()} at end.`)
    console.log('noisy: qps, correct/s, latency (they move with what the neighbours leave us; dnsperf shares the 2 cores, so multi-thread rows cannot scale past it); CPU us/answer moves less.')
    console.log('server CPU % below 100 x threads means the server was not the limit: its rate then shows how fast it answers a waiting client (wake-ups, batching), not how many answers it could give.')
  } finally {
    await cleanup()
  }
}

if (cluster.isWorker) {
  worker().catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
} else {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
