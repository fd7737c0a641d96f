// The chaos run (issue #10, "kill -9 anything, lose nothing"), shared by test/e2e/chaos.test.ts
// and `npm run bench:chaos`. It lives in src/ rather than test/helpers because the bench is
// compiled from src/ and bench/ only; nothing in the product imports it.
//
// Design
// - Pure cores, each table-tested: targets.ts (the kill-set as data, the seeded order),
//   checker.ts (0 acked writes lost, 0 corrupt, resourceVersions increasing), recovery.ts
//   (recovery per kill, percentiles, the table), converge.ts (node state vs the API).
// - Edges: writers.ts (ConfigMap writers logging every attempt), probe.ts (a Service + DNS
//   client inside a pod), and this file: workload, kill loop, final reads, convergence.
// - A kill is kill -9 of a supervised component's own PID (componentPidfile), or of a DNS
//   pod (delete with grace 0, or kill -9 of its processes). Only targets whose pidfile exists
//   are eligible, so the set grows with what the lab supervises (etcd, relays, --ha servers).
// - After each kill the loop measures the control plane's answer time (first successful GET
//   through the same relay kubectl uses) and waits for the component to be back (an etcd
//   member or apiserver: serving again) before the next gap — one fault at a time; Service and DNS recovery come from the probe's samples afterwards.
// - At the end, every check is retried for a convergence window: the claim is "converges",
//   not "is never behind".
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConfigMap, EndpointSlice, Namespace, Node, Pod, Service } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import type { Client, ClientConfig } from '../client/interfaces.js'
import { createClient } from '../client/rest.js'
import { isApiStatusError } from '../client/errors.js'
import { componentPidfile, type LabState } from '../lab/lab.js'
import { processesInNamespaces } from '../lab/procs.js'
import { listNetns } from '../net/netns.js'
import { netnsHandle } from '../net/door.js'
import { procStartTicks, processAlive } from '../util/proc.js'
import { FileStore } from '../../cni/ipam/store.js'
import { checkHistory, type CheckResult } from './checker.js'
import type { FinalObject, WriteRecord } from './history.js'
import { startWriters } from './writers.js'
import { startProbe } from './probe.js'
import { recoveries, recoveryTable, summarize, type KillEvent, type KillRecovery, type ProbeSample } from './recovery.js'
import { candidateTargets, killSchedule, seededRandom, type KillTarget } from './targets.js'
import { expectedServices, ipamDiff, loadBalancerKeys, netnsDiff, pidDiff, proxyDiff, proxyViewFromNftJson } from './converge.js'

export const CHAOS_NS = 'chaos'
export const WRITER_NAMESPACES = ['chaos-w1', 'chaos-w2']

export interface ChaosOptions {
  state: LabState
  /** the admin kubeconfig's connection (through the host relay, as kubectl) */
  config: ClientConfig
  durationMs: number
  /** keep going past durationMs until every target has been killed this many times */
  minRounds?: number
  seed: number
  /** pause between a component being back and the next kill */
  gapMs?: { min: number; max: number }
  /** how long components must keep their PIDs at the end */
  stableMs?: number
  /** how long the end state may take to converge */
  convergeMs?: number
  /** give up waiting for one kill's recovery after this long */
  recoveryCapMs?: number
  log?: (line: string) => void
}

export interface Convergence {
  pids: string[]
  proxy: string[]
  dns: string[]
  ipam: string[]
  netns: string[]
}

export interface ChaosReport {
  seed: number
  /** the lab ran `--ha` (several etcd members and apiservers) */
  ha: boolean
  targets: string[]
  /** candidates not supervised in this lab, so not killed */
  skipped: string[]
  kills: KillEvent[]
  rows: KillRecovery[]
  table: string
  writes: CheckResult
  records: WriteRecord[]
  samples: { svc: number; dns: number; svcFailed: number; dnsFailed: number }
  convergence: Convergence
}

