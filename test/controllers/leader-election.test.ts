// Two `netkube controller-manager` processes (from dist/), each on its own apiserver of one
// control plane (one etcd, two apiservers): exactly one holds kube-system/kube-controller-manager
// and acts (its /metrics has the controllers, the other's only the election gauge at 0); kill -9
// of the leader → the other takes over within the lease duration plus retries and acts; a
// leader whose Lease is taken exits 1 with "leaderelection lost", as kube-controller-manager does.
// Short timings: lease 2 s, renew deadline 1.5 s, retry 0.3 s.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { hostname } from 'node:os'
import type { CoreEvent, Lease, ReplicaSet } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { createClient } from '../../src/client/rest.js'
import { R } from '../../src/controllers/informers.js'
import { freePort } from '../../src/util/ports.js'
import { withApiServer } from '../helpers/apiserver.js'
import { startApiServerChild } from '../helpers/apiserver-child.js'
import { withEtcd } from '../helpers/etcd.js'
import { MAIN } from '../helpers/prereq.js'
import { livePods, replicaSet } from '../helpers/replicaset.js'
import { stealLease } from '../helpers/lease.js'
import { waitUntil } from '../helpers/wait.js'

const LEASE_MS = 2000
const RETRY_MS = 300
const ELECTION = ['--leader-elect-lease-duration', '2s', '--leader-elect-renew-deadline', '1500ms', '--leader-elect-retry-period', '300ms']
/** Lease + the standby's last sighting up to one jittered retry late + noticing expiry one retry late. */
const TAKEOVER_BOUND_MS = LEASE_MS + 2 * RETRY_MS * 2.2
/** For a loaded machine: the tight claims are the lower bound and the Lease's contents. */
const SLACK_MS = 3000

interface Cm {
  name: string
  metricsPort: number
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stderr: () => string
  kill9(): Promise<void>
  metrics(): Promise<string>
}

async function startCm(t: Test, name: string, args: string[]): Promise<Cm> {
  const metricsPort = await freePort()
  const p = spawn(process.execPath, [MAIN, 'controller-manager', ...args, ...ELECTION, '--metrics-port', String(metricsPort)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NETKUBE_LOG_LEVEL: 'info' } })
  let err = ''
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => p.on('exit', (code, signal) => r({ code, signal })))
  t.teardown(async () => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
    else if (p.signalCode === null && !/leaderelection lost/.test(err)) t.comment(`${name} exited ${p.exitCode}: ${err.slice(-2000)}`)
    await exited
  })
  const cm: Cm = {
    name,
    metricsPort,
    exited,
    stderr: () => err,
    kill9: async () => {
      p.kill('SIGKILL')
      await exited
    },
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
  }
  await waitUntil(`${name} serves /metrics`, () => cm.metrics().then(() => true, () => false), 20_000, 100)
  return cm
}

const master = (metrics: string): number | undefined => {
  const m = /^leader_election_master_status\{name="kube-controller-manager"\} (\d+)$/m.exec(metrics)
  return m ? Number(m[1]) : undefined
}

