// The CNI server: the node agent (kubelet/overlay agent) hosts it so that a runtime's exec of
// the thin `netkube` binary costs one Node start + one unix-socket round trip, while the
// agent — netlink and the plugin code already loaded and JIT-warm — does the work
// (Cilium / Multus "thick" style). The wire format is simple enough for the C shim:
//   request : "NKCNI1\n" { "KEY=VALUE" NUL }* NUL <stdin bytes>   (client half-closes)
//   response: "<exit code>\n" <stdout bytes>                       (server closes)
// The default address is the abstract socket `@netkube-cni`: abstract unix sockets belong to
// the network namespace, so each node namespace's agent gets its own with no file to share.
import { createServer, type Server } from 'node:net'
import { unlinkSync } from 'node:fs'
import { handleCni, type CniIo, type CniOutcome } from './skel.js'
import { realKernel, type PluginContext, type PluginKernel } from './context.js'
import { DEFAULT_AGENT_SOCKET } from './config.js'

export interface CniServerOptions {
  /** the node namespace the host side lives in; default the agent's own */
  hostNetns?: string
  /** default the real kernel (src/net) */
  kernel?: PluginKernel
  /** `@name` (abstract, per network namespace) or a filesystem path; default `@netkube-cni` */
  socketPath?: string
  /** called after each request (for logs/metrics) */
  onRequest?: (command: string, outcome: CniOutcome, ms: number) => void
}

export interface CniServer {
  readonly address: string
  close(): Promise<void>
}

const MAGIC = 'NKCNI1\n'

export function encodeRequest(env: Record<string, string | undefined>, stdin: string): Buffer {
  const parts = [MAGIC]
  for (const [k, v] of Object.entries(env)) if (k.startsWith('CNI_') && v !== undefined) parts.push(`${k}=${v}\0`)
  parts.push('\0', stdin)
  return Buffer.from(parts.join(''))
}

export function decodeRequest(buf: Buffer): CniIo | undefined {
  if (buf.subarray(0, MAGIC.length).toString() !== MAGIC) return undefined
  const env: Record<string, string> = {}
  let i = MAGIC.length
  for (;;) {
    const z = buf.indexOf(0, i)
    if (z < 0) return undefined
    if (z === i) {
      i++
      break
    }
    const kv = buf.subarray(i, z).toString()
    const eq = kv.indexOf('=')
    const k = kv.slice(0, eq)
    if (eq > 0 && k.startsWith('CNI_')) env[k] = kv.slice(eq + 1)
    i = z + 1
  }
  return { env, stdin: buf.subarray(i).toString() }
}

export function encodeResponse(out: CniOutcome): string {
  return `${out.exit}\n${out.stdout}`
}

/** Node's spelling of an abstract socket is a leading NUL. */
export function socketAddress(path: string): string {
  return path.startsWith('@') ? `\0${path.slice(1)}` : path
}

export function startCniServer(opts: CniServerOptions = {}): Promise<CniServer> {
  const path = opts.socketPath ?? DEFAULT_AGENT_SOCKET
  const ctx: PluginContext = { kernel: opts.kernel ?? realKernel, ...(opts.hostNetns ? { hostNetns: opts.hostNetns } : {}) }
  // allowHalfOpen: the client half-closes after its request; we still have to answer.
  const server: Server = createServer({ allowHalfOpen: true }, (conn) => {
    const chunks: Buffer[] = []
    conn.on('data', (d: Buffer) => chunks.push(d))
    conn.on('error', () => conn.destroy())
    conn.on('end', () => {
      const t0 = performance.now()
      const io = decodeRequest(Buffer.concat(chunks))
      if (!io) {
        conn.end(encodeResponse({ exit: 1, stdout: JSON.stringify({ cniVersion: '1.1.0', code: 6, msg: 'bad request to the CNI server' }) + '\n' }))
        return
      }
      void handleCni(io, ctx).then((out) => {
        opts.onRequest?.(io.env.CNI_COMMAND ?? '?', out, performance.now() - t0)
        conn.end(encodeResponse(out))
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
