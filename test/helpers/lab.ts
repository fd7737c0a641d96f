// A real netkube lab for end-to-end tests: node namespaces on an underlay, etcd + server on
// node1 (with `ha`: 3 etcd members, servers on node1 and node2), an agent per node, and
// helpers to drive it with real kubectl and to run clients inside pod namespaces. Torn down (lab down) on teardown, even when the test fails.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { labUp, labDown, type LabState } from '../../src/lab/lab.js'
import { run, type RunResult } from '../../src/util/exec.js'
import { execInNetns, listNetns } from '../../src/net/netns.js'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { createInformer } from '../../src/client/informer.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import type { Client } from '../../src/client/interfaces.js'
import { randomBytes } from 'node:crypto'
import { kubectlPath } from './prereq.js'

export { waitUntil } from './wait.js'

export interface Lab {
  state: LabState
  kubeconfig: string
  client: Client
  kubectl(args: string[], input?: string): Promise<RunResult>
  /** kubectl that must succeed; returns stdout. */
  k(args: string[], input?: string): Promise<string>
  podNetns(pod: Pod): string
  /** Run a Node.js snippet inside a namespace; returns its stdout. */
  nodeIn(netns: string, script: string, timeoutMs?: number): Promise<string>
}

export async function withLab(t: Test, o: { nodes?: number; ha?: boolean; serverFlags?: string[]; agentFlags?: string[]; supervisorFlags?: string[] } = {}): Promise<Lab> {
  // Lab names are short (they prefix interface-free namespace names) and unique per run.
  const name = `e${randomBytes(3).toString('hex')}`
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-lab-'))
  const lines: string[] = []
  let diagnose: (() => Promise<void>) | undefined
  t.teardown(async () => {
    // A failed lab test leaves its story in the TAP stream (CI keeps nothing else): where every
    // pod ran, and each component's last warnings and errors.
    if (!t.passing() && diagnose) await diagnose().catch((err: Error) => t.comment(`diagnostics failed: ${err.message}`))
    await labDown({ name, stateDir, progress: () => {} })
    rmSync(stateDir, { recursive: true, force: true })
  })
  let state: LabState
  try {
    state = await labUp({
      name,
      nodes: o.nodes ?? 3,
      stateDir,
      apiPort: 0,
      progress: (l) => lines.push(l),
      ...(o.serverFlags ? { serverFlags: o.serverFlags } : {}),
      ...(o.agentFlags ? { agentFlags: o.agentFlags } : {}),
      ...(o.supervisorFlags ? { supervisorFlags: o.supervisorFlags } : {}),
      ha: o.ha ?? false,
      timeoutMs: 90_000,
    })
  } catch (err) {
    t.comment(lines.join('\n'))
    throw err
  }
  const kubeconfig = state.kubeconfig!
  const kubectl = (args: string[], input?: string): Promise<RunResult> =>
    run('kubectl', ['--kubeconfig', kubeconfig, ...args], { allowFailure: true, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) })
  diagnose = async () => {
    const pods = await kubectl(['get', 'pods', '-A', '-o', 'wide'])
    t.comment(`lab ${name} at failure: kubectl get pods -A -o wide\n${pods.stdout}${pods.stderr}`)
    for (const f of readdirSync(join(stateDir, 'logs')).sort()) t.comment(`${f}: ${lastTroubles(readFileSync(join(stateDir, 'logs', f), 'utf8'))}`)
  }
  return {
    state,
    kubeconfig,
    client: createClient(loadKubeconfig(kubeconfig)),
    kubectl,
    async k(args, input) {
      const r = await kubectl(args, input)
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr || r.stdout}`)
      return r.stdout
    },
    podNetns(pod) {
      const node = state.plan.nodes.find((n) => n.name === pod.spec.nodeName)
      if (!node) throw new Error(`pod ${pod.metadata.name} is on no lab node`)
      return `${node.podNetnsPrefix}${pod.metadata.uid!.replace(/-/g, '').slice(0, 12)}`
    },
    async nodeIn(netns, script, timeoutMs = 30_000) {
      const r = await execInNetns(netns, process.execPath, ['--input-type=module', '-e', script], { allowFailure: true, timeoutMs })
      if (r.code !== 0) throw new Error(`script in ${netns} failed: ${r.stderr}`)
      return r.stdout
    },
  }
}

/** A log's last warnings and errors (pino level ≥ 40, or any line that is not JSON), 12 at most. */
export function lastTroubles(log: string): string {
  const bad = log.split('\n').filter((l) => {
    if (!l.trim()) return false
    try {
      return ((JSON.parse(l) as { level?: number }).level ?? 0) >= 40
    } catch {
      return true
    }
  })
  return bad.length ? `\n${bad.slice(-12).map((l) => l.slice(0, 400)).join('\n')}` : 'no warnings'
}

/** Namespaces of a lab still present (after `lab down` there must be none). */
export function labNamespaces(prefix: string): string[] {
  return listNetns().filter((n) => n.startsWith(`${prefix}-`))
}

export interface HttpLoopOptions {
  /** Per-request timeout. */
  timeoutMs?: number
  /** Keep going (up to `count` requests) until this file exists: ties the loop to the test's steps. */
  stopFile?: string
}

/**
 * A snippet that makes up to `count` fresh HTTP connections to `url`, one after another, and
 * prints the results as JSON, each stamped with the wall-clock time it was sent (`at`).
 */
export function httpLoopScript(url: string, count: number, o: HttpLoopOptions = {}): string {
  return `
import http from 'node:http'
import { existsSync } from 'node:fs'
const stopFile = ${JSON.stringify(o.stopFile ?? null)}
const out = []
for (let i = 0; i < ${count} && !(stopFile && existsSync(stopFile)); i++) {
  out.push(await new Promise((resolve) => {
    const at = Date.now()
    const req = http.get(${JSON.stringify(url)}, { agent: false, timeout: ${o.timeoutMs ?? 2000} }, (res) => {
      let b = ''; res.on('data', (d) => b += d); res.on('end', () => resolve({ ok: true, body: b.trim(), at, ms: Date.now() - at }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve({ ok: false, err: e.code || e.message, at, ms: Date.now() - at }))
  }))
}
process.stdout.write(JSON.stringify(out))
`
}

export interface HttpResult {
  ok: boolean
  body?: string
  err?: string
  /** Date.now() when the request was sent. */
  at: number
  ms: number
}

/** Parse a loop's output; a result without its timestamp means the script and this file disagree. */
export function parseHttpResults(stdout: string): HttpResult[] {
  const results = JSON.parse(stdout) as Partial<HttpResult>[]
  const bad = results.filter((r) => typeof r.at !== 'number' || typeof r.ok !== 'boolean')
  if (bad.length > 0) throw new Error(`${bad.length} HTTP results lack 'at'/'ok': ${JSON.stringify(bad.slice(0, 3))}`)
  return results as HttpResult[]
}

/**
 * Follow pods through the watch stream (an informer, started before this resolves):
 * `onChange` sees the matching pods after every single event, in the apiserver's order,
 * so a state that lasted one event is never missed. Call the result to stop.
 */
export async function followPods(client: Client, namespace: string, labelSelector: string, onChange: (pods: Pod[]) => void): Promise<() => void> {
  const inf = createInformer(client.resource<Pod>(resourceFor('pods'), namespace), { labelSelector, name: 'test-follow-pods' })
  const changed = (): void => onChange(inf.store.list())
  inf.addEventHandler({ onAdd: changed, onUpdate: changed, onDelete: changed })
  await inf.start()
  return () => inf.stop()
}

export const res = resourceFor

/** One bundled kubectl client (`1.27`, `1.33`) against the lab; must succeed, returns stdout. */
export function kubectlAt(lab: Lab, timeoutMs = 60_000): (v: string, args: string[], input?: string) => Promise<string> {
  return async (v, args, input) => {
    const r = await run(kubectlPath(v), ['--kubeconfig', lab.kubeconfig, ...args], { allowFailure: true, timeoutMs, ...(input !== undefined ? { input } : {}) })
    if (r.code !== 0) throw new Error(`kubectl ${v} ${args.join(' ')}: ${r.stderr || r.stdout}`)
    return r.stdout
  }
}

/** Ready and not terminating: what counts towards a Deployment's availability. */
export const ready = (p: Pod): boolean => !p.metadata.deletionTimestamp && !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
