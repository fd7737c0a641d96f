// Which endpoint addresses the proxy takes and in what order (src/proxy/serviceport.ts over
// src/net/ip.ts): strict IPv4 only, numeric order, so the rules render the same on every sync.
import t from 'tap'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { NODE, slice, svc } from './fixtures.js'

t.test('endpoints: numeric order, malformed or non-IPv4 addresses skipped', async (t) => {
  const eps = ['10.244.0.10', '10.244.0.9', '999.1.1.1', '10.244.0.010', 'fd00::5', '9.255.255.255', '10.244.1.2'].map((ip) => ({ ip }))
  const [sp] = buildServicePorts(svc('web', { clusterIP: '10.96.0.20' }), [slice('web', eps)], NODE.name)
  t.same(sp!.endpoints.map((e) => e.ip), ['9.255.255.255', '10.244.0.9', '10.244.0.10', '10.244.1.2'])
  t.same(buildServicePorts(svc('web', { clusterIP: '10.96.0.256' }), [slice('web', eps)], NODE.name), [], 'a malformed ClusterIP programs nothing')
  const ext = buildServicePorts(svc('web', { clusterIP: '10.96.0.20', externalIPs: ['192.0.2.7', '192.0.2.300', 'fd00::7'] }), [], NODE.name)
  t.same(ext[0]!.externalIPs, ['192.0.2.7'], 'external IPs: IPv4 only, well-formed only')
})