const R = {
  ns: resourceFor('namespaces'),
  pods: resourceFor('pods'),
  cms: resourceFor('configmaps'),
  svcs: resourceFor('services'),
  slices: resourceFor('endpointslices'),
  nodes: resourceFor('nodes'),
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const ready = (p: Pod): boolean => !p.metadata.deletionTimestamp && !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')

/** The kubelet's sandbox namespace name for a pod (src/kubelet/sandbox.ts). */
export function podNetnsName(state: LabState, p: Pod): string {
  const node = state.plan.nodes.find((n) => n.name === p.spec.nodeName)
  return `${node?.podNetnsPrefix ?? '?'}${(p.metadata.uid ?? '').replace(/-/g, '').slice(0, 12)}`
}

/** `fn` until it returns a value; errors (the API down) count as "not yet". */
async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = (err as Error).message
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`)
    await sleep(everyMs)
  }
}

const workload = (ns: string): { deployment: unknown; service: Service; client: Pod } => ({
  deployment: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: ns },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [{ name: 'web', image: 'agnhost', args: ['netexec', '--http-port=8080'], ports: [{ containerPort: 8080, name: 'http' }], readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 1 } }],
        },
      },
    },
  },
  service: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
  client: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: ns }, spec: { nodeSelector: { 'kubernetes.io/hostname': 'node3' }, containers: [{ name: 'c', image: 'pause' }] } } as Pod,
})

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** Running, not a zombie. */
const alive = (pid: number): boolean => {
  const ticks = procStartTicks(pid)
  return ticks !== undefined && processAlive(pid, ticks)
}

export class ChaosRun {
  private readonly client: Client
  private readonly log: (l: string) => void
  private readonly dir = mkdtempSync(join(tmpdir(), 'netkube-chaos-'))
  /** picks the DNS pod to kill: part of the seeded run */
  private readonly pick: () => number

  constructor(private readonly o: ChaosOptions) {
    // Requests give up fast: a kill must show up as an unknown outcome, not a minute's wait.
    this.client = createClient(o.config, { requestTimeoutMs: 5000 })
    this.log = o.log ?? ((l) => process.stderr.write(`${l}\n`))
    this.pick = seededRandom(o.seed ^ 0xd25)
  }

  private pidfile(t: Extract<KillTarget, { kind: 'pid' }>): string {
    return componentPidfile(this.o.state.stateDir, t.role, t.node)
  }

  private async dnsPods(): Promise<Pod[]> {
    return (await this.client.resource<Pod>(R.pods, 'kube-system').list({ labelSelector: 'k8s-app=kube-dns' })).items
  }

  /** Namespaces, the web Deployment + Service and the client pod, all Ready. */
  private async setUp(): Promise<{ clientNs: string; clusterIP: string }> {
    // Created once each: a busy etcd may refuse for a moment (503), AlreadyExists means done.
    const ensure = (what: string, create: () => Promise<unknown>): Promise<boolean> =>
      until(what, 60_000, async () => {
        try {
          await create()
        } catch (err) {
          if (!(isApiStatusError(err) && err.code === 409)) throw err
        }
        return true
      }, 1000)
    for (const name of [CHAOS_NS, ...WRITER_NAMESPACES]) await ensure(`namespace ${name}`, () => this.client.resource<Namespace>(R.ns).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }))
    const w = workload(CHAOS_NS)
    await ensure('the web Deployment', async () => {
      const r = await this.client.raw('POST', `/apis/apps/v1/namespaces/${CHAOS_NS}/deployments`, w.deployment)
      if (r.status !== 201 && r.status !== 409) throw new Error(`create Deployment: HTTP ${r.status} ${r.body.slice(0, 200)}`)
    })
    await ensure('the web Service', () => this.client.resource<Service>(R.svcs, CHAOS_NS).create(w.service))
    await ensure('the client pod', () => this.client.resource<Pod>(R.pods, CHAOS_NS).create(w.client))
    const svc = await until('the web Service', 30_000, () => this.client.resource<Service>(R.svcs, CHAOS_NS).get('web'))
    const pods = this.client.resource<Pod>(R.pods, CHAOS_NS)
    const client = await until('3 web pods, the client and DNS Ready', 120_000, async () => {
      const all = (await pods.list()).items
      const c = all.find((p) => p.metadata.name === 'client')
      const web = all.filter((p) => p.metadata.labels?.app === 'web' && ready(p))
      return c && ready(c) && web.length === 3 && (await this.dnsPods()).some(ready) ? c : undefined
    }, 500)
    return { clientNs: podNetnsName(this.o.state, client), clusterIP: svc.spec.clusterIP! }
  }

  /** kill -9 one target; returns a check that says when it is back. */
  private async kill(t: KillTarget): Promise<() => Promise<boolean>> {
    if (t.kind === 'pid') {
      const file = this.pidfile(t)
      const pid = readPid(file)
      if (pid === undefined) throw new Error(`${t.name}: no PID in ${file}`)
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* already gone: the supervisor restarts it either way */
      }
      const serving = this.servingCheck(t)
      return async () => {
        const now = readPid(file)
        return now !== undefined && now !== pid && alive(now) && (await serving())
      }
    }
    const before = (await this.dnsPods()).filter(ready)
    const victim = before[Math.floor(this.pick() * before.length)]
    if (!victim) return async () => (await this.dnsPods()).some(ready)
    const name = victim.metadata.name!
    const restarts = victim.status?.containerStatuses?.[0]?.restartCount ?? 0
    if (t.how === 'delete') await this.client.resource(R.pods, 'kube-system').delete(name, { gracePeriodSeconds: 0 })
    else for (const pid of processesInNamespaces([podNetnsName(this.o.state, victim)])) process.kill(pid, 'SIGKILL')
    return async () => {
      const pods = await this.dnsPods()
      const replaced = t.how === 'delete' ? !pods.some((p) => p.metadata.name === name) : (pods.find((p) => p.metadata.name === name)?.status?.containerStatuses?.[0]?.restartCount ?? 0) > restarts
      return replaced && pods.filter(ready).length >= before.length
    }
  }

  /**
   * An etcd member or an apiserver is back when it serves again, not when its process runs:
   * a restarted apiserver bootstraps for seconds, a restarted member must rejoin. The next
   * kill waits for that, so the suite injects one fault at a time — killing the second of two
   * apiservers while the first is still starting is a double fault HA is not built to hide.
   * Checked from inside the component's node namespace, against that component only.
   */
  private servingCheck(t: Extract<KillTarget, { kind: 'pid' }>): () => Promise<boolean> {
    const node = this.o.state.plan.nodes.find((n) => n.name === t.node)
    if (!node || (t.role !== 'server' && t.role !== 'etcd')) return async () => true
    const ns = netnsHandle(node.netns)
    const plan = this.o.state.plan
    const args =
      t.role === 'etcd'
        ? ['-s', '-m', '1', `http://127.0.0.1:${plan.etcdPort}/health`]
        : ['-s', '-m', '1', '--cacert', join(this.o.state.stateDir, plan.ha ? `server-${node.name}` : 'server', 'pki', 'ca.crt'), `https://${node.ip}:${plan.apiPort}/readyz`]
    return async () => {
      const r = await ns.run('curl', args, { allowFailure: true })
      return r.code === 0 && (t.role === 'etcd' ? /"health":\s*"true"/.test(r.stdout) : r.stdout.trim() === 'ok')
    }
  }

  /** kill → first successful GET through the relay, polled with a fresh short-timeout client. */
  private async controlPlaneAnswer(from: number, capMs: number): Promise<number | undefined> {
    const c = createClient(this.o.config, { requestTimeoutMs: 1000 })
    try {
      while (Date.now() - from < capMs) {
        try {
          if ((await c.raw('GET', '/api/v1/namespaces/default')).status === 200) return Date.now() - from
        } catch {
          /* not yet */
        }
        await sleep(100)
      }
      return undefined
    } finally {
      c.close()
    }
  }

  async run(): Promise<ChaosReport> {
    const o = this.o
    const nodes = o.state.plan.nodes.map((n) => n.name)
    const candidates = candidateTargets(nodes)
    const targets = candidates.filter((t) => t.kind !== 'pid' || existsSync(this.pidfile(t)))
    const skipped = candidates.filter((t) => !targets.includes(t)).map((t) => t.name)
    this.log(`chaos: seed ${o.seed} (rerun with the same seed for the same kill order); targets ${targets.map((t) => t.name).join(' ')}; not supervised here: ${skipped.join(' ') || 'none'}`)
    const { clientNs, clusterIP } = await this.setUp()
    const probe = startProbe(clientNs, {
      url: `http://${clusterIP}/hostname`,
      dnsServer: o.state.plan.clusterDNS,
      dnsName: `web.${CHAOS_NS}.svc.cluster.local`,
      dnsWant: clusterIP,
      out: join(this.dir, 'probe.jsonl'),
      stopFile: join(this.dir, 'stop'),
    })
    const writers = startWriters(this.client, { namespaces: WRITER_NAMESPACES, writersPerNamespace: 2, keysPerWriter: 4, pauseMs: 20, random: seededRandom(o.seed ^ 0x5eed) })
    const kills: KillEvent[] = []
    let samples: ProbeSample[] = []
    let records: WriteRecord[] = []
    try {
      await sleep(2000) // a baseline before the first kill
      const next = killSchedule(o.seed, targets, o.gapMs ?? { min: 1000, max: 4000 })
      const cap = o.recoveryCapMs ?? 60_000
      const end = Date.now() + o.durationMs
      const minKills = targets.length * (o.minRounds ?? 1)
      while (Date.now() < end || kills.length < minKills) {
        const { target, gapMs } = next()
        const at = Date.now()
        const back = await this.kill(target)
        // Both measured from the kill, side by side: a component is often back before the API answers.
        const [controlPlaneMs, backMs] = await Promise.all([
          this.controlPlaneAnswer(at, cap),
          until(`${target.name} back`, cap, async () => ((await back()) ? Date.now() - at : undefined), 100).catch(() => undefined),
        ])
        const k: KillEvent = { target: target.name, at, ...(controlPlaneMs !== undefined ? { controlPlaneMs } : {}), ...(backMs !== undefined ? { backMs } : {}) }
        kills.push(k)
        this.log(`chaos: kill #${kills.length} ${target.name}: control plane ${controlPlaneMs ?? 'none'} ms, back ${backMs ?? 'never'} ms`)
        await sleep(gapMs)
      }
    } finally {
      records = await writers.stop()
      samples = await probe.stop().catch((err: Error) => {
        this.log(`chaos: ${err.message}`)
        return []
      })
    }
    const endAt = Date.now()
    const acks = records.filter((r) => r.outcome === 'ok').map((r) => r.end)
    const rows = recoveries(kills, samples, acks, endAt)
    const finals = await until('the writers’ ConfigMaps read back', o.convergeMs ?? 60_000, () => this.readFinal())
    const writes = checkHistory(records, finals)
    const convergence = await this.converge(clientNs)
    rmSync(this.dir, { recursive: true, force: true })
    return {
      seed: o.seed,
      ha: (o.state.plan as { ha?: boolean }).ha === true,
      targets: targets.map((t) => t.name),
      skipped,
      kills,
      rows,
      table: recoveryTable(rows),
      writes,
      records,
      samples: {
        svc: samples.filter((s) => s.kind === 'svc').length,
        dns: samples.filter((s) => s.kind === 'dns').length,
        svcFailed: samples.filter((s) => s.kind === 'svc' && !s.ok).length,
        dnsFailed: samples.filter((s) => s.kind === 'dns' && !s.ok).length,
      },
      convergence,
    }
  }

  private async readFinal(): Promise<FinalObject[]> {
    const out: FinalObject[] = []
    for (const ns of WRITER_NAMESPACES) {
      for (const cm of (await this.client.resource<ConfigMap>(R.cms, ns).list()).items) {
        if (cm.metadata.name === 'kube-root-ca.crt') continue // published into every namespace
        out.push({ key: `${ns}/${cm.metadata.name}`, rv: cm.metadata.resourceVersion ?? '', data: cm.data })
      }
    }
    return out
  }

  /** Each check retried until it holds or the window ends; what is left is reported. */
  private async converge(clientNs: string): Promise<Convergence> {
    const o = this.o
    const window = o.convergeMs ?? 60_000
    const retry = async (what: string, fn: () => Promise<string[]>): Promise<string[]> => {
      const t0 = Date.now()
      let diffs: string[] = []
      for (let i = 0; ; i++) {
        try {
          diffs = await fn()
        } catch (err) {
          diffs = [(err as Error).message]
        }
        if (diffs.length && i === 0) this.log(`chaos: ${what} not converged yet: ${diffs.slice(0, 5).join('; ')}`)
        if (diffs.length === 0 && i > 0) this.log(`chaos: ${what} converged after ${Date.now() - t0} ms`)
        if (diffs.length === 0 || Date.now() - t0 > window) return diffs
        await sleep(1000)
      }
    }
    await until('every node Ready and the workload Ready', window, async () => {
      const nodes = (await this.client.resource<Node>(R.nodes).list()).items
      const web = (await this.client.resource<Pod>(R.pods, CHAOS_NS).list({ labelSelector: 'app=web' })).items
      return nodes.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) && web.filter(ready).length === 3 && (await this.dnsPods()).every(ready) ? true : undefined
    }).catch((err: Error) => this.log(`chaos: ${err.message}`))
    const pidTargets = candidateTargets(o.state.plan.nodes.map((n) => n.name)).filter((t): t is Extract<KillTarget, { kind: 'pid' }> => t.kind === 'pid' && existsSync(this.pidfile(t)))
    const pidsNow = (): Map<string, number | undefined> => new Map(pidTargets.map((t) => [t.name, readPid(this.pidfile(t))]))
    const pids = await retry('component PIDs', async () => {
      const before = pidsNow()
      await sleep(o.stableMs ?? 10_000)
      return pidDiff(before, pidsNow(), alive)
    })
    const listAll = async <T extends Pod | Service | EndpointSlice>(r: typeof R.pods): Promise<T[]> => (await this.client.resource<T>(r).list()).items
    const proxy = await retry('proxy rules', async () => {
      const svcs = await listAll<Service>(R.svcs)
      const expected = expectedServices(svcs, await listAll<EndpointSlice>(R.slices))
      const lbKeys = loadBalancerKeys(svcs)
      const diffs: string[] = []
      for (const n of o.state.plan.nodes) {
        const r = await netnsHandle(n.netns).run('nft', ['-j', 'list', 'table', 'ip', 'netkube-proxy'], { allowFailure: true })
        if (r.code !== 0) diffs.push(`${n.name}: nft list table: ${r.stderr.trim()}`)
        else diffs.push(...proxyDiff(n.name, proxyViewFromNftJson(JSON.parse(r.stdout)), expected, lbKeys))
      }
      return diffs
    })
    const dns = await retry('DNS answers', async () => {
      const diffs: string[] = []
      for (const s of await listAll<Service>(R.svcs)) {
        const ip = s.spec.clusterIP
        if (!ip || ip === 'None') continue
        const fqdn = `${s.metadata.name}.${s.metadata.namespace}.svc.cluster.local`
        const r = await netnsHandle(clientNs).run('dig', [`@${o.state.plan.clusterDNS}`, '+short', '+time=1', '+tries=2', fqdn], { allowFailure: true })
        if (r.stdout.trim() !== ip) diffs.push(`${fqdn}: DNS says ${JSON.stringify(r.stdout.trim() || r.stderr.trim())}, the API ${ip}`)
      }
      return diffs
    })
    const ipam = await retry('IPAM', async () => {
      const pods = await listAll<Pod>(R.pods)
      return o.state.plan.nodes.flatMap((n) => ipamDiff(n.name, new FileStore(join(o.state.stateDir, n.name, 'ipam'), 'netkube').list().map((a) => a.ip), pods))
    })
    const netns = await retry('pod namespaces', async () => {
      const pods = await listAll<Pod>(R.pods)
      const all = listNetns()
      return o.state.plan.nodes.flatMap((n) => netnsDiff(n.name, all.filter((x) => x.startsWith(n.podNetnsPrefix)), pods, (p) => podNetnsName(o.state, p)))
    })
    return { pids, proxy, dns, ipam, netns }
  }
}

