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

export async function runProbe(probe: Probe, container: Container, podIP: string, netns: string): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000
  try {
    if (probe.httpGet) {
      const g = probe.httpGet
      const port = resolvePort(g.port, container)
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: g.host ?? podIP, port, path: g.path ?? '/', method: 'GET', timeout: timeoutMs, headers: Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value])) },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          },
        )
        req.on('timeout', () => req.destroy(new Error('timeout')))
        req.on('error', reject)
        req.end()
      })
      return status >= 200 && status < 400 ? 'success' : 'failure'
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, container)
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host: probe.tcpSocket!.host ?? podIP, port, timeout: timeoutMs })
        s.once('connect', () => {
          s.destroy()
          resolve()
        })
        s.once('timeout', () => s.destroy(new Error('timeout')))
        s.once('error', reject)
      })
      return 'success'
    }
    if (probe.exec?.command?.length) {
      const [file, ...args] = probe.exec.command
      const res = await netnsHandle(netns).run(file!, args, { etc: 'netns', allowFailure: true, timeoutMs })
      return res.code === 0 ? 'success' : 'failure'
    }
  } catch {
    return 'failure'
  }
  return 'failure'
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
