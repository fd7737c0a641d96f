// The leader election loop against a real apiserver and etcd: exactly one of several
// candidates leads and acts; a clean stop hands the Lease on at once (ReleaseOnCancel); a
// leader that dies without a word is replaced after the lease runs out; a leader that cannot
// reach the apiserver gives up at its renew deadline; a stolen Lease stops the leader.
// Short timings (lease 2 s, renew deadline 1.5 s, retry 0.3 s) keep it quick.
import t from 'tap'
import { Registry } from 'prom-client'
import type { Lease } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import type { Client } from '../../src/client/interfaces.js'
import { LeaderElector, parseLeaderElectionFlags, type Timing } from '../../src/client/leaderelection.js'
import { JITTER_FACTOR } from '../../src/client/leaderelection-core.js'
import { withApiServer } from '../helpers/apiserver.js'
import { stealLease } from '../helpers/lease.js'
import { waitUntil } from '../helpers/wait.js'
import { TcpProxy } from './tcpproxy.js'

const TIMING: Timing = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 300 }
/**
 * Expected worst case for a standby: the last change seen up to one jittered retry late, the
 * expiry noticed one retry late. Asserted with 3 s of slack for a loaded machine: the tight
 * claims are the lower bounds (nobody takes over early) and the Lease's contents.
 */
const TAKEOVER_BOUND_MS = TIMING.leaseDurationMs + 2 * TIMING.retryPeriodMs * (1 + JITTER_FACTOR)
const SLACK_MS = 3000

interface Candidate {
  elector: LeaderElector
  /** Times onStartedLeading ran, and how many are acting now. */
  started: number
  acting: number
  lost: number
  registry: Registry
}

function candidate(client: Client, id: string, name: string, opts: { releaseOnCancel?: boolean } = {}): Candidate {
  const registry = new Registry()
  const c: Candidate = { started: 0, acting: 0, lost: 0, registry, elector: undefined as unknown as LeaderElector }
  c.elector = new LeaderElector({
    client,
    namespace: 'kube-system',
    name,
    identity: id,
    timing: TIMING,
    registry,
    ...(opts.releaseOnCancel !== undefined ? { releaseOnCancel: opts.releaseOnCancel } : {}),
    callbacks: {
      onStartedLeading: async () => {
        c.started++
        c.acting++
        return { stop: async () => void c.acting-- }
      },
      onStoppedLeading: () => void c.lost++,
    },
  })
  return c
}

const masterStatus = async (c: Candidate, name: string): Promise<number | undefined> =>
  (await c.registry.getSingleMetric('leader_election_master_status')?.get())?.values.find((v) => v.labels.name === name)?.value

