// What the live map shows, as the server sends it (GET /api/state, each /api/watch event) and
// the page draws it: slim records of the API objects, keyed `namespace/name` (nodes by name).
// Types only: the page's compiled modules import it with `import type`, so it is never served.

export interface NodeView {
  name: string
  /** InternalIP (the underlay address). */
  ip?: string
  ready: boolean
  podCIDR?: string
  /** The overlay lease the node publishes (flannel's Node annotations). */
  backend?: 'vxlan' | 'host-gw'
  publicIP?: string
  vni?: number
  vtepMAC?: string
  /** Routes this node's overlay holds to every other node's pod CIDR (derived from their leases). */
  routes: RouteView[]
}

export interface RouteView {
  /** The remote pod CIDR. */
  dst: string
  /** `10.244.2.0 dev flannel.1 onlink` (vxlan) or `192.168.56.12` (host-gw). */
  via: string
  /** The remote node. */
  node: string
  /** vxlan: the FDB entry that carries it (`<VtepMAC> dst <PublicIP>`). */
  fdb?: string
}

export interface PodView {
  key: string
  namespace: string
  name: string
  node?: string
  ip?: string
  phase: string
  ready: boolean
  hostNetwork: boolean
  labels: Record<string, string>
  /** First declared container port (what a trace to this pod probes). */
  port?: number
}

export interface EndpointView {
  ip: string
  ready: boolean
  /** `namespace/name` of the pod (targetRef), when it is one. */
  pod?: string
  node?: string
}

export interface ServiceView {
  key: string
  namespace: string
  name: string
  type: string
  clusterIP?: string
  ports: { name?: string; port: number; protocol: string; nodePort?: number; targetPort?: string }[]
  endpoints: EndpointView[]
  /** LoadBalancer ingress IPs with the node that announces each (if any is live). */
  loadBalancer: { ip: string; announcer?: string }[]
}

export interface PolicyView {
  key: string
  namespace: string
  name: string
  /** `app=web` or `(all pods)`. */
  podSelector: string
  policyTypes: string[]
  ingressRules: number
  egressRules: number
}

export interface SpeakerView {
  node: string
  live: boolean
  renewTime?: string
}

export interface ClusterView {
  /** Bumped on every change the server has sent. */
  revision: number
  synced: boolean
  nodes: NodeView[]
  pods: PodView[]
  services: ServiceView[]
  policies: PolicyView[]
  speakers: SpeakerView[]
}
