// The log shim: one small process per container instance, like conmon. It owns the container's
// stdio and outlives the kubelet (its own session), so an adopted container keeps logging and
// stays attachable, and a process that writes while no kubelet runs never blocks on a full pipe.
//   node log-shim.js <logPath> [--attach=SOCK] [--stdin] [--stdin-once] [--tty]
// Without --tty: fd 3 and fd 4 are the read ends of the container's stdout and stderr pipes;
// with --stdin, fd 5 is the writing end of its stdin. With --tty the shim opens the pseudo-terminal
// itself and prints its slave's name (`ready /dev/pts/N`); the kubelet opens the slave for the
// container and then ends the shim's stdin, whereupon the shim drops its own slave descriptor (the
// master then sees EIO once the container and its children are gone). Otherwise it prints `ready`.
// Every line is stamped and appended to the log in the CRI format (cri-log.ts; a tty's output is
// stdout, as upstream). --attach serves the attach socket (attach-wire.ts). It exits when the
// output ends (every writer — the container and what it started — gone).
// Kept free of other netkube imports: it starts per container, so it must start fast.
import { closeSync, openSync, rmSync, write as fsWrite, writeSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { createRequire } from 'node:module'
import { ReadStream } from 'node:tty'
import { LogLineEncoder, nanoClock, type LogStream } from './cri-log.js'
import { WIRE, deframer, frame } from './attach-wire.js'

interface PtyNative {
  open(cols: number, rows: number): { master: number; slave: number; pty: string }
  resize(fd: number, cols: number, rows: number): void
}

function main(): void {
  const args = process.argv.slice(2)
  const path = args.find((a) => !a.startsWith('--'))
  const opt = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const has = (name: string): boolean => args.includes(`--${name}`)
  if (!path) {
    process.stderr.write('usage: log-shim <logPath> [--attach=SOCK] [--stdin] [--stdin-once] [--tty]\n')
    process.exit(2)
  }
  const tty = has('tty')
  const out = openSync(path, 'a')
  const clock = nanoClock()
  const clients = new Set<Socket>()
  // One write per batch of whole records: a reader never sees two streams' records interleaved mid-line.
  const write = (records: Buffer[]): void => {
    if (records.length) writeSync(out, Buffer.concat(records))
  }
  const sockPath = opt('attach')
  const server = sockPath ? createServer() : undefined
  const finish = (): void => {
    for (const c of clients) c.end()
    if (sockPath) rmSync(sockPath, { force: true })
    process.exit(0)
  }
  let open = 0
  const reader = (rs: NodeJS.ReadableStream, stream: LogStream): void => {
    open++
    const enc = new LogLineEncoder(stream, clock)
    const type = stream === 'stdout' ? WIRE.STDOUT : WIRE.STDERR
    rs.on('data', (chunk: Buffer) => {
      write(enc.push(chunk))
      if (clients.size) {
        const f = frame(type, chunk)
        for (const c of clients) c.write(f)
      }
    })
    let ended = false
    const done = (): void => {
      if (ended) return
      ended = true
      write(enc.end())
      if (--open === 0) finish()
    }
    rs.once('end', done)
    rs.once('error', done) // a pty master reads EIO once the last slave is closed
  }

  // The container's input: a pty master or the writing end of its stdin pipe.
  let input: { write(b: Buffer): void; close(): void } | undefined
  let ptyNative: PtyNative | undefined
  let master = -1
  let slave = -1
  let readyLine = 'ready'
  if (tty) {
    ptyNative = (createRequire(import.meta.url)('node-pty') as { native: PtyNative }).native
    const p = ptyNative.open(80, 24)
    master = p.master
    slave = p.slave
    reader(new ReadStream(master), 'stdout')
    // Writes in order, off the main thread's way (a full terminal buffer waits, never fails).
    let chain = Promise.resolve()
    input = {
      write: (b) => {
        chain = chain.then(() => new Promise<void>((r) => fsWrite(master, b, () => r())))
      },
      close: () => input?.write(Buffer.from([4])), // a terminal has no half-close: its EOF character
    }
    process.stdin.on('data', () => {})
    process.stdin.once('end', () => closeSync(slave))
    process.stdin.once('error', () => closeSync(slave))
    readyLine = `ready ${p.pty}`
  } else {
    reader(new Socket({ fd: 3, readable: true, writable: false }), 'stdout')
    reader(new Socket({ fd: 4, readable: true, writable: false }), 'stderr')
    if (has('stdin')) {
      const s = new Socket({ fd: 5, readable: false, writable: true })
      s.on('error', () => {})
      input = { write: (b) => s.write(b), close: () => s.end() }
    }
  }

  // stdinOnce: the container's stdin closes when the first client that attached it detaches.
  let stdinClosed = false
  const closeStdin = (): void => {
    if (stdinClosed) return
    stdinClosed = true
    input?.close()
  }
  server?.on('connection', (c: Socket) => {
    clients.add(c)
    let attachedStdin = false
    const stdinDone = (): void => {
      if (attachedStdin && has('stdin-once')) closeStdin()
    }
    c.on(
      'data',
      deframer((type, payload) => {
        if (type === WIRE.ATTACH_STDIN) attachedStdin = true
        else if (type === WIRE.STDIN && !stdinClosed) input?.write(Buffer.from(payload))
        else if (type === WIRE.STDIN_EOF) stdinDone()
        else if (type === WIRE.RESIZE && ptyNative) {
          try {
            const s = JSON.parse(payload.toString()) as { width?: number; height?: number }
            if (s.width && s.height) ptyNative.resize(master, s.width, s.height)
          } catch {
            // a garbled size or a terminal already gone: ignored
          }
        }
      }),
    )
    c.on('close', () => {
      clients.delete(c)
      stdinDone()
    })
    c.on('error', () => c.destroy())
  })
  if (sockPath) {
    rmSync(sockPath, { force: true })
    server!.listen(sockPath)
  }
  // Ready: the kubelet starts the container now, and closes its ends of stdout/stderr.
  process.stdout.on('error', () => {})
  process.stderr.on('error', () => {})
  const ready = (): void => {
    process.stdout.write(`${readyLine}\n`)
  }
  if (server) server.once('listening', ready)
  else ready()
}

main()
