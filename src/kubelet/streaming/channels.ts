// The remotecommand stream set (stdin, stdout, stderr, error, resize) over either transport
// kubectl speaks, behind one interface the exec/attach session uses:
//   SPDY/3.1 — one SPDY stream per channel, opened by the client with header `streamtype`;
//             protocol `v4.channel.k8s.io` … `channel.k8s.io` (X-Stream-Protocol-Version).
//   WebSocket — one connection, every message prefixed by its channel byte
//             (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); `v5.channel.k8s.io` adds
//             the close message [255, channel] (stdin EOF), `v4.channel.k8s.io` lacks it.
// Status on the error channel is JSON for v4+; v1–v3 carry a plain error text.
import { EventEmitter } from 'node:events'
import { PassThrough, Writable, type Readable } from 'node:stream'
import type { WebSocket } from 'ws'
import { header, type SpdyConnection, type SpdyStream } from './spdy.js'

export interface TermSize {
  width: number
  height: number
}

export interface StreamOptions {
  stdin: boolean
  stdout: boolean
  stderr: boolean
  tty: boolean
}

/** What one exec/attach session reads and writes; `done` ends the whole connection. */
export interface ExecChannels {
  protocol: string
  stdin?: Readable
  stdout?: Writable
  stderr?: Writable
  /** Terminal sizes the client sends (tty only). */
  resize: EventEmitter<{ size: [TermSize] }>
  /** Write the final status (v4+: a Status JSON) and close everything. */
  finish(status: ExecStatus): void
  /** Emitted when the client goes away before finish(). */
  onGone(cb: () => void): void
}

export interface ExecStatus {
  /** undefined: success. */
  exitCode?: number
  /** Not an exit code: the command could not be started / a kubelet error. */
  error?: string
}

export const SPDY_EXEC_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']
export const WS_EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io']

/** The first protocol of the client's list (in its order of preference) that we serve. */
export function negotiate(offered: string[], supported: string[]): string | undefined {
  return offered.map((p) => p.trim()).find((p) => supported.includes(p))
}

/** upstream's Status for an exec's end (remotecommand's v4 error channel). */
export function statusJSON(s: ExecStatus): string {
  if (s.exitCode === undefined && s.error === undefined) return JSON.stringify({ metadata: {}, status: 'Success' })
  if (s.error !== undefined) return JSON.stringify({ metadata: {}, status: 'Failure', message: s.error, reason: 'InternalError', details: { causes: [{ message: s.error }] }, code: 500 })
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${s.exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(s.exitCode) }] },
  })
}

function statusText(protocol: string, s: ExecStatus): string {
  if (protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io') return statusJSON(s)
  if (s.error !== undefined) return s.error
  return s.exitCode === undefined ? '' : `command terminated with non-zero exit code: exit status ${s.exitCode}`
}

/** Sizes as JSON objects one after another (Go's json.Encoder: one per line). */
function sizeParser(emit: (s: TermSize) => void): (chunk: Buffer) => void {
  let buf = ''
  return (chunk) => {
    buf += chunk.toString('utf8')
    for (;;) {
      const end = buf.indexOf('}')
      if (end < 0) return
      const one = buf.slice(0, end + 1)
      buf = buf.slice(end + 1)
      try {
        const v = JSON.parse(one.trim()) as { Width?: number; Height?: number }
        if (v.Width && v.Height) emit({ width: v.Width, height: v.Height })
      } catch {
        // a garbled size: ignored, as upstream logs and goes on
      }
    }
  }
}

/**
 * Waits for the streams the request asked for (upstream's kubelet does the same, with a
 * creation timeout) and presents them as ExecChannels.
 */
export function spdyExecChannels(conn: SpdyConnection, protocol: string, o: StreamOptions, timeoutMs = 30_000): Promise<ExecChannels> {
  const want = new Set(['error', ...(o.stdin ? ['stdin'] : []), ...(o.stdout ? ['stdout'] : []), ...(o.stderr && !o.tty ? ['stderr'] : []), ...(o.tty && protocol !== 'channel.k8s.io' && protocol !== 'v2.channel.k8s.io' ? ['resize'] : [])])
  const got = new Map<string, SpdyStream>()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.goAway()
      reject(new Error(`timed out waiting for client to create streams: have [${[...got.keys()].join(' ')}], want [${[...want].join(' ')}]`))
    }, timeoutMs)
    const onClose = (): void => {
      clearTimeout(timer)
      reject(new Error('connection closed before the streams were created'))
    }
    conn.once('close', onClose)
    const onStream = (s: SpdyStream): void => {
      const type = s.type ?? ''
      // An unasked-for stream (stderr with a tty, say) is accepted and drained.
      got.set(type, s)
      if (![...want].every((w) => got.has(w))) return
      clearTimeout(timer)
      conn.off('stream', onStream)
      conn.off('close', onClose)
      resolve(buildSpdy(conn, protocol, got, o))
    }
    conn.on('stream', onStream)
  })
}

