// Creating an object that exists is 409 AlreadyExists (upstream's wording) whatever its
// spec: the name is checked before a ClusterIP/NodePort is allocated, and the losing create
// holds no address afterwards (#10: a restarted server got 422 "IP already allocated").
import t from 'tap'
import { Etcd3 } from 'etcd3'
import { withApiServer } from '../helpers/apiserver.js'
import { inj, service } from './util.js'

const SVC = '/api/v1/namespaces/kube-system/services'
const IPS = '/registry/ranges/serviceips/'
const PORTS = '/registry/ranges/servicenodeports/'

t.test('create of an existing Service', async (t) => {
  const srv = await withApiServer(t)
  const etcd = new Etcd3({ hosts: srv.etcdEndpoint })
  t.teardown(() => etcd.close())
  const keys = async (prefix: string): Promise<string[]> => (await etcd.getAll().prefix(prefix).keys()).sort()

  const first = await inj(srv, 'POST', SVC, { ...service('kube-dns', { clusterIP: '10.96.0.10', type: 'NodePort' }), metadata: { name: 'kube-dns' } })
  t.equal(first.status, 201, first.text)
  const ipsBefore = await keys(IPS)
  const portsBefore = await keys(PORTS)

  const cases: [string, Record<string, unknown>][] = [
    ['the same ClusterIP', { clusterIP: '10.96.0.10' }],
    ['another free ClusterIP', { clusterIP: '10.96.7.7' }],
    ['no ClusterIP (picked at random)', {}],
    ['a free NodePort', { type: 'NodePort', ports: [{ port: 53, nodePort: 31999 }] }],
  ]
  for (const [what, spec] of cases) {
    const again = await inj(srv, 'POST', SVC, { ...service('kube-dns', spec), metadata: { name: 'kube-dns' } })
    t.equal(again.status, 409, `${what}: ${again.text}`)
    t.equal(again.body.reason, 'AlreadyExists', what)
    t.equal(again.body.message, 'services "kube-dns" already exists', what)
    t.same(again.body.details, { name: 'kube-dns', group: '', kind: 'services' }, what)
  }
  t.same(await keys(IPS), ipsBefore, 'no ClusterIP claimed by the losing creates')
  t.same(await keys(PORTS), portsBefore, 'no NodePort claimed by the losing creates')
  const other = await inj(srv, 'POST', SVC, service('other', { clusterIP: '10.96.7.7', type: 'NodePort', ports: [{ port: 53, nodePort: 31999 }] }))
  t.equal(other.status, 201, `the addresses a losing create asked for are free: ${other.text}`)

  // Racing creates of one new name with one requested IP: one wins, the rest see the name.
  // Staggered starts so some losers check the name before the winner commits and ask for
  // the address after it did (the window the allocation error's re-check closes).
  const race = await Promise.all(
    Array.from({ length: 16 }, (_, i) => new Promise((r) => setTimeout(r, i)).then(() => inj(srv, 'POST', SVC, service('racer', { clusterIP: '10.96.8.8' })))),
  )
  t.same(race.map((r) => r.status).sort(), [201, ...Array(15).fill(409)], race.map((r) => r.text).join('\n'))
  t.ok(race.filter((r) => r.status === 409).every((r) => r.body.reason === 'AlreadyExists'))
})
