// npm run bench:chaos [-- --duration 10m --seed N --ha] — the chaos suite of test/e2e/chaos.test.ts
// for longer (10 minutes by default): a 3-node lab, ConfigMap writers, a Service + DNS client
// in a pod, seeded kill -9 of every supervised component and of DNS pods. Prints the recovery
// table (p50/p99/max per measure and per target), the write check and the convergence
// checks, then whether `lab down` left anything. Exit 1 when any check fails.
import { randomBytes, randomInt } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { labUp, labDown } from '../src/lab/lab.js'
import { loadKubeconfig } from '../src/client/kubeconfig.js'
import { parseDuration } from '../src/util/duration.js'
import { runChaos, renderReport, chaosFailures, labProcesses, leftovers } from '../src/chaos/chaos.js'

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { duration: { type: 'string' }, seed: { type: 'string' }, nodes: { type: 'string' }, ha: { type: 'boolean' } } })
  const durationMs = parseDuration(v.duration ?? '10m')
  const seed = Number(v.seed ?? randomInt(1, 2 ** 31))
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-bench-chaos-'))
  const name = `bc${randomBytes(2).toString('hex')}`
  console.log(`bench:chaos seed ${seed} (--seed ${seed} reruns this kill order), ${durationMs / 1000} s of chaos`)
  let failures: string[] = []
  try {
    // `ha` is h-labha's option (3 etcd members, 2 apiservers); a build without it must say so, not run non-HA.
    const up = { name, nodes: Number(v.nodes ?? 3), stateDir, apiPort: 0, serverFlags: ['--dns-replicas', '2'], progress: (l: string) => process.stderr.write(`${l}\n`), ...(v.ha ? { ha: true } : {}) }
    const state = await labUp(up)
    if (v.ha && !(state.plan as { ha?: boolean }).ha) throw new Error('--ha: this build of the lab has no HA mode (lab up --ha)')
    const report = await runChaos({ state, config: loadKubeconfig(state.kubeconfig!), durationMs, seed, log: (l) => process.stderr.write(`${l}\n`) })
    console.log(`\n${renderReport(report)}`)
    failures = chaosFailures(report)
    const procs = labProcesses(state)
    await labDown({ name, stateDir, progress: () => {}, keepState: true })
    const left = await leftovers(state, procs)
    console.log(`lab down: ${left.length ? `LEFT ${left.join('; ')}` : `nothing left (${procs.length} lab processes gone, no namespaces)`}`)
    failures.push(...left)
  } finally {
    await labDown({ name, stateDir, progress: () => {} })
    rmSync(stateDir, { recursive: true, force: true })
  }
  console.log(failures.length ? `\nFAILED (${failures.length}):\n${failures.map((f) => `  ${f}`).join('\n')}` : '\nall checks passed')
  if (failures.length) process.exitCode = 1
}

main().catch((err: Error) => {
  console.error(err.message)
  process.exitCode = 1
})