export function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  return new ChaosRun(o).run()
}

/** The processes living in a lab's namespaces now: after `lab down` none may be left. */
export function labProcesses(state: LabState): { pid: number; ticks: string; cmd: string }[] {
  const ours = listNetns().filter((n) => n.startsWith(`${state.plan.prefix}-`))
  return processesInNamespaces(ours).flatMap((pid) => {
    const ticks = procStartTicks(pid)
    if (!ticks || !processAlive(pid, ticks)) return []
    let cmd = ''
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 160)
    } catch {
      /* exited */
    }
    return [{ pid, ticks, cmd }]
  })
}

/**
 * What a lab left behind after `lab down`: namespaces, and processes from labProcesses
 * (taken before) still running after `graceMs` (a SIGKILLed process takes a moment to go).
 */
export async function leftovers(state: LabState, before: readonly { pid: number; ticks: string; cmd?: string }[], graceMs = 5000): Promise<string[]> {
  const deadline = Date.now() + graceMs
  let running = before.filter((p) => processAlive(p.pid, p.ticks))
  while (running.length && Date.now() < deadline) {
    await sleep(100)
    running = running.filter((p) => processAlive(p.pid, p.ticks))
  }
  const out = listNetns().filter((n) => n.startsWith(`${state.plan.prefix}-`)).map((n) => `namespace ${n}`)
  for (const p of running) out.push(`process ${p.pid} still running: ${p.cmd ?? ''}`)
  return out
}

