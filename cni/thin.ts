// The exec'd entry, kept thin: it imports nothing but node:net/node:fs. If a node agent serves
// CNI on its socket (config `agentSocket`, env NETKUBE_CNI_SOCKET, default `@netkube-cni`), the
// env + stdin are forwarded there and the answer printed; otherwise (no agent, or it went
// away before answering) the full plugin is loaded and runs in this process.
import { connect } from 'node:net'
import { readFileSync } from 'node:fs'

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8')
  } catch {
    return ''
  }
}

function socketFor(stdin: string): string {
  if (process.env.NETKUBE_CNI_SOCKET) return process.env.NETKUBE_CNI_SOCKET
  const m = /"agentSocket"\s*:\s*"([^"]*)"/.exec(stdin)
  return m ? m[1]! : '@netkube-cni'
}

async function standalone(stdin: string): Promise<void> {
  const { runStandalone } = await import('./main.js')
  await runStandalone(stdin)
}

const stdin = readStdin()
const path = socketFor(stdin)
if (path === '' || path === 'none') {
  void standalone(stdin)
} else {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CNI_') && v !== undefined) env[k] = v
  const sock = connect(path.startsWith('@') ? `\0${path.slice(1)}` : path)
  const chunks: Buffer[] = []
  let done = false
  sock.on('connect', () => sock.end(JSON.stringify({ env, stdin })))
  sock.on('data', (d: Buffer) => chunks.push(d))
  sock.on('end', () => {
    try {
      const out = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { exit: number; stdout: string }
      done = true
      process.stdout.write(out.stdout, () => process.exit(out.exit))
    } catch {
      if (!done) void standalone(stdin)
      done = true
    }
  })
  sock.on('error', () => {
    if (!done) void standalone(stdin)
    done = true
  })
}
