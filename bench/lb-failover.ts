// LoadBalancer failover, measured in a running lab (shared by test/e2e/loadbalancer.test.ts
// and `npm run bench:lb`). A client in the outside namespace starts a fresh HTTP request to
// the LB IP every 25 ms (300 ms connect timeout, requests overlap); then the announcer fails:
//   agent: its agent is killed with SIGKILL (the node's kernel keeps the /32 and its nft
//          rules, so it goes on serving until the neighbours' ARP moves: nothing fails);
//   node:  its agent is killed AND its cable is pulled — the node's port on the underlay
//          bridge (inside the lab's underlay namespace) goes down, so the node is silent on
//          the wire, as a dead machine is. Requests to its MAC fail until the gratuitous ARP
//          of the successor moves the outside's neighbour entry. Freezing the node's processes
//          would not do: its kernel would still answer ARP and DNAT the traffic.
// Timings come from the kernels' own event streams, not from polling: `ip -ts monitor
// address` in every node namespace (takeover: another node adds the /32) and `ip -ts monitor
// neigh` in the outside namespace (the ARP entry names the successor's MAC).
// After the window the node is restored (port up; the supervisor has restarted the agent)
// and the state checked consistent: exactly one node holds the address, the outside's ARP
// entry names that node.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LabState } from '../src/lab/lab.js'
import { componentPidfile, componentStatus } from '../src/lab/lab.js'
import { netnsHandle } from '../src/net/door.js'

export type FailoverMode = 'agent' | 'node'

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

/** Pull (down) or plug (up) a node's cable: its port on the underlay bridge, in the underlay namespace. */
export async function setNodeCable(state: LabState, node: string, up: boolean): Promise<void> {
  const n = state.plan.nodes.find((x) => x.name === node)
  if (!n) throw new Error(`no node ${node} in lab ${state.plan.name}`)
  await netnsHandle(state.plan.underlayNetns).withOps((ops) => ops.setLink(n.underlayPort, { up }))
}

// ---- kernel event streams (`ip -ts monitor`), read back after the window ----

export interface MonitorEvent {
  at: number
  line: string
}

interface Monitor {
  stop(): MonitorEvent[]
}

let monitorSeq = 0
function monitor(netns: string, what: 'address' | 'neigh'): Monitor {
  const file = join(tmpdir(), `netkube-lb-mon-${process.pid}-${++monitorSeq}.log`)
  // TZ=UTC: -ts prints local wall time without a zone
  const child = netnsHandle(netns).spawn(['ip', '-ts', 'monitor', what], { logPath: file, env: { ...process.env, TZ: 'UTC' } })
  return {
    stop() {
      child.kill('SIGTERM')
      let text = ''
      try {
        text = readFileSync(file, 'utf8')
      } finally {
        rmSync(file, { force: true })
      }
      return parseMonitor(text)
    },
  }
}

/** `[2026-12-01T18:29:40.343455] 1: lo inet …` lines → events with their time in ms. */
export function parseMonitor(text: string): MonitorEvent[] {
  const out: MonitorEvent[] = []
  for (const l of text.split('\n')) {
    const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d*\]\s*(.*)$/.exec(l)
    if (m) out.push({ at: Date.parse(`${m[1]}Z`), line: m[2]! })
  }
  return out
}

/**
 * When `ip`/32 appeared on a node (its monitor's events, read from the start): a change from
 * not held to held at or after `after`. The announcer refreshes the address's lifetime every
 * 250 ms by replacing it, and each refresh is an event like an add: those of an address held
 * already are not appearances. `heldBefore`: whether the node held it when its monitor started.
 */
export function addedAt(events: readonly MonitorEvent[], ip: string, after: number, heldBefore = false): number | undefined {
  return appearances(events, ip, heldBefore).find((at) => at >= after)
}

/** Every not-held → held change of `ip`/32 in a node's events (see addedAt). */
export function appearances(events: readonly MonitorEvent[], ip: string, heldBefore = false): number[] {
  const out: number[] = []
  let held = heldBefore
  for (const e of events) {
    if (!e.line.includes(` inet ${ip}/32 `)) continue
    const deleted = e.line.startsWith('Deleted')
    if (!deleted && !held) out.push(e.at)
    held = !deleted
  }
  return out
}

/** When a node namespace's monitor saw `ip`/32 deleted. */
export function deletedAt(events: readonly MonitorEvent[], ip: string, after: number): number | undefined {
  return events.find((e) => e.at >= after && e.line.startsWith('Deleted') && e.line.includes(` inet ${ip}/32 `))?.at
}

