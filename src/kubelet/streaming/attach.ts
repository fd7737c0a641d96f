// One `kubectl attach` (and `kubectl run -it`): the container's own stdio, which its log shim
// keeps (log-shim.ts), reached over the shim's attach socket (attach-wire.ts). Output flows from
// the moment of attach on; stdin goes to the container when its spec has `stdin: true`, resizes to
// its terminal. The session ends when the container's output ends (it exited) — Success on the
// error channel, as upstream: attach carries no exit code, `kubectl run` reads it from the pod —
// or when the client goes away, which detaches only (stdinOnce then closes the container's stdin).
import { connect } from 'node:net'
import { WIRE, deframer, frame } from '../attach-wire.js'
import type { ExecChannels } from './channels.js'

export function runAttach(socketPath: string, ch: ExecChannels, opts: { stdin: boolean }): void {
  const sock = connect(socketPath)
  let connected = false
  let ended = false
  const end = (status: { error?: string }): void => {
    if (ended) return
    ended = true
    ch.finish(status)
  }
  ch.onGone(() => {
    ended = true
    sock.destroy()
  })
  sock.on('connect', () => {
    connected = true
    if (!opts.stdin || !ch.stdin) return
    sock.write(frame(WIRE.ATTACH_STDIN))
    ch.stdin.on('data', (d: Buffer) => sock.write(frame(WIRE.STDIN, d)))
    ch.stdin.on('end', () => sock.write(frame(WIRE.STDIN_EOF)))
  })
  ch.resize.on('size', (s) => sock.write(frame(WIRE.RESIZE, Buffer.from(JSON.stringify(s)))))
  sock.on(
    'data',
    deframer((type, payload) => {
      if (type === WIRE.STDOUT) ch.stdout?.write(Buffer.from(payload))
      else if (type === WIRE.STDERR) ch.stderr?.write(Buffer.from(payload))
    }),
  )
  sock.on('error', (err) => {
    if (!connected) end({ error: `unable to attach to the container: ${err.message}` })
  })
  sock.on('close', () => end({}))
}
