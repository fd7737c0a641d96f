// #10 "reconciled, not created once": a running server puts back what a user deleted or
// edited — the kube-dns add-on (addon-manager's minute loop) and the `kubernetes` Service
// (the apiserver's bootstrap loop) — without a restart, and keeps a user's scaling.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Deployment, KubeObject, Service } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { startServer } from '../../src/server/server.js'
import { freePort } from '../../src/util/ports.js'
import { withEtcd } from '../helpers/etcd.js'
import { waitUntil } from '../helpers/wait.js'
import { createClient } from '../../src/client/rest.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'

// The test acts as the admin (the server's own client is the add-on manager's, with only its rights).
const adminOf = (server: { api: { kubeconfigPath: string } }) => createClient(loadKubeconfig(server.api.kubeconfigPath))

t.test('a running server repairs its add-ons and bootstrap objects', async (t) => {
  const etcd = await withEtcd(t)
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-repair-'))
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }))
  const server = await startServer({
    stateDir,
    etcdServers: [etcd.endpoint],
    securePort: await freePort(),
    addonReconcileIntervalMs: 300,
    bootstrapIntervalMs: 300,
    dnsReplicas: 2,
  })
  t.teardown(() => server.stop())
  const admin = adminOf(server)
  const svcs = admin.resource<Service>(resourceFor('services'), 'kube-system')
  const deps = admin.resource<Deployment>(resourceFor('deployments'), 'kube-system')
  const defaultSvcs = admin.resource<Service>(resourceFor('services'), 'default')

  await deps.delete('netkube-dns')
  t.equal((await deps.list({ labelSelector: 'k8s-app=kube-dns' })).items.length, 0, 'the DNS Deployment is gone')
  await waitUntil('the DNS Deployment back', async () => (await deps.list({ labelSelector: 'k8s-app=kube-dns' })).items.length === 1, 10_000)
  t.pass('deleted DNS Deployment re-created by the add-on loop')

  const dns = await svcs.get('kube-dns')
  const edited = structuredClone(dns)
  edited.spec!.ports = edited.spec!.ports!.map((p) => ({ ...p, port: p.port + 1000 }))
  await svcs.update(edited)
  await waitUntil('kube-dns ports put back', async () => (await svcs.get('kube-dns')).spec!.ports!.every((p) => p.port === 53 || p.port === 9153), 10_000)
  t.pass('edited kube-dns ports put back')

  const dep = (await deps.list({ labelSelector: 'k8s-app=kube-dns' })).items[0]!
  await deps.update({ ...dep, spec: { ...dep.spec!, replicas: 3 } })
  await new Promise((r) => setTimeout(r, 1200))
  t.equal((await deps.get(dep.metadata.name!)).spec!.replicas, 3, "a user's scaling survives several reconcile rounds")

  const k = await defaultSvcs.get('kubernetes')
  await defaultSvcs.delete('kubernetes')
  await waitUntil('the kubernetes Service back', async () => (await defaultSvcs.get('kubernetes')).metadata.uid !== k.metadata.uid, 10_000)
  t.equal((await defaultSvcs.get('kubernetes')).spec!.clusterIP, k.spec!.clusterIP, 'the kubernetes Service is back on its first address')
})

// #12: the Ingress add-on does not depend on the DNS add-on.
t.test('--no-dns leaves out DNS only, --no-ingress the Ingress add-on only', async (t) => {
  for (const [flags, dnsWanted, ingressWanted] of [
    [{ noDns: true }, false, true],
    [{ noIngress: true }, true, false],
  ] as const) {
    const etcd = await withEtcd(t)
    const stateDir = mkdtempSync(join(tmpdir(), 'netkube-addons-'))
    const server = await startServer({ stateDir, etcdServers: [etcd.endpoint], securePort: await freePort(), ...flags })
    try {
      const deps = adminOf(server).resource<Deployment>(resourceFor('deployments'), 'kube-system')
      const names = (await deps.list()).items.map((d) => d.metadata.name)
      const classes = (await adminOf(server).resource<KubeObject>(resourceFor('ingressclasses')).list()).items.map((c) => c.metadata.name)
      t.equal(names.includes('netkube-dns'), dnsWanted, `${JSON.stringify(flags)}: DNS Deployment ${dnsWanted ? 'present' : 'absent'}`)
      t.equal(names.includes('netkube-ingress-controller'), ingressWanted, `${JSON.stringify(flags)}: ingress controller ${ingressWanted ? 'present' : 'absent'}`)
      t.equal(classes.includes('netkube'), ingressWanted, `${JSON.stringify(flags)}: IngressClass netkube ${ingressWanted ? 'present' : 'absent'}`)
    } finally {
      await server.stop()
      rmSync(stateDir, { recursive: true, force: true })
    }
  }
})
