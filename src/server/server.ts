// `netkube server`: the control plane in one process, like k3s's server: a supervised local
// etcd (unless --etcd-servers names one), the apiserver, the controller manager and the
// scheduler. It also seeds what the nodes need from the cluster: the overlay's network
// config in etcd, and the self-hosted cluster DNS (Deployment + Service kube-dns). Every
// start reconciles them, so a restart (supervisor, systemd, reboot, a kill -9 half-way
// through a previous start) converges instead of tripping over what is already there.
// The controller manager and the scheduler each run under leader election on their upstream
// Leases (kube-system/kube-controller-manager, kube-system/kube-scheduler): with several servers
// on one etcd only the leader of each acts. The identity (`<hostname>_<uuid>`) is kept in the
// state directory, so a server restarted on its own state takes its own unexpired lease back
// at once instead of waiting the lease out; another server waits for expiry as upstream does.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import { Registry } from 'prom-client'
import { startEtcd, type EtcdProcess } from '../etcd/process.js'
import { startApiServer, type ApiServer } from '../apiserver/server.js'
import { startControllerManager, type ControllerManager } from '../controllers/manager.js'
import { startScheduler, type Scheduler } from '../scheduler/scheduler.js'
import { createClient } from '../client/rest.js'
import { DEFAULT_TIMING, electionIdentity, startElected, type Elected, type LeaderElectionFlags } from '../client/leaderelection.js'
import type { Client } from '../client/interfaces.js'
import { resourceFor } from '../api/resources.js'
import type { Deployment, KubeObject, Service } from '../api/types.js'
import { loadKubeconfig } from '../client/kubeconfig.js'
import { writeKubeconfig } from '../apiserver/kubeconfig.js'
import { SA_MOUNT_PATH } from '../kubelet/serviceaccount.js'
import { loadClusterCA, type Subject } from '../authn/pki.js'
import { ensureIdentityKubeconfig, IDENTITIES } from '../authn/identities.js'
import { parseServiceCidr } from '../apiserver/allocator.js'
import { nthAddress } from '../net/ip.js'
import { DEFAULT_PREFIX } from '../overlay/config.js'
import { reconcileObject, type Ownership } from '../apiserver/reconcile.js'
import { addonServiceAccount, DNS_SERVICE_ACCOUNT, INGRESS_SERVICE_ACCOUNT, DNS_DEPLOYMENT_OWNERSHIP, SERVICE_OWNERSHIP, dnsDeployment, dnsService, INGRESS_CLASS_OWNERSHIP, INGRESS_DEPLOYMENT_OWNERSHIP, ingressClass, ingressDeployment, ingressService, localPathStorageClass } from './addons.js'
import { isAlreadyExists, isConflict } from '../client/errors.js'
import type { IngressClass } from '../api/ingress.js'
import { crashPoint } from './crash-point.js'
import { runEvery } from '../util/periodic.js'
import { logger } from '../util/log.js'
import { startLoadBalancerController } from '../loadbalancer/controller.js'
import { EtcdAllocationStore } from '../loadbalancer/store.js'
import type { Pool } from '../loadbalancer/pools.js'
import { startCsrControllers } from '../certificates/controllers.js'
import { BootstrapSigner } from '../join/bootstrap-signer.js'
import { CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE, clusterInfoKubeconfig } from '../join/cluster-info.js'
import { ControllerMetrics } from '../controllers/metrics.js'
import type { ClusterCA } from '../authn/pki.js'
import type { ConfigMap } from '../api/types.js'
import { isNotFound } from '../client/errors.js'

const log = logger('server')

