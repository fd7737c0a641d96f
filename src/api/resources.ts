// The catalogue of resources netkube serves. Discovery, routing, etcd key layout and the
// client all read this one table, so a resource is added in exactly one place.

export interface ResourceInfo {
  /** API group, '' for core. */
  group: string
  version: string
  kind: string
  listKind: string
  /** URL path segment, e.g. 'pods'. */
  plural: string
  singular: string
  namespaced: boolean
  shortNames: string[]
  /** Subresources served, e.g. ['status', 'scale']. */
  subresources: string[]
  /** etcd key segment under /registry, as kube-apiserver lays it out. */
  etcdPrefix: string
  categories: string[]
  verbs: string[]
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']

function res(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  opts: { shortNames?: string[]; subresources?: string[]; etcdPrefix?: string; categories?: string[]; verbs?: string[] } = {},
): ResourceInfo {
  return {
    group,
    version,
    kind,
    listKind: `${kind}List`,
    plural,
    singular: kind.toLowerCase(),
    namespaced,
    shortNames: opts.shortNames ?? [],
    subresources: opts.subresources ?? [],
    etcdPrefix: opts.etcdPrefix ?? (group === '' || group === 'apps' || group === 'coordination.k8s.io' ? plural : `${group}/${plural}`),
    categories: opts.categories ?? [],
    verbs: opts.verbs ?? allVerbs,
  }
}

/**
 * The review kinds: create-only, answered and never stored (src/rbac/reviews.ts). Discovery lists
 * them; they are kept out of RESOURCES, which is the stored catalogue (etcd keys, informers, GC).
 */
export const REVIEW_RESOURCES: readonly ResourceInfo[] = [
  ['authorization.k8s.io', 'v1', 'SubjectAccessReview', 'subjectaccessreviews', false],
  ['authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false],
  ['authorization.k8s.io', 'v1', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', false],
  ['authorization.k8s.io', 'v1', 'LocalSubjectAccessReview', 'localsubjectaccessreviews', true],
  // SelfSubjectReview is GA in 1.28; kubectl 1.27's `auth whoami` asks v1beta1 (v1alpha1 before).
  ['authentication.k8s.io', 'v1', 'SelfSubjectReview', 'selfsubjectreviews', false],
  ['authentication.k8s.io', 'v1beta1', 'SelfSubjectReview', 'selfsubjectreviews', false],
  ['authentication.k8s.io', 'v1alpha1', 'SelfSubjectReview', 'selfsubjectreviews', false],
].map(([g, v, kind, plural, namespaced]) => res(g as string, v as string, kind as string, plural as string, namespaced as boolean, { verbs: ['create'] }))

export const RESOURCES: readonly ResourceInfo[] = [
  res('', 'v1', 'Namespace', 'namespaces', false, { shortNames: ['ns'], subresources: ['status'] }),
  res('', 'v1', 'Node', 'nodes', false, { shortNames: ['no'], subresources: ['status', 'proxy'], etcdPrefix: 'minions' }),
  res('', 'v1', 'Pod', 'pods', true, { shortNames: ['po'], subresources: ['status', 'binding', 'log'], categories: ['all'] }),
  res('', 'v1', 'Service', 'services', true, { shortNames: ['svc'], subresources: ['status'], etcdPrefix: 'services/specs', categories: ['all'] }),
  res('', 'v1', 'Endpoints', 'endpoints', true, { shortNames: ['ep'], etcdPrefix: 'services/endpoints' }),
  res('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
  res('apps', 'v1', 'Deployment', 'deployments', true, { shortNames: ['deploy'], subresources: ['status', 'scale'], etcdPrefix: 'deployments', categories: ['all'] }),
  res('apps', 'v1', 'ReplicaSet', 'replicasets', true, { shortNames: ['rs'], subresources: ['status', 'scale'], etcdPrefix: 'replicasets', categories: ['all'] }),
  res('apps', 'v1', 'StatefulSet', 'statefulsets', true, { shortNames: ['sts'], subresources: ['status', 'scale'], etcdPrefix: 'statefulsets', categories: ['all'] }),
  res('apps', 'v1', 'ControllerRevision', 'controllerrevisions', true, { etcdPrefix: 'controllerrevisions' }),
  res('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true, { etcdPrefix: 'endpointslices' }),
  res('coordination.k8s.io', 'v1', 'Lease', 'leases', true, { etcdPrefix: 'leases' }),
  // batch/v1 (kube-apiserver keeps them at /registry/jobs and /registry/cronjobs)
  res('batch', 'v1', 'Job', 'jobs', true, { subresources: ['status'], etcdPrefix: 'jobs', categories: ['all'] }),
  res('batch', 'v1', 'CronJob', 'cronjobs', true, { shortNames: ['cj'], subresources: ['status'], etcdPrefix: 'cronjobs', categories: ['all'] }),
  // Events, Secrets, ServiceAccounts (issue #11). events.k8s.io/v1 is a second view of the same
  // objects: one etcd key space (/registry/events), stored in core/v1 form, as kube-apiserver does.
  res('', 'v1', 'Event', 'events', true, { shortNames: ['ev'] }),
  res('events.k8s.io', 'v1', 'Event', 'events', true, { shortNames: ['ev'], etcdPrefix: 'events' }),
  res('', 'v1', 'Secret', 'secrets', true),
  res('', 'v1', 'ServiceAccount', 'serviceaccounts', true, { shortNames: ['sa'], subresources: ['token'] }),
  // apps/v1 DaemonSet (issue #11)
  res('apps', 'v1', 'DaemonSet', 'daemonsets', true, { shortNames: ['ds'], subresources: ['status'], etcdPrefix: 'daemonsets', categories: ['all'] }),
  res('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, { shortNames: ['netpol'], etcdPrefix: 'networkpolicies' }),
  // Storage (issue #11): kube-apiserver keeps them at /registry/persistentvolumes, …/persistentvolumeclaims, …/storageclasses.
  res('', 'v1', 'PersistentVolume', 'persistentvolumes', false, { shortNames: ['pv'], subresources: ['status'] }),
  res('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true, { shortNames: ['pvc'], subresources: ['status'] }),
  res('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false, { shortNames: ['sc'], etcdPrefix: 'storageclasses' }),
  // Ingress and IngressClass (issue #12); kube-apiserver keeps Ingresses at /registry/ingress.
  res('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, { shortNames: ['ing'], subresources: ['status'], etcdPrefix: 'ingress' }),
  res('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false, { etcdPrefix: 'ingressclasses' }),
  // RBAC (issue #15); kube-apiserver keeps them at /registry/roles, /registry/clusterroles, ….
  res('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false, { etcdPrefix: 'clusterroles' }),
  res('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false, { etcdPrefix: 'clusterrolebindings' }),
  res('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true, { etcdPrefix: 'roles' }),
  res('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true, { etcdPrefix: 'rolebindings' }),
  // certificates.k8s.io (issue #15); kube-apiserver keeps them at /registry/certificatesigningrequests.
  res('certificates.k8s.io', 'v1', 'CertificateSigningRequest', 'certificatesigningrequests', false, { shortNames: ['csr'], subresources: ['status', 'approval'], etcdPrefix: 'certificatesigningrequests' }),
]

/** The events.k8s.io/v1 view, whose objects are converted to and from core/v1 in the registry. */
export function isEventsV1(r: Pick<ResourceInfo, 'group' | 'kind'>): boolean {
  return r.group === 'events.k8s.io' && r.kind === 'Event'
}

export function groupVersion(r: ResourceInfo): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`
}

export function findResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural)
}

/** The catalogue entry for a plural name (`pods`, `deployments`); unknown names are a bug. */
export function resourceFor(plural: string): ResourceInfo {
  const r = RESOURCES.find((x) => x.plural === plural)
  if (!r) throw new Error(`no resource "${plural}" in the catalogue`)
  return r
}

export function findResourceByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => groupVersion(r) === apiVersion && r.kind === kind)
}

/** The etcd key of one object (namespace is ignored for cluster-scoped resources). */
export function etcdKey(r: ResourceInfo, namespace: string | undefined, name: string): string {
  return r.namespaced ? `/registry/${r.etcdPrefix}/${namespace}/${name}` : `/registry/${r.etcdPrefix}/${name}`
}

/** The etcd prefix covering a list (all namespaces when namespace is undefined). */
export function etcdListPrefix(r: ResourceInfo, namespace?: string): string {
  return r.namespaced && namespace ? `/registry/${r.etcdPrefix}/${namespace}/` : `/registry/${r.etcdPrefix}/`
}
