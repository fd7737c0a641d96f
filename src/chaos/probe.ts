// The client in a pod: a Node process run inside a pod's network namespace that loops, until
// a stop file appears, over a ClusterIP (fresh HTTP connection each time, to agnhost netexec)
// and over the cluster DNS (an A query to its Service IP), appending one JSON line per sample
// to a file — so a partial record survives whatever the chaos does to the test's own process.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { netnsHandle } from '../net/door.js'
import type { RunResult } from '../util/exec.js'
import type { ProbeSample } from './recovery.js'

export interface ProbeOptions {
  /** http://IP:PORT/path */
  url: string
  dnsServer: string
  /** the name to resolve and the address it must resolve to */
  dnsName: string
  dnsWant: string
  out: string
  stopFile: string
  intervalMs?: number
  timeoutMs?: number
}

export function probeScript(o: ProbeOptions): string {
  const j = JSON.stringify
  return `
import http from 'node:http'
import { Resolver } from 'node:dns/promises'
import { appendFileSync, existsSync } from 'node:fs'
const stop = () => existsSync(${j(o.stopFile)})
const record = (s) => appendFileSync(${j(o.out)}, JSON.stringify(s) + '\\n')
const pause = (ms) => new Promise((r) => setTimeout(r, ms))
const every = ${o.intervalMs ?? 200}, timeout = ${o.timeoutMs ?? 1000}
async function svc() {
  while (!stop()) {
    const at = Date.now()
    const r = await new Promise((resolve) => {
      const req = http.get(${j(o.url)}, { agent: false, timeout }, (res) => {
        let b = ''; res.on('data', (d) => b += d); res.on('end', () => resolve(res.statusCode === 200 ? { ok: true } : { ok: false, err: 'HTTP ' + res.statusCode }))
        res.on('error', (e) => resolve({ ok: false, err: e.code || e.message }))
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', (e) => resolve({ ok: false, err: e.code || e.message }))
    })
    record({ kind: 'svc', at, ms: Date.now() - at, ...r })
    await pause(Math.max(0, every - (Date.now() - at)))
  }
}
async function dns() {
  while (!stop()) {
    const at = Date.now()
    // a fresh resolver each time: one query, one timeout, no retry hiding an outage
    const res = new Resolver({ timeout, tries: 1 })
    res.setServers([${j(o.dnsServer)}])
    let r
    try {
      const a = await res.resolve4(${j(o.dnsName)})
      r = a.includes(${j(o.dnsWant)}) ? { ok: true } : { ok: false, err: 'answer ' + a.join(',') }
    } catch (e) { r = { ok: false, err: e.code || e.message } }
    record({ kind: 'dns', at, ms: Date.now() - at, ...r })
    await pause(Math.max(0, every - (Date.now() - at)))
  }
}
await Promise.all([svc(), dns()])
`
}

export interface Probe {
  /** Write the stop file, wait for the process, return every sample. */
  stop(): Promise<ProbeSample[]>
}

/** Start the probe inside `netns` (a pod's namespace); its own PID is a process of ours. */
export function startProbe(netns: string, o: ProbeOptions): Probe {
  writeFileSync(o.out, '')
  const done: Promise<RunResult> = netnsHandle(netns).run(process.execPath, ['--input-type=module', '-e', probeScript(o)], { allowFailure: true, timeoutMs: 3_600_000 })
  done.catch(() => {})
  return {
    async stop() {
      writeFileSync(o.stopFile, '')
      const r = await done
      if (r.code !== 0) throw new Error(`probe in ${netns} exited ${r.code}: ${r.stderr.slice(-500)}`)
      return readSamples(o.out)
    },
  }
}

export function readSamples(file: string): ProbeSample[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ProbeSample)
}
