// A byte relay between a TCP port and a unix socket. The lab runs one inside each server
// node's namespace (unix socket → apiserver) and one on the host (127.0.0.1 → unix socket):
// the host's kubectl reaches the apiserver through the filesystem, with no route added to
// the root namespace.
//
// With several `--to` targets (an HA lab's apiservers) it balances new connections round
// robin and fails over: a target whose connect fails or times out is skipped for a short
// while and the connection tries the next, so a dead apiserver costs a client no error as
// long as another one answers. Client bytes wait unread until an upstream is connected.
//
// An apiserver that was just restarted accepts connections seconds before it can serve them
// well (it bootstraps, its controllers start). Like the haproxy in front of a kubeadm HA
// control plane (`option httpchk GET /readyz`), the relay can poll each TCP target's readyz
// over TLS (verified with the cluster CA, no credentials sent) and send new connections to
// targets that are not ready only when no ready one is left.
import { createServer, connect, type Socket, type Server } from 'node:net'
import { request } from 'node:https'
import { readFileSync, rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { waitForSignal } from '../util/signals.js'

export type Endpoint = { unix: string } | { host: string; port: number }

export function parseEndpoint(s: string): Endpoint {
  if (s.startsWith('unix:')) return { unix: s.slice(5) }
  const m = /^(?:tcp:)?(.+):(\d+)$/.exec(s)
  if (!m) throw new Error(`bad endpoint "${s}": want unix:/path or host:port`)
  return { host: m[1]!, port: Number(m[2]) }
}

export interface RelayOptions {
  /** Give up on a target's connect after this long and try the next (default 1 s). */
  connectTimeoutMs?: number
  /** Skip a target this long after it failed (default 2 s). */
  holdDownMs?: number
  /** Poll `GET path` over HTTPS on TCP targets; a target not answering 200 is tried last. */
  readyCheck?: ReadyCheck
}

export interface ReadyCheck {
  path: string
  /** PEM of the CA that signed the targets' serving certificates. */
  ca: string | Buffer
  /** Poll period (default 200 ms). */
  intervalMs?: number
  /** A check slower than this fails (default 1 s). */
  timeoutMs?: number
}

/** One readiness poll: true only for a 200 within the timeout. */
function checkReady(host: string, port: number, c: ReadyCheck): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: c.path, method: 'GET', ca: c.ca, timeout: c.timeoutMs ?? 1000, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
    req.end()
  })
}

/**
 * Pure: the order in which to try targets for the next connection — round robin from
 * `cursor`, the ones not held down first, held-down ones last (better than failing).
 */
export function targetOrder(n: number, cursor: number, downUntil: readonly number[], now: number): number[] {
  const order = Array.from({ length: n }, (_, i) => (cursor + i) % n)
  return [...order.filter((i) => (downUntil[i] ?? 0) <= now), ...order.filter((i) => (downUntil[i] ?? 0) > now)]
}

export function startRelay(listen: Endpoint, targets: Endpoint | Endpoint[], o: RelayOptions = {}): Promise<Server> {
  const list = Array.isArray(targets) ? targets : [targets]
  if (list.length === 0) throw new Error('a relay needs at least one target')
  const connectTimeoutMs = o.connectTimeoutMs ?? 1000
  const holdDownMs = o.holdDownMs ?? 2000
  const downUntil = list.map(() => 0)
  const notReady = list.map(() => false)
  let cursor = 0
  const pollers: NodeJS.Timeout[] = []
  const rc = o.readyCheck
  if (rc) {
    for (const [idx, target] of list.entries()) {
      if ('unix' in target) continue
      let busy = false
      const poll = (): void => {
        if (busy) return
        busy = true
        void checkReady(target.host, target.port, rc).then((ok) => {
          notReady[idx] = !ok
          busy = false
        })
      }
      poll()
      const timer = setInterval(poll, rc.intervalMs ?? 200)
      timer.unref()
      pollers.push(timer)
    }
  }
  const server = createServer((client: Socket) => {
    // A target that is not ready counts as held down: tried only after every ready one.
    const now = Date.now()
    const order = targetOrder(list.length, cursor++, downUntil.map((d, i) => (notReady[i] ? Math.max(d, now + 1) : d)), now)
    let closed = false
    client.on('error', () => {
      closed = true
      client.destroy()
    })
    client.on('close', () => {
      closed = true
    })
    const attempt = (k: number): void => {
      if (closed) return
      if (k >= order.length) {
        client.destroy()
        return
      }
      const idx = order[k]!
      const target = list[idx]!
      const upstream = 'unix' in target ? connect(target.unix) : connect(target.port, target.host)
      const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), connectTimeoutMs)
      const failed = (): void => {
        clearTimeout(timer)
        downUntil[idx] = Date.now() + holdDownMs
        upstream.destroy()
        attempt(k + 1)
      }
      upstream.once('error', failed)
      upstream.once('connect', () => {
        clearTimeout(timer)
        downUntil[idx] = 0
        upstream.off('error', failed)
        if (closed) {
          upstream.destroy()
          return
        }
        const close = (): void => {
          client.destroy()
          upstream.destroy()
        }
        upstream.on('error', close)
        upstream.on('close', close)
        client.on('close', close)
        client.pipe(upstream).pipe(client)
      })
    }
    attempt(0)
  })
  server.on('close', () => pollers.forEach(clearInterval))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    if ('unix' in listen) {
      rmSync(listen.unix, { force: true })
      server.listen(listen.unix, () => resolve(server))
    } else server.listen(listen.port, listen.host, () => resolve(server))
  })
}

export async function main(argv: string[]): Promise<number | void> {
  const { values } = parseArgs({
    args: argv,
    options: { listen: { type: 'string' }, to: { type: 'string', multiple: true }, 'ready-path': { type: 'string' }, 'ready-ca': { type: 'string' } },
  })
  if (!values.listen || !values.to?.length || (values['ready-path'] === undefined) !== (values['ready-ca'] === undefined)) {
    process.stderr.write('usage: netkube lab forward --listen unix:/path|host:port --to unix:/path|host:port [--to …] [--ready-path /readyz --ready-ca CA.crt]\n')
    return 2
  }
  const readyCheck = values['ready-path'] ? { path: values['ready-path'], ca: readFileSync(values['ready-ca']!) } : undefined
  const server = await startRelay(parseEndpoint(values.listen), values.to.map(parseEndpoint), readyCheck ? { readyCheck } : {})
  await waitForSignal()
  server.close()
}
