// A small cluster as Services and EndpointSlices, and queries in wire format, shared by the DNS tests.
import dns2 from 'dns2'
import type { Endpoint, EndpointSlice, Service, ServicePort } from '../../src/api/types.js'
import { DnsModel } from '../../src/dns/model.js'

const { Packet } = dns2

/** A query in wire format (RD set); `edns` is the advertised UDP payload size (no OPT without it). */
export function query(name: string, type: number, opts: { edns?: number; version?: number; dnssecOk?: boolean; id?: number; qclass?: number } = {}): Buffer {
  const p = new Packet()
  p.header = new Packet.Header({ id: opts.id ?? 0x1234, rd: 1 })
  p.questions = [new Packet.Question({ name, type, class: opts.qclass ?? 1 })]
  if (opts.edns) p.additionals = [Packet.Resource.EDNS([], { udpPayloadSize: opts.edns, version: opts.version ?? 0, doFlag: opts.dnssecOk ?? false }) as never]
  return p.toBuffer()
}

export function svc(ns: string, name: string, spec: Service['spec'], annotations?: Record<string, string>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name, ...(annotations ? { annotations } : {}) }, spec }
}

export function slice(
  ns: string,
  service: string,
  name: string,
  endpoints: Endpoint[],
  ports: ServicePort[] = [],
  addressType: EndpointSlice['addressType'] = 'IPv4',
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': service } },
    addressType,
    endpoints,
    ports: ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? 'TCP' })),
  }
}

export const ep = (ip: string, extra: Partial<Endpoint> = {}): Endpoint => ({ addresses: [ip], conditions: { ready: true }, ...extra })

/** Services: web (ClusterIP, dual-stack, named ports), db (headless, 3 endpoints, one not ready),
 *  empty (headless, no ready endpoint), ext (ExternalName), unnamed (ClusterIP, unnamed port),
 *  big (headless, `bigCount` endpoints: too large for 512-byte UDP). */
export function clusterModel(bigCount = 0, now = () => 1_700_000_000_000): DnsModel {
  const m = new DnsModel(now)
  m.upsertService(
    svc('default', 'web', {
      clusterIP: '10.96.0.20',
      clusterIPs: ['10.96.0.20', 'fd00:96::20'],
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
      ],
    }),
  )
  m.upsertEndpointSlice(slice('default', 'web', 'web-abc', [ep('10.244.1.5'), ep('10.244.2.6')], [{ name: 'http', port: 8080 }]))
  m.upsertService(svc('default', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }))
  m.upsertEndpointSlice(
    slice(
      'default',
      'db',
      'db-1',
      [
        ep('10.244.1.10', { hostname: 'db-0' }),
        ep('10.244.2.11', { hostname: 'db-1' }),
        ep('10.244.3.12'),
        ep('10.244.3.13', { hostname: 'db-2', conditions: { ready: false } }),
      ],
      [{ name: 'pg', port: 5432 }],
    ),
  )
  m.upsertService(svc('default', 'empty', { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] }))
  m.upsertEndpointSlice(slice('default', 'empty', 'empty-1', [ep('10.244.9.9', { conditions: { ready: false } })], [{ name: 'x', port: 1 }]))
  m.upsertService(svc('prod', 'ext', { type: 'ExternalName', externalName: 'www.Example.com.', ports: [{ name: 'https', port: 443 }] }))
  m.upsertService(svc('prod', 'unnamed', { clusterIP: '10.96.5.5', ports: [{ port: 8080 }] }))
  if (bigCount > 0) {
    m.upsertService(svc('default', 'big', { clusterIP: 'None' }))
    const eps: Endpoint[] = []
    for (let i = 0; i < bigCount; i++) eps.push(ep(`10.245.${Math.floor(i / 250)}.${(i % 250) + 1}`))
    m.upsertEndpointSlice(slice('default', 'big', 'big-1', eps))
  }
  m.setSynced(true)
  return m
}
