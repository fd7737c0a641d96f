// `lab forward` with several targets: round robin, failover past a dead one, readiness checks, on real sockets.
import t from 'tap'
import { createServer, connect, type Server } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelay, targetOrder } from '../../src/lab/forward.js'
import { freePort } from '../../src/util/ports.js'
import { createServer as createHttpsServer, request as httpsRequest, type Server as HttpsServer } from 'node:https'
import { ensureServingCerts } from '../../src/apiserver/certs.js'

t.test('target order: round robin from the cursor, held-down targets last', async (t) => {
  t.same(targetOrder(3, 0, [0, 0, 0], 10), [0, 1, 2])
  t.same(targetOrder(3, 4, [0, 0, 0], 10), [1, 2, 0])
  t.same(targetOrder(3, 0, [99, 0, 0], 10), [1, 2, 0], 'a held-down target is tried last, not never')
  t.same(targetOrder(2, 1, [0, 5], 10), [1, 0], 'a hold-down in the past is over')
})

function named(name: string): Promise<Server> {
  const s = createServer((c) => c.end(name))
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)))
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1')
    let b = ''
    c.on('data', (d) => (b += d))
    c.on('close', () => resolve(b))
    c.on('error', reject)
  })
}

t.test('relay: balances over live targets and fails over past a dead one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nk-fwd-'))
  const a = await named('a')
  const b = await named('b')
  const dead = await freePort()
  const port = (s: Server): number => (s.address() as { port: number }).port
  const listen = await freePort()
  const relay = await startRelay({ host: '127.0.0.1', port: listen }, [
    { host: '127.0.0.1', port: port(a) },
    { host: '127.0.0.1', port: dead },
    { host: '127.0.0.1', port: port(b) },
  ])
  t.teardown(() => {
    relay.close()
    a.close()
    b.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const answers: string[] = []
  for (let i = 0; i < 9; i++) answers.push(await ask(listen))
  t.ok(answers.every((x) => x === 'a' || x === 'b'), `every connection answered despite the dead target: ${answers.join('')}`)
  t.ok(answers.includes('a') && answers.includes('b'), 'both live targets served')
  a.close()
  const after: string[] = []
  for (let i = 0; i < 4; i++) after.push(await ask(listen))
  t.same(after, ['b', 'b', 'b', 'b'], 'with one target left, it serves everything')
})

t.test('relay with a readiness check: new connections avoid a target whose readyz is not 200', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nk-fwd-ready-'))
  const certs = await ensureServingCerts(dir, ['127.0.0.1'])
  const ready: Record<string, boolean> = { a: false, b: true }
  const serve = (name: string): Promise<HttpsServer> => {
    const s = createHttpsServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
      if (req.url === '/readyz') res.writeHead(ready[name] ? 200 : 500).end(ready[name] ? 'ok' : 'not ready')
      else res.writeHead(200, { connection: 'close' }).end(name)
    })
    return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)))
  }
  const a = await serve('a')
  const b = await serve('b')
  const port = (s: HttpsServer): number => (s.address() as { port: number }).port
  const listen = await freePort()
  const relay = await startRelay({ host: '127.0.0.1', port: listen }, [{ host: '127.0.0.1', port: port(a) }, { host: '127.0.0.1', port: port(b) }], {
    readyCheck: { path: '/readyz', ca: certs.caPem, intervalMs: 50 },
  })
  t.teardown(() => {
    relay.close()
    a.close()
    b.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const get = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: listen, path: '/', ca: certs.caPem, agent: false }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve(body))
      })
      req.on('error', reject)
      req.end()
    })
  await new Promise((r) => setTimeout(r, 300))
  const before: string[] = []
  for (let i = 0; i < 6; i++) before.push(await get())
  t.same(before, ['b', 'b', 'b', 'b', 'b', 'b'], 'a target that is not ready gets no new connections while another is ready')
  ready.a = true
  await new Promise((r) => setTimeout(r, 300))
  const after: string[] = []
  for (let i = 0; i < 6; i++) after.push(await get())
  t.ok(after.includes('a') && after.includes('b'), `once ready it is balanced again: ${after.join('')}`)
  ready.a = false
  ready.b = false
  await new Promise((r) => setTimeout(r, 300))
  const none = [await get(), await get()]
  t.same(none.sort(), ['a', 'b'], 'with no target ready, connections still go somewhere (round robin)')
})
