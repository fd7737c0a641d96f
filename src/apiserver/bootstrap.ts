// What exists in every cluster from the first start: the system namespaces, and the
// `kubernetes` Service (first IP of the service range, port 443) whose endpoints point at
// this apiserver. Re-run on every start: the Service is created once, its endpoints are
// reconciled to the current address and port.
import { findResource } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import * as E from './errors.js'
import { nthAddress } from '../net/ip.js'
import { SYSTEM_NAMESPACES, type Registry } from './registry.js'

const R = {
  namespaces: findResource('', 'v1', 'namespaces')!,
  services: findResource('', 'v1', 'services')!,
  endpoints: findResource('', 'v1', 'endpoints')!,
  endpointslices: findResource('discovery.k8s.io', 'v1', 'endpointslices')!,
}

export async function bootstrap(reg: Registry, advertise: string, port: number): Promise<void> {
  for (const name of SYSTEM_NAMESPACES) await reg.ensure(R.namespaces, undefined, { metadata: { name } })

  const labels = { component: 'apiserver', provider: 'kubernetes' }
  await reg.ensure(R.services, 'default', {
    metadata: { name: 'kubernetes', namespace: 'default', labels },
    spec: {
      type: 'ClusterIP',
      clusterIP: nthAddress(reg.alloc.cidr, 1),
      ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: port }],
      sessionAffinity: 'None',
    },
  })
  // The Service's targetPort follows the serving port (tests restart on a new port).
  const svc = await reg.get(R.services, 'default', 'kubernetes')
  const ports = (svc.spec as { ports?: { targetPort?: number | string }[] }).ports
  if (ports?.[0] && ports[0].targetPort !== port) {
    ports[0].targetPort = port
    await reg.update(R.services, 'default', 'kubernetes', svc, { system: true })
  }

  const endpoints: KubeObject = {
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: advertise }], ports: [{ name: 'https', port, protocol: 'TCP' }] }],
  }
  await upsert(reg, R.endpoints, endpoints)
  const slice: KubeObject = {
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'netkube-apiserver' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [advertise], conditions: { ready: true, serving: true, terminating: false } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  }
  await upsert(reg, R.endpointslices, slice)
}

async function upsert(reg: Registry, r: (typeof R)[keyof typeof R], obj: KubeObject): Promise<void> {
  const name = obj.metadata.name!
  const ns = obj.metadata.namespace
  try {
    const cur = await reg.get(r, ns, name)
    const { metadata: _m, apiVersion: _a, kind: _k, ...want } = obj
    const { metadata: _cm, apiVersion: _ca, kind: _ck, ...have } = cur
    if (JSON.stringify(want) === JSON.stringify(have)) return
    await reg.update(r, ns, name, { ...cur, ...want, metadata: { ...cur.metadata, labels: obj.metadata.labels! } }, { system: true })
  } catch (err) {
    if (!(err instanceof E.ApiError && err.reason === 'NotFound')) throw err
    await reg.create(r, ns, obj, { system: true })
  }
}
