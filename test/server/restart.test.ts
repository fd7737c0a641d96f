// #10 "kill -9 anything, lose nothing": `netkube server` (from dist/) on one etcd, killed
// with SIGKILL and started again, including a start killed between the kube-dns Service and
// its Deployment. Every start must come up and stay up, with each bootstrap object and
// add-on present once, as declared, drift put back and a user's scaling kept.
import t, { type Test } from 'tap'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import type { Deployment, Endpoints, KubeObject, Service } from '../../src/api/types.js'
import { etcdKey, resourceFor } from '../../src/api/resources.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { createClient } from '../../src/client/rest.js'
import type { Client } from '../../src/client/interfaces.js'
import { planReconcile } from '../../src/apiserver/reconcile.js'
import { dnsDeployment, dnsService, DNS_DEPLOYMENT_OWNERSHIP } from '../../src/server/addons.js'
import { DEFAULT_PREFIX } from '../../src/overlay/config.js'
import { freePort } from '../../src/util/ports.js'
import { withEtcd } from '../helpers/etcd.js'
import { need } from '../helpers/prereq.js'

const execFileP = promisify(execFile)

const MAIN = join(process.cwd(), 'dist/src/cli/main.js')

interface Proc {
  p: ChildProcess
  /** Resolves once the server says it is ready; rejects if it exits first. */
  ready: Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stderr: () => string
}

function startServer(t: Test, args: string[], env: Record<string, string> = {}): Proc {
  const p = spawn(process.execPath, [MAIN, 'server', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NETKUBE_LOG_LEVEL: 'warn', ...env } })
  let err = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => p.on('exit', (code, signal) => r({ code, signal })))
  const ready = new Promise<void>((resolve, reject) => {
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      if (err.includes('netkube server ready')) resolve()
    })
    void exited.then((e) => reject(new Error(`server exited (${e.code ?? e.signal}) before ready: ${err.slice(-1500)}`)))
  })
  ready.catch(() => {})
  t.teardown(async () => {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL')
      await exited
    }
  })
  return { p, ready, exited, stderr: () => err }
}

async function kill9(s: Proc): Promise<void> {
  s.p.kill('SIGKILL')
  const e = await s.exited
  if (e.signal !== 'SIGKILL') throw new Error(`expected SIGKILL exit, got ${JSON.stringify(e)}`)
}

const R = { services: resourceFor('services'), deployments: resourceFor('deployments'), endpoints: resourceFor('endpoints'), namespaces: resourceFor('namespaces') }

