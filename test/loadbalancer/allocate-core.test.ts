// The allocator's decisions as a table: pools in, one Service, who holds what → decision.
import t from 'tap'
import type { Service } from '../../src/api/types.js'
import { ANN_LB_IPS, ANN_POOL, decide, type Owner } from '../../src/loadbalancer/allocate-core.js'
import { mergePools, parsePool, parsePoolsFlag, describePool } from '../../src/loadbalancer/pools.js'

const pools = parsePoolsFlag('default=192.168.56.200-192.168.56.202;extra=10.9.0.0/30,10.9.1.7')
const svc = (name: string, spec: Partial<Service['spec']> = {}, o: { ann?: Record<string, string>; ips?: string[]; uid?: string } = {}): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { namespace: 'default', name, uid: o.uid ?? `uid-${name}`, ...(o.ann ? { annotations: o.ann } : {}) },
  spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...spec },
  status: { loadBalancer: o.ips ? { ingress: o.ips.map((ip) => ({ ip })) } : {} },
})
const holder = (name: string): Owner => ({ namespace: 'default', name, uid: `uid-${name}` })

t.test('pools: ranges, CIDRs (no network/broadcast), single addresses; bad input refused', async (t) => {
  t.same(pools.map(describePool), ['default=192.168.56.200-192.168.56.202', 'extra=10.9.0.1-10.9.0.2,10.9.1.7'])
  t.same(describePool(parsePool('one', '10.1.1.1/32')), 'one=10.1.1.1')
  t.throws(() => parsePoolsFlag('x'), /is not NAME=RANGES/)
  t.throws(() => parsePool('p', '10.0.0.9-10.0.0.1'), /is after/)
  t.throws(() => parsePool('p', '10.0.0.1/24'), /invalid CIDR/)
  t.throws(() => parsePool('P', '10.0.0.1'), /invalid pool name/)
  const m = mergePools(pools, { default: '172.16.0.1-172.16.0.2', broken: 'nope' })
  t.same(m.pools.map(describePool), ['default=172.16.0.1-172.16.0.2', 'extra=10.9.0.1-10.9.0.2,10.9.1.7'], 'ConfigMap replaces a flag pool of its name')
  t.match(m.errors, [/invalid address "nope"/], 'a broken entry is reported, the others kept')
})

const H = (entries: [string, Owner][]): Map<string, Owner> => new Map(entries)
const cases: { name: string; svc: Service; holders?: Map<string, Owner>; want: unknown }[] = [
  { name: 'first free address of the first pool', svc: svc('a'), want: { kind: 'assign', ip: '192.168.56.200', pool: 'default' } },
  { name: 'skips taken addresses', svc: svc('a'), holders: H([['192.168.56.200', holder('x')]]), want: { kind: 'assign', ip: '192.168.56.201' } },
  { name: 'keeps its current address', svc: svc('a', {}, { ips: ['192.168.56.202'] }), holders: H([['192.168.56.202', holder('a')]]), want: { kind: 'assign', ip: '192.168.56.202' } },
  { name: 'keeps a claim made before a crash (no status yet)', svc: svc('a'), holders: H([['10.9.0.2', holder('a')]]), want: { kind: 'assign', ip: '10.9.0.2', pool: 'extra' } },
  { name: 'a status address taken by another is not kept', svc: svc('a', {}, { ips: ['192.168.56.200'] }), holders: H([['192.168.56.200', holder('x')]]), want: { kind: 'assign', ip: '192.168.56.201' } },
  { name: 'falls over to the next pool', svc: svc('a'), holders: H(['200', '201', '202'].map((n) => [`192.168.56.${n}`, holder('x')])), want: { kind: 'assign', ip: '10.9.0.1', pool: 'extra' } },
  { name: 'all pools full', svc: svc('a'), holders: H(['192.168.56.200', '192.168.56.201', '192.168.56.202', '10.9.0.1', '10.9.0.2', '10.9.1.7'].map((ip) => [ip, holder('x')])), want: { kind: 'fail', reason: 'AllocationFailed', message: 'Failed to allocate IP for "default/a": no available IPs in pools "default", "extra"' } },
  { name: 'spec.loadBalancerIP in a pool', svc: svc('a', { loadBalancerIP: '10.9.1.7' }), want: { kind: 'assign', ip: '10.9.1.7', pool: 'extra' } },
  { name: 'annotation wins over spec.loadBalancerIP', svc: svc('a', { loadBalancerIP: '10.9.1.7' }, { ann: { [ANN_LB_IPS]: '192.168.56.201' } }), want: { kind: 'assign', ip: '192.168.56.201' } },
  { name: 'requested address outside every pool', svc: svc('a', { loadBalancerIP: '10.1.2.3' }), want: { kind: 'fail', message: 'Failed to allocate IP for "default/a": ["10.1.2.3"] is not allowed in config' } },
  { name: 'requested address held by another Service', svc: svc('a', {}, { ann: { [ANN_LB_IPS]: '192.168.56.200' } }), holders: H([['192.168.56.200', holder('b')]]), want: { kind: 'fail', message: 'Failed to allocate IP for "default/a": ["192.168.56.200"] is already in use by "default/b"' } },
  { name: 'requested address is not an IP', svc: svc('a', {}, { ann: { [ANN_LB_IPS]: 'ten' } }), want: { kind: 'fail', message: /\["ten"\] is not a valid IPv4 address/ } },
  { name: 'pool annotation', svc: svc('a', {}, { ann: { [ANN_POOL]: 'extra' } }), want: { kind: 'assign', ip: '10.9.0.1', pool: 'extra' } },
  { name: 'unknown pool', svc: svc('a', {}, { ann: { [ANN_POOL]: 'gold' } }), want: { kind: 'fail', message: /pool "gold" does not exist/ } },
  { name: 'address of another pool than the annotated one', svc: svc('a', { loadBalancerIP: '192.168.56.200' }, { ann: { [ANN_POOL]: 'extra' } }), want: { kind: 'fail', message: /is not allowed in config/ } },
  { name: 'another loadBalancerClass: left alone (status kept)', svc: svc('a', { loadBalancerClass: 'example.com/other' }), want: { kind: 'release', clearStatus: false } },
  { name: 'our class', svc: svc('a', { loadBalancerClass: 'netkube.io/lb' }), want: { kind: 'assign', ip: '192.168.56.200' } },
  { name: 'not a LoadBalancer (type changed): release and clear', svc: svc('a', { type: 'ClusterIP' }), want: { kind: 'release', clearStatus: true } },
  { name: 'a re-created Service (new uid) does not inherit the old claim', svc: svc('a', {}, { uid: 'new' }), holders: H([['192.168.56.200', holder('a')]]), want: { kind: 'assign', ip: '192.168.56.201' } },
]

t.test('decide()', async (t) => {
  for (const c of cases) t.match(decide({ svc: c.svc, pools, holders: c.holders ?? new Map(), ourClass: 'netkube.io/lb' }), c.want, c.name)
  t.match(decide({ svc: svc('a'), pools: [], holders: new Map(), ourClass: 'x' }), { kind: 'fail', message: /no address pools are configured/ })
})
