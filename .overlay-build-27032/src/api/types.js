// Kubernetes API object shapes, as JSON on the wire. Field names and nesting follow
// k8s.io/api so that real manifests apply unchanged. Only what netkube serves is declared;
// unknown fields are preserved by the apiserver as they arrive (Kubernetes would prune them).
// Well-known label and annotation keys.
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const LABEL_POD_TEMPLATE_HASH = 'pod-template-hash';
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const ANNOTATION_REVISION = 'deployment.kubernetes.io/revision';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