t.test('leader election on a real apiserver', async (t) => {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  t.teardown(() => client.close())
  const leases = client.resource<Lease>(resourceFor('leases'), 'kube-system')
  const holder = async (name: string) => (await leases.get(name)).spec?.holderIdentity

  await t.test('three candidates: exactly one leads and acts; a clean stop hands over at once', async (t) => {
    const cs = ['a', 'b', 'c'].map((id) => candidate(client, `host_${id}`, 'one-of-three'))
    t.teardown(() => Promise.all(cs.map((c) => c.elector.stop())))
    for (const c of cs) c.elector.run()
    await waitUntil('a leader', async () => cs.some((c) => c.acting === 1), 10_000, 50)
    // Give the others several retry periods to (wrongly) join in.
    await new Promise((r) => setTimeout(r, 5 * TIMING.retryPeriodMs))
    const leaders = cs.filter((c) => c.elector.isLeader())
    t.equal(leaders.length, 1, 'one leader')
    t.same(cs.map((c) => c.acting).sort(), [0, 0, 1], 'only the leader acts')
    const leader = leaders[0]!
    const lease = await leases.get('one-of-three')
    t.equal(lease.spec?.holderIdentity, leader.elector.identity, 'the Lease names it')
    t.equal(lease.spec?.leaseDurationSeconds, 2)
    t.equal(lease.spec?.leaseTransitions, 0, 'created by its first holder')
    t.match(lease.spec?.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'renewTime is a MicroTime')
    t.equal(await masterStatus(leader, 'one-of-three'), 1, 'leader_election_master_status 1 on the leader')
    for (const c of cs.filter((x) => x !== leader)) {
      t.equal(await masterStatus(c, 'one-of-three'), 0, 'and 0 on a standby')
      t.equal(c.elector.getLeader(), leader.elector.identity, 'standbys know the leader')
    }
    const renewed = lease.spec?.renewTime
    await new Promise((r) => setTimeout(r, 2 * TIMING.retryPeriodMs))
    t.not((await leases.get('one-of-three')).spec?.renewTime, renewed, 'the leader keeps renewing')

    const stoppedAt = Date.now()
    await leader.elector.stop()
    t.equal(leader.acting, 0, 'stop() stopped acting before it returned')
    const released = (await leases.get('one-of-three')).spec
    t.not(released?.holderIdentity, leader.elector.identity, 'stop() released the Lease (no longer names the old leader)')
    const rest = cs.filter((c) => c !== leader)
    await waitUntil('a successor', async () => rest.some((c) => c.acting === 1), 10_000, 20)
    const took = Date.now() - stoppedAt
    t.comment(`takeover after a clean stop (lease released): ${took} ms`)
    // Released: the next try of a standby (≤ one jittered retry period) wins, well before the
    // ≥ lease − 2 retries a Lease left to expire would take.
    t.ok(took < TIMING.leaseDurationMs, `sooner than a lease duration (${took} ms)`)
    const next = await leases.get('one-of-three')
    t.equal(next.spec?.leaseTransitions, 1, 'leaseTransitions counts the change of holder')
    t.ok(rest.some((c) => c.elector.identity === next.spec?.holderIdentity))
  })

  await t.test('a leader that dies silently is replaced after the lease runs out', async (t) => {
    const a = candidate(client, 'host_dies', 'silent', { releaseOnCancel: false })
    const b = candidate(client, 'host_waits', 'silent')
    t.teardown(() => Promise.all([a.elector.stop(), b.elector.stop()]))
    a.elector.run()
    await waitUntil('a leads', async () => a.acting === 1, 10_000, 20)
    b.elector.run()
    await new Promise((r) => setTimeout(r, TIMING.leaseDurationMs + 500))
    t.equal(b.acting, 0, 'the standby waits while the leader renews, even past one lease duration')
    const died = Date.now()
    await a.elector.stop() // no release: like kill -9, the Lease stays as it was
    t.equal(await holder('silent'), 'host_dies', 'the Lease still names the dead leader')
    await waitUntil('b takes over', async () => b.acting === 1, 10_000, 20)
    const took = Date.now() - died
    t.comment(`takeover after a silent death: ${took} ms (lease ${TIMING.leaseDurationMs} ms, bound ${TAKEOVER_BOUND_MS} ms)`)
    // The dead leader renewed at most a renew deadline before dying: its lease ran at least lease − renewDeadline more.
    t.ok(took >= TIMING.leaseDurationMs - TIMING.renewDeadlineMs, `not before the lease ran out (${took} ms)`)
    t.ok(took <= TAKEOVER_BOUND_MS + SLACK_MS, `within lease + retries (${took} ms)`)
    t.equal(await holder('silent'), 'host_waits')
  })

  await t.test('a leader that cannot reach the apiserver gives up at its renew deadline', async (t) => {
    const proxy = new TcpProxy(api.port)
    await proxy.start()
    const cut = createClient({ server: proxy.url, token: api.token, caPem: api.caPem }, { requestTimeoutMs: TIMING.renewDeadlineMs })
    t.teardown(async () => {
      cut.close()
      await proxy.stop()
    })
    const a = candidate(cut, 'host_cut', 'partitioned')
    t.teardown(() => a.elector.stop())
    a.elector.run()
    await waitUntil('a leads', async () => a.acting === 1, 10_000, 20)
    const cutAt = Date.now()
    await proxy.stop()
    await waitUntil('a gives up', async () => a.lost === 1, 10_000, 20)
    const took = Date.now() - cutAt
    t.comment(`leadership given up ${took} ms after the apiserver became unreachable (renew deadline ${TIMING.renewDeadlineMs} ms)`)
    t.ok(took >= TIMING.renewDeadlineMs - TIMING.retryPeriodMs, `not before the renew deadline (${took} ms)`)
    t.ok(took < TIMING.leaseDurationMs + SLACK_MS, `gives up, not stuck (${took} ms; a successor could take over after ${TIMING.leaseDurationMs} ms)`)
    await waitUntil('stopped acting', async () => a.acting === 0, 5000, 20)
    t.equal(await masterStatus(a, 'partitioned'), 0)
    // Reachable again: it campaigns again and, the Lease being its own, leads again.
    await proxy.start()
    await waitUntil('leads again', async () => a.acting === 1, 10_000, 20)
    t.equal(a.started, 2)
  })

  await t.test('a stolen Lease stops the leader at once', async (t) => {
    const a = candidate(client, 'host_robbed', 'stolen')
    t.teardown(() => a.elector.stop())
    a.elector.run()
    await waitUntil('a leads', async () => a.acting === 1, 10_000, 20)
    const now = await stealLease(client, 'kube-system', 'stolen', 'intruder', 30)
    await waitUntil('a stops', async () => a.lost === 1 && a.acting === 0, 5000, 20)
    const took = Date.now() - now
    t.comment(`stopped ${took} ms after the Lease changed hands`)
    t.ok(took < TIMING.renewDeadlineMs, `at its next renewal, not at the deadline (${took} ms)`)
    t.equal(a.elector.getLeader(), 'intruder')
    t.equal(await holder('stolen'), 'intruder', 'it did not overwrite the new holder')
  })

  await t.test('racing for a released Lease: one write wins (409 for the other)', async (t) => {
    const cs = Array.from({ length: 4 }, (_, i) => candidate(client, `host_race${i}`, 'race'))
    t.teardown(() => Promise.all(cs.map((c) => c.elector.stop())))
    for (const c of cs) c.elector.run()
    await waitUntil('a leader', async () => cs.some((c) => c.acting === 1), 10_000, 20)
    await new Promise((r) => setTimeout(r, 3 * TIMING.retryPeriodMs))
    t.equal(cs.filter((c) => c.acting === 1).length, 1, 'exactly one of four started at once')
    t.equal(cs.reduce((n, c) => n + c.started, 0), 1, 'and nobody else ever started')
  })
})

