// The log shim: one small process per container instance, like conmon. The container's stdout
// and stderr are pipes whose read ends this process holds (fd 3 and fd 4); it stamps every line
// and appends it to the container's log file in the CRI format (cri-log.ts). It runs in its own
// session, so it outlives a kubelet that dies or restarts: a container the next kubelet adopts
// keeps logging, and a process that writes while no kubelet runs never blocks on a full pipe.
// It exits when both pipes reach EOF (every writer — the container and what it started — gone).
//   node log-shim.js <logPath>      (fd 3: stdout, fd 4: stderr; prints `ready` once it reads)
// Kept free of other netkube imports: it starts per container, so it must start fast.
import { openSync, writeSync } from 'node:fs'
import { Socket } from 'node:net'
import { LogLineEncoder, nanoClock, type LogStream } from './cri-log.js'

function main(): void {
  const path = process.argv[2]
  if (!path) {
    process.stderr.write('usage: log-shim <logPath> (fd 3: stdout, fd 4: stderr)\n')
    process.exit(2)
  }
  const out = openSync(path, 'a')
  const clock = nanoClock()
  // One write per batch of whole records: a reader never sees two streams' records interleaved mid-line.
  const write = (records: Buffer[]): void => {
    if (records.length) writeSync(out, Buffer.concat(records))
  }
  let open = 0
  const pipe = (fd: number, stream: LogStream): void => {
    open++
    const enc = new LogLineEncoder(stream, clock)
    // A Socket over the pipe (libuv's pipe handle): non-blocking reads, EOF when the last writer closes.
    const rs = new Socket({ fd, readable: true, writable: false })
    rs.on('data', (chunk) => write(enc.push(chunk as Buffer)))
    const done = (): void => {
      write(enc.end())
      if (--open === 0) process.exit(0)
    }
    rs.once('end', done)
    rs.once('error', done)
  }
  pipe(3, 'stdout')
  pipe(4, 'stderr')
  // Ready: the kubelet starts the container now, and closes its ends of stdout/stderr.
  process.stdout.on('error', () => {})
  process.stderr.on('error', () => {})
  process.stdout.write('ready\n')
}

main()