/** When the outside's neighbour entry for `ip` first named `mac`. */
export function neighMovedAt(events: readonly MonitorEvent[], ip: string, mac: string, after: number): number | undefined {
  return events.find((e) => e.at >= after && !e.line.startsWith('Deleted') && e.line.startsWith(`${ip} `) && e.line.includes(`lladdr ${mac}`))?.at
}

// ---- the client loop (runs in the outside namespace) ----

const LOOP = `
const http = require('node:http')
const [url, ms, every, connectMs, readyFile] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), process.argv[5]]
// runs for ms from its first answer (or gives up 30 s after starting without one)
let end = Date.now() + 30000
const pending = []
let ready = false
const one = () => new Promise((resolve) => {
  const at = Date.now()
  let done = false
  const finish = (r) => {
    if (done) return
    done = true; clearTimeout(ct); resolve({ at, ...r })
    // the caller waits for this file: a Node process starts slowly on a loaded machine
    if (r.ok && !ready) { ready = true; end = Date.now() + ms; require('node:fs').writeFileSync(readyFile, String(Date.now())) }
  }
  const req = http.get(url, { agent: false }, (res) => {
    let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => finish({ ok: res.statusCode === 200, b }))
  })
  // a short connect timeout (a SYN to a dead MAC is never answered), a longer one for the reply
  const ct = setTimeout(() => req.destroy(new Error('connect timeout')), connectMs)
  req.on('socket', (s) => s.once('connect', () => { clearTimeout(ct); req.setTimeout(2000, () => req.destroy(new Error('timeout'))) }))
  req.on('error', (e) => finish({ ok: false, e: e.message }))
})
const tick = setInterval(() => {
  if (Date.now() >= end) { clearInterval(tick); Promise.all(pending).then((rs) => process.stdout.write(JSON.stringify(rs))); return }
  pending.push(one())
}, every)
`

export interface FailoverResult {
  mode: FailoverMode
  victim: string
  /** Who holds the address afterwards. */
  successor?: string
  /** failure → another node added the address (its kernel's event). */
  takeoverMs?: number
  /** failure → the outside's ARP entry names the successor's MAC (the gratuitous ARP arrived). */
  arpMs?: number
  /** first failed request → first success after the last failure (0: none failed). */
  outageMs: number
  failed: number
  total: number
  /** backends that answered after the takeover */
  answeredBy: string[]
  /** Wall-clock ms of the failure and of the takeover (for the restore's double-holder window). */
  killedAt: number
  takeoverAt?: number
  /** When the victim's kernel lost the /32 within the window (its restarted agent withdrew it). */
  victimWithdrewAt?: number
}

export interface FailoverOptions {
  mode?: FailoverMode
  /** Client traffic before the failure (ms). */
  beforeMs?: number
  /** … and after it. */
  afterMs?: number
  /** Client request period and connect timeout (ms). */
  everyMs?: number
  connectMs?: number
}

