// Test side of the overlay lab (harness.ts): teardown wiring and a private build.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { Lab } from './harness.js'
import { RUN_PREFIX } from '../helpers/netns.js'

export { Lab, observe, stopChild, until, type Node, type Pod, type Observed } from './harness.js'

// ---- a private build of the agent ----
// The agents run as separate `node` processes, so they need JavaScript. dist/ is shared with
// everyone else's `tsc` runs (a half-written dist/ makes a child fail to import), so the test
// transpiles src/ (and cni/) into its own directory, one level under the repo root so that
// node_modules and the setns addon resolve exactly as from dist/. Transpile only: type errors
// are tsc's job.
export { ROOT } from '../helpers/root.js'
import { ROOT } from '../helpers/root.js'

/** A lab torn down with the test. */
export async function withLab(t: Test, dir: string, etcdEndpoint: string, cli: string): Promise<Lab> {
  const lab = new Lab(RUN_PREFIX, dir, etcdEndpoint, cli)
  t.teardown(() => lab.down())
  await lab.up()
  return lab
}

export async function privateBuild(t: Test): Promise<string> {
  const ts = (await import('typescript')).default
  const { readdirSync, writeFileSync, statSync } = await import('node:fs')
  const out = join(ROOT, `.overlay-build-${process.pid}`)
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const walk = (d: string): string[] =>
    readdirSync(join(ROOT, d)).flatMap((f) => {
      const rel = join(d, f)
      if (f === 'node_modules' || f === 'native') return []
      if (statSync(join(ROOT, rel)).isDirectory()) return walk(rel)
      return f.endsWith('.ts') && !f.endsWith('.d.ts') ? [rel] : []
    })
  for (const rel of [...walk('src'), ...(existsSync(join(ROOT, 'cni')) ? walk('cni') : [])]) {
    const js = ts.transpileModule(readFileSync(join(ROOT, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
      fileName: rel,
    }).outputText
    const dest = join(out, rel.replace(/\.ts$/, '.js'))
    mkdirSync(join(dest, '..'), { recursive: true })
    writeFileSync(dest, js)
  }
  return join(out, 'src/cli/main.js')
}