t.test('two controller-managers on two apiservers: one leads, the other takes over', async (t) => {
  const etcd = await withEtcd(t)
  const port = await freePort('127.0.0.2')
  const a = await withApiServer(t, { etcd, host: '127.0.0.2', port })
  const b = await startApiServerChild(t, { etcd: etcd.endpoint, host: '127.0.0.3', port, shareFrom: a.stateDir })
  const client = createClient({ server: a.url, token: a.token, caPem: a.caPem })
  t.teardown(() => client.close())
  const leases = client.resource<Lease>(resourceFor('leases'), 'kube-system')
  const rsApi = client.resource<ReplicaSet>(R.replicasets, 'default')

  // cm1 reaches apiserver A through its kubeconfig; cm2 is sent to B with --api-servers.
  const cms = [
    await startCm(t, 'cm1', ['--kubeconfig', a.kubeconfigPath]),
    await startCm(t, 'cm2', ['--kubeconfig', a.kubeconfigPath, '--api-servers', b.url]),
  ]
  let leader!: Cm
  let standby!: Cm

  await t.test('exactly one leads and acts', async (t) => {
    await waitUntil('one leader', async () => (await Promise.all(cms.map(async (c) => master(await c.metrics())))).includes(1), 15_000, 100).catch((err: Error) => {
      for (const c of cms) t.comment(`${c.name}: ${c.stderr().slice(-1500)}`)
      throw err
    })
    await new Promise((r) => setTimeout(r, 5 * RETRY_MS))
    const ms = await Promise.all(cms.map((c) => c.metrics()))
    t.same(ms.map(master).sort(), [0, 1], 'leader_election_master_status: one 1, one 0')
    leader = cms[ms.findIndex((m) => master(m) === 1)]!
    standby = cms.find((c) => c !== leader)!
    t.comment(`${leader.name} leads`)
    const lease = await leases.get('kube-controller-manager')
    t.match(lease.spec?.holderIdentity, new RegExp(`^${hostname()}_[0-9a-f-]{36}$`), 'holder is <hostname>_<uuid>')
    t.equal(lease.spec?.leaseDurationSeconds, 2)
    t.match(leader.stderr(), lease.spec!.holderIdentity!, "the holder is the leader's identity")
    t.notMatch(standby.stderr(), 'became leader', 'the standby never led')
    await waitUntil('the LeaderElection Event', async () => {
      const evs = (await client.resource<CoreEvent>(resourceFor('events'), 'kube-system').list()).items
      return evs.some((e) => e.reason === 'LeaderElection' && e.message === `${lease.spec!.holderIdentity} became leader` && e.involvedObject.kind === 'Lease' && e.involvedObject.name === 'kube-controller-manager' && e.source?.component === 'kube-controller-manager')
    }, 10_000, 100)
    t.pass('Event LeaderElection "<id> became leader" on the Lease, as upstream records it')

    await rsApi.create(replicaSet('one', 3))
    await waitUntil('3 pods', async () => (await livePods(client, 'one')).length === 3, 15_000, 100)
    await new Promise((r) => setTimeout(r, 1000))
    t.equal((await livePods(client, 'one')).length, 3, 'still 3: nobody else created pods')
    const [lm, sm] = [await leader.metrics(), await standby.metrics()]
    t.match(lm, /netkube_controller_reconciles_total\{controller="replicaset"\} [1-9]/, 'the leader reconciled the ReplicaSet')
    t.notMatch(sm, 'netkube_controller_reconciles_total', 'the standby runs no controller')
  })

  await t.test('kill -9 of the leader: the standby takes over within the lease', async (t) => {
    const before = (await leases.get('kube-controller-manager')).spec!
    await leader.kill9()
    const died = Date.now()
    await waitUntil('standby leads', async () => master(await standby.metrics()) === 1, 15_000, 50)
    const took = Date.now() - died
    t.comment(`takeover ${took} ms after kill -9 of the leader (lease ${LEASE_MS} ms, retry ${RETRY_MS} ms, bound ${TAKEOVER_BOUND_MS} ms)`)
    t.ok(took <= TAKEOVER_BOUND_MS + SLACK_MS, `within lease + retries (${took} ms)`)
    t.ok(took >= LEASE_MS - 1500, `not before the dead leader's lease ran out (${took} ms; it renewed at most a renew deadline before dying)`)
    const after = (await leases.get('kube-controller-manager')).spec!
    t.not(after.holderIdentity, before.holderIdentity, 'a new holder')
    t.equal(after.leaseTransitions, (before.leaseTransitions ?? 0) + 1, 'leaseTransitions + 1')
    t.not(after.acquireTime, before.acquireTime, 'acquireTime is the takeover')

    await rsApi.patch('one', { spec: { replicas: 5 } })
    await rsApi.create(replicaSet('two', 2))
    await waitUntil('the new leader acts', async () => (await livePods(client, 'one')).length === 5 && (await livePods(client, 'two')).length === 2, 15_000, 100)
    t.pass('scaled and created through the new leader (via apiserver B)')
  })

  await t.test('a leader whose Lease is taken exits 1: "leaderelection lost"', async (t) => {
    const now = await stealLease(client, 'kube-system', 'kube-controller-manager', 'intruder', 60)
    const e = await standby.exited
    t.comment(`exited ${Date.now() - now} ms after the Lease changed hands`)
    t.same(e, { code: 1, signal: null }, 'exit code 1')
    t.match(standby.stderr(), /"msg":"leaderelection lost"/)
    t.equal((await leases.get('kube-controller-manager')).spec?.holderIdentity, 'intruder', 'it did not fight back')
  })
})