export interface ServerOptions {
  stateDir: string
  etcdServers?: string[]
  /** Where the supervised etcd listens for clients (besides 127.0.0.1). */
  etcdListen?: string
  bindAddress?: string
  advertiseAddress?: string
  securePort?: number
  serviceCIDR?: string
  clusterCIDR?: string
  backend?: 'vxlan' | 'host-gw'
  clusterDomain?: string
  extraSANs?: string[]
  /** Extra kube-apiserver token file lines (bootstrap tokens) to trust. */
  extraTokenFile?: string
  nodeMonitorGracePeriodMs?: number
  podEvictionTimeoutMs?: number
  /** The Job controller's first pod-failure back-off (default 10 s). */
  jobPodFailureBackoffMs?: number
  /** Do not create the cluster DNS add-on. */
  noDns?: boolean
  /**
   * Where the add-on pods reach the API (default https://ADVERTISE:PORT) and the kubeconfig
   * file written for them (default STATE/addons.kubeconfig; it names the pod's projected
   * ServiceAccount token file, no credential). Several apiservers must agree on both, or each
   * would "put back" its own Deployment: an HA lab gives them one shared file that names the
   * `kubernetes` Service's ClusterIP, as in-cluster clients do upstream.
   */
  dnsApiServer?: string
  dnsKubeconfig?: string
  dnsReplicas?: number
  /** Leave out the Ingress add-on (IngressClass netkube + the controller Deployment and Service). */
  noIngress?: boolean
  ingressReplicas?: number
  /** How often the add-ons are reconciled after start (default 60 s, addon-manager's). */
  addonReconcileIntervalMs?: number
  /** How often the apiserver's bootstrap objects are reconciled after start (default 60 s). */
  bootstrapIntervalMs?: number
  /** Leader election of the controller manager and the scheduler (default: on, upstream's timings). */
  leaderElection?: LeaderElectionFlags
  /**
   * Called when a component lost its lease (before it is stopped). The CLI exits the process
   * here, as kube-controller-manager does; without it the component stops and campaigns again.
   */
  onLeaderElectionLost?: (lease: ElectedComponent) => void
  /** LoadBalancer address pools (`--load-balancer-pools`); more come from the kube-system/netkube-lb-pools ConfigMap. */
  loadBalancerPools?: Pool[]
  /** The `spec.loadBalancerClass` the LoadBalancer controller serves (besides none). */
  loadBalancerClass?: string
  /** `--authorization-mode` of the apiserver (default Node,RBAC). */
  authorizationMode?: string
  /** `--audit-log-path` (`-` = stdout) and `--audit-policy-file`; audit is off without a path. */
  auditLogPath?: string
  auditPolicyFile?: string
}

export type ElectedComponent = 'kube-controller-manager' | 'kube-scheduler'

export interface Server {
  api: ApiServer
  /** The add-on manager's client (system:netkube:addon-manager): only what its ClusterRole allows. */
  client: Client
  etcdEndpoints: string[]
  /** This server's leader-election identity. */
  identity: string
  /** Whether this server's component currently leads (always true with leader election off). */
  isLeader(component: ElectedComponent): boolean
  /** `leader_election_master_status{name}` of both elections. */
  leaderMetrics: Registry
  stop(): Promise<void>
}

/** `<hostname>_<uuid>`, made once per state directory. */
function persistentIdentity(stateDir: string): string {
  const file = join(stateDir, 'leader-election-identity')
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim()
    if (id) return id
  }
  const id = electionIdentity()
  writeFileSync(file, `${id}\n`)
  return id
}

/**
 * flannel's network config, written once if absent ("EnsureExists", deliberately): changing
 * the Network under running nodes would orphan their subnet leases, so a restart with other
 * flags keeps the cluster's config. The put is one transaction: no partial value exists.
 */
export async function ensureOverlayConfig(etcdEndpoints: string[], clusterCIDR: string, backend: string): Promise<void> {
  const etcd = new Etcd3({ hosts: etcdEndpoints })
  try {
    const key = `${DEFAULT_PREFIX}/config`
    const cfg = JSON.stringify({ Network: clusterCIDR, SubnetLen: 24, Backend: { Type: backend } })
    await etcd.if(key, 'Create', '==', 0).then(etcd.put(key).value(cfg)).commit()
  } finally {
    etcd.close()
  }
}

