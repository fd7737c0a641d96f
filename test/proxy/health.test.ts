// kube-proxy's /healthz and /livez decisions (upstream proxy_health.go), pure: a clock and a
// proxier's two instants in, status and JSON body out.
import t from 'tap'
import type { Node } from '../../src/api/types.js'
import { nodeEligible, proxyHealthReply, type HealthSource } from '../../src/proxy/health.js'

const T0 = Date.parse('2026-12-02T01:00:00.000Z')
const node: Node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' }, spec: {} }
const src = (last: number, pending: number, n: Node | null = node): HealthSource => ({ lastSyncedAt: () => last, oldestPendingAt: () => pending, node: () => n ?? undefined })
const body = (r: { body: string }) => JSON.parse(r.body) as Record<string, unknown>

t.test('healthy when idle, starting, or a change waits less than the timeout', async (t) => {
  const idle = proxyHealthReply('healthz', src(T0, 0), 60_000, T0 + 3_600_000)
  t.equal(idle.status, 200, 'an idle proxy is healthy however old its last sync')
  t.same(body(idle), { lastUpdated: '2026-12-02T02:00:00.000Z', currentTime: '2026-12-02T02:00:00.000Z', nodeEligible: true, healthy: true, status: { IPv4: { lastUpdated: '2026-12-02T01:00:00.000Z', healthy: true } } }, "upstream's body; healthy → lastUpdated is now")
  t.equal(idle.headers['X-Content-Type-Options'], 'nosniff')
  t.equal(idle.contentType, 'application/json')
  t.equal(proxyHealthReply('healthz', src(T0, T0 + 1000), 60_000, T0 + 60_999).status, 200, 'pending for less than the timeout')
  const starting = proxyHealthReply('healthz', src(0, T0), 60_000, T0 + 120_000)
  t.equal(starting.status, 200, 'never synced yet: starting up is healthy (upstream)')
  t.equal(body(starting).lastUpdated, '2026-12-02T01:02:00.000Z')
  t.notOk('status' in body(starting))
})

t.test('unhealthy when a change waited the timeout; livez the same', async (t) => {
  for (const kind of ['healthz', 'livez'] as const) {
    const r = proxyHealthReply(kind, src(T0, T0 + 1000), 60_000, T0 + 61_000)
    t.equal(r.status, 503, `${kind}: stuck`)
    t.same(body(r).healthy, false)
    t.equal(body(r).lastUpdated, '2026-12-02T01:00:00.000Z', 'unhealthy → the real last sync')
  }
})

t.test('a node being deleted fails /healthz, not /livez', async (t) => {
  const deleting: Node = { ...node, metadata: { ...node.metadata, deletionTimestamp: '2026-12-02T00:59:00Z' } }
  const tainted: Node = { ...node, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1', effect: 'NoSchedule' }] } }
  for (const [what, n] of [['deletionTimestamp', deleting], ['autoscaler taint', tainted], ['no Node', null]] as const) {
    const h = proxyHealthReply('healthz', src(T0, 0, n), 60_000, T0)
    t.equal(h.status, 503, `${what}: healthz 503`)
    t.same([body(h).healthy, body(h).nodeEligible], [true, false])
    const l = proxyHealthReply('livez', src(T0, 0, n), 60_000, T0)
    t.equal(l.status, 200, `${what}: livez 200`)
    t.notOk('nodeEligible' in body(l), 'livez has no nodeEligible')
  }
  t.ok(nodeEligible({ ...node, spec: { taints: [{ key: 'other', effect: 'NoSchedule' }] } }))
})
