// Pure pieces of the apiserver and store, without etcd.
import t from 'tap'
import { parseTokenFile, TokenAuthenticator, isAnonymousPath } from '../../src/apiserver/auth.js'
import { parseServiceCidr, allocationKeys, AllocationError, ServiceAllocator, IP_PREFIX } from '../../src/apiserver/allocator.js'
import type { EtcdStore } from '../../src/storage/store.js'
import { decodeContinue, encodeContinue, prefixEnd } from '../../src/storage/store.js'
import { prepareForCreate, prepareForUpdate, updateGeneration, generateName } from '../../src/apiserver/strategy.js'
import { parseTarget } from '../../src/apiserver/routes.js'
import { findResource } from '../../src/api/resources.js'
import * as E from '../../src/apiserver/errors.js'
import type { KubeObject, Service } from '../../src/api/types.js'

t.test('token file: kube-apiserver CSV with quoted groups', async (t) => {
  const users = parseTokenFile('# comment\nabc,admin,1,"system:masters,ops"\n\ndef,bob,2\n')
  t.same(users.get('abc'), { name: 'admin', uid: '1', groups: ['system:masters', 'ops'] })
  t.same(users.get('def'), { name: 'bob', uid: '2', groups: [] })
  const auth = new TokenAuthenticator(users)
  t.equal(auth.authenticate('Bearer abc')?.name, 'admin')
  t.equal(auth.authenticate('bearer def')?.name, 'bob')
  t.equal(auth.authenticate('Bearer nope'), undefined)
  t.equal(auth.authenticate('Basic abc'), undefined)
  t.equal(auth.authenticate(undefined), undefined)
  t.ok(isAnonymousPath('/healthz'))
  t.ok(isAnonymousPath('/version'))
  t.notOk(isAnonymousPath('/api'))
  t.notOk(isAnonymousPath('/metrics'))
})

t.test('service CIDR: host bits cleared, /8../30 IPv4 only (the maths is src/net/ip.ts, tested there)', async (t) => {
  t.same(parseServiceCidr('10.96.0.0/12'), { ip: '10.96.0.0', prefix: 12, family: 4 })
  t.same(parseServiceCidr('10.96.5.7/24'), { ip: '10.96.5.0', prefix: 24, family: 4 })
  for (const bad of ['10.0.0.0/33', '10.0.0.0/7', '10.0.0.0/31', 'fd00::/20', '10.1.1/24', 'x']) {
    t.throws(() => parseServiceCidr(bad), /invalid service CIDR/, bad)
  }
  const svc = { metadata: {}, spec: { type: 'NodePort', clusterIP: '10.96.0.5', ports: [{ port: 80, nodePort: 30001 }] } } as Service
  t.same(allocationKeys(svc), ['/registry/ranges/serviceips/10.96.0.5', '/registry/ranges/servicenodeports/30001'])
  t.same(allocationKeys({ metadata: {}, spec: { clusterIP: 'None' } } as Service), [])
})

t.test('ClusterIP allocation: every host address once, never network/broadcast/.1/.10, then "range is full"', async (t) => {
  const held = new Set<string>()
  const store = { keys: async (prefix: string) => [...held].filter((k) => k.startsWith(prefix)) } as unknown as EtcdStore
  const alloc = new ServiceAllocator(store, '10.99.0.8/28') // 10.99.0.0/28: .0 network, .15 broadcast
  const svc = (clusterIP?: string) => ({ metadata: { namespace: 'default', name: 's' }, spec: clusterIP ? { clusterIP } : {} }) as Service
  const got: string[] = []
  for (;;) {
    let fx
    try {
      fx = await alloc.allocate(svc())
    } catch (err) {
      t.ok(err instanceof AllocationError, 'exhaustion is an AllocationError')
      t.match((err as Error).message, /range is full/)
      break
    }
    for (const k of Object.keys(fx.create!)) held.add(k)
    got.push(Object.keys(fx.create!)[0]!.slice(IP_PREFIX.length))
    if (got.length > 16) break
  }
  const want = [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14].map((n) => `10.99.0.${n}`)
  t.same([...got].sort((a, b) => Number(a.split('.')[3]) - Number(b.split('.')[3])), want, 'each free host address exactly once')
  const asked = async (ip: string) => {
    try {
      await alloc.allocate(svc(ip))
      return 'ok'
    } catch (err) {
      return (err as Error).message
    }
  }
  t.match(await asked('10.99.0.0'), /not in the valid range/, 'network address refused')
  t.match(await asked('10.99.0.15'), /not in the valid range/, 'broadcast address refused')
  t.match(await asked('10.99.0.16'), /not in the valid range/, 'outside the range refused')
  t.match(await asked('10.99.0.01'), /not in the valid range/, 'not a canonical address')
  t.equal(await asked('10.99.0.1'), 'ok', 'the reserved .1 may be asked for (the kubernetes Service does)')
  t.match(await asked('10.99.0.2'), /already allocated/)
  const tiny = new ServiceAllocator(store, '10.98.0.0/30') // hosts .1 (reserved) and .2; no .10
  t.equal((await tiny.allocate(svc())).create![`${IP_PREFIX}10.98.0.2`], JSON.stringify({ namespace: 'default', name: 's' }), 'a /30 works: its only free host')
})

