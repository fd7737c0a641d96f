// Discovery documents (/api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>) built from the
// resource catalogue. kubectl resolves `deploy`, `svc`, `all` and subresources (scale,
// status) from these, so short names, categories and subresource kinds must be right.
import { RESOURCES, REVIEW_RESOURCES, groupVersion, type ResourceInfo } from '../api/resources.js'
import { METRICS_DISCOVERY, METRICS_GROUP, METRICS_VERSION } from './metrics-api.js'

/** Everything discovery lists: the stored kinds and the create-only reviews. */
const SERVED: readonly ResourceInfo[] = [...RESOURCES, ...REVIEW_RESOURCES]

interface APIResource {
  name: string
  singularName: string
  namespaced: boolean
  kind: string
  verbs: string[]
  shortNames?: string[]
  categories?: string[]
  group?: string
  version?: string
}

const SUBRESOURCES: Record<string, { kind: string; verbs: string[]; group?: string; version?: string }> = {
  status: { kind: '', verbs: ['get', 'patch', 'update'] },
  scale: { kind: 'Scale', verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' },
  binding: { kind: 'Binding', verbs: ['create'] },
  log: { kind: 'Pod', verbs: ['get'] },
  proxy: { kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] },
  token: { kind: 'TokenRequest', verbs: ['create'], group: 'authentication.k8s.io', version: 'v1' },
}

export function groups(): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const r of SERVED) {
    if (r.group === '') continue
    const vs = out.get(r.group) ?? []
    if (!vs.includes(r.version)) vs.push(r.version)
    out.set(r.group, vs)
  }
  // Served by its own routes (metrics-api.ts), not from the resource catalogue.
  out.set(METRICS_GROUP, [METRICS_VERSION])
  return out
}

export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] }
}

function apiGroup(name: string, versions: string[]): object {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }))
  return { name, versions: vs, preferredVersion: vs[0] }
}

export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups()].map(([g, vs]) => apiGroup(g, vs)) }
}

export function apiGroupDoc(group: string): object | undefined {
  const vs = groups().get(group)
  return vs ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) } : undefined
}

function resourceEntries(r: ResourceInfo): APIResource[] {
  const main: APIResource = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs }
  if (r.shortNames.length) main.shortNames = r.shortNames
  if (r.categories.length) main.categories = r.categories
  const out = [main]
  for (const sub of r.subresources) {
    const s = SUBRESOURCES[sub]
    if (!s) continue
    const e: APIResource = { name: `${r.plural}/${sub}`, singularName: '', namespaced: r.namespaced, kind: s.kind || r.kind, verbs: s.verbs }
    if (s.group) e.group = s.group
    if (s.version) e.version = s.version
    out.push(e)
  }
  return out
}

export function apiResourceList(group: string, version: string): object | undefined {
  if (group === METRICS_GROUP && version === METRICS_VERSION) return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources: METRICS_DISCOVERY }
  const rs = SERVED.filter((r) => r.group === group && r.version === version)
  if (!rs.length) return undefined
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(rs[0]!), resources: rs.flatMap(resourceEntries) }
}
