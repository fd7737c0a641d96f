// The kubelet's streaming endpoints (upstream's pkg/kubelet/server/streaming, served on
// the kubelet port itself): /exec/{ns}/{pod}/{container}, /attach/…, /portForward/{ns}/{pod}.
// Each is an upgrade request that the apiserver relays byte for byte from kubectl; the
// kubelet terminates the protocol: SPDY/3.1 (Upgrade: SPDY/3.1, X-Stream-Protocol-Version)
// or WebSocket (Sec-WebSocket-Protocol: v5/v4.channel.k8s.io, or
// SPDY/3.1+portforward.k8s.io — SPDY frames inside binary messages).
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws'
import { logger } from '../../util/log.js'
import type { ExecTarget } from '../runtime.js'
import { SpdyConnection } from './spdy.js'
import { negotiate, offeredProtocols, spdyExecChannels, wsExecChannels, SPDY_EXEC_PROTOCOLS, WS_EXEC_PROTOCOLS, type ExecChannels, type StreamOptions } from './channels.js'
import { runExec } from './exec.js'
import { servePortForward } from './portforward.js'

const log = logger('kubelet-streaming')

export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io'
export const WS_PORT_FORWARD_PROTOCOL = 'SPDY/3.1+portforward.k8s.io'

export interface StreamTarget {
  target: ExecTarget
  podName: string
  podUid: string
  /** The container keeps stdin / a tty (attach). */
  stdin?: boolean
  tty?: boolean
}

export interface StreamingDeps {
  /** A running container (or, without `container`, any running container of the pod); a text error with its HTTP code otherwise. */
  find(ns: string, pod: string, container: string | undefined): StreamTarget | { code: number; message: string }
  /** attach: the container's own stdio, kept by the kubelet for stdin/tty containers. */
  attach?(ns: string, pod: string, container: string, ch: ExecChannels): { code: number; message: string } | undefined
}

export interface Route {
  kind: 'exec' | 'attach' | 'portForward'
  ns: string
  pod: string
  container?: string
  query: URLSearchParams
}

/** Pure: which streaming endpoint a kubelet path names (undefined: none). */
export function parseRoute(url: string): Route | undefined {
  const u = new URL(url, 'https://kubelet.local')
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent)
  const [kind, ns, pod, container] = parts
  if ((kind === 'exec' || kind === 'attach') && ns && pod && parts.length <= 4) return { kind, ns, pod, ...(container ? { container } : {}), query: u.searchParams }
  if (kind === 'portForward' && ns && pod && parts.length === 3) return { kind, ns, pod, query: u.searchParams }
  return undefined
}

const flag = (q: URLSearchParams, ...names: string[]): boolean => names.some((n) => ['1', 'true'].includes(q.get(n) ?? ''))

export function streamOptions(q: URLSearchParams): StreamOptions {
  return { stdin: flag(q, 'stdin', 'input'), stdout: flag(q, 'stdout', 'output'), stderr: flag(q, 'stderr', 'error'), tty: flag(q, 'tty') }
}

function httpError(socket: Duplex, code: number, text: string): void {
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[code] ?? 'Error'
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`)
}

export function createStreamingHandler(deps: StreamingDeps): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, handleProtocols: (offered) => negotiate([...offered], [...WS_EXEC_PROTOCOLS, WS_PORT_FORWARD_PROTOCOL]) ?? false })

  return (req, socket, head) => {
    const route = parseRoute(req.url ?? '/')
    if (!route) return httpError(socket, 404, '404 page not found')
    const found = deps.find(route.ns, route.pod, route.container)
    if ('code' in found) return httpError(socket, found.code, found.message)
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase()
    const opts = streamOptions(route.query)
    if (route.kind !== 'portForward' && !opts.stdin && !opts.stdout && !opts.stderr) return httpError(socket, 400, 'you must specify at least 1 of stdin, stdout, stderr')
    const commands = route.query.getAll('command')
    if (route.kind === 'exec' && commands.length === 0) return httpError(socket, 400, 'you must specify at least one command for the container')

    const start = (ch: ExecChannels, initial?: { width: number; height: number }): void => {
      // A terminal starts at the client's size: kubectl sends it right after the streams
      // exist, so wait a moment for it rather than start at 80x24 and resize after.
      if (opts.tty && !initial) {
        let timer: NodeJS.Timeout | undefined
        const go = (s?: { width: number; height: number }): void => {
          clearTimeout(timer)
          ch.resize.off('size', go)
          start(ch, s ?? { width: 80, height: 24 })
        }
        ch.resize.on('size', go)
        timer = setTimeout(() => go(), 500)
        return
      }
      if (route.kind === 'exec') return runExec(found.target, commands, ch, opts.tty, initial)
      const err = deps.attach ? deps.attach(route.ns, route.pod, route.container ?? '', ch) : { code: 400, message: 'attach is not supported for this container' }
      if (err) return ch.finish({ error: err.message })
      // The terminal takes the client's size it was waiting for.
      if (opts.tty && initial) ch.resize.emit('size', initial)
    }

    if (upgrade === 'websocket') {
      const offered = offeredProtocols(req.headers['sec-websocket-protocol'])
      const proto = negotiate(offered, route.kind === 'portForward' ? [WS_PORT_FORWARD_PROTOCOL] : WS_EXEC_PROTOCOLS)
      if (!proto) return httpError(socket, 400, `unable to upgrade: no supported protocol among [${offered.join(' ')}]`)
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        ws.on('error', () => ws.terminate())
        if (route.kind === 'portForward') {
          // SPDY inside WebSocket: binary messages carry the SPDY byte stream.
          const tunnel = createWebSocketStream(ws)
          tunnel.on('error', () => tunnel.destroy())
          const conn = new SpdyConnection(tunnel)
          conn.on('protocolError', (why: string) => log.info({ why }, 'port-forward connection closed on a protocol error'))
          return servePortForward(conn, { pid: found.target.pid, podName: found.podName, podUid: found.podUid })
        }
        start(wsExecChannels(ws, proto, opts))
      })
      return
    }
    if (upgrade !== 'spdy/3.1') return httpError(socket, 400, `unable to upgrade: missing upgrade headers in request: ${JSON.stringify(req.headers)}`)
    const supported = route.kind === 'portForward' ? [PORT_FORWARD_PROTOCOL] : SPDY_EXEC_PROTOCOLS
    const offered = offeredProtocols(req.headers['x-stream-protocol-version'])
    // No header at all: the oldest client, which gets the base protocol (upstream does the same).
    const proto = offered.length === 0 ? supported.at(-1)! : negotiate(offered, supported)
    if (!proto) return httpError(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server supports [${supported.join(' ')}]`)
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${proto}\r\n\r\n`)
    if (head.length) socket.unshift(head)
    const conn = new SpdyConnection(socket)
    conn.on('protocolError', (why: string) => log.info({ why, url: req.url }, 'SPDY connection closed on a protocol error'))
    if (route.kind === 'portForward') return servePortForward(conn, { pid: found.target.pid, podName: found.podName, podUid: found.podUid })
    spdyExecChannels(conn, proto, opts).then(
      (ch) => start(ch),
      (err: Error) => log.info({ err: err.message }, 'exec streams not created'),
    )
  }
}
