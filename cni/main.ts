// The standalone plugin process: read env + stdin, handle, print, exit. The one place that
// prints a CNI result or error and sets the exit code.
import { readFileSync } from 'node:fs'
import { realKernel } from './context.js'
import { handleCni } from './skel.js'

export async function runStandalone(stdinText?: string): Promise<never> {
  let stdin = stdinText ?? ''
  if (stdinText === undefined) {
    try {
      stdin = readFileSync(0, 'utf8')
    } catch {
      stdin = ''
    }
  }
  // exec'd by a runtime inside the node namespace: the host side is where we are
  const out = await handleCni({ env: process.env, stdin }, { kernel: realKernel })
  process.stdout.write(out.stdout, () => process.exit(out.exit))
  return new Promise<never>(() => {})
}

// Run when executed directly (node dist/cni/main.js).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) void runStandalone()
