// `netkube server`: etcd + apiserver + controllers + scheduler (+ the DNS add-on).
import { parseArgs } from 'node:util'
import { startServer } from './server.js'
import { parseDuration } from '../util/duration.js'
import { waitForSignal } from '../util/signals.js'
import { exitOnLost, parseLeaderElectionFlags } from '../client/leaderelection.js'
import { logger } from '../util/log.js'
import { parsePoolsFlag } from '../loadbalancer/pools.js'

export async function main(argv: string[]): Promise<number | void> {
  // --leader-elect[=false], --leader-elect-lease-duration, -renew-deadline, -retry-period
  const { flags: leaderElection, rest } = parseLeaderElectionFlags(argv)
  const { values: v } = parseArgs({
    args: rest,
    options: {
      'state-dir': { type: 'string' },
      'etcd-servers': { type: 'string' },
      'etcd-listen': { type: 'string' },
      'bind-address': { type: 'string' },
      'advertise-address': { type: 'string' },
      'secure-port': { type: 'string' },
      'service-cluster-ip-range': { type: 'string' },
      'cluster-cidr': { type: 'string' },
      backend: { type: 'string' },
      'cluster-domain': { type: 'string' },
      'extra-sans': { type: 'string' },
      'extra-token-file': { type: 'string' },
      'node-monitor-grace-period': { type: 'string' },
      'pod-eviction-timeout': { type: 'string' },
      'job-pod-failure-backoff': { type: 'string' },
      'no-dns': { type: 'boolean' },
      'dns-api-server': { type: 'string' },
      'dns-kubeconfig': { type: 'string' },
      'dns-replicas': { type: 'string' },
      'no-ingress': { type: 'boolean' },
      'ingress-replicas': { type: 'string' },
      'addon-reconcile-interval': { type: 'string' },
      'load-balancer-pools': { type: 'string' },
      'load-balancer-class': { type: 'string' },
      'authorization-mode': { type: 'string' },
      'audit-log-path': { type: 'string' },
      'audit-policy-file': { type: 'string' },
    },
  })
  const backend = v.backend ?? 'vxlan'
  if (backend !== 'vxlan' && backend !== 'host-gw') throw new Error(`--backend must be vxlan or host-gw, not "${backend}"`)
  const server = await startServer({
    stateDir: v['state-dir'] ?? '/var/lib/netkube/server',
    ...(v['etcd-servers'] ? { etcdServers: v['etcd-servers'].split(',') } : {}),
    ...(v['etcd-listen'] ? { etcdListen: v['etcd-listen'] } : {}),
    ...(v['bind-address'] ? { bindAddress: v['bind-address'] } : {}),
    ...(v['advertise-address'] ? { advertiseAddress: v['advertise-address'] } : {}),
    securePort: Number(v['secure-port'] ?? 6443),
    serviceCIDR: v['service-cluster-ip-range'] ?? '10.96.0.0/12',
    clusterCIDR: v['cluster-cidr'] ?? '10.244.0.0/16',
    backend,
    clusterDomain: v['cluster-domain'] ?? 'cluster.local',
    extraSANs: (v['extra-sans'] ?? '').split(',').filter(Boolean),
    ...(v['extra-token-file'] ? { extraTokenFile: v['extra-token-file'] } : {}),
    ...(v['node-monitor-grace-period'] ? { nodeMonitorGracePeriodMs: parseDuration(v['node-monitor-grace-period']) } : {}),
    ...(v['pod-eviction-timeout'] ? { podEvictionTimeoutMs: parseDuration(v['pod-eviction-timeout']) } : {}),
    ...(v['job-pod-failure-backoff'] ? { jobPodFailureBackoffMs: parseDuration(v['job-pod-failure-backoff']) } : {}),
    noDns: v['no-dns'] ?? false,
    ...(v['dns-api-server'] ? { dnsApiServer: v['dns-api-server'] } : {}),
    ...(v['dns-kubeconfig'] ? { dnsKubeconfig: v['dns-kubeconfig'] } : {}),
    ...(v['dns-replicas'] ? { dnsReplicas: Number(v['dns-replicas']) } : {}),
    noIngress: v['no-ingress'] ?? false,
    ...(v['ingress-replicas'] ? { ingressReplicas: Number(v['ingress-replicas']) } : {}),
    ...(v['addon-reconcile-interval'] ? { addonReconcileIntervalMs: parseDuration(v['addon-reconcile-interval']) } : {}),
    // NAME=RANGES[;NAME=RANGES…], a range being A-B, a CIDR or one address
    ...(v['load-balancer-pools'] ? { loadBalancerPools: parsePoolsFlag(v['load-balancer-pools']) } : {}),
    ...(v['load-balancer-class'] ? { loadBalancerClass: v['load-balancer-class'] } : {}),
    // The apiserver's own flags, passed through (default Node,RBAC; audit off unless a path is given).
    ...(v['authorization-mode'] ? { authorizationMode: v['authorization-mode'] } : {}),
    ...(v['audit-log-path'] ? { auditLogPath: v['audit-log-path'] } : {}),
    ...(v['audit-policy-file'] ? { auditPolicyFile: v['audit-policy-file'] } : {}),
    leaderElection,
    // As kube-controller-manager and kube-scheduler do: a lost lease ends the process (its
    // apiserver with it); the supervisor restarts it and it rejoins as a candidate.
    onLeaderElectionLost: (lease) => exitOnLost(logger('server'), { lease })(),
  })
  process.stderr.write(`netkube server ready: ${server.api.url} (kubeconfig ${server.api.kubeconfigPath})\n`)
  await waitForSignal()
  await server.stop()
}
