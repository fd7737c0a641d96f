// `kubectl port-forward`: over one SPDY connection (directly, or tunnelled in WebSocket
// messages as `SPDY/3.1+portforward.k8s.io`), every forwarded TCP connection is a pair of
// streams the client opens — `streamtype: error` then `streamtype: data` — sharing a
// `requestid` and naming the pod `port`. The kubelet connects each data stream to
// localhost:port inside the pod's network namespace (as upstream's dockershim did, with
// socat entered through the door), copies both ways with half-close, and reports a failed
// connect on the pair's error stream.
import { netnsHandle } from '../../net/door.js'
import { logger } from '../../util/log.js'
import { header, type SpdyConnection, type SpdyStream } from './spdy.js'

const log = logger('kubelet-portforward')

export interface ForwardTarget {
  /** A process in the pod's network namespace (a running container's). */
  pid: number
  podName: string
  podUid: string
}

export function servePortForward(conn: SpdyConnection, target: ForwardTarget, allowedPorts?: number[]): void {
  const errors = new Map<string, SpdyStream>()
  conn.on('stream', (s: SpdyStream) => {
    const type = s.type
    const id = header(s.headers, 'requestid') ?? ''
    const port = Number(header(s.headers, 'port'))
    if (type === 'error') {
      errors.set(id, s)
      s.resume()
      s.on('close', () => errors.delete(id))
      return
    }
    if (type !== 'data') return conn.resetStream(s)
    const err = errors.get(id)
    // The pair ends as upstream's handler ends it: data and error streams both closed, the
    // error text (if any) first. kubectl closes the local connection only once the error
    // stream has ended, so a forward that never closes it never delivers EOF.
    const done = (text?: string): void => {
      if (err) {
        if (text) err.write(text)
        err.finish()
      }
      s.finish()
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) return done(`invalid port "${header(s.headers, 'port') ?? ''}"`)
    if (allowedPorts && !allowedPorts.includes(port)) return done(`port ${port} is not forwarded`)
    forward(s, port, target, done)
  })
}

function forward(s: SpdyStream, port: number, t: ForwardTarget, done: (text?: string) => void): void {
  // -t: after one direction ends, wait for the other (half-close) this long at most: 1 s, as
  // containerd's port-forward does, so a pod closing its side ends the connection promptly.
  const child = netnsHandle().spawn(['socat', '-t', '1', '-', `TCP4:127.0.0.1:${port}`], { joinProcess: { pid: t.pid }, stdio: 'pipe', detached: true })
  let bytesOut = 0
  let stderr = ''
  s.pipe(child.stdin!)
  child.stdin!.on('error', () => {})
  child.stdout!.on('data', (d: Buffer) => (bytesOut += d.length))
  // pipe: the pod's output waits in socat while the client is slow, not in the kubelet's heap.
  child.stdout!.pipe(s, { end: false })
  child.stdout!.on('end', () => s.finish())
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const kill = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // gone
    }
  }
  s.on('close', () => child.exitCode === null && kill())
  child.on('close', (code) => {
    if (code === 0 || bytesOut > 0) return done()
    const refused = /refused/i.test(stderr)
    const why = refused ? 'connect: connection refused' : stderr.trim().split('\n').pop() ?? `exit ${code}`
    log.debug({ port, pod: t.podName, stderr }, 'port-forward connect failed')
    done(`error forwarding port ${port} to pod ${t.podName}, uid ${t.podUid}: failed to connect to localhost:${port} inside the pod's network namespace: dial tcp4 127.0.0.1:${port}: ${why}`)
  })
}
