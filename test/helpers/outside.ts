// The lab's outside client (`nk<lab>-outside` on the underlay, not a node): run curl, nc,
// openssl or a Node snippet there, as a host outside the cluster would. Stable name for other
// tests (LoadBalancer, Ingress): `outsideOf(lab.state)`.
import type { LabState } from '../../src/lab/lab.js'
import { netnsHandle } from '../../src/net/door.js'
import type { RunOptions, RunResult } from '../../src/util/exec.js'

export interface Outside {
  netns: string
  ip: string
  /** Any program inside the outside namespace; never throws on a non-zero exit. */
  run(file: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>
  /** `curl -sS` there: HTTP status (0 when the connection failed) and body. */
  curl(url: string, args?: readonly string[], timeoutS?: number): Promise<{ status: number; body: string; err: string }>
  /** A Node.js module snippet there; its stdout. */
  node(script: string, timeoutMs?: number): Promise<string>
}

export function outsideOf(state: LabState): Outside {
  const o = state.plan.outside
  if (!o) throw new Error(`lab ${state.plan.name} has no outside namespace (made by an older netkube)`)
  const ns = netnsHandle(o.netns)
  const run = (file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> => ns.run(file, args, { allowFailure: true, timeoutMs: 30_000, ...opts })
  return {
    netns: o.netns,
    ip: o.ip,
    run,
    async curl(url, args = [], timeoutS = 5) {
      const r = await run('curl', ['-sS', '--max-time', String(timeoutS), '-w', '\n%{http_code}', ...args, url], { timeoutMs: (timeoutS + 5) * 1000 })
      const i = r.stdout.lastIndexOf('\n')
      return { status: Number(r.stdout.slice(i + 1)) || 0, body: r.stdout.slice(0, Math.max(0, i)), err: r.stderr.trim() }
    },
    async node(script, timeoutMs = 60_000) {
      const r = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs })
      if (r.code !== 0) throw new Error(`script in ${o.netns} failed: ${r.stderr}`)
      return r.stdout
    },
  }
}
