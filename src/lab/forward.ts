// A byte relay between a TCP port and a unix socket. The lab runs one inside the server
// node's namespace (unix socket → apiserver) and one on the host (127.0.0.1 → unix socket):
// the host's kubectl reaches the apiserver through the filesystem, with no route added to
// the root namespace.
import { createServer, connect, type Socket, type Server } from 'node:net'
import { rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { waitForSignal } from '../util/signals.js'

export type Endpoint = { unix: string } | { host: string; port: number }

export function parseEndpoint(s: string): Endpoint {
  if (s.startsWith('unix:')) return { unix: s.slice(5) }
  const m = /^(?:tcp:)?(.+):(\d+)$/.exec(s)
  if (!m) throw new Error(`bad endpoint "${s}": want unix:/path or host:port`)
  return { host: m[1]!, port: Number(m[2]) }
}

export function startRelay(listen: Endpoint, target: Endpoint): Promise<Server> {
  const server = createServer((client: Socket) => {
    const upstream = 'unix' in target ? connect(target.unix) : connect(target.port, target.host)
    client.pipe(upstream).pipe(client)
    const close = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close)
    upstream.on('error', close)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    if ('unix' in listen) {
      rmSync(listen.unix, { force: true })
      server.listen(listen.unix, () => resolve(server))
    } else server.listen(listen.port, listen.host, () => resolve(server))
  })
}

export async function main(argv: string[]): Promise<number | void> {
  const { values } = parseArgs({ args: argv, options: { listen: { type: 'string' }, to: { type: 'string' } } })
  if (!values.listen || !values.to) {
    process.stderr.write('usage: netkube lab forward --listen unix:/path|host:port --to unix:/path|host:port\n')
    return 2
  }
  const server = await startRelay(parseEndpoint(values.listen), parseEndpoint(values.to))
  await waitForSignal()
  server.close()
}
