// networking.k8s.io/v1 Ingress and IngressClass (issue #12): the object shapes as k8s.io/api
// declares them, and the well-known names around them. Kept beside types.ts so the kinds other
// helpers add there do not collide with these.
import type { KubeObject } from './types.js'

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific'
export const PATH_TYPES: readonly PathType[] = ['Exact', 'ImplementationSpecific', 'Prefix']

/** A class carrying this annotation with value "true" applies to Ingresses that name no class. */
export const ANNOTATION_DEFAULT_INGRESS_CLASS = 'ingressclass.kubernetes.io/is-default-class'
/** The deprecated pre-v1 way of naming a class; still read by controllers. */
export const ANNOTATION_INGRESS_CLASS = 'kubernetes.io/ingress.class'

export interface TypedLocalObjectReference {
  apiGroup?: string
  kind: string
  name: string
}

export interface IngressServiceBackend {
  name: string
  port: { name?: string; number?: number }
}

export interface IngressBackend {
  service?: IngressServiceBackend
  resource?: TypedLocalObjectReference
}

export interface HTTPIngressPath {
  path?: string
  pathType: PathType
  backend: IngressBackend
}

export interface IngressRule {
  host?: string
  http?: { paths: HTTPIngressPath[] }
}

export interface IngressTLS {
  hosts?: string[]
  secretName?: string
}

export interface IngressSpec {
  ingressClassName?: string
  defaultBackend?: IngressBackend
  tls?: IngressTLS[]
  rules?: IngressRule[]
}

export interface IngressLoadBalancerIngress {
  ip?: string
  hostname?: string
  ports?: { port: number; protocol: 'TCP' | 'UDP' | 'SCTP'; error?: string }[]
}

export interface Ingress extends KubeObject {
  spec: IngressSpec
  status?: { loadBalancer?: { ingress?: IngressLoadBalancerIngress[] } }
}

export interface IngressClassParametersReference {
  apiGroup?: string
  kind: string
  name: string
  scope?: 'Cluster' | 'Namespace'
  namespace?: string
}

export interface IngressClass extends KubeObject {
  spec: { controller?: string; parameters?: IngressClassParametersReference }
}