/** Fail the announcer of `ip` and measure. `url` is fetched from the outside namespace. The node is not restored here: restoreNode(). */
export async function measureFailover(state: LabState, ip: string, url: string, o: FailoverOptions = {}): Promise<FailoverResult> {
  const mode = o.mode ?? 'agent'
  const before = await announcerOf(state, ip)
  if (before.length !== 1) throw new Error(`expected one announcer of ${ip}, found ${JSON.stringify(before)}`)
  const victim = before[0]!
  if (mode === 'node' && state.plan.nodes.find((n) => n.name === victim)?.server)
    throw new Error(`${victim} runs the control plane: pulling its cable would stop the cluster (label it ${'node.kubernetes.io/exclude-from-external-load-balancers'})`)
  const beforeMs = o.beforeMs ?? 1000
  const afterMs = o.afterMs ?? 4000
  const totalMs = beforeMs + afterMs
  const macs = new Map<string, string | undefined>()
  for (const n of state.plan.nodes) macs.set(n.name, await macOf(n.netns))
  const addrMon = new Map(state.plan.nodes.map((n) => [n.name, monitor(n.netns, 'address')]))
  const neighMon = monitor(state.plan.outside!.netns, 'neigh')
  const readyFile = join(tmpdir(), `netkube-lb-loop-${process.pid}-${++monitorSeq}`)
  const loop = netnsHandle(state.plan.outside!.netns).run(process.execPath, ['-e', LOOP, url, String(totalMs), String(o.everyMs ?? 25), String(o.connectMs ?? 300), readyFile], { timeoutMs: totalMs + 60_000 })
  loop.catch(() => undefined) // awaited below; this only keeps an early throw from leaving it unhandled
  let killedAt = 0
  let results: { at: number; ok: boolean; b?: string }[]
  const addrEvents = new Map<string, MonitorEvent[]>()
  let neighEvents: MonitorEvent[]
  try {
    const deadline = Date.now() + 30_000
    while (!existsSync(readyFile)) {
      if (Date.now() > deadline) throw new Error(`the client loop in ${state.plan.outside!.netns} got no answer from ${url} within 30 s`)
      await new Promise((r) => setTimeout(r, 20))
    }
    await new Promise((r) => setTimeout(r, beforeMs))
    const pid = Number(readFileSync(componentPidfile(state.stateDir, 'agent', victim), 'utf8').trim())
    killedAt = Date.now()
    if (mode === 'node') await setNodeCable(state, victim, false)
    process.kill(pid, 'SIGKILL')
    results = JSON.parse((await loop).stdout) as { at: number; ok: boolean; b?: string }[]
  } finally {
    rmSync(readyFile, { force: true })
    // let the last lines reach the files
    await new Promise((r) => setTimeout(r, 100))
    for (const [n, m] of addrMon) addrEvents.set(n, m.stop())
    neighEvents = neighMon.stop()
  }
  let takeover: number | undefined
  let successor: string | undefined
  for (const [n, evs] of addrEvents) {
    if (n === victim) continue
    const at = addedAt(evs, ip, killedAt)
    if (at !== undefined && (takeover === undefined || at < takeover)) [takeover, successor] = [at, n]
  }
  const arpAt = successor ? neighMovedAt(neighEvents, ip, macs.get(successor)!, killedAt) : undefined
  const fails = results.filter((r) => !r.ok)
  let outageMs = 0
  if (fails.length) {
    const last = fails.at(-1)!
    const next = results.find((r) => r.at > last.at && r.ok)
    outageMs = (next?.at ?? killedAt + afterMs) - fails[0]!.at
  }
  const answeredBy = [...new Set(results.filter((r) => r.ok && takeover !== undefined && r.at > takeover).map((r) => r.b!))].sort()
  return {
    mode,
    victim,
    ...(successor ? { successor } : {}),
    ...(takeover !== undefined ? { takeoverMs: takeover - killedAt } : {}),
    ...(arpAt !== undefined ? { arpMs: arpAt - killedAt } : {}),
    outageMs,
    failed: fails.length,
    total: results.length,
    answeredBy,
    killedAt,
    ...(takeover !== undefined ? { takeoverAt: takeover } : {}),
    ...(() => {
      const at = deletedAt(addrEvents.get(victim) ?? [], ip, killedAt)
      return at !== undefined ? { victimWithdrewAt: at } : {}
    })(),
  }
}

/** Nodes taking `ip`/32 (address-add events in the node namespaces) during `ms` of quiet: each is a takeover nobody caused. */
export async function countAddressMoves(state: LabState, ip: string, ms: number): Promise<{ node: string; at: number; line: string }[]> {
  const mons = state.plan.nodes.map((n) => [n.name, monitor(n.netns, 'address')] as const)
  // the monitors need a moment to subscribe; the holders at the start are not moves
  await new Promise((r) => setTimeout(r, 100))
  const heldAtStart = new Set(await announcerOf(state, ip))
  const from = Date.now()
  await new Promise((r) => setTimeout(r, ms))
  await new Promise((r) => setTimeout(r, 100))
  return mons
    .flatMap(([node, m]) => {
      const evs = m.stop()
      return appearances(evs.filter((e) => e.at >= from), ip, heldAtStart.has(node)).map((at) => ({ node, at, line: evs.find((e) => e.at === at)?.line ?? '' }))
    })
    .sort((a, b) => a.at - b.at)
}

export interface RestoreResult {
  /** Node restored (cable in; agent running again) → exactly one holder whose MAC the outside's entry names. */
  settledMs: number
  holder: string
  /** The returning node added the address again (it took it back from the successor). */
  tookBack: boolean
  /**
   * How long two connected nodes held the /32 (from the kernels' address events): node mode,
   * cable in → the victim's stale /32 gone (0 when it was gone before); agent mode, the
   * successor's takeover → the victim's restarted agent withdrew it (the agent was dead meanwhile).
   */
  doubleHolderMs: number
  /** Sampled from the moment the node was restored (cable in), for a few seconds. */
  afterReturn: ReturnSample
}

export interface ReturnSample {
  /** Broadcast ARP probes the outside namespace sent for the address, and the MAC of every reply: one each, when one node holds it. */
  probes: number
  replyMacs: string[]
  /** The nodes' address lists, read every 100 ms meanwhile: how many reads, in how many two nodes held the /32. */
  reads: number
  twoHolderReads: number
}

/**
 * Sample who answers for `ip` for `probes` seconds: `busybox arping -b` from the outside
 * namespace (one broadcast probe a second; -b: after a reply arping would otherwise probe
 * only the first answerer's MAC), and the nodes' kernels every 100 ms.
 */