function buildSpdy(conn: SpdyConnection, protocol: string, got: Map<string, SpdyStream>, o: StreamOptions): ExecChannels {
  const resize = new EventEmitter<{ size: [TermSize] }>()
  const r = got.get('resize')
  if (r) r.on('data', sizeParser((s) => resize.emit('size', s)))
  const error = got.get('error')!
  // Streams the client opened that we do not read (its stdin when not asked for): drain them.
  for (const [t, s] of got) if (t !== 'stdin' && t !== 'resize') s.resume()
  let finished = false
  const out = (s: SpdyStream | undefined): Writable | undefined => s
  return {
    protocol,
    ...(o.stdin && got.get('stdin') ? { stdin: got.get('stdin')! } : {}),
    ...(got.get('stdout') ? { stdout: out(got.get('stdout'))! } : {}),
    ...(got.get('stderr') && !o.tty ? { stderr: out(got.get('stderr'))! } : {}),
    resize,
    finish(st) {
      if (finished) return
      finished = true
      const text = statusText(protocol, st)
      const close = (): void => {
        for (const [t, s] of got) if (t !== 'error') s.finish()
        if (text) error.write(text)
        error.finish()
        conn.goAway()
      }
      // Output written before the status goes out first (each stream's writes are in order).
      const pending = [got.get('stdout'), got.get('stderr')].filter((s): s is SpdyStream => !!s && s.writableLength > 0)
      if (!pending.length) return close()
      let n = pending.length
      for (const s of pending) s.once('drain', () => --n === 0 && close())
    },
    onGone(cb) {
      conn.once('close', () => {
        if (!finished) cb()
      })
    },
  }
}

/** remotecommand's WebSocket channel numbers (255: v5's close-a-channel message). */
const CH = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const

/** ExecChannels over one WebSocket (binary channel framing). */
export function wsExecChannels(ws: WebSocket, protocol: string, o: StreamOptions): ExecChannels {
  const resize = new EventEmitter<{ size: [TermSize] }>()
  const stdin = o.stdin ? new PassThrough() : undefined
  const sizes = sizeParser((s) => resize.emit('size', s))
  let finished = false
  const send = (ch: number, data: Buffer, cb: (err?: Error | null) => void): void => {
    if (ws.readyState !== ws.OPEN) return cb()
    ws.send(Buffer.concat([Buffer.from([ch]), data]), { binary: true }, () => cb())
  }
  const writer = (ch: number): Writable =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        send(ch, chunk, cb)
      },
    })
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const b = isBinary ? data : Buffer.from(data)
    if (b.length === 0) return
    const ch = b[0]!
    const body = b.subarray(1)
    if (ch === CH.stdin) stdin?.write(body)
    else if (ch === CH.resize) sizes(body)
    else if (ch === CH.close && body[0] === CH.stdin) stdin?.end()
  })
  ws.on('close', () => stdin?.end())
  return {
    protocol,
    ...(stdin ? { stdin } : {}),
    ...(o.stdout ? { stdout: writer(CH.stdout) } : {}),
    ...(o.stderr && !o.tty ? { stderr: writer(CH.stderr) } : {}),
    resize,
    finish(st) {
      if (finished) return
      finished = true
      send(CH.error, Buffer.from(statusJSON(st)), () => ws.close(1000))
    },
    onGone(cb) {
      ws.once('close', () => {
        if (!finished) cb()
      })
    },
  }
}

/** X-Stream-Protocol-Version may repeat and may hold a comma list. */
export function offeredProtocols(raw: string | string[] | undefined): string[] {
  return (Array.isArray(raw) ? raw : raw ? [raw] : []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean)
}

export { header }