async function startJoinControllers(client: Client, ca: ClusterCA): Promise<{ stop(): Promise<void> }> {
  const csr = await startCsrControllers({ client, ca })
  const signer = new BootstrapSigner(client, new ControllerMetrics())
  await signer.start().catch(async (err: Error) => {
    await csr.stop()
    throw err
  })
  return { stop: async () => { await signer.stop(); await csr.stop() } }
}

/** cluster-info's kubeconfig created or put back; the signatures are the bootstrap signer's. */
export async function ensureClusterInfo(client: Client, server: string, caPem: string): Promise<void> {
  const cms = client.resource<ConfigMap>(resourceFor('configmaps'), CLUSTER_INFO_NAMESPACE)
  const kubeconfig = clusterInfoKubeconfig(server, caPem)
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const cur = await cms.get(CLUSTER_INFO_NAME)
      if (cur.data?.kubeconfig === kubeconfig) return
      await cms.update({ ...cur, data: { ...(cur.data ?? {}), kubeconfig } })
      return
    } catch (err) {
      if (isNotFound(err)) {
        try {
          await cms.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CLUSTER_INFO_NAME, namespace: CLUSTER_INFO_NAMESPACE }, data: { kubeconfig } })
          return
        } catch (e) {
          if (!isAlreadyExists(e)) throw e
        }
      } else if (!isConflict(err)) throw err
    }
  }
}

/** Create or put back an add-on (see reconcile.ts for what is owned). */
async function reconcileAddon<T extends Service | Deployment | IngressClass>(client: Client, plural: string, want: T, own: Ownership): Promise<void> {
  const rc = client.resource<KubeObject>(resourceFor(plural), want.metadata.namespace)
  const name = want.metadata.name!
  const plan = await reconcileObject(
    { get: () => rc.get(name), create: (o) => rc.create(o), update: (o) => rc.update(o), delete: (uid) => rc.delete(name, { preconditions: { uid } }) },
    want,
    own,
  )
  if (plan.op === 'create') log.info({ kind: want.kind, name: want.metadata.name }, 'add-on created')
  if (plan.op === 'update' || plan.op === 'recreate') log.info({ kind: want.kind, name: want.metadata.name, drift: plan.drift }, 'add-on drifted: put back')
  crashPoint(`${plural}/${want.metadata.name}`)
}