t.test('continue tokens and key ranges', async (t) => {
  const tok = encodeContinue(42, '/registry/pods/default/b\x00')
  t.same(decodeContinue(tok, '/registry/pods/default/'), { rv: 42, start: '/registry/pods/default/b\x00' })
  t.throws(() => decodeContinue(tok, '/registry/configmaps/'), { code: 'InvalidContinue' })
  t.throws(() => decodeContinue('!!!', '/registry/pods/'), { code: 'InvalidContinue' })
  t.equal(prefixEnd('/registry/pods/').toString(), '/registry/pods0')
  t.same([...prefixEnd('a\xff')], [0x61, 0xc3, 0xc0], 'carries over 0xff bytes of the UTF-8 encoding')
})

t.test('strategy: system metadata and generation', async (t) => {
  const deploy = findResource('apps', 'v1', 'deployments')!
  const cmR = findResource('', 'v1', 'configmaps')!
  const o: KubeObject = { metadata: { name: 'x', resourceVersion: '9', uid: 'forged', deletionTimestamp: 'x' }, spec: { replicas: 1 }, status: { replicas: 3 } }
  prepareForCreate(deploy, o, new Date('2026-01-02T03:04:05.678Z'))
  t.not(o.metadata.uid, 'forged')
  t.equal(o.metadata.creationTimestamp, '2026-01-02T03:04:05Z')
  t.equal(o.metadata.generation, 1)
  t.notOk(o.metadata.resourceVersion)
  t.notOk(o.metadata.deletionTimestamp)
  t.same(o.status, {}, 'status reset on create')
  const next: KubeObject = structuredClone(o)
  next.metadata.labels = { a: 'b' }
  prepareForUpdate(deploy, next, o)
  updateGeneration(deploy, next, o)
  t.equal(next.metadata.generation, 1, 'labels do not bump')
  const next2: KubeObject = { ...structuredClone(o), spec: { replicas: 2 } }
  prepareForUpdate(deploy, next2, o)
  updateGeneration(deploy, next2, o)
  t.equal(next2.metadata.generation, 2)
  const c: KubeObject = { metadata: { name: 'c', generation: 7 }, data: { a: '1' } }
  prepareForCreate(cmR, c, new Date())
  t.equal(c.metadata.generation, undefined, 'a ConfigMap has no generation (upstream never sets one)')
  const c2: KubeObject = { ...structuredClone(c), data: { a: '2' } }
  prepareForUpdate(cmR, c2, c)
  updateGeneration(cmR, c2, c)
  t.equal(c2.metadata.generation, undefined)
  t.match(generateName('web-'), /^web-[a-z0-9]{5}$/)
})

t.test('paths → resources', async (t) => {
  t.match(parseTarget('', 'v1', 'namespaces/default/pods/p/status'), { r: { plural: 'pods' }, namespace: 'default', name: 'p', sub: 'status' })
  t.match(parseTarget('', 'v1', 'namespaces/default'), { r: { plural: 'namespaces' }, name: 'default', namespace: undefined })
  t.match(parseTarget('', 'v1', 'namespaces/x/status'), { r: { plural: 'namespaces' }, name: 'x', sub: 'status' })
  t.match(parseTarget('', 'v1', 'watch/namespaces/default/pods'), { watchPath: true, namespace: 'default' })
  t.match(parseTarget('', 'v1', 'pods'), { r: { plural: 'pods' }, namespace: undefined })
  t.match(parseTarget('apps', 'v1', 'namespaces/a/deployments/d/scale'), { sub: 'scale' })
  t.throws(() => parseTarget('', 'v1', 'namespaces/default/nodes'), { code: 404, reason: 'NotFound' })
  t.throws(() => parseTarget('', 'v1', 'namespaces/default/pods/p/status/extra'), { code: 404, reason: 'NotFound' })
  t.throws(() => parseTarget('', 'v1', 'configmaps/x/scale'), { code: 404, reason: 'NotFound' })
})

t.test('Status wording', async (t) => {
  t.equal(E.notFound({ group: '', resource: 'pods' }, 'nope').status.message, 'pods "nope" not found')
  t.equal(E.notFound({ group: 'apps', resource: 'deployments' }, 'x').status.message, 'deployments.apps "x" not found')
  t.equal(E.alreadyExists({ group: '', resource: 'services' }, 'web').status.message, 'services "web" already exists')
  t.equal(
    E.conflict({ group: '', resource: 'services' }, 'x', E.STALE_OBJECT).status.message,
    'Operation cannot be fulfilled on services "x": the object has been modified; please apply your changes to the latest version and try again',
  )
  const inv = E.invalid('Service', '', 'web', [{ type: 'FieldValueRequired', field: 'spec.ports', message: 'Required value' }]).status
  t.equal(inv.code, 422)
  t.equal(inv.message, 'Service "web" is invalid: spec.ports: Required value')
  t.same(inv.details?.causes, [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.ports' }])
  for (const [err, code, reason] of [
    [E.unauthorized(), 401, 'Unauthorized'],
    [E.methodNotAllowed(), 405, 'MethodNotAllowed'],
    [E.tooLarge(), 413, 'RequestEntityTooLarge'],
    [E.notAcceptable(), 406, 'NotAcceptable'],
    [E.gone('x'), 410, 'Gone'],
    [E.expired('x'), 410, 'Expired'],
    [E.internal('x'), 500, 'InternalError'],
    [E.timeout('x'), 504, 'Timeout'],
  ] as const) {
    t.equal(err.status.code, code)
    t.equal(err.status.reason, reason)
    t.equal(err.status.kind, 'Status')
    t.equal(err.status.status, 'Failure')
  }
})
