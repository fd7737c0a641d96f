// npm run bench — every benchmark in turn, each printing its own table against its baseline.
// BENCH_ONLY=api,dns picks some.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ALL = ['api', 'cni', 'dns', 'proxy', 'overlay', 'pods', 'events', 'storage']
const only = process.env.BENCH_ONLY?.split(',').filter(Boolean)
let failed = 0
for (const name of only ?? ALL) {
  process.stdout.write(`\n=== bench:${name} ===\n`)
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' })
  if (r.status !== 0) {
    failed++
    process.stdout.write(`bench:${name} failed (exit ${r.status ?? r.signal})\n`)
  }
}
process.exitCode = failed ? 1 : 0
