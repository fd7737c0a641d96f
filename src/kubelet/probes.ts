// Container probes (readiness, liveness, startup) as the kubelet runs them: from the node
// towards the pod IP for httpGet/tcpSocket, inside the pod's namespace for exec, with the
// probe's period, timeout and success/failure thresholds.
import { request } from 'node:http'
import { connect } from 'node:net'
import type { Container, IntOrString, Probe } from '../api/types.js'
import { netnsHandle } from '../net/door.js'

export type ProbeResult = 'success' | 'failure'

export function resolvePort(port: IntOrString, container: Container): number {
  if (typeof port === 'number') return port
  if (/^\d+$/.test(port)) return Number(port)
  const p = container.ports?.find((cp) => cp.name === port)
  if (!p) throw new Error(`port "${port}" not found in container "${container.name}"`)
  return p.containerPort
}

export interface ProbeOutcome {
  result: ProbeResult
  /** What the kubelet puts in its Unhealthy event (upstream's prober output). */
  output: string
  /** Set on a success worth a ProbeWarning event (a redirect the prober did not follow). */
  warning?: string
}

export async function runProbe(probe: Probe, container: Container, podIP: string, netns: string): Promise<ProbeResult> {
  return (await runProbeDetailed(probe, container, podIP, netns)).result
}

/** One probe run with upstream's output text for events. */
export async function runProbeDetailed(probe: Probe, container: Container, podIP: string, netns: string, hostname?: string): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000
  let target = ''
  try {
    if (probe.httpGet) {
      const g = probe.httpGet
      const port = resolvePort(g.port, container)
      const host = g.host ?? podIP
      target = `Get "${(g.scheme ?? 'HTTP').toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${port}${g.path ?? '/'}"`
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host, port, path: g.path ?? '/', method: 'GET', timeout: timeoutMs, headers: Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value])) },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          },
        )
        req.on('timeout', () => req.destroy(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')))
        req.on('error', reject)
        req.end()
      })
      if (status >= 300 && status < 400) return { result: 'success', output: '', warning: 'Probe terminated redirects' }
      if (status >= 200 && status < 300) return { result: 'success', output: '' }
      return { result: 'failure', output: `HTTP probe failed with statuscode: ${status}` }
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, container)
      const host = probe.tcpSocket.host ?? podIP
      target = `dial tcp ${host.includes(':') ? `[${host}]` : host}:${port}`
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host, port, timeout: timeoutMs })
        s.once('connect', () => {
          s.destroy()
          resolve()
        })
        s.once('timeout', () => s.destroy(new Error('i/o timeout')))
        s.once('error', reject)
      })
      return { result: 'success', output: '' }
    }
    if (probe.exec?.command?.length) {
      const [file, ...args] = probe.exec.command
      // As the container sees itself: its /etc and its hostname (a UTS namespace of that name).
      const res = await netnsHandle(netns).run(file!, args, { etc: 'netns', allowFailure: true, timeoutMs, ...(hostname !== undefined ? { hostname } : {}) })
      return { result: res.code === 0 ? 'success' : 'failure', output: `${res.stdout ?? ''}${res.stderr ?? ''}` }
    }
  } catch (err) {
    return { result: 'failure', output: target ? `${target}: ${goNetError(err as NodeJS.ErrnoException)}` : (err as Error).message }
  }
  return { result: 'failure', output: 'missing probe handler' }
}

/** Node's socket errors in Go's words (`connect: connection refused`). */
function goNetError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connect: connection refused'
    case 'EHOSTUNREACH':
      return 'connect: no route to host'
    case 'ENETUNREACH':
      return 'connect: network is unreachable'
    case 'ECONNRESET':
      return 'read: connection reset by peer'
    default:
      return err.message
  }
}

/** Thresholded probe state: flips only after successThreshold / failureThreshold results in a row. */
export class ProbeState {
  private successes = 0
  private failures = 0
  lastRun = 0

  constructor(
    private readonly probe: Probe,
    public result: ProbeResult | undefined,
  ) {}

  due(now: number, startedAt: number): boolean {
    if (now - startedAt < (this.probe.initialDelaySeconds ?? 0) * 1000) return false
    return now - this.lastRun >= (this.probe.periodSeconds ?? 10) * 1000
  }

  record(r: ProbeResult): void {
    if (r === 'success') {
      this.successes++
      this.failures = 0
      if (this.successes >= (this.probe.successThreshold ?? 1)) this.result = 'success'
    } else {
      this.failures++
      this.successes = 0
      if (this.failures >= (this.probe.failureThreshold ?? 3)) this.result = 'failure'
    }
  }
}