t.test('netkube server converges across kill -9 restarts', async (t) => {
  t.ok(existsSync(MAIN), `${MAIN} exists (run the build first)`)
  const etcd = await withEtcd(t)
  const kv = new Etcd3({ hosts: etcd.endpoint })
  t.teardown(() => kv.close())
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-restart-'))
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }))
  const port = await freePort()
  const args = ['--etcd-servers', etcd.endpoint, '--state-dir', stateDir, '--secure-port', String(port), '--bind-address', '127.0.0.1', '--dns-replicas', '2']
  const client = (): Client => createClient(loadKubeconfig(join(stateDir, 'admin.kubeconfig')))
  const wantSvc = dnsService('10.96.0.10') as KubeObject
  const wantDep = dnsDeployment({ kubeconfig: join(stateDir, 'addons.kubeconfig'), clusterDomain: 'cluster.local', clusterIP: '10.96.0.10', replicas: 2 }) as KubeObject

  const converged = async (t: Test, c: Client, what: string): Promise<void> => {
    const svcs = (await c.resource<Service>(R.services, 'kube-system').list({ labelSelector: 'k8s-app=kube-dns' })).items
    t.same(svcs.map((s) => s.metadata.name), ['kube-dns'], `${what}: one kube-dns Service`)
    t.same(planReconcile(wantSvc, svcs[0] as KubeObject), { op: 'none' }, `${what}: kube-dns Service as declared`)
    t.equal(svcs[0]?.spec.clusterIP, '10.96.0.10')
    const deps = (await c.resource<Deployment>(R.deployments, 'kube-system').list({ labelSelector: 'k8s-app=kube-dns' })).items
    t.same(deps.map((d) => d.metadata.name), ['netkube-dns'], `${what}: one DNS Deployment`)
    t.same(planReconcile(wantDep, deps[0] as KubeObject, DNS_DEPLOYMENT_OWNERSHIP), { op: 'none' }, `${what}: DNS Deployment as declared`)
    const k = await c.resource<Service>(R.services, 'default').get('kubernetes')
    t.same([k.spec.clusterIP, k.spec.ports?.[0]?.port, k.spec.ports?.[0]?.targetPort], ['10.96.0.1', 443, port], `${what}: kubernetes Service`)
    const ep = await c.resource<Endpoints>(R.endpoints, 'default').get('kubernetes')
    t.same(ep.subsets, [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'https', port, protocol: 'TCP' }] }], `${what}: kubernetes Endpoints`)
    const nss = (await c.resource(R.namespaces).list()).items.map((n) => n.metadata.name).sort()
    t.same(nss, ['default', 'kube-node-lease', 'kube-public', 'kube-system'], `${what}: system namespaces`)
    const ips = (await kv.getAll().prefix('/registry/ranges/serviceips/').keys()).sort()
    // Every claimed address belongs to a Service that exists (kubernetes, kube-dns, the ingress add-on's).
    const held = (await c.resource<Service>(R.services).list()).items.flatMap((x) => (x.spec.clusterIP && x.spec.clusterIP !== 'None' ? [`/registry/ranges/serviceips/${x.spec.clusterIP}`] : [])).sort()
    t.same(ips, held, `${what}: no leaked ClusterIPs`)
    t.ok(ips.includes('/registry/ranges/serviceips/10.96.0.1') && ips.includes('/registry/ranges/serviceips/10.96.0.10'), `${what}: the well-known addresses held`)
    t.ok(await kv.get(`${DEFAULT_PREFIX}/config`).string(), `${what}: overlay config in etcd`)
  }

  await t.test('a start killed after the kube-dns Service, before its Deployment', async (t) => {
    const s = startServer(t, args, { NETKUBE_CRASH_AT: 'services/kube-dns' })
    const e = await s.exited
    t.equal(e.signal, 'SIGKILL', `died at the crash point: ${s.stderr().slice(-500)}`)
    t.ok(await kv.get(etcdKey(R.services, 'kube-system', 'kube-dns')).string(), 'the Service was written')
    t.notOk(await kv.get(etcdKey(R.deployments, 'kube-system', 'netkube-dns')).string(), 'the Deployment was not')
  })

  for (let round = 1; round <= 5; round++) {
    await t.test(`start ${round} (after a kill -9)`, async (t) => {
      const s = startServer(t, args)
      await s.ready
      const c = client()
      await converged(t, c, `start ${round}`)
      await new Promise((r) => setTimeout(r, 300))
      t.equal(s.p.exitCode, null, 'still running')
      if (round === 2) {
        // Drift while it runs; the next start must put it back and keep the user's scale.
        const dep = await c.resource<Deployment>(R.deployments, 'kube-system').get('netkube-dns')
        dep.spec.replicas = 5
        dep.spec.template.spec.containers[0]!.image = 'someone/else'
        dep.spec.template.spec.containers[0]!.args = ['--broken']
        await c.resource<Deployment>(R.deployments, 'kube-system').update(dep)
        await c.resource(R.services, 'kube-system').delete('kube-dns')
        await c.resource<Service>(R.services, 'default').patch('kubernetes', { spec: { ports: [{ name: 'https', port: 443, targetPort: 1, protocol: 'TCP' }] } }, 'merge')
      }
      if (round === 5) {
        // What the user saw fail ("Unable to connect"): kubectl against the restarted server.
        await t.test('kubectl reads the add-on', { skip: need('kubectl') }, async (t) => {
          const { stdout } = await execFileP('kubectl', ['--kubeconfig', join(stateDir, 'admin.kubeconfig'), 'get', 'service', 'kube-dns', '-n', 'kube-system', '-o', 'jsonpath={.spec.clusterIP}'])
          t.equal(stdout, '10.96.0.10')
        })
      }
      if (round === 4) {
        // kube-dns re-created by hand at another address: clusterIP cannot be updated in place.
        await c.resource(R.services, 'kube-system').delete('kube-dns')
        await c.resource<Service>(R.services, 'kube-system').create({ ...(dnsService('10.96.0.77') as Service), metadata: { name: 'kube-dns', namespace: 'kube-system' } })
      }
      if (round === 3) {
        const dep = await c.resource<Deployment>(R.deployments, 'kube-system').get('netkube-dns')
        t.equal(dep.spec.replicas, 5, 'replicas the user scaled are kept (user-owned)')
        t.equal(dep.spec.template.spec.containers[0]!.image, 'netkube/dns', 'edited image put back')
      }
      await kill9(s)
    })
  }
})
