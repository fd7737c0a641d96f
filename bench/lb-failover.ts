// LoadBalancer failover, measured in a running lab (shared by test/e2e/loadbalancer.test.ts
// and `npm run bench:lb`): a client in the outside namespace sends a fresh HTTP request to
// the LB IP every 50 ms; the announcing node's agent is killed with SIGKILL; we record when
// another node holds the address (takeover), when the outside's ARP entry points at that
// node's MAC, and the window in which requests failed (outage).
import { readFileSync } from 'node:fs'
import type { LabState } from '../src/lab/lab.js'
import { componentPidfile, componentStatus } from '../src/lab/lab.js'
import { netnsHandle } from '../src/net/door.js'

/** The node whose underlay interface holds `ip` (as the announcer's /32), or undefined. */
export async function announcerOf(state: LabState, ip: string, iface = 'eth0'): Promise<string[]> {
  const holders: string[] = []
  for (const n of state.plan.nodes) {
    const ops = netnsHandle(n.netns).ops()
    try {
      if ((await ops.listAddresses(iface)).some((a) => a.cidr === `${ip}/32`)) holders.push(n.name)
    } finally {
      ops.close()
    }
  }
  return holders
}

export async function macOf(netns: string, iface = 'eth0'): Promise<string | undefined> {
  const ops = netnsHandle(netns).ops()
  try {
    return (await ops.getLink(iface))?.mac
  } finally {
    ops.close()
  }
}

/** The outside's neighbour entry for `ip` (lladdr), from `ip neigh`. */
export async function outsideNeighbour(state: LabState, ip: string): Promise<string | undefined> {
  const r = await netnsHandle(state.plan.outside!.netns).run('ip', ['neigh', 'show', ip], { allowFailure: true })
  return /lladdr ([0-9a-f:]+)/.exec(r.stdout)?.[1]
}

const LOOP = `
const http = require('node:http')
const [url, ms, every] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])]
const end = Date.now() + ms
const out = []
;(async () => {
  while (Date.now() < end) {
    out.push(await new Promise((resolve) => {
      const at = Date.now()
      const req = http.get(url, { agent: false, timeout: 400 }, (res) => {
        let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve({ at, ok: res.statusCode === 200, b }))
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', (e) => resolve({ at, ok: false, e: e.code || e.message }))
    }))
    await new Promise((r) => setTimeout(r, every))
  }
  process.stdout.write(JSON.stringify(out))
})()
`

export interface FailoverResult {
  victim: string
  /** Who holds the address afterwards (besides the victim, whose kernel keeps it until its agent restarts). */
  successor?: string
  /** kill → another node holds the address. */
  takeoverMs?: number
  /** kill → the outside's ARP entry names the successor's MAC (the gratuitous ARP arrived). */
  arpMs?: number
  /** first failed request → first success after the last failure (0: none failed). */
  outageMs: number
  failed: number
  total: number
  /** backends that answered after the takeover */
  answeredBy: string[]
}

/** Kill the announcer of `ip` and measure. `url` is fetched from the outside namespace. */
export async function measureFailover(state: LabState, ip: string, url: string, o: { beforeMs?: number; afterMs?: number } = {}): Promise<FailoverResult> {
  const before = await announcerOf(state, ip)
  if (before.length !== 1) throw new Error(`expected one announcer of ${ip}, found ${JSON.stringify(before)}`)
  const victim = before[0]!
  const beforeMs = o.beforeMs ?? 1000
  const totalMs = beforeMs + (o.afterMs ?? 4000)
  const loop = netnsHandle(state.plan.outside!.netns).run(process.execPath, ['-e', LOOP, url, String(totalMs), '50'], { timeoutMs: totalMs + 30_000 })
  await new Promise((r) => setTimeout(r, beforeMs))
  const pid = Number(readFileSync(componentPidfile(state.stateDir, 'agent', victim), 'utf8').trim())
  const macs = new Map<string, string | undefined>()
  for (const n of state.plan.nodes) macs.set(n.name, await macOf(n.netns))
  const killedAt = Date.now()
  process.kill(pid, 'SIGKILL')
  let takeoverMs: number | undefined
  let arpMs: number | undefined
  let successor: string | undefined
  const deadline = killedAt + totalMs - beforeMs
  while (Date.now() < deadline && (takeoverMs === undefined || arpMs === undefined)) {
    if (takeoverMs === undefined) {
      const others = (await announcerOf(state, ip)).filter((n) => n !== victim)
      if (others.length) {
        takeoverMs = Date.now() - killedAt
        successor = others[0]
      }
    }
    if (successor && arpMs === undefined && (await outsideNeighbour(state, ip)) === macs.get(successor)) arpMs = Date.now() - killedAt
    await new Promise((r) => setTimeout(r, 20))
  }
  const results = JSON.parse((await loop).stdout) as { at: number; ok: boolean; b?: string }[]
  const fails = results.filter((r) => !r.ok)
  let outageMs = 0
  if (fails.length) {
    const last = fails.at(-1)!
    const next = results.find((r) => r.at > last.at && r.ok)
    outageMs = (next?.at ?? Date.now()) - fails[0]!.at
  }
  const answeredBy = [...new Set(results.filter((r) => r.ok && r.at > killedAt + (takeoverMs ?? 0)).map((r) => r.b!))].sort()
  return { victim, ...(successor ? { successor } : {}), ...(takeoverMs !== undefined ? { takeoverMs } : {}), ...(arpMs !== undefined ? { arpMs } : {}), outageMs, failed: fails.length, total: results.length, answeredBy }
}

/** Wait until the killed agent runs again under its supervisor and its node is back to one announcer per IP. */
export async function waitAgentBack(state: LabState, node: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const s = componentStatus(state.stateDir, 'agent', node)
    if (s?.state === 'running' && s.pid) {
      try {
        process.kill(s.pid, 0)
        return
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`agent on ${node} did not come back within ${timeoutMs} ms`)
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  if (!s.length) return NaN
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}