t.test('leader election flags, as upstream spells them', async (t) => {
  const d = parseLeaderElectionFlags(['--kubeconfig', 'k'])
  t.same(d.flags, { enabled: true, timing: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }, namespace: 'kube-system' }, 'upstream defaults')
  t.same(d.rest, ['--kubeconfig', 'k'], 'other flags are left alone')
  const s = parseLeaderElectionFlags(['--leader-elect', '--leader-elect-lease-duration=2s', '--leader-elect-renew-deadline', '1500ms', '--leader-elect-retry-period', '300ms', '--leader-elect-resource-name', 'x', '--x'])
  t.same(s.flags, { enabled: true, timing: TIMING, namespace: 'kube-system', name: 'x' })
  t.same(s.rest, ['--x'])
  t.equal(parseLeaderElectionFlags(['--leader-elect=false']).flags.enabled, false)
  t.throws(() => parseLeaderElectionFlags(['--leader-elect=maybe']), /invalid argument "maybe" for "--leader-elect" flag/)
  t.throws(() => parseLeaderElectionFlags(['--leader-elect-renew-deadline', '20s']), /leaseDuration must be greater than renewDeadline/)
  t.throws(() => parseLeaderElectionFlags(['--leader-elect-retry-period', 'soon']), /invalid argument "soon" for "--leader-elect-retry-period" flag: time: invalid duration/)
  t.throws(() => parseLeaderElectionFlags(['--leader-elect-resource-lock', 'endpoints']), /only "leases"/)
  t.throws(() => new LeaderElector({ client: createClient({ server: 'https://127.0.0.1:1' }), namespace: 'n', name: 'x', identity: '', timing: TIMING, callbacks: { onStartedLeading: async () => ({ stop: async () => {} }), onStoppedLeading: () => {} } }), /Lock identity is empty/)
})
