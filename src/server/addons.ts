// Cluster add-ons the server creates, as kubeadm does: cluster DNS runs self-hosted, a
// Deployment in kube-system behind the Service `kube-dns` with the well-known ClusterIP; the
// Ingress controller likewise, behind the LoadBalancer Service `netkube-ingress`, with the
// default IngressClass `netkube`; and the default StorageClass `local-path`.
import type { Deployment, KubeObject, Service, StorageClass } from '../api/types.js'
import { ANNOTATION_DEFAULT_STORAGE_CLASS } from '../api/types.js'
import { LOCAL_PATH_PROVISIONER } from '../localpath/core.js'
import type { Ownership } from '../apiserver/reconcile.js'
import { ANNOTATION_DEFAULT_INGRESS_CLASS, type IngressClass } from '../api/ingress.js'
import { CONTROLLER_NAME } from '../ingress/model.js'

export const DNS_LABELS = { 'k8s-app': 'kube-dns' }

/**
 * The server reconciles these on every start (upstream addon manager's "Reconcile" mode, the
 * label says so). Exception, as upstream's CoreDNS manifest leaves it out: `replicas` is set
 * on create and then belongs to whoever scales the Deployment.
 */
export const DNS_DEPLOYMENT_OWNERSHIP: Ownership = { userOwned: ['spec.replicas'] }
/** A Service's clusterIP cannot change in place: a kube-dns re-created elsewhere is replaced. */
export const SERVICE_OWNERSHIP: Ownership = { immutable: ['spec.clusterIP'] }
const RECONCILE = { 'addonmanager.kubernetes.io/mode': 'Reconcile' }

export function dnsService(clusterIP: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { ...DNS_LABELS, ...RECONCILE, 'kubernetes.io/name': 'CoreDNS' } },
    spec: {
      selector: DNS_LABELS,
      clusterIP,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
      ],
    },
  }
}

/** The add-ons' ServiceAccounts (kube-system): their pods read the API with the tokens the kubelet projects. */
export const DNS_SERVICE_ACCOUNT = 'coredns'
export const INGRESS_SERVICE_ACCOUNT = 'netkube-ingress'

export function addonServiceAccount(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'kube-system', labels: { ...RECONCILE } } }
}

/**
 * The DNS Deployment. Its pods read the API in-cluster, as ServiceAccount kube-system/coredns
 * (the kubelet's projected token, KUBERNETES_SERVICE_HOST); `kubeconfig` (tests, old setups)
 * hands them a file instead.
 */
export function dnsDeployment(o: { kubeconfig?: string; clusterDomain: string; clusterIP: string; replicas?: number }): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'netkube-dns', namespace: 'kube-system', labels: { ...DNS_LABELS, ...RECONCILE } },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: DNS_LABELS },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: '25%' } },
      template: {
        metadata: { labels: DNS_LABELS },
        spec: {
          // The pod resolves through the node's resolvers, not through itself.
          dnsPolicy: 'Default',
          serviceAccountName: DNS_SERVICE_ACCOUNT,
          containers: [
            {
              name: 'dns',
              image: 'netkube/dns',
              args: [...(o.kubeconfig ? ['--kubeconfig', o.kubeconfig] : []), '--listen', '0.0.0.0:53', '--cluster-domain', o.clusterDomain, '--metrics-listen', '0.0.0.0:9153', '--ns-address', o.clusterIP],
              ports: [
                { name: 'dns', containerPort: 53, protocol: 'UDP' },
                { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
              ],
              // Ready once its informers have synced (it answers SERVFAIL before that).
              readinessProbe: { httpGet: { path: '/readyz', port: 9153 }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: '/healthz', port: 9153 }, periodSeconds: 10, failureThreshold: 5 },
            },
          ],
        },
      },
    },
  }
}

// ---------- storage (issue #11): the built-in local-path StorageClass ----------

export const LOCAL_PATH_CLASS = 'local-path'

/**
 * The default class, as k3s ships rancher's: WaitForFirstConsumer (the volume is made on the
 * node the scheduler picks for the first pod), Delete (the directory goes with the claim).
 * `EnsureExists`, as upstream's default-storage-class add-on: created when missing, never put
 * back, so an admin may unmark it as the default or delete it.
 */
export function localPathStorageClass(): StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {
      name: LOCAL_PATH_CLASS,
      labels: { 'addonmanager.kubernetes.io/mode': 'EnsureExists' },
      annotations: { [ANNOTATION_DEFAULT_STORAGE_CLASS]: 'true' },
    },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
    allowVolumeExpansion: false,
  }
}

// ---------- Ingress (issue #12): the controller as ingress-nginx runs, self-hosted ----------
export const INGRESS_LABELS = { 'app.kubernetes.io/name': 'netkube-ingress', 'app.kubernetes.io/component': 'controller' }
export const INGRESS_SERVICE = 'netkube-ingress'
/** Like the DNS Deployment: replicas belong to whoever scales it after the first create. */
export const INGRESS_DEPLOYMENT_OWNERSHIP: Ownership = { userOwned: ['spec.replicas'] }
/** The class, with its default-class annotation, is put back as installed. */
export const INGRESS_CLASS_OWNERSHIP: Ownership = {}

/** IngressClass `netkube`, the default class: Ingresses naming no class are served by it. */
export function ingressClass(): IngressClass {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: 'netkube', labels: { ...INGRESS_LABELS, ...RECONCILE }, annotations: { [ANNOTATION_DEFAULT_INGRESS_CLASS]: 'true' } },
    spec: { controller: CONTROLLER_NAME },
  }
}

/** The controller's Service: type LoadBalancer (its NodePorts reach it until an LB address is assigned). */
export function ingressService(): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: INGRESS_SERVICE, namespace: 'kube-system', labels: { ...INGRESS_LABELS, ...RECONCILE } },
    spec: {
      type: 'LoadBalancer',
      selector: INGRESS_LABELS,
      ports: [
        { name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' },
        { name: 'https', port: 443, protocol: 'TCP', targetPort: 'https' },
      ],
    },
  }
}

export function ingressDeployment(o: { kubeconfig?: string; replicas?: number }): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'netkube-ingress-controller', namespace: 'kube-system', labels: { ...INGRESS_LABELS, ...RECONCILE } },
    spec: {
      replicas: o.replicas ?? 1,
      selector: { matchLabels: INGRESS_LABELS },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: INGRESS_LABELS },
        spec: {
          dnsPolicy: 'Default',
          serviceAccountName: INGRESS_SERVICE_ACCOUNT,
          containers: [
            {
              name: 'controller',
              image: 'netkube/ingress',
              args: [...(o.kubeconfig ? ['--kubeconfig', o.kubeconfig] : []), '--publish-service', `kube-system/${INGRESS_SERVICE}`, '--metrics-listen', '0.0.0.0:10254'],
              ports: [
                { name: 'http', containerPort: 80, protocol: 'TCP' },
                { name: 'https', containerPort: 443, protocol: 'TCP' },
                { name: 'metrics', containerPort: 10254, protocol: 'TCP' },
              ],
              // Ready once synced and HAProxy serves; live while HAProxy runs (the controller restarts it).
              readinessProbe: { httpGet: { path: '/readyz', port: 10254 }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: '/healthz', port: 10254 }, periodSeconds: 10, failureThreshold: 5 },
            },
          ],
        },
      },
    },
  }
}