/** The report as text: the recovery table, the write check, the convergence lines. */
export function renderReport(r: ChaosReport): string {
  const w = r.writes
  const c = r.convergence
  const lines = [
    `chaos seed ${r.seed}: ${r.kills.length} kills over ${r.targets.join(', ')}${r.skipped.length ? ` (not supervised, not killed: ${r.skipped.join(', ')})` : ''}`,
    r.table,
    '',
    `writes: ${w.acked} acked, ${w.unknown} unknown, ${w.failed} refused over ${w.keys} objects; acked writes lost: ${w.lostAcked}; corrupt: ${w.corrupt}; violations: ${w.violations.length}`,
    ...w.violations.slice(0, 20).map((v) => `  ${v.kind} ${v.key}: ${v.detail}`),
    `probes: Service ${r.samples.svc} (${r.samples.svcFailed} failed), DNS ${r.samples.dns} (${r.samples.dnsFailed} failed)`,
    `convergence: pids ${c.pids.length ? 'NO' : 'stable'}, proxy rules ${c.proxy.length ? 'NO' : 'match'}, DNS ${c.dns.length ? 'NO' : 'matches'}, IPAM ${c.ipam.length ? 'NO' : '= pods'}, pod namespaces ${c.netns.length ? 'NO' : '= pods'}`,
    ...[...c.pids, ...c.proxy, ...c.dns, ...c.ipam, ...c.netns].slice(0, 30).map((d) => `  ${d}`),
  ]
  return lines.join('\n')
}