export async function startServer(o: ServerOptions): Promise<Server> {
  mkdirSync(o.stateDir, { recursive: true })
  const stops: (() => Promise<void>)[] = []
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: Error) => log.warn({ err: err.message }, 'stop failed'))
  }
  try {
    let etcdEndpoints = o.etcdServers ?? []
    if (etcdEndpoints.length === 0) {
      const etcd: EtcdProcess = await startEtcd({
        dataDir: join(o.stateDir, 'etcd'),
        host: o.etcdListen ?? '127.0.0.1',
        clientPort: 2379,
        peerPort: 2380,
      })
      stops.push(() => etcd.stop())
      etcdEndpoints = [etcd.endpoint]
    }
    const clusterCIDR = o.clusterCIDR ?? '10.244.0.0/16'
    await ensureOverlayConfig(etcdEndpoints, clusterCIDR, o.backend ?? 'vxlan')

    if (o.extraTokenFile) {
      // Trust bootstrap tokens by adding them to the apiserver's token file (kept idempotent).
      const tokens = join(o.stateDir, 'tokens.csv')
      const have = existsSync(tokens) ? readFileSync(tokens, 'utf8') : ''
      for (const line of readFileSync(o.extraTokenFile, 'utf8').split('\n').filter(Boolean)) {
        if (!have.includes(line)) appendFileSync(tokens, `${line}\n`)
      }
    }
    const advertise = o.advertiseAddress ?? (o.bindAddress && o.bindAddress !== '0.0.0.0' ? o.bindAddress : '127.0.0.1')
    const api = await startApiServer({
      etcdEndpoints,
      stateDir: o.stateDir,
      host: o.bindAddress ?? '127.0.0.1',
      port: o.securePort ?? 6443,
      serviceCIDR: o.serviceCIDR ?? '10.96.0.0/12',
      advertiseAddress: advertise,
      extraSANs: o.extraSANs ?? [],
      ...(o.bootstrapIntervalMs !== undefined ? { bootstrapIntervalMs: o.bootstrapIntervalMs } : {}),
      ...(o.authorizationMode ? { authorizationMode: o.authorizationMode } : {}),
      ...(o.auditLogPath ? { auditLogPath: o.auditLogPath } : {}),
      ...(o.auditPolicyFile ? { auditPolicyFile: o.auditPolicyFile } : {}),
    })
    stops.push(() => api.close())
    // The in-process components reach the apiserver where it listens (loopback when it listens on all addresses).
    const bind = o.bindAddress ?? '127.0.0.1'
    const self = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind
    // Each in-process component talks with its own identity (src/authn/identities.ts), from a
    // kubeconfig in the state directory, as kubeadm's controller-manager.conf / scheduler.conf.
    const ca = await loadClusterCA(api.caCertPath, api.caKeyPath)
    const selfURL = `https://${self}:${api.port}`
    const componentClient = async (file: string, who: Subject, userAgent: string): Promise<Client> => {
      const path = join(o.stateDir, file)
      await ensureIdentityKubeconfig(path, selfURL, ca, who)
      return createClient({ ...loadKubeconfig(path), userAgent })
    }
    const cmClient = await componentClient('controller-manager.kubeconfig', IDENTITIES.controllerManager, 'netkube-server/kube-controller-manager')
    const schedClient = await componentClient('scheduler.kubeconfig', IDENTITIES.scheduler, 'netkube-server/kube-scheduler')
    const client = await componentClient('addon-manager.kubeconfig', IDENTITIES.addonManager, 'netkube-server/addon-manager')

    // The Lease names are fixed here (two components share the flags): --leader-elect-resource-name does not apply.
    const flags: LeaderElectionFlags = { ...(o.leaderElection ?? { enabled: true, timing: DEFAULT_TIMING, namespace: 'kube-system' }) }
    delete flags.name
    const identity = persistentIdentity(o.stateDir)
    const leaderMetrics = new Registry()
    const elect = (component: ElectedComponent, own: Client, start: () => Promise<ControllerManager | Scheduler>): Promise<Elected> =>
      startElected({ component, flags, clientConfig: own.config, identity, registry: leaderMetrics, start, onLost: () => o.onLeaderElectionLost?.(component) })
    const elections: Record<ElectedComponent, Elected> = {
      'kube-controller-manager': await elect('kube-controller-manager', cmClient, async () => {
        const cm = await startControllerManager({
          client: cmClient,
          ...(o.nodeMonitorGracePeriodMs !== undefined ? { nodeMonitorGracePeriodMs: o.nodeMonitorGracePeriodMs } : {}),
          ...(o.podEvictionTimeoutMs !== undefined ? { podEvictionTimeoutMs: o.podEvictionTimeoutMs } : {}),
          ...(o.jobPodFailureBackoffMs !== undefined ? { jobPodFailureBackoffMs: o.jobPodFailureBackoffMs } : {}),
        })
        // The LoadBalancer IP controller leads with the controller manager (one writer of LB status).
        const lb = await startLoadBalancerController({
          client: cmClient,
          store: new EtcdAllocationStore(etcdEndpoints),
          flagPools: o.loadBalancerPools ?? [],
          ...(o.loadBalancerClass ? { lbClass: o.loadBalancerClass } : {}),
        }).catch(async (err: Error) => {
          await cm.stop()
          throw err
        })
        // The node-join controllers (csrapproving, csrsigning with the cluster CA, bootstrapsigner
        // + tokencleaner) lead with the controller manager too.
        const join = await startJoinControllers(cmClient, ca).catch(async (err: Error) => {
          await lb.stop()
          await cm.stop()
          throw err
        })
        return { metrics: cm.metrics, stop: async () => { await join.stop(); await lb.stop(); await cm.stop() } }
      }),
      'kube-scheduler': await elect('kube-scheduler', schedClient, () => startScheduler({ client: schedClient })),
    }
    for (const e of Object.values(elections)) stops.push(() => e.stop())

    // kube-public/cluster-info: the cluster's address and CA for joining nodes (the bootstrap
    // signer adds each token's signature). The kubeconfig is put back on every start.
    await ensureClusterInfo(client, `https://${advertise}:${api.port}`, api.caPem)

    // The default StorageClass (EnsureExists: created once, then the admin's).
    try {
      await client.resource<KubeObject>(resourceFor('storageclasses')).create(localPathStorageClass())
      log.info({ name: 'local-path' }, 'add-on created')
    } catch (err) {
      if (!isAlreadyExists(err)) throw err
    }

    // DNS and Ingress are separate add-ons: `--no-dns` leaves out only DNS, `--no-ingress` only the Ingress controller.
    if (!o.noDns || !o.noIngress) {
      // The add-on pods read the API in-cluster, each as its ServiceAccount (the kubelet projects
      // the token); nothing is written for them, so several servers install the same Deployment.
      // Their kubeconfig names where they reach the API (the advertised address, or what the
      // operator gives: an HA lab shares one file naming the `kubernetes` Service) and the
      // kubelet's projected token file: the identity is each pod's ServiceAccount, no secret is in it.
      const addonKubeconfig = o.dnsKubeconfig ?? join(o.stateDir, 'addons.kubeconfig')
      writeKubeconfig(addonKubeconfig, o.dnsApiServer ?? `https://${advertise}:${api.port}`, api.caPem, { tokenFile: `${SA_MOUNT_PATH}/token` }, 'serviceaccount')
      const ensureServiceAccount = async (name: string): Promise<void> => {
        try {
          await client.resource<KubeObject>(resourceFor('serviceaccounts'), 'kube-system').create(addonServiceAccount(name))
        } catch (err) {
          if (!isAlreadyExists(err)) throw err
        }
      }
      // kubeadm's convention: the tenth address of the service range (10.96.0.10 by default).
      const dnsIP = nthAddress(parseServiceCidr(o.serviceCIDR ?? '10.96.0.0/12'), 10)
      const reconcileAddons = async (): Promise<void> => {
        if (!o.noDns) {
          await ensureServiceAccount(DNS_SERVICE_ACCOUNT)
          await reconcileAddon(client, 'services', dnsService(dnsIP), SERVICE_OWNERSHIP)
          await reconcileAddon(client, 'deployments', dnsDeployment({ kubeconfig: addonKubeconfig, clusterDomain: o.clusterDomain ?? 'cluster.local', clusterIP: dnsIP, replicas: o.dnsReplicas ?? 2 }), DNS_DEPLOYMENT_OWNERSHIP)
        }
        if (!o.noIngress) {
          // The controller pods use the add-ons' kubeconfig (the same advertised apiserver).
          await reconcileAddon(client, 'ingressclasses', ingressClass(), INGRESS_CLASS_OWNERSHIP)
          await reconcileAddon(client, 'services', ingressService(), SERVICE_OWNERSHIP)
          await ensureServiceAccount(INGRESS_SERVICE_ACCOUNT)
          await reconcileAddon(client, 'deployments', ingressDeployment({ kubeconfig: addonKubeconfig, replicas: o.ingressReplicas ?? 1 }), INGRESS_DEPLOYMENT_OWNERSHIP)
        }
      }
      await reconcileAddons()
      // Then again every minute, as upstream's addon-manager does: a deleted or edited add-on
      // comes back without a server restart.
      const addons = runEvery('add-on reconcile', o.addonReconcileIntervalMs ?? 60_000, reconcileAddons, log)
      stops.push(() => addons.stop())
    }
    log.info({ url: api.url, kubeconfig: api.kubeconfigPath, etcd: etcdEndpoints }, 'server ready')
    return { api, client, etcdEndpoints, identity, isLeader: (c) => elections[c].isLeader(), leaderMetrics, stop: stopAll }
  } catch (err) {
    await stopAll()
    throw err
  }
}
