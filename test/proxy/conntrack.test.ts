// Which UDP flows the proxy deletes after a sync (upstream's CleanStaleEntries filters plus
// vanished Services), decided purely over ServicePorts; and the cleaner's bookkeeping.
import t from 'tap'
import type { CtEntry } from '../../src/net/conntrack.js'
import { parseCidr } from '../../src/net/ip.js'
import { ConntrackCleaner, staleUdpFlows, udpTargets, type ConntrackTable } from '../../src/proxy/conntrack.js'
import { ProxyMetrics } from '../../src/proxy/metrics.js'
import { buildServicePorts } from '../../src/proxy/serviceport.js'
import { NODE, slice, svc } from './fixtures.js'

const CIDR = parseCidr(NODE.serviceCIDR)
const dns = (eps: { ip: string; ready?: boolean; serving?: boolean; terminating?: boolean }[], extra = {}) =>
  buildServicePorts(
    svc('dns', { clusterIP: '10.96.0.10', type: 'NodePort', externalIPs: ['192.168.50.99'], ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }], ...extra }),
    [slice('dns', eps, { portName: 'dns', port: 53, protocol: 'UDP' })],
    NODE.name,
  )
const web = buildServicePorts(svc('web', { clusterIP: '10.96.0.20' }), [slice('web', [{ ip: '10.244.1.30' }])], NODE.name)

function flow(dst: string, dport: number, replySrc: string, proto = 17, sport = 5353): CtEntry {
  return { orig: { src: '10.244.1.50', dst, proto, sport, dport }, reply: { src: replySrc, dst: '10.244.1.50', proto, sport: 53, dport: sport } }
}
const names = (es: CtEntry[]) => es.map((e) => `${e.orig.dst}:${e.orig.dport}->${e.reply.src}`)

t.test('flows to a UDP Service not DNATed to a serving endpoint are stale', async (t) => {
  const now = udpTargets([dns([{ ip: '10.244.1.11' }, { ip: '10.244.1.12', ready: false, serving: true, terminating: true }, { ip: '10.244.1.13', ready: false, serving: false }]), web])
  const entries = [
    flow('10.96.0.10', 53, '10.244.1.11'), // live endpoint: kept
    flow('10.96.0.10', 53, '10.244.1.12'), // terminating but serving: kept (upstream ignores terminating state)
    flow('10.96.0.10', 53, '10.244.1.13'), // not serving: stale
    flow('10.96.0.10', 53, '10.244.1.99'), // an endpoint that left: stale
    flow('10.96.0.10', 53, '10.96.0.10'), // never DNATed (sent before the rules existed): stale
    flow('192.168.50.99', 53, '10.244.1.99'), // externalIP: the same filter
    flow('192.168.50.10', 30053, '10.244.1.99'), // NodePort on a node address, stale endpoint
    flow('192.168.50.10', 30053, '10.244.1.11'), // NodePort, live endpoint: kept
    flow('10.96.0.10', 53, '10.244.1.99', 6), // TCP: never touched
    flow('8.8.8.8', 53, '8.8.8.8'), // not a Service
  ]
  t.same(names(staleUdpFlows(entries, now, undefined, CIDR)), [
    '10.96.0.10:53->10.244.1.13',
    '10.96.0.10:53->10.244.1.99',
    '10.96.0.10:53->10.96.0.10',
    '192.168.50.99:53->10.244.1.99',
    '192.168.50.10:30053->10.244.1.99',
  ])
})

t.test('flows to Services that went away are stale', async (t) => {
  const before = udpTargets([dns([{ ip: '10.244.1.11' }])])
  const now = udpTargets([web])
  const entries = [
    flow('10.96.0.10', 53, '10.244.1.11'), // its ClusterIP is gone
    flow('192.168.50.99', 53, '10.244.1.11'), // its externalIP is gone
    flow('192.168.50.10', 30053, '10.244.1.11'), // its NodePort is gone, the flow was DNATed
    flow('192.168.60.1', 30053, '192.168.60.1'), // same port number, never DNATed: another program's flow
    flow('10.96.0.77', 53, '10.244.1.11'), // in the service CIDR, no Service (deleted while no proxy ran)
    flow('10.96.0.20', 80, '10.244.1.30'), // a TCP Service's IP with a UDP flow: not DNATed by us, stale too
    flow('192.168.60.1', 53, '192.168.60.1'),
  ]
  t.same(names(staleUdpFlows(entries, now, before, CIDR)), [
    '10.96.0.10:53->10.244.1.11',
    '192.168.50.99:53->10.244.1.11',
    '192.168.50.10:30053->10.244.1.11',
    '10.96.0.77:53->10.244.1.11',
    '10.96.0.20:80->10.244.1.30',
  ])
  t.same(names(staleUdpFlows([flow('192.168.50.99', 53, '10.244.1.11')], now, undefined, CIDR)), [], 'an unknown address outside the service CIDR is left alone')
})

t.test('the cleaner deletes, counts, and remembers what existed', async (t) => {
  let table: CtEntry[] = [flow('10.96.0.10', 53, '10.244.1.11'), flow('10.96.0.10', 53, '10.244.1.12')]
  const deletes: CtEntry[][] = []
  const fake: ConntrackTable = {
    list: async () => table,
    delete: async (es) => {
      deletes.push([...es])
      table = table.filter((e) => !es.includes(e))
      return { deleted: es.length, missing: 0 }
    },
    close: () => {},
  }
  const metrics = new ProxyMetrics()
  const c = new ConntrackCleaner(fake, undefined, metrics)
  t.equal(await c.clean(new Map([['default/dns', dns([{ ip: '10.244.1.11' }])]])), 1)
  t.same(names(deletes[0]!), ['10.96.0.10:53->10.244.1.12'])
  // no service CIDR given: only the memory of the previous round finds the deleted Service
  t.equal(await c.clean(new Map()), 1, "the Service's remaining flow goes with it")
  t.equal(table.length, 0)
  const text = await metrics.registry.metrics()
  t.match(text, /netkube_proxy_conntrack_reconciler_deleted_entries_total 2/)
  t.match(text, /netkube_proxy_conntrack_reconciler_sync_duration_seconds_count 2/)
  const failing: ConntrackTable = { ...fake, list: async () => Promise.reject(new Error('EPERM')) }
  t.equal(await new ConntrackCleaner(failing, undefined).clean(new Map()), 0, 'a failed dump is logged, not thrown')
})
