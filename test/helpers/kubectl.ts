// One kubectl client in a test: `k` runs it against a kubeconfig (a non-zero exit is an answer,
// not a throw), `ok` asserts exit 0 — naming the command and its stderr — and returns stdout.
import type { Test } from 'tap'
import { run, type RunResult } from '../../src/util/exec.js'

export interface KubectlRunner {
  k(...args: string[]): Promise<RunResult>
  ok(...args: string[]): Promise<string>
}

export function kubectlRunner(t: Pick<Test, 'equal'>, path: string, kubeconfig: string, timeoutMs = 30_000): KubectlRunner {
  const k = (...args: string[]): Promise<RunResult> => run(path, ['--kubeconfig', kubeconfig, ...args], { allowFailure: true, timeoutMs })
  const ok = async (...args: string[]): Promise<string> => {
    const r = await k(...args)
    t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr.trim()}`)
    return r.stdout
  }
  return { k, ok }
}
