// The pure half of the apiserver lease endpoint reconciler: live lease keys → addresses →
// the `kubernetes` Endpoints and EndpointSlice.
import t from 'tap'
import { apiserverEndpoints, LEASE_PREFIX, leaseKey, liveAddresses } from '../../src/apiserver/lease-reconciler-core.js'

t.test('liveAddresses', async (t) => {
  const keys = ['10.0.0.10', '10.0.0.9', '10.0.0.10', 'not-an-ip'].map(leaseKey).concat(['/registry/ranges/serviceips/10.0.0.1'])
  t.same(liveAddresses(keys, '10.0.0.9'), ['10.0.0.9', '10.0.0.10'], 'numeric order, deduplicated, foreign keys and garbage ignored')
  t.same(liveAddresses([], '10.0.0.5'), ['10.0.0.5'], 'self is listed before its first lease is visible')
  t.equal(leaseKey('10.0.0.1'), `${LEASE_PREFIX}10.0.0.1`)
})

t.test('apiserverEndpoints', async (t) => {
  const { endpoints, slice } = apiserverEndpoints(['10.0.0.1', '10.0.0.2'], 6443)
  t.same(endpoints.subsets, [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }])
  t.same((slice as any).endpoints.map((e: any) => e.addresses), [['10.0.0.1'], ['10.0.0.2']])
  t.equal(slice.metadata.labels?.['kubernetes.io/service-name'], 'kubernetes')
  t.equal(endpoints.metadata.labels?.['endpointslice.kubernetes.io/skip-mirror'], 'true', 'the mirroring controller leaves it alone')
  t.same(apiserverEndpoints([], 6443).endpoints.subsets, [], 'no live apiserver: no subset')
  t.same((apiserverEndpoints([], 6443).slice as any).endpoints, [])
})