/** Every way the run missed the issue's bar, one line each (empty = passed). */
export function chaosFailures(r: ChaosReport): string[] {
  const out: string[] = []
  const w = r.writes
  if (w.lostAcked) out.push(`${w.lostAcked} acknowledged writes lost`)
  if (w.corrupt) out.push(`${w.corrupt} corrupt objects`)
  for (const v of w.violations) out.push(`${v.kind} ${v.key}: ${v.detail}`)
  for (const k of r.rows) {
    if (k.controlPlaneMs === undefined) out.push(`control plane did not answer after killing ${k.target} at ${new Date(k.at).toISOString()}`)
    if (k.backMs === undefined) out.push(`${k.target} did not come back after its kill at ${new Date(k.at).toISOString()}`)
  }
  if (r.ha) {
    // HA: one etcd member or one apiserver of several dies and writes go on.
    const b = summarize(r.rows.filter((k) => /^(etcd|server)\//.test(k.target)).map((k) => k.writeBlipMs))
    if (b.missing || (b.p99 ?? 0) >= 2000) out.push(`HA write blip after etcd-member/apiserver kills: p99 ${b.p99 ?? '—'} ms (bar < 2000 ms), ${b.missing} kills with no ack after`)
  }
  const c = r.convergence
  out.push(...c.pids, ...c.proxy, ...c.dns, ...c.ipam, ...c.netns)
  return out
}
