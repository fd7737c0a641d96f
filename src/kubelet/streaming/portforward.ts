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
    const fail = (text: string): void => {
      if (err) {
        err.write(text)
        err.finish()
      }
      s.finish()
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(`invalid port "${header(s.headers, 'port') ?? ''}"`)
    if (allowedPorts && !allowedPorts.includes(port)) return fail(`port ${port} is not forwarded`)
    forward(s, port, target, fail)
  })
}

function forward(s: SpdyStream, port: number, t: ForwardTarget, fail: (text: string) => void): void {
  // -t: after one direction ends, wait for the other (half-close) this long at most.
  const child = netnsHandle().spawn(['socat', '-t', '10', '-', `TCP4:127.0.0.1:${port}`], { joinProcess: { pid: t.pid }, stdio: 'pipe', detached: true })
  let bytesOut = 0
  let stderr = ''
  s.pipe(child.stdin!)
  child.stdin!.on('error', () => {})
  child.stdout!.on('data', (d: Buffer) => {
    bytesOut += d.length
    s.write(d)
  })
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
    if (code !== 0 && bytesOut === 0) {
      const refused = /refused/i.test(stderr)
      const why = refused ? 'connect: connection refused' : stderr.trim().split('\n').pop() ?? `exit ${code}`
      log.debug({ port, pod: t.podName, stderr }, 'port-forward connect failed')
      fail(`error forwarding port ${port} to pod ${t.podName}, uid ${t.podUid}: failed to connect to localhost:${port} inside the pod's network namespace: dial tcp4 127.0.0.1:${port}: ${why}`)
    }
  })
}
