// The node authorizer (upstream's plugin/pkg/auth/authorizer/node): a kubelet
// `system:node:<name>` in `system:nodes` may read a Secret, ConfigMap, PVC or PV only when a
// pod bound to its node references it (a graph from watches of pods and claims), request
// tokens only for its pods' ServiceAccounts, touch only its own Lease in kube-node-lease, and
// otherwise do what upstream's static node rules allow. Everything else: no opinion (RBAC
// decides, and grants nodes nothing by default). Writes are narrowed further by
// NodeRestriction admission (node-restriction.ts).
import { etcdListPrefix, findResource } from '../api/resources.js'
import type { PersistentVolumeClaim, PolicyRule, Pod } from '../api/types.js'
import type { UserInfo } from '../apiserver/auth.js'
import type { Attributes, AuthorizationResult, Authorizer } from '../apiserver/authorizer.js'
import type { EtcdStore } from '../storage/store.js'
import { StoreMirror } from './mirror.js'
import { rulesAllow } from './rules.js'

export const NODES_GROUP = 'system:nodes'
export const NODE_USER_PREFIX = 'system:node:'

/** The node a user is, or undefined (upstream's NodeIdentifier). */
export function nodeNameOf(u: UserInfo): string | undefined {
  if (!u.groups.includes(NODES_GROUP) || !u.name.startsWith(NODE_USER_PREFIX)) return undefined
  const n = u.name.slice(NODE_USER_PREFIX.length)
  return n || undefined
}

const READ = ['get', 'list', 'watch']

