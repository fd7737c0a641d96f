// The default policy (upstream's plugin/pkg/auth/authorizer/rbac/bootstrappolicy), created at
// start and reconciled like the `rbac/bootstrap-roles` post-start hook: objects annotated
// `rbac.authorization.kubernetes.io/autoupdate: "true"` (the default) get missing rules and
// subjects put back; an object a user set to "false" is left alone.
//
// Upstream roles are kept by name and content where netkube serves the resources. netkube's own:
// - system:kube-controller-manager: netkube runs all controllers under this one identity (no
//   per-controller ServiceAccounts, upstream's --use-service-account-credentials), so the role is
//   upstream's plus what those controllers write (workloads, pods, endpoints, claims, GC).
// - system:netkube:agent (group system:netkube:agents): the node agent's network loops — the
//   overlay (nodes), NetworkPolicy (pods, namespaces, policies), the LB speaker (services and
//   their status, its kube-system Lease, slices, its ConfigMap) and local-path (PVs, claims).
// - system:netkube:coredns, system:netkube:ingress: the DNS and ingress add-ons' ServiceAccounts.
// - system:netkube:addon-manager: `netkube server`'s add-on manager (kubeadm applies add-ons as
//   admin; here it is a named user with exactly the objects it reconciles, not system:masters).
import type { ClusterRole, PolicyRule, RoleBinding, KubeObject } from '../api/types.js'
import { NODE_RULES } from './node.js'

export const AUTOUPDATE = 'rbac.authorization.kubernetes.io/autoupdate'
const G = 'rbac.authorization.k8s.io'
const READ = ['get', 'list', 'watch']
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update']

const rule = (verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule => ({
  verbs,
  apiGroups,
  resources,
  ...(resourceNames ? { resourceNames } : {}),
})
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ verbs, nonResourceURLs })
const events = (): PolicyRule[] => [rule(['create', 'patch', 'update'], [''], ['events']), rule(['create', 'patch', 'update'], ['events.k8s.io'], ['events'])]

const CERT = 'certificates.k8s.io'

const bootstrapLabels = { 'kubernetes.io/bootstrapping': 'rbac-defaults' }

function clusterRole(name: string, rules: PolicyRule[], extra: { labels?: Record<string, string>; aggregate?: string[] } = {}): ClusterRole {
  const cr: ClusterRole = {
    apiVersion: `${G}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...bootstrapLabels, ...(extra.labels ?? {}) }, annotations: { [AUTOUPDATE]: 'true' } },
    rules,
  }
  if (extra.aggregate) cr.aggregationRule = { clusterRoleSelectors: extra.aggregate.map((k) => ({ matchLabels: { [k]: 'true' } })) }
  return cr
}

type Subj = { kind: 'User' | 'Group'; name: string } | { kind: 'ServiceAccount'; name: string; namespace: string }

function binding(name: string, role: string, subjects: Subj[]): RoleBinding {
  return {
    apiVersion: `${G}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...bootstrapLabels }, annotations: { [AUTOUPDATE]: 'true' } },
    roleRef: { apiGroup: G, kind: 'ClusterRole', name: role },
    subjects: subjects.map((s) => (s.kind === 'ServiceAccount' ? { kind: s.kind, name: s.name, namespace: s.namespace } : { kind: s.kind, apiGroup: G, name: s.name })),
  }
}

const AGG = (k: string): string => `${G}/aggregate-to-${k}`