export async function sampleHolders(state: LabState, ip: string, probes = 3): Promise<ReturnSample> {
  let done = false
  const arp = netnsHandle(state.plan.outside!.netns)
    .run('busybox', ['arping', '-b', '-c', String(probes), '-w', String(probes), '-I', 'eth0', ip], { allowFailure: true, timeoutMs: (probes + 10) * 1000 })
    .finally(() => (done = true))
  let reads = 0
  let twoHolderReads = 0
  while (!done) {
    reads++
    if ((await announcerOf(state, ip)).length > 1) twoHolderReads++
    await new Promise((res) => setTimeout(res, 100))
  }
  const out = (await arp).stdout
  return {
    probes: Number(/Sent (\d+) probe/.exec(out)?.[1] ?? 0),
    replyMacs: [...out.matchAll(/reply from \S+ \[([0-9a-f:]+)\]/gi)].map((m) => m[1]!.toLowerCase()),
    reads,
    twoHolderReads,
  }
}

export interface RestoreOptions {
  timeoutMs?: number
  /** Resolves true once the victim's announcer runs again (its Lease renewed): a take-back would come after it. */
  speakerBack?: (since: number) => Promise<boolean>
  /** How long to keep watching after that (ms). */
  watchMs?: number
}

/** Plug the node back in (node mode), wait for its agent, then for one consistent holder of `ip`. */
export async function restoreNode(state: LabState, r: Pick<FailoverResult, 'mode' | 'victim'> & Partial<Pick<FailoverResult, 'takeoverAt' | 'victimWithdrewAt'>>, ip: string, url: string, o: RestoreOptions = {}): Promise<RestoreResult> {
  const timeoutMs = o.timeoutMs ?? 60_000
  const victimNs = state.plan.nodes.find((n) => n.name === r.victim)!.netns
  const mon = monitor(victimNs, 'address')
  // the monitor needs a moment to subscribe before the cable goes in
  await new Promise((res) => setTimeout(res, 100))
  const heldAtReturn = (await announcerOf(state, ip)).includes(r.victim)
  if (r.mode === 'node') await setNodeCable(state, r.victim, true)
  const t0 = Date.now()
  const sampling = sampleHolders(state, ip)
  sampling.catch(() => undefined) // awaited below; this only keeps an early throw from leaving it unhandled
  let events: MonitorEvent[] | undefined
  try {
    await waitAgentBack(state, r.victim, timeoutMs)
    const deadline = t0 + timeoutMs
    if (o.speakerBack) {
      while (!(await o.speakerBack(t0).catch(() => false))) {
        if (Date.now() > deadline) throw new Error(`the announcer on ${r.victim} did not renew its Lease within ${timeoutMs} ms`)
        await new Promise((res) => setTimeout(res, 100))
      }
      await new Promise((res) => setTimeout(res, o.watchMs ?? 1500))
    }
    let last = ''
    while (Date.now() < deadline) {
      const holders = await announcerOf(state, ip)
      if (holders.length === 1) {
        const [mac, neigh] = [await macOf(state.plan.nodes.find((n) => n.name === holders[0])!.netns), await outsideNeighbour(state, ip)]
        // the entry may have aged out (no traffic): one request refreshes it
        if (!neigh) await netnsHandle(state.plan.outside!.netns).run('curl', ['-sS', '-o', '/dev/null', '--max-time', '1', url], { allowFailure: true })
        if (mac && neigh === mac) {
          const settledMs = Date.now() - t0
          await new Promise((res) => setTimeout(res, 100))
          events = mon.stop()
          const tookBack = addedAt(events, ip, 0, heldAtReturn) !== undefined
          const gone = r.victimWithdrewAt ?? deletedAt(events, ip, 0)
          let doubleHolderMs = 0
          if (r.mode === 'node') doubleHolderMs = heldAtReturn ? (gone ?? Date.now()) - t0 : 0
          else if (r.takeoverAt !== undefined) doubleHolderMs = Math.max(0, (gone ?? Date.now()) - r.takeoverAt)
          return { settledMs, holder: holders[0]!, tookBack, doubleHolderMs, afterReturn: await sampling }
        }
        last = `one holder ${holders[0]} (${mac}), outside's entry ${neigh ?? 'none'}`
      } else last = `holders: ${JSON.stringify(holders)}`
      await new Promise((res) => setTimeout(res, 100))
    }
    throw new Error(`after restoring ${r.victim}: not consistent within ${timeoutMs} ms (${last})`)
  } finally {
    if (!events) mon.stop()
    await sampling.catch(() => undefined)
  }
}

/** Wait until the killed agent runs again under its supervisor. */
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
