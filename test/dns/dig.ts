// Run the real `dig` against a loopback server and pick its output apart.
import { run } from '../../src/util/exec.js'

export interface DigResult {
  status: string
  flags: string[]
  answer: string[]
  authority: string[]
  additional: string[]
  raw: string
}

/** Records of a section as `name ttl class type rdata` with single spaces. */
function section(raw: string, title: string): string[] {
  const m = new RegExp(`;; ${title} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(raw)
  if (!m) return []
  return m[1]!
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/).join(' '))
}

export async function dig(port: number, args: string[], host = '127.0.0.1'): Promise<DigResult> {
  const r = await run('dig', [`@${host}`, '-p', String(port), '+tries=1', '+time=3', ...args], { allowFailure: true, timeoutMs: 20_000 })
  const raw = r.stdout
  const status = /status: (\w+)/.exec(raw)?.[1] ?? 'NONE'
  const flags = (/;; flags: ([^;]*);/.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean)
  return { status, flags, answer: section(raw, 'ANSWER'), authority: section(raw, 'AUTHORITY'), additional: section(raw, 'ADDITIONAL'), raw }
}
