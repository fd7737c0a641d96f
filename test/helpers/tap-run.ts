// Running tap itself on a fixture file from inside a test, to check what the runner sees.
import { join } from 'node:path'
import { run, type RunResult } from '../../src/util/exec.js'

export { ROOT } from './root.js'
import { ROOT } from './root.js'

/** `tap --reporter=tap FILE` from the repository root; stdout is the TAP stream. `env` overrides (undefined unsets). */
export function runTap(file: string, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const merged: NodeJS.ProcessEnv = {}
  // The outer tap's variables would make the inner one report to it instead of to stdout.
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined && !/^(TAP|_TAPJS)/.test(k)) merged[k] = v
  return run(process.execPath, [join(ROOT, 'node_modules/.bin/tap'), '--reporter=tap', '--disable-coverage', file], {
    cwd: ROOT,
    env: merged,
    allowFailure: true,
    timeoutMs: 300_000,
  })
}
