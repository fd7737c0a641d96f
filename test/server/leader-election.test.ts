// Two `netkube server` processes (from dist/) on one etcd, the HA control plane of #10: the
// controller manager and the scheduler each lead on exactly one server (their upstream Leases
// in kube-system name that server's identity); kill -9 of the leading server → the other takes
// both Leases within the lease duration plus retries and its controllers act; the killed one,
// restarted on its state, rejoins as a standby; a clean stop (SIGTERM) releases the Leases so
// the successor takes over within one retry period.
// Short timings: lease 2 s, renew deadline 1.5 s, retry 0.3 s.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Lease, ReplicaSet } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { createClient } from '../../src/client/rest.js'
import { R } from '../../src/controllers/informers.js'
import { freePort } from '../../src/util/ports.js'
import { withEtcd } from '../helpers/etcd.js'
import { MAIN } from '../helpers/prereq.js'
import { livePods, replicaSet } from '../helpers/replicaset.js'
import { waitUntil } from '../helpers/wait.js'

const LEASE_MS = 2000
const RETRY_MS = 300
const TAKEOVER_BOUND_MS = LEASE_MS + 2 * RETRY_MS * 2.2
/** For a loaded machine: the tight claims are the Lease's contents. */
const SLACK_MS = 3000
const LEASES = ['kube-controller-manager', 'kube-scheduler'] as const

interface Srv {
  host: string
  stateDir: string
  identity: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

async function startSrv(t: Test, o: { etcd: string; host: string; port: number; stateDir: string }): Promise<Srv> {
  const args = ['server', '--etcd-servers', o.etcd, '--state-dir', o.stateDir, '--bind-address', o.host, '--secure-port', String(o.port), '--no-dns',
    '--leader-elect-lease-duration', '2s', '--leader-elect-renew-deadline', '1500ms', '--leader-elect-retry-period', '300ms']
  const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NETKUBE_LOG_LEVEL: 'warn' } })
  let err = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => p.on('exit', (code, signal) => r({ code, signal })))
  t.teardown(async () => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
    else if (p.exitCode !== 0 && p.signalCode === null) t.comment(`server ${o.host} exited ${p.exitCode}: ${err.slice(-3000)}`)
    await exited
  })
  await new Promise<void>((resolve, reject) => {
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      if (err.includes('netkube server ready')) resolve()
    })
    void exited.then((e) => reject(new Error(`server exited (${e.code ?? e.signal}): ${err.slice(-1500)}`)))
  })
  return {
    host: o.host,
    stateDir: o.stateDir,
    identity: () => readFileSync(join(o.stateDir, 'leader-election-identity'), 'utf8').trim(),
    exited,
    kill: async (sig) => {
      p.kill(sig)
      return exited
    },
  }
}

