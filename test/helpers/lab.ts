// A real netkube lab for end-to-end tests: node namespaces on an underlay, etcd + server on
// node1, an agent per node, and helpers to drive it with real kubectl and to run clients
// inside pod namespaces. Torn down (lab down) on teardown, even when the test fails.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { labUp, labDown, type LabState } from '../../src/lab/lab.js'
import { run, type RunResult } from '../../src/util/exec.js'
import { execInNetns, listNetns } from '../../src/net/netns.js'
import type { Pod } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import type { Client } from '../../src/client/interfaces.js'
import { randomBytes } from 'node:crypto'

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

export async function withLab(t: Test, o: { nodes?: number; serverFlags?: string[]; agentFlags?: string[] } = {}): Promise<Lab> {
  // Lab names are short (they prefix interface-free namespace names) and unique per run.
  const name = `e${randomBytes(3).toString('hex')}`
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-lab-'))
  const lines: string[] = []
  t.teardown(async () => {
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
      timeoutMs: 90_000,
    })
  } catch (err) {
    t.comment(lines.join('\n'))
    throw err
  }
  const kubeconfig = state.kubeconfig!
  const kubectl = (args: string[], input?: string): Promise<RunResult> =>
    run('kubectl', ['--kubeconfig', kubeconfig, ...args], { allowFailure: true, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) })
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

/** Namespaces of a lab still present (after `lab down` there must be none). */
export function labNamespaces(prefix: string): string[] {
  return listNetns().filter((n) => n.startsWith(`${prefix}-`))
}

/** A snippet that makes `count` fresh HTTP connections to `url` and prints the bodies as JSON. */
export function httpLoopScript(url: string, count: number, timeoutMs = 2000): string {
  return `
import http from 'node:http'
const out = []
for (let i = 0; i < ${count}; i++) {
  out.push(await new Promise((resolve) => {
    const t0 = Date.now()
    const req = http.get(${JSON.stringify(url)}, { agent: false, timeout: ${timeoutMs} }, (res) => {
      let b = ''; res.on('data', (d) => b += d); res.on('end', () => resolve({ ok: true, body: b.trim(), ms: Date.now() - t0 }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve({ ok: false, err: e.code || e.message, ms: Date.now() - t0 }))
  }))
}
process.stdout.write(JSON.stringify(out))
`
}

export interface HttpResult {
  ok: boolean
  body?: string
  err?: string
  ms: number
}

export const res = resourceFor

/** Ready and not terminating: what counts towards a Deployment's availability. */
export const ready = (p: Pod): boolean => !p.metadata.deletionTimestamp && !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
