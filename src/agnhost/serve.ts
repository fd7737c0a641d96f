// The built-in test image, in the spirit of upstream's agnhost `serve-hostname`/`netexec`:
// answers its hostname over HTTP, TCP and UDP, and lets a test flip its readiness and
// liveness over HTTP so probes can be exercised without another image.
import { createServer as createHttp } from 'node:http'
import { createServer as createTcp } from 'node:net'
import { createSocket } from 'node:dgram'
import { hostname as osHostname } from 'node:os'
import { parseArgs } from 'node:util'
import { waitForSignal } from '../util/signals.js'

export async function main(argv: string[]): Promise<number | void> {
  const { values } = parseArgs({
    args: argv,
    // Positional words (agnhost's `serve-hostname`, `netexec`) are accepted and ignored.
    allowPositionals: true,
    options: {
      http: { type: 'string', multiple: true },
      'http-port': { type: 'string', multiple: true },
      port: { type: 'string', multiple: true },
      'udp-port': { type: 'string', multiple: true },
      tcp: { type: 'string', multiple: true },
      udp: { type: 'string', multiple: true },
      'exit-after': { type: 'string' },
      // agnhost netexec's flag: keep serving this many seconds after SIGTERM (not ready).
      'delay-shutdown': { type: 'string' },
      'exit-code': { type: 'string' },
    },
  })
  const name = process.env.HOSTNAME || osHostname()
  const exitAfter = values['exit-after']
  if (exitAfter !== undefined) {
    // A container that runs for a while and exits: exercises restart policy and back-off.
    await new Promise((r) => setTimeout(r, Number(exitAfter) * 1000))
    return Number(values['exit-code'] ?? '1')
  }
  let ready = true
  let healthy = true
  const udpPorts = [...(values.udp ?? []), ...(values['udp-port'] ?? [])]
  const asked = [...(values.http ?? []), ...(values['http-port'] ?? []), ...(values.port ?? [])]
  const httpPorts = asked.length > 0 || values.tcp || udpPorts.length > 0 ? asked : ['8080']
  for (const p of httpPorts) {
    createHttp((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      switch (url.pathname) {
        case '/healthz':
          res.writeHead(healthy ? 200 : 500).end(healthy ? 'ok\n' : 'unhealthy\n')
          return
        case '/readyz':
          res.writeHead(ready ? 200 : 503).end(ready ? 'ready\n' : 'not ready\n')
          return
        case '/set':
          if (url.searchParams.has('ready')) ready = url.searchParams.get('ready') === 'true'
          if (url.searchParams.has('healthy')) healthy = url.searchParams.get('healthy') === 'true'
          res.writeHead(200).end(`ready=${ready} healthy=${healthy}\n`)
          return
        case '/clientip':
          res.writeHead(200).end(`${req.socket.remoteAddress}\n`)
          return
        default:
          res.writeHead(200, { 'content-type': 'text/plain' }).end(name)
      }
    }).listen(Number(p), '0.0.0.0')
  }
  for (const p of values.tcp ?? []) {
    createTcp((sock) => {
      sock.on('error', () => {})
      sock.end(name)
    }).listen(Number(p), '0.0.0.0')
  }
  for (const p of udpPorts) {
    const sock = createSocket('udp4')
    sock.on('message', (_msg, rinfo) => sock.send(name, rinfo.port, rinfo.address))
    sock.bind(Number(p), '0.0.0.0')
  }
  await waitForSignal()
  ready = false
  const delay = Number(values['delay-shutdown'] ?? '0')
  if (delay > 0) await new Promise((r) => setTimeout(r, delay * 1000))
  // Open servers would keep the process alive: a container exits when told to.
  process.exit(0)
}