t.test('two netkube servers on one etcd: one leader per component, failover, rejoin', async (t) => {
  const top = t // processes started in subtests must outlive them
  const etcd = await withEtcd(t)
  const port = await freePort('127.0.0.2')
  const dirs = ['a', 'b'].map((n) => mkdtempSync(join(tmpdir(), `netkube-le-${n}-`)))
  t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
  const a = await startSrv(t, { etcd: etcd.endpoint, host: '127.0.0.2', port, stateDir: dirs[0]! })
  const b = await startSrv(t, { etcd: etcd.endpoint, host: '127.0.0.3', port, stateDir: dirs[1]! })
  // Through B's apiserver until the leader is killed (then through the survivor's).
  const client = createClient(loadKubeconfig(join(b.stateDir, 'admin.kubeconfig')))
  t.teardown(() => client.close())
  const leases = client.resource<Lease>(resourceFor('leases'), 'kube-system')
  const holders = async () => Promise.all(LEASES.map(async (n) => (await leases.get(n).catch(() => undefined))?.spec?.holderIdentity))
  const ids = () => [a.identity(), b.identity()]

  let cmLeader!: Srv
  let other!: Srv
  await t.test('each Lease is held by one of the two servers', async (t) => {
    await waitUntil('both Leases held', async () => (await holders()).every((h) => h && ids().includes(h)), 15_000, 100)
    t.not(a.identity(), b.identity(), 'two identities')
    const [cm, sched] = await holders()
    t.ok(ids().includes(cm!) && ids().includes(sched!), `kube-controller-manager: ${cm}, kube-scheduler: ${sched}`)
    cmLeader = cm === a.identity() ? a : b
    other = cmLeader === a ? b : a
    await client.resource<ReplicaSet>(R.replicasets, 'default').create(replicaSet('first', 2))
    await waitUntil('2 pods', async () => (await livePods(client, 'first')).length === 2, 15_000, 100)
  })

  let restarted!: Srv
  await t.test('kill -9 of the controller-manager leader: the other server takes both Leases', async (t) => {
    const before = (await leases.get('kube-controller-manager')).spec!
    await cmLeader.kill('SIGKILL')
    const died = Date.now()
    const survivor = createClient(loadKubeconfig(join(other.stateDir, 'admin.kubeconfig')))
    t.teardown(() => survivor.close())
    const sl = survivor.resource<Lease>(resourceFor('leases'), 'kube-system')
    await waitUntil('survivor holds both', async () => {
      const hs = await Promise.all(LEASES.map(async (n) => (await sl.get(n)).spec?.holderIdentity))
      return hs.every((h) => h === other.identity())
    }, 15_000, 50)
    const took = Date.now() - died
    t.comment(`both Leases taken over ${took} ms after kill -9 of the leading server (lease ${LEASE_MS} ms, bound ${TAKEOVER_BOUND_MS} ms)`)
    t.ok(took <= TAKEOVER_BOUND_MS + SLACK_MS, `within lease + retries (${took} ms)`)
    const after = (await sl.get('kube-controller-manager')).spec!
    t.equal(after.leaseTransitions, (before.leaseTransitions ?? 0) + 1)
    await survivor.resource<ReplicaSet>(R.replicasets, 'default').create(replicaSet('second', 3))
    await waitUntil('the new leader creates pods', async () => (await livePods(survivor, 'second')).length === 3, 15_000, 100)

    // Restarted on its state dir (same identity), it finds the Leases held and waits.
    restarted = await startSrv(top, { etcd: etcd.endpoint, host: cmLeader.host, port, stateDir: cmLeader.stateDir })
    await new Promise((r) => setTimeout(r, LEASE_MS + 1000))
    const hs = await Promise.all(LEASES.map(async (n) => (await sl.get(n)).spec?.holderIdentity))
    t.same(hs, [other.identity(), other.identity()], 'the restarted server rejoins as a standby')
  })

  await t.test('SIGTERM of the leader releases its Leases: the standby takes over within a retry', async (t) => {
    const rc = createClient(loadKubeconfig(join(restarted.stateDir, 'admin.kubeconfig')))
    t.teardown(() => rc.close())
    const rl = rc.resource<Lease>(resourceFor('leases'), 'kube-system')
    const stopping = Date.now()
    const e = await other.kill('SIGTERM')
    const stopped = Date.now()
    t.same(e, { code: 0, signal: null }, 'clean exit')
    for (const n of LEASES) t.not((await rl.get(n)).spec?.holderIdentity, other.identity(), `${n}: released before the process exited`)
    await waitUntil('restarted server holds both', async () => {
      const hs = await Promise.all(LEASES.map(async (n) => (await rl.get(n)).spec?.holderIdentity))
      return hs.every((h) => h === restarted.identity())
    }, 15_000, 20)
    const took = Date.now() - stopped
    t.comment(`takeover ${took} ms after the leader exited on SIGTERM (its stop took ${stopped - stopping} ms)`)
    t.ok(took < LEASE_MS, `sooner than a lease duration (${took} ms): the Leases were released`)
  })
})