// The workload kinds netkube serves, as upstream lists them for admin/edit/view.
const CORE_WORKLOAD = ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'persistentvolumeclaims', 'configmaps', 'endpoints', 'secrets', 'services', 'services/proxy', 'serviceaccounts', 'replicationcontrollers', 'replicationcontrollers/scale']
const APPS = ['daemonsets', 'deployments', 'deployments/rollback', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale']

export function bootstrapClusterRoles(): ClusterRole[] {
  return [
    clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
    clusterRole('admin', [], { aggregate: [AGG('admin')] }),
    clusterRole('edit', [], { aggregate: [AGG('edit')], labels: { [AGG('admin')]: 'true' } }),
    clusterRole('view', [], { aggregate: [AGG('view')], labels: { [AGG('edit')]: 'true' } }),
    clusterRole(
      'system:aggregate-to-admin',
      [
        rule(['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], [G], ['roles', 'rolebindings']),
        rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
      ],
      { labels: { [AGG('admin')]: 'true' } },
    ),
    clusterRole(
      'system:aggregate-to-edit',
      [
        rule(['impersonate'], [''], ['serviceaccounts']),
        rule(['create', 'delete', 'deletecollection', 'patch', 'update'], [''], CORE_WORKLOAD),
        rule(['create'], [''], ['serviceaccounts/token']),
        rule(['create', 'delete', 'deletecollection', 'patch', 'update'], ['apps'], APPS),
        rule(['create', 'delete', 'deletecollection', 'patch', 'update'], ['batch'], ['cronjobs', 'jobs']),
        rule(['create', 'delete', 'deletecollection', 'patch', 'update'], ['networking.k8s.io'], ['ingresses', 'networkpolicies']),
        rule(['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], ['coordination.k8s.io'], ['leases']),
        rule(['create', 'delete', 'deletecollection', 'patch', 'update'], ['discovery.k8s.io'], ['endpointslices']),
      ],
      { labels: { [AGG('edit')]: 'true' } },
    ),
    clusterRole(
      'system:aggregate-to-view',
      [
        rule(READ, [''], ['pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'configmaps']),
        rule(READ, [''], ['bindings', 'events', 'limitranges', 'namespaces/status', 'pods/log', 'pods/status', 'replicationcontrollers/status', 'resourcequotas', 'resourcequotas/status']),
        rule(READ, [''], ['namespaces']),
        rule(READ, ['discovery.k8s.io'], ['endpointslices']),
        rule(READ, ['apps'], ['controllerrevisions', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'statefulsets', 'statefulsets/scale', 'statefulsets/status']),
        rule(READ, ['batch'], ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status']),
        rule(READ, ['networking.k8s.io'], ['ingresses', 'ingresses/status', 'networkpolicies']),
        rule(READ, ['events.k8s.io'], ['events']),
      ],
      { labels: { [AGG('view')]: 'true' } },
    ),
    clusterRole('system:basic-user', [rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']), rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews'])]),
    clusterRole('system:discovery', [urls(['get'], ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'])]),
    clusterRole('system:public-info-viewer', [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])]),
    clusterRole('system:monitoring', [urls(['get'], ['/healthz', '/healthz/*', '/livez', '/livez/*', '/metrics', '/metrics/slis', '/readyz', '/readyz/*'])]),
    clusterRole('system:node', NODE_RULES),
    clusterRole('system:node-proxier', [
      rule(['list', 'watch'], [''], ['services', 'endpoints']),
      rule(['get', 'list', 'watch'], [''], ['nodes']),
      ...events(),
      rule(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices']),
    ]),
    clusterRole('system:kube-scheduler', [
      ...events(),
      rule(['create'], ['coordination.k8s.io'], ['leases']),
      rule(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-scheduler']),
      rule(READ, [''], ['nodes']),
      rule(['get', 'list', 'watch', 'delete'], [''], ['pods']),
      rule(['create'], [''], ['bindings', 'pods/binding']),
      rule(['patch', 'update'], [''], ['pods/status']),
      rule(['list', 'watch'], [''], ['replicationcontrollers', 'services', 'namespaces']),
      rule(['list', 'watch'], ['apps'], ['replicasets', 'statefulsets']),
      rule(READ, [''], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(['patch', 'update'], [''], ['persistentvolumeclaims', 'persistentvolumes']),
      rule(['list', 'watch'], ['storage.k8s.io'], ['storageclasses', 'csinodes', 'csidrivers', 'csistoragecapacities']),
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    ]),
    clusterRole('system:kube-controller-manager', [
      ...events(),
      rule(['create'], ['coordination.k8s.io'], ['leases']),
      rule(['get', 'update'], ['coordination.k8s.io'], ['leases'], ['kube-controller-manager']),
      rule(['create'], [''], ['secrets', 'serviceaccounts']),
      rule(['delete'], [''], ['secrets']),
      rule(['get'], [''], ['namespaces', 'secrets', 'serviceaccounts', 'configmaps']),
      rule(['update'], [''], ['secrets', 'serviceaccounts']),
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
      rule(['list', 'watch'], ['*'], ['*']),
      rule(['create'], [''], ['serviceaccounts/token']),
      // netkube: the controllers' own writes (upstream gives each controller its own ServiceAccount).
      rule(['get', ...WRITE], [''], ['pods', 'pods/status', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'persistentvolumes', 'persistentvolumes/status', 'nodes', 'nodes/status', 'namespaces', 'namespaces/finalize', 'namespaces/status', 'services', 'services/status', 'configmaps']),
      rule(['get', ...WRITE], ['apps'], ['deployments', 'deployments/status', 'deployments/scale', 'replicasets', 'replicasets/status', 'replicasets/scale', 'statefulsets', 'statefulsets/status', 'daemonsets', 'daemonsets/status', 'controllerrevisions']),
      rule(['get', ...WRITE], ['batch'], ['jobs', 'jobs/status', 'cronjobs', 'cronjobs/status']),
      rule(['get', ...WRITE], ['discovery.k8s.io'], ['endpointslices']),
      // The CSR approver and signer (upstream's certificate-controller), the bootstrap signer
      // (cluster-info's JWS) and the token cleaner.
      rule(['get', 'list', 'watch'], [CERT], ['certificatesigningrequests']),
      rule(['update'], [CERT], ['certificatesigningrequests/approval', 'certificatesigningrequests/status']),
      rule(['approve'], [CERT], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet']),
      rule(['sign'], [CERT], ['signers'], ['kubernetes.io/kube-apiserver-client', 'kubernetes.io/kube-apiserver-client-kubelet', 'kubernetes.io/kubelet-serving']),
      // The garbage collector reads and deletes any owned object and drops owner references.
      rule(['get', 'patch', 'delete'], ['*'], ['*']),
    ]),
    // The node join (issue #15): upstream's CSR roles; kubeadm-style bindings below.
    clusterRole('system:node-bootstrapper', [rule(['create', 'get', 'list', 'watch'], [CERT], ['certificatesigningrequests'])]),
    clusterRole('system:certificates.k8s.io:certificatesigningrequests:nodeclient', [rule(['create'], [CERT], ['certificatesigningrequests/nodeclient'])]),
    clusterRole('system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [rule(['create'], [CERT], ['certificatesigningrequests/selfnodeclient'])]),
    clusterRole('system:certificates.k8s.io:kube-apiserver-client-kubelet-approver', [rule(['approve'], [CERT], ['signers'], ['kubernetes.io/kube-apiserver-client-kubelet'])]),
    clusterRole('system:certificates.k8s.io:kube-apiserver-client-approver', [rule(['approve'], [CERT], ['signers'], ['kubernetes.io/kube-apiserver-client'])]),
    clusterRole('system:certificates.k8s.io:kubelet-serving-approver', [rule(['approve'], [CERT], ['signers'], ['kubernetes.io/kubelet-serving'])]),
    clusterRole('system:kube-dns', [rule(['list', 'watch'], [''], ['endpoints', 'services']), rule(['list', 'watch'], ['discovery.k8s.io'], ['endpointslices'])]),
    clusterRole('system:netkube:agent', [
      ...events(),
      rule(READ, [''], ['nodes', 'pods', 'namespaces', 'services', 'endpoints', 'configmaps']),
      rule(['patch', 'update'], [''], ['services/status']),
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
      rule(READ, ['networking.k8s.io'], ['networkpolicies']),
      rule(READ, ['coordination.k8s.io'], ['leases']),
      rule(['create', 'update', 'patch', 'delete'], ['coordination.k8s.io'], ['leases']),
      rule(['get', 'list', 'watch', 'create', 'delete'], [''], ['persistentvolumes']),
      rule(['get', 'list', 'watch', 'patch', 'update'], [''], ['persistentvolumeclaims']),
      rule(READ, ['storage.k8s.io'], ['storageclasses']),
    ]),
    // What `netkube server`'s add-on manager writes (server.ts): the DNS and ingress add-ons,
    // their ServiceAccounts, the default StorageClass and kube-public/cluster-info; nothing else.
    clusterRole('system:netkube:addon-manager', [
      rule(['get', 'create'], [''], ['serviceaccounts']),
      rule(['get', 'create', 'update', 'delete'], [''], ['services']),
      rule(['get', 'create', 'update', 'delete'], ['apps'], ['deployments']),
      rule(['get', 'create', 'update', 'delete'], ['networking.k8s.io'], ['ingressclasses']),
      rule(['get', 'create'], ['storage.k8s.io'], ['storageclasses']),
      rule(['create'], [''], ['configmaps']),
      rule(['get', 'update'], [''], ['configmaps'], ['cluster-info']),
    ]),
    clusterRole('system:netkube:ingress', [
      ...events(),
      rule(READ, ['networking.k8s.io'], ['ingresses', 'ingressclasses']),
      rule(['patch', 'update'], ['networking.k8s.io'], ['ingresses/status']),
      rule(READ, [''], ['services', 'secrets', 'endpoints']),
      rule(READ, ['discovery.k8s.io'], ['endpointslices']),
    ]),
  ]
}

export function bootstrapClusterRoleBindings(): RoleBinding[] {
  return [
    binding('cluster-admin', 'cluster-admin', [{ kind: 'Group', name: 'system:masters' }]),
    binding('system:basic-user', 'system:basic-user', [{ kind: 'Group', name: 'system:authenticated' }]),
    binding('system:discovery', 'system:discovery', [{ kind: 'Group', name: 'system:authenticated' }]),
    binding('system:public-info-viewer', 'system:public-info-viewer', [
      { kind: 'Group', name: 'system:authenticated' },
      { kind: 'Group', name: 'system:unauthenticated' },
    ]),
    binding('system:monitoring', 'system:monitoring', [{ kind: 'Group', name: 'system:monitoring' }]),
    binding('system:node-proxier', 'system:node-proxier', [{ kind: 'User', name: 'system:kube-proxy' }]),
    binding('system:kube-scheduler', 'system:kube-scheduler', [{ kind: 'User', name: 'system:kube-scheduler' }]),
    binding('system:kube-controller-manager', 'system:kube-controller-manager', [{ kind: 'User', name: 'system:kube-controller-manager' }]),
    binding('system:kube-dns', 'system:kube-dns', [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }]),
    binding('system:netkube:agent', 'system:netkube:agent', [{ kind: 'Group', name: 'system:netkube:agents' }]),
    binding('system:netkube:addon-manager', 'system:netkube:addon-manager', [{ kind: 'User', name: 'system:netkube:addon-manager' }]),
    binding('system:netkube:ingress', 'system:netkube:ingress', [{ kind: 'ServiceAccount', name: 'netkube-ingress', namespace: 'kube-system' }]),
    // What kubeadm binds for `kubeadm join` (its kubeadm:* names, netkube's prefix): bootstrap
    // tokens may create CSRs and have node client CSRs auto-approved; nodes renew their own.
    binding('netkube:kubelet-bootstrap', 'system:node-bootstrapper', [{ kind: 'Group', name: 'system:bootstrappers' }]),
    binding('netkube:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', [{ kind: 'Group', name: 'system:bootstrappers' }]),
    binding('netkube:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', [{ kind: 'Group', name: 'system:nodes' }]),
  ]
}

const ruleKey = (r: PolicyRule): string => JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []])

/**
 * The reconciled object (upstream's reconciliation.ReconcileClusterRole / …Binding, union mode):
 * undefined = leave it; else the object to write. Missing rules and subjects are added, extra
 * ones a user added stay; labels and annotations are merged; `autoupdate: "false"` is respected.
 */
export function reconcilePolicyObject<T extends KubeObject>(want: T, have: T | undefined): T | undefined {
  if (!have) return want
  if (have.metadata.annotations?.[AUTOUPDATE] === 'false') return undefined
  const next = structuredClone(have) as T & { rules?: PolicyRule[]; subjects?: RoleBinding['subjects']; aggregationRule?: unknown; roleRef?: unknown }
  const w = want as T & { rules?: PolicyRule[]; subjects?: RoleBinding['subjects']; aggregationRule?: unknown; roleRef?: unknown }
  let changed = false
  for (const [k, v] of Object.entries(want.metadata.labels ?? {}))
    if (next.metadata.labels?.[k] !== v) {
      next.metadata.labels = { ...next.metadata.labels, [k]: v }
      changed = true
    }
  for (const [k, v] of Object.entries(want.metadata.annotations ?? {}))
    if (next.metadata.annotations?.[k] === undefined) {
      next.metadata.annotations = { ...next.metadata.annotations, [k]: v }
      changed = true
    }
  if (w.aggregationRule) {
    if (JSON.stringify(next.aggregationRule) !== JSON.stringify(w.aggregationRule)) {
      next.aggregationRule = w.aggregationRule
      changed = true
    }
  } else if (w.rules) {
    const haveRules = Array.isArray(next.rules) ? next.rules : []
    const keys = new Set(haveRules.map(ruleKey))
    const missing = w.rules.filter((r) => !keys.has(ruleKey(r)))
    if (missing.length) {
      next.rules = [...haveRules, ...missing]
      changed = true
    }
  }
  if (w.subjects) {
    const haveSubjects = Array.isArray(next.subjects) ? next.subjects : []
    const key = (s: { kind: string; name: string; namespace?: string }): string => `${s.kind}/${s.namespace ?? ''}/${s.name}`
    const keys = new Set(haveSubjects.map(key))
    const missing = w.subjects.filter((s) => !keys.has(key(s)))
    if (missing.length) {
      next.subjects = [...haveSubjects, ...missing]
      changed = true
    }
  }
  return changed ? next : undefined
}
