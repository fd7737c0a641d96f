// A loopback TCP proxy the test controls: it can cut every connection (a watch dropping
// mid-stream) and refuse new ones for a while (an unreachable apiserver), without touching
// the server behind it. TLS passes through untouched.
import net from 'node:net'

export class TcpProxy {
  port = 0
  private server: net.Server | undefined
  private conns = new Set<net.Socket>()

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    const srv = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost)
      this.conns.add(client)
      this.conns.add(upstream)
      const close = () => {
        client.destroy()
        upstream.destroy()
        this.conns.delete(client)
        this.conns.delete(upstream)
      }
      client.on('error', close).on('close', close)
      upstream.on('error', close).on('close', close)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(this.port, '127.0.0.1', () => resolve())
    })
    const a = srv.address()
    this.port = typeof a === 'object' && a ? a.port : 0
    this.server = srv
  }

  /** Cuts every open connection (both sides). */
  dropAll(): void {
    for (const s of this.conns) s.destroy()
    this.conns.clear()
  }

  connections(): number {
    return this.conns.size / 2
  }

  /** Refuses connections until start() is called again (same port). */
  async stop(): Promise<void> {
    const srv = this.server
    this.server = undefined
    this.dropAll()
    if (srv) await new Promise<void>((r) => srv.close(() => r()))
  }
}
