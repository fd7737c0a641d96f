// The CNI server: the node agent (kubelet/overlay agent) hosts it so that a runtime's exec of
// the thin `netkube` binary costs one Node start + one unix-socket round trip, while the
// agent — netlink and the plugin code already loaded and JIT-warm — does the work
// (Cilium / Multus "thick" style). The wire format is one JSON object each way:
//   request  {"env": {CNI_*…}, "stdin": "<config>"}   (client half-closes after writing)
//   response {"exit": 0|1, "stdout": "<result or error JSON>"}
// The default address is the abstract socket `@netkube-cni`: abstract unix sockets belong to
// the network namespace, so each node namespace's agent gets its own with no file to share.
import { createServer, type Server } from 'node:net'
import { unlinkSync } from 'node:fs'
import { handleCni, type CniIo, type CniOutcome } from './skel.js'
import type { PluginContext } from './bridge.js'
import { DEFAULT_AGENT_SOCKET } from './config.js'

export interface CniServerOptions extends PluginContext {
  /** `@name` (abstract, per network namespace) or a filesystem path; default `@netkube-cni` */
  socketPath?: string
  /** called after each request (for logs/metrics) */
  onRequest?: (command: string, outcome: CniOutcome, ms: number) => void
}

export interface CniServer {
  readonly address: string
  close(): Promise<void>
}

/** Node's spelling of an abstract socket is a leading NUL. */
export function socketAddress(path: string): string {
  return path.startsWith('@') ? `\0${path.slice(1)}` : path
}

export function startCniServer(opts: CniServerOptions = {}): Promise<CniServer> {
  const path = opts.socketPath ?? DEFAULT_AGENT_SOCKET
  const ctx: PluginContext = opts.hostNetns ? { hostNetns: opts.hostNetns } : {}
  const server: Server = createServer((conn) => {
    const chunks: Buffer[] = []
    conn.on('data', (d: Buffer) => chunks.push(d))
    conn.on('error', () => conn.destroy())
    conn.on('end', () => {
      const t0 = performance.now()
      let io: CniIo
      try {
        const msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { env?: Record<string, string>; stdin?: string }
        const env: Record<string, string> = {}
        for (const [k, v] of Object.entries(msg.env ?? {})) if (k.startsWith('CNI_') && typeof v === 'string') env[k] = v
        io = { env, stdin: typeof msg.stdin === 'string' ? msg.stdin : '' }
      } catch {
        conn.end(JSON.stringify({ exit: 1, stdout: JSON.stringify({ cniVersion: '1.1.0', code: 6, msg: 'bad request to CNI server' }) + '\n' }))
        return
      }
      void handleCni(io, ctx).then((out) => {
        opts.onRequest?.(io.env.CNI_COMMAND ?? '?', out, performance.now() - t0)
        conn.end(JSON.stringify(out))
      })
    })
  })
  if (!path.startsWith('@')) {
    try {
      unlinkSync(path)
    } catch {
      // no stale socket file
    }
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketAddress(path), () => {
      server.off('error', reject)
      resolve({
        address: path,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res())
            if (!path.startsWith('@')) {
              try {
                unlinkSync(path)
              } catch {
                // gone
              }
            }
          }),
      })
    })
  })
}
