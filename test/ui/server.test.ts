// The live map's HTTP side through fastify's inject, plus one real socket for the event stream:
// the page and its compiled modules, the snapshot, the stream sending a view per change, and
// /api/trace's Status answers (bad input 400, no trace in the build 503, a trace's error).
import t from 'tap'
import http from 'node:http'
import { buildUiServer, parseTraceQuery } from '../../src/ui/server.js'
import { ViewFeed } from '../../src/ui/feed.js'
import { ClusterModel } from '../../src/ui/model.js'
import { parseListen } from '../../src/ui/cli.js'
import { ApiError, notFound } from '../../src/apiserver/errors.js'
import type { Pod } from '../../src/api/types.js'
import type { TraceRequest, TraceResult } from '../../src/trace/types.js'
import { need } from '../helpers/prereq.js'

const pod = (name: string): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name }, spec: { nodeName: 'node1', containers: [] }, status: { phase: 'Running', podIP: '10.244.1.9' } }) as Pod

t.test('page, modules, snapshot', { skip: need('build') }, async (t) => {
  const feed = new ViewFeed(new ClusterModel(), { tickMs: 0, debounceMs: 1 })
  const app = buildUiServer({ feed })
  t.teardown(async () => { feed.stop(); await app.close() })
  const page = await app.inject({ url: '/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /<script type="module" src="\/ui\/app.js">/)
  const js = await app.inject({ url: '/ui/app.js' })
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /javascript/)
  t.match(js.body, /from '\.\/layout\.js'/, 'the compiled module, importing its sibling')
  t.equal((await app.inject({ url: '/ui/layout.js' })).statusCode, 200)
  t.equal((await app.inject({ url: '/ui/style.css' })).statusCode, 200)
  const traversal = await app.inject({ url: '/ui/..%2Fserver.js' })
  t.equal(traversal.statusCode, 404, 'only module names, no paths')
  t.match(traversal.json(), { kind: 'Status', reason: 'NotFound', code: 404 })
  t.match((await app.inject({ url: '/nope' })).json(), { kind: 'Status', reason: 'NotFound', message: 'the server could not find the requested resource' })
  feed.apply('pods', 'ADDED', pod('a'))
  feed.flush()
  const state = (await app.inject({ url: '/api/state' })).json()
  t.match(state, { revision: 1, pods: [{ key: 'default/a', ip: '10.244.1.9' }] })
})

t.test('the stream: the view at once, then one event per change', async (t) => {
  const feed = new ViewFeed(new ClusterModel(), { tickMs: 0, debounceMs: 1 })
  const app = buildUiServer({ feed })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { feed.stop(); await app.close() })
  const port = (app.server.address() as { port: number }).port
  const events: { revision: number; pods: unknown[] }[] = []
  const req = http.get({ host: '127.0.0.1', port, path: '/api/watch' })
  const res = await new Promise<http.IncomingMessage>((r) => req.on('response', r))
  t.match(res.headers['content-type'], /text\/event-stream/)
  let buf = ''
  res.on('data', (d: Buffer) => {
    buf += d.toString()
    let i: number
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i)
      buf = buf.slice(i + 2)
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (/^event: state$/m.test(block) && data) events.push(JSON.parse(data))
    }
  })
  const until = async (n: number): Promise<void> => { for (let k = 0; k < 200 && events.length < n; k++) await new Promise((r) => setTimeout(r, 10)) }
  await until(1)
  t.equal(events[0]?.revision, 0, 'the current view first')
  feed.apply('pods', 'ADDED', pod('a'))
  await until(2)
  t.match(events[1], { revision: 1, pods: [{ name: 'a' }] })
  feed.apply('pods', 'DELETED', pod('a'))
  await until(3)
  t.match(events[2], { revision: 2, pods: [] })
  req.destroy()
})

t.test('/api/trace: query checks, no trace in the build, the trace, its errors', async (t) => {
  t.match(parseTraceQuery({ from: 'default/a', to: 'web', port: '80', proto: 'TCP' }), { from: 'default/a', to: 'web', port: 80, proto: 'tcp' })
  const feed = new ViewFeed(new ClusterModel(), { tickMs: 0 })
  t.teardown(() => feed.stop())
  const none = buildUiServer({ feed })
  const bad = await none.inject({ url: '/api/trace?to=web' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { kind: 'Status', status: 'Failure', reason: 'BadRequest', message: /from is required/ })
  t.match((await none.inject({ url: '/api/trace?from=a&to=b&port=70000' })).json(), { code: 400, message: 'invalid port "70000": must be between 1 and 65535, inclusive' })
  t.match((await none.inject({ url: '/api/trace?from=a&to=b&proto=sctp' })).json(), { code: 400, message: /unsupported protocol "sctp"/ })
  const off = await none.inject({ url: '/api/trace?from=default/a&to=web' })
  t.equal(off.statusCode, 503)
  t.match(off.json(), { reason: 'ServiceUnavailable' })

  const asked: TraceRequest[] = []
  const app = buildUiServer({
    feed,
    trace: async (req) => {
      asked.push(req)
      if (req.to === 'gone') throw notFound({ group: '', resource: 'pods' }, 'gone')
      if (req.to === 'boom') throw new Error('nft said no')
      return { request: req, from: { kind: 'pod', namespace: 'default', name: 'a' }, to: { kind: 'ip', ip: '10.0.0.1' }, hops: [], outcome: 'delivered' } satisfies TraceResult
    },
  })
  const ok = await app.inject({ url: '/api/trace?from=default/a&to=10.0.0.1&port=8080' })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { outcome: 'delivered' })
  t.same(asked[0], { from: 'default/a', to: '10.0.0.1', port: 8080 })
  const nf = await app.inject({ url: '/api/trace?from=default/a&to=gone' })
  t.equal(nf.statusCode, 404)
  t.match(nf.json(), { reason: 'NotFound', message: 'pods "gone" not found' }, 'a trace\'s Status passes through')
  const boom = await app.inject({ url: '/api/trace?from=default/a&to=boom' })
  t.equal(boom.statusCode, 500)
  t.match(boom.json(), { reason: 'InternalError', message: 'Internal error occurred: nft said no' })
  t.ok(notFound({ group: '', resource: 'pods' }, 'x') instanceof ApiError)
})

t.test('--listen', async (t) => {
  t.same(parseListen('127.0.0.1:8001'), { host: '127.0.0.1', port: 8001 })
  t.same(parseListen('9000'), { host: '127.0.0.1', port: 9000 })
  t.same(parseListen(':0'), { host: '127.0.0.1', port: 0 })
  t.same(parseListen('[::1]:8001'), { host: '::1', port: 8001 })
  t.throws(() => parseListen('127.0.0.1:99999'))
})
