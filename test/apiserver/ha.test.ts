// Two apiservers on one etcd (#10): each keeps a lease under /registry/masterleases/, the
// `kubernetes` Endpoints and EndpointSlice list exactly the live ones, a kill -9'd server
// leaves within the lease TTL, and ClusterIP/NodePort allocation stays race-free across them.
import t, { type Test } from 'tap'
import { Etcd3 } from 'etcd3'
import type { Endpoints, EndpointSlice, Service } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { loadKubeconfig } from '../../src/client/kubeconfig.js'
import { createClient } from '../../src/client/rest.js'
import type { Client } from '../../src/client/interfaces.js'
import { LEASE_PREFIX } from '../../src/apiserver/lease-reconciler-core.js'
import { freePort } from '../../src/util/ports.js'
import { withApiServer } from '../helpers/apiserver.js'
import { withEtcd } from '../helpers/etcd.js'
import { startApiServerChild } from '../helpers/apiserver-child.js'
import { waitUntil } from '../helpers/wait.js'

const TTL = 3
const [A, B] = ['127.0.0.2', '127.0.0.3']
const R = { services: resourceFor('services'), endpoints: resourceFor('endpoints'), slices: resourceFor('endpointslices') }

/** `netkube apiserver` as a child process, so it can be killed with SIGKILL. */
async function startChild(t: Test, etcd: string, host: string, port: number): Promise<{ client: Client; kill9: () => Promise<void> }> {
  const c = await startApiServerChild(t, { etcd, host, port, extraArgs: ['--endpoint-lease-ttl', String(TTL)] })
  return {
    client: createClient(loadKubeconfig(c.kubeconfigPath)),
    kill9: async () => {
      t.equal(await c.kill9(), 'SIGKILL')
    },
  }
}

/** Wait until both the Endpoints and the EndpointSlice list exactly `want`, as `c` reads them. */
const listed = (c: Client, want: string[], timeoutMs: number): Promise<void> =>
  waitUntil(`kubernetes endpoints = ${want.join(',')}`, async () => {
    const got = await addresses(c)
    if (JSON.stringify(got) === JSON.stringify({ ep: want, slice: want })) return true
    throw new Error(JSON.stringify(got))
  }, timeoutMs, 100)

const addresses = async (c: Client): Promise<{ ep: string[]; slice: string[] }> => {
  const ep = await c.resource<Endpoints>(R.endpoints, 'default').get('kubernetes')
  const sl = await c.resource<EndpointSlice>(R.slices, 'default').get('kubernetes')
  return { ep: (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)), slice: sl.endpoints.flatMap((e) => e.addresses) }
}

t.test('two apiservers on one etcd', async (t) => {
  const etcd = await withEtcd(t)
  const kv = new Etcd3({ hosts: etcd.endpoint })
  t.teardown(() => kv.close())
  const port = await freePort(A)
  const a = await withApiServer(t, { etcd, host: A, port, endpointLeaseTtlSeconds: TTL })
  const ca = createClient({ server: a.url, token: a.token, caPem: a.caPem })
  const b = await startChild(t, etcd.endpoint, B, port)

  await t.test('both hold leases; Endpoints and EndpointSlice list both', async (t) => {
    const leases = await kv.getAll().prefix(LEASE_PREFIX).exec()
    t.same(leases.kvs.map((k) => k.key.toString()).sort(), [LEASE_PREFIX + A, LEASE_PREFIX + B])
    for (const k of leases.kvs) t.not(String(k.lease), '0', `${k.key.toString()} carries an etcd lease (a TTL)`)
    for (const c of [ca, b.client]) await listed(c, [A, B], 10_000)
    const ep = await ca.resource<Endpoints>(R.endpoints, 'default').get('kubernetes')
    t.same(ep.subsets?.[0]?.ports, [{ name: 'https', port, protocol: 'TCP' }])
  })

  await t.test('2x32 concurrent ClusterIP and NodePort creates across both', async (t) => {
    const mk = (name: string, type = 'ClusterIP'): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type, selector: { app: name }, ports: [{ port: 80 }] } }) as Service
    const both = (prefix: string, type?: string): Promise<Service[]> =>
      Promise.all(Array.from({ length: 64 }, (_, i) => (i % 2 ? b.client : ca).resource<Service>(R.services, 'default').create(mk(`${prefix}${i}`, type))))
    const ips = (await both('ip-')).map((s) => s.spec.clusterIP)
    t.equal(new Set(ips).size, 64, '64 distinct ClusterIPs')
    const nps = (await both('np-', 'NodePort')).map((s) => s.spec.ports![0]!.nodePort)
    t.equal(new Set(nps).size, 64, '64 distinct NodePorts')
    t.equal(new Set([...ips, ...(await both('npb-', 'NodePort')).map((s) => s.spec.clusterIP)]).size, 128, 'ClusterIPs stay distinct')
    // The same requested NodePort from both servers at once: exactly one wins.
    const req = (c: Client, name: string) => c.resource<Service>(R.services, 'default').create({ ...mk(name, 'NodePort'), spec: { ...mk(name, 'NodePort').spec, ports: [{ port: 80, nodePort: 31777 }] } } as Service).then(() => 201, (e: { code: number }) => e.code)
    const codes = await Promise.all(Array.from({ length: 8 }, (_, i) => req(i % 2 ? b.client : ca, `want${i}`)))
    t.same(codes.sort(), [201, ...Array(7).fill(422)])
    const keys = await kv.getAll().prefix('/registry/ranges/serviceips/').keys()
    t.equal(keys.length, 1 + 64 * 3 + 1, 'one IP key per Service (kubernetes + 192 + the NodePort winner), none leaked')
  })

  await t.test('kill -9 one: its address leaves within the lease TTL', async (t) => {
    const killed = Date.now()
    await b.kill9()
    await listed(ca, [A], 15_000)
    const took = Date.now() - killed
    t.comment(`address gone ${took} ms after kill -9 (TTL ${TTL} s)`)
    // Expiry within the TTL, plus at most one refresh interval (2/3 TTL) for A to notice.
    t.ok(took <= TTL * 1000 * (5 / 3) + 2000, `gone in ${took} ms`)
    t.same((await kv.getAll().prefix(LEASE_PREFIX).keys()).sort(), [LEASE_PREFIX + A])
  })

  await t.test('a clean stop removes its address at once', async (t) => {
    const c = await withApiServer(t, { etcd, host: '127.0.0.4', port, endpointLeaseTtlSeconds: TTL })
    await listed(ca, [A, '127.0.0.4'], 10_000)
    await c.stop()
    t.same(await addresses(ca), { ep: [A], slice: [A] }, 'gone without waiting for the TTL')
    t.same(await kv.getAll().prefix(LEASE_PREFIX).keys(), [LEASE_PREFIX + A], 'its lease is deleted, so no refresh by A brings it back')
  })
})

t.test('with etcd gone, a clean stop does not hang on its lease', async (t) => {
  const etcd = await withEtcd(t)
  const a = await withApiServer(t, { etcd, endpointLeaseTtlSeconds: TTL })
  await etcd.stop()
  const start = Date.now()
  await a.stop()
  t.ok(Date.now() - start < 8000, `stopped in ${Date.now() - start} ms`)
})