/** Upstream's bootstrappolicy.NodeRules(), the parts netkube serves. */
export const NODE_RULES: PolicyRule[] = [
  { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'] },
  { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews', 'localsubjectaccessreviews'] },
  { verbs: READ, apiGroups: [''], resources: ['services'] },
  { verbs: ['create', 'get', 'list', 'watch'], apiGroups: [''], resources: ['nodes'] },
  { verbs: ['update', 'patch'], apiGroups: [''], resources: ['nodes/status'] },
  { verbs: ['update', 'patch'], apiGroups: [''], resources: ['nodes'] },
  { verbs: ['create', 'update', 'patch'], apiGroups: [''], resources: ['events'] },
  { verbs: ['create', 'update', 'patch'], apiGroups: ['events.k8s.io'], resources: ['events'] },
  { verbs: READ, apiGroups: [''], resources: ['pods'] },
  { verbs: ['create', 'delete'], apiGroups: [''], resources: ['pods'] },
  { verbs: ['update', 'patch'], apiGroups: [''], resources: ['pods/status'] },
  { verbs: ['create'], apiGroups: [''], resources: ['pods/eviction'] },
  { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['secrets', 'configmaps'] },
  { verbs: ['get'], apiGroups: [''], resources: ['persistentvolumeclaims', 'persistentvolumes'] },
  { verbs: ['get'], apiGroups: [''], resources: ['endpoints'] },
  { verbs: ['create', 'get', 'list', 'watch'], apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests'] },
  { verbs: ['get', 'create', 'update', 'patch', 'delete'], apiGroups: ['coordination.k8s.io'], resources: ['leases'] },
  { verbs: ['get', 'update', 'patch'], apiGroups: [''], resources: ['persistentvolumeclaims/status'] },
  { verbs: ['create'], apiGroups: [''], resources: ['serviceaccounts/token'] },
]

/** What one pod makes readable to its node. */
export function podReferences(pod: Pod): { secrets: string[]; configMaps: string[]; claims: string[]; serviceAccount: string } {
  const secrets = new Set<string>()
  const configMaps = new Set<string>()
  const claims = new Set<string>()
  const spec = (pod?.spec ?? {}) as Pod['spec'] & Record<string, unknown>
  const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : [])
  for (const s of list<{ name?: string }>(spec.imagePullSecrets)) if (s?.name) secrets.add(s.name)
  for (const v of list<Record<string, any>>(spec.volumes)) {
    if (v?.secret?.secretName) secrets.add(v.secret.secretName)
    if (v?.configMap?.name) configMaps.add(v.configMap.name)
    if (v?.persistentVolumeClaim?.claimName) claims.add(v.persistentVolumeClaim.claimName)
    // A generic ephemeral volume's claim is named <pod>-<volume>.
    if (v?.ephemeral && v.name) claims.add(`${pod.metadata.name}-${v.name}`)
    for (const src of list<Record<string, any>>(v?.projected?.sources)) {
      if (src?.secret?.name) secrets.add(src.secret.name)
      if (src?.configMap?.name) configMaps.add(src.configMap.name)
    }
  }
  const containers = [...list<Record<string, any>>(spec.containers), ...list<Record<string, any>>(spec.initContainers), ...list<Record<string, any>>(spec.ephemeralContainers)]
  for (const c of containers) {
    for (const e of list<Record<string, any>>(c?.env)) {
      if (e?.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name)
      if (e?.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name)
    }
    for (const e of list<Record<string, any>>(c?.envFrom)) {
      if (e?.secretRef?.name) secrets.add(e.secretRef.name)
      if (e?.configMapRef?.name) configMaps.add(e.configMapRef.name)
    }
  }
  return { secrets: [...secrets], configMaps: [...configMaps], claims: [...claims], serviceAccount: typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : '' }
}

type Kind = 'secret' | 'configmap' | 'pvc' | 'pv' | 'serviceaccount'

/** Object (kind + ns/name) → the nodes that may read it. Pure: built from pods and claims. */
export class NodeGraph {
  private readonly edges = new Map<string, Set<string>>()

  constructor(pods: Iterable<Pod>, claims: Iterable<PersistentVolumeClaim>) {
    const claimVolume = new Map<string, string>()
    for (const c of claims) {
      const v = (c.spec as { volumeName?: string } | undefined)?.volumeName
      if (v) claimVolume.set(`${c.metadata.namespace}/${c.metadata.name}`, v)
    }
    for (const p of pods) {
      const node = p?.spec?.nodeName
      if (!node || typeof node !== 'string') continue
      const ns = p.metadata.namespace ?? ''
      const refs = podReferences(p)
      for (const s of refs.secrets) this.add('secret', `${ns}/${s}`, node)
      for (const c of refs.configMaps) this.add('configmap', `${ns}/${c}`, node)
      for (const c of refs.claims) {
        this.add('pvc', `${ns}/${c}`, node)
        const pv = claimVolume.get(`${ns}/${c}`)
        if (pv) this.add('pv', pv, node)
      }
      if (refs.serviceAccount) this.add('serviceaccount', `${ns}/${refs.serviceAccount}`, node)
    }
  }

  private add(kind: Kind, key: string, node: string): void {
    const k = `${kind}:${key}`
    let s = this.edges.get(k)
    if (!s) this.edges.set(k, (s = new Set()))
    s.add(node)
  }

  related(node: string, kind: Kind, namespace: string, name: string): boolean {
    return this.edges.get(`${kind}:${namespace ? `${namespace}/` : ''}${name}`)?.has(node) ?? false
  }
}

/** Pods and claims kept from etcd; the graph is rebuilt lazily when a node asks after a change. */
export class NodeGraphState {
  readonly pods: StoreMirror<Pod>
  readonly claims: StoreMirror<PersistentVolumeClaim>
  private graph: NodeGraph | undefined

  constructor(private readonly store: EtcdStore) {
    const changed = (): void => {
      this.graph = undefined
    }
    this.pods = new StoreMirror(store, etcdListPrefix(findResource('', 'v1', 'pods')!), changed)
    this.claims = new StoreMirror(store, etcdListPrefix(findResource('', 'v1', 'persistentvolumeclaims')!), changed)
  }

  async start(): Promise<void> {
    await Promise.all([this.pods.start(), this.claims.start()])
  }

  stop(): void {
    this.pods.stop()
    this.claims.stop()
  }

  async catchUp(): Promise<void> {
    const rev = await this.store.currentRevision()
    await Promise.all([this.pods.waitFor(rev), this.claims.waitFor(rev)])
  }

  current(): NodeGraph {
    this.graph ??= new NodeGraph(this.pods.items.values(), this.claims.items.values())
    return this.graph
  }
}

const noOpinion = (reason: string): AuthorizationResult => ({ decision: 'noOpinion', reason })
const ALLOW: AuthorizationResult = { decision: 'allow', reason: '' }

export class NodeAuthorizer implements Authorizer {
  constructor(private readonly state: NodeGraphState) {}

  async authorize(a: Attributes): Promise<AuthorizationResult> {
    const node = nodeNameOf(a.user)
    if (!node) return noOpinion('')
    if (!a.resourceRequest) return rulesAllow(a, NODE_RULES) ? ALLOW : noOpinion('')
    if (a.apiGroup === '') {
      switch (a.resource) {
        case 'secrets':
          return this.readNamespaced(node, 'secret', a)
        case 'configmaps':
          return this.readNamespaced(node, 'configmap', a)
        case 'persistentvolumeclaims':
          if (a.subresource === 'status') return this.statusUpdate(node, a)
          return this.get(node, 'pvc', a)
        case 'persistentvolumes':
          return this.get(node, 'pv', a)
        case 'serviceaccounts':
          if (a.subresource === 'token') return this.createToken(node, a)
          break
      }
    }
    if (a.apiGroup === 'coordination.k8s.io' && a.resource === 'leases') return this.lease(node, a)
    return rulesAllow(a, NODE_RULES) ? ALLOW : noOpinion('')
  }

  private async related(node: string, kind: Kind, a: Attributes): Promise<AuthorizationResult> {
    if (!a.name) return noOpinion('No Object name found')
    if (this.state.current().related(node, kind, a.namespace, a.name)) return ALLOW
    // A pod bound a moment ago may not be in the graph yet: look again once caught up.
    await this.state.catchUp()
    if (this.state.current().related(node, kind, a.namespace, a.name)) return ALLOW
    return noOpinion(`no relationship found between node '${node}' and this object`)
  }

  private readNamespaced(node: string, kind: Kind, a: Attributes): Promise<AuthorizationResult> | AuthorizationResult {
    if (!READ.includes(a.verb)) return noOpinion('can only read resources of this type')
    if (a.subresource) return noOpinion('cannot read subresource')
    if (!a.namespace) return noOpinion('can only read namespaced object of this type')
    return this.related(node, kind, a)
  }

  private get(node: string, kind: Kind, a: Attributes): Promise<AuthorizationResult> | AuthorizationResult {
    if (a.verb !== 'get') return noOpinion('can only get individual resources of this type')
    if (a.subresource) return noOpinion('cannot get subresource')
    return this.related(node, kind, a)
  }

  private statusUpdate(node: string, a: Attributes): Promise<AuthorizationResult> | AuthorizationResult {
    if (!['get', 'update', 'patch'].includes(a.verb)) return noOpinion('can only get/update/patch this type')
    return this.related(node, 'pvc', a)
  }

  private createToken(node: string, a: Attributes): Promise<AuthorizationResult> | AuthorizationResult {
    if (a.verb !== 'create' || !a.name) return noOpinion('can only create tokens for individual service accounts')
    return this.related(node, 'serviceaccount', a)
  }

  private lease(node: string, a: Attributes): AuthorizationResult {
    if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return noOpinion('can only get, create, update, patch, or delete a node lease')
    if (a.namespace !== 'kube-node-lease') return noOpinion('can only access leases in the kube-node-lease namespace')
    if (a.verb !== 'create' && a.name !== node) return noOpinion('can only access node lease with the same name as the requesting node')
    return ALLOW
  }
}
