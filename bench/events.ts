// bench:events — what recording costs. (1) the caller: µs per `recorder.event()` (it only
// queues; the baseline is "never blocks": well under the kubelet's 1 s sync). (2) the pure
// correlator: decisions per second. (3) end to end through a real apiserver + etcd: events
// written per second and the time from the first event() to the last write, for distinct
// objects (creates) and for repeats of one event (merge-patched counts).
// Usage: npm run bench:events [-- --count 500]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEtcd } from '../src/etcd/process.js'
import { startApiServer } from '../src/apiserver/server.js'
import { createClient } from '../src/client/index.js'
import { createEventRecorder } from '../src/events/recorder.js'
import { EventCorrelator } from '../src/events/correlator.js'
import type { CoreEvent } from '../src/api/types.js'

const i = process.argv.indexOf('--count')
const COUNT = i >= 0 ? Number(process.argv[i + 1]) : 500

const ev = (n: number, msg = 'Started container web'): CoreEvent => ({
  metadata: { name: `p${n}.1`, namespace: 'default' },
  involvedObject: { kind: 'Pod', namespace: 'default', name: `p${n}`, uid: `u${n}` },
  reason: 'Started',
  message: msg,
  type: 'Normal',
  source: { component: 'kubelet', host: 'n1' },
  count: 1,
})

const dir = mkdtempSync(join(tmpdir(), 'netkube-bench-events-'))
const etcd = await startEtcd({ dataDir: join(dir, 'etcd') })
const api = await startApiServer({ etcdEndpoints: [etcd.endpoint], stateDir: join(dir, 'api'), port: 0, logLevel: 'warn' })
try {
  const rows: [string, string, string][] = []
  const c = new EventCorrelator()
  const N = 200_000
  let t0 = performance.now()
  for (let k = 0; k < N; k++) c.correlate(ev(k % 5000), k)
  rows.push(['correlator decisions', `${Math.round(N / ((performance.now() - t0) / 1000)).toLocaleString('en')}/s`, '—'])

  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  for (const [what, target] of [
    ['distinct objects (creates)', (k: number) => ({ kind: 'Pod', apiVersion: 'v1', namespace: 'default', name: `p${k}`, uid: `u${k}` })],
    ['one object, 25 repeats then dropped', () => ({ kind: 'Pod', apiVersion: 'v1', namespace: 'default', name: 'same', uid: 'u' })],
  ] as const) {
    const rec = createEventRecorder({ client, component: 'bench' })
    t0 = performance.now()
    for (let k = 0; k < COUNT; k++) rec.event(target(k), 'Normal', 'Started', 'Started container web')
    const callUs = ((performance.now() - t0) * 1000) / COUNT
    await rec.flush()
    const ms = performance.now() - t0
    const s = rec.stats
    rows.push([`${what}: event() in the caller`, `${callUs.toFixed(1)} µs/call`, '≪ 1 s sync'])
    rows.push([`${what}: written`, `${s.written} created, ${s.updated} updated, ${s.dropped} dropped in ${Math.round(ms)} ms`, `${Math.round(((s.written + s.updated) / ms) * 1000)}/s`])
    await rec.stop()
  }
  const w = Math.max(...rows.map((r) => r[0].length))
  process.stdout.write(`events bench (count ${COUNT}, one writer per recorder, as client-go)\n`)
  for (const [a, b, c2] of rows) process.stdout.write(`${a.padEnd(w)}  ${b.padEnd(48)}  ${c2}\n`)
} finally {
  await api.close()
  await etcd.stop()
  rmSync(dir, { recursive: true, force: true })
}
