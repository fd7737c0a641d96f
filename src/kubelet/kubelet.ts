// The kubelet: watches the pods bound to its node, runs one PodWorker per pod, reports
// status, finishes graceful deletions, and cleans up whatever no longer belongs to it
// (sandboxes, processes, IP allocations left by a crash or a restart).
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import { Registry, Gauge, Histogram, Counter } from 'prom-client'
import type { ConfigMap, KubeObject, PersistentVolume, PersistentVolumeClaim, Pod, Secret } from '../api/types.js'
import type { ServiceAccountSource } from './serviceaccount.js'
import type { ClaimLookup } from './claims.js'
import { isNotFound } from '../client/errors.js'
import { configMapBytes, secretBytes } from './volumes.js'
import { resourceFor } from '../api/resources.js'
import type { Client, SharedInformer } from '../client/interfaces.js'
import { createInformer } from '../client/informer.js'
import { listNetns } from '../net/netns.js'
import { CniRuntime } from './cni-runtime.js'
import { ProcessRuntime } from './runtime.js'
import { StatsSampler } from './stats.js'
import { SandboxManager } from './sandbox.js'
import { PodWorker } from './pod-worker.js'
import { computePodStatus, statusKey, statusWriteNeeded } from './pod-status.js'
import { NodeHeartbeat } from './node-status.js'
import { startKubeletServer } from './server.js'
import { createStreamingHandler } from './streaming/server.js'
import { runAttach } from './streaming/attach.js'
import type { KubeletTLS } from './tls.js'
import { logger } from '../util/log.js'
import { deleteNetns } from '../net/netns.js'
import { createEventRecorder } from '../events/recorder.js'

const log = logger('kubelet')
const res = resourceFor

export interface KubeletOptions {
  client: Client
  nodeName: string
  nodeIP: string
  podCIDR?: string
  stateDir: string
  /** Prefix of every pod network namespace this kubelet creates (unique per node). */
  netnsPrefix: string
  cniBinDirs: string[]
  cniConfDir: string
  /** Exec CNI plugins inside this network namespace (the node's), when the kubelet runs outside it. */
  cniNetns?: string
  clusterDNS: string[]
  clusterDomain?: string
  hostResolvConf?: string
  /** Kubelet HTTP endpoint (logs, healthz, metrics); 0 picks a free port. */
  port?: number
  listenHost?: string
  /** HTTPS identity and client CA (absent: plain HTTP, only for tests of the kubelet alone). */
  tls?: KubeletTLS
  syncIntervalMs?: number
  /** Node lease renewal and status refresh period (kubelet's --node-status-update-frequency, 10 s). */
  nodeStatusUpdateMs?: number
  backoffInitialMs?: number
  /** How often configMap/secret volumes are rewritten from the API (default 2 s). */
  volumeRefreshMs?: number
  nodeLabels?: Record<string, string>
  /** Annotations the Node carries (the agent's overlay lease, flannel's names). */
  nodeAnnotations?: Record<string, string>
  /** How often container and node usage is sampled for /stats/summary (default 5 s). */
  statsPeriodMs?: number
}

export interface Kubelet {
  port: number
  workers: Map<string, PodWorker>
  stop(opts?: { killPods?: boolean }): Promise<void>
}

export async function startKubelet(o: KubeletOptions): Promise<Kubelet> {
  mkdirSync(o.stateDir, { recursive: true })
  const registry = new Registry()
  const runningPods = new Gauge({ name: 'kubelet_running_pods', help: 'Pods with a worker on this node', registers: [registry] })
  const syncDuration = new Histogram({ name: 'kubelet_pod_worker_duration_seconds', help: 'Duration of one pod sync', registers: [registry] })
  const statusUpdates = new Counter({ name: 'kubelet_pod_status_updates_total', help: 'Pod status writes', labelNames: ['result'], registers: [registry] })
  const startLatency = new Histogram({
    name: 'kubelet_pod_start_duration_seconds',
    help: 'Pod creation to Ready as seen by this kubelet',
    buckets: [0.5, 1, 2, 3, 5, 10, 20, 60],
    registers: [registry],
  })

  const runtime = new ProcessRuntime(join(o.stateDir, 'containers'))
  const cni = new CniRuntime({ binDirs: o.cniBinDirs, confDir: o.cniConfDir, cacheDir: join(o.stateDir, 'cni-cache'), ...(o.cniNetns ? { netns: o.cniNetns } : {}) })
  const sandboxes = new SandboxManager({
    stateDir: o.stateDir,
    netnsPrefix: o.netnsPrefix,
    cni,
    dns: { clusterDNS: o.clusterDNS, clusterDomain: o.clusterDomain ?? 'cluster.local', hostResolvConf: o.hostResolvConf ?? '/etc/resolv.conf' },
  })
  const workers = new Map<string, PodWorker>()
  const recorder = createEventRecorder({ client: o.client, component: 'kubelet', host: o.nodeName })
  const lastStatus = new Map<string, string>()
  const readyObserved = new Set<string>()

  /** ConfigMap/Secret bytes for env and volumes; undefined only when the API says 404. */
  const getSource = async (kind: 'configmap' | 'secret', ns: string, name: string): Promise<Record<string, Buffer> | undefined> => {
    try {
      if (kind === 'configmap') return configMapBytes(await o.client.resource<ConfigMap>(res('configmaps'), ns).get(name))
      return secretBytes(await o.client.resource<Secret>(res('secrets'), ns).get(name))
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  /** Claims and their volumes for persistentVolumeClaim volumes; undefined when the API says 404. */
  const orMissing = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }
  const claims: ClaimLookup = {
    claim: (ns, name) => orMissing(o.client.resource<PersistentVolumeClaim>(res('persistentvolumeclaims'), ns).get(name)),
    volume: (name) => orMissing(o.client.resource<PersistentVolume>(res('persistentvolumes')).get(name)),
  }

  const stats = new StatsSampler(
    o.nodeName,
    () => runtime.list().filter((c) => c.running),
    (uid) => {
      const m = workers.get(uid)?.pod.metadata
      return m ? { name: m.name!, namespace: m.namespace!, uid } : undefined
    },
    o.statsPeriodMs,
  )
  stats.start()
  const server = await startKubeletServer({
    summary: () => stats.summary(),
    host: o.listenHost ?? '0.0.0.0',
    port: o.port ?? 10250,
    registry,
    ...(o.tls ? { tls: o.tls } : {}),
    logSource: (ns, pod, container, previous) => {
      const w = [...workers.values()].find((x) => x.pod.metadata.namespace === ns && x.pod.metadata.name === pod)
      if (!w) return { code: 404, message: `pod "${pod}" does not exist` }
      const src = w.logSource(container ?? w.pod.spec.containers[0]!.name, previous)
      return 'path' in src ? src : { code: src.notFound ? 404 : 400, message: src.message }
    },
    onUpgrade: createStreamingHandler({
      find: (ns, pod, container) => {
        const w = [...workers.values()].find((x) => x.pod.metadata.namespace === ns && x.pod.metadata.name === pod && !x.terminated)
        if (!w) return { code: 404, message: `pod does not exist` }
        const name = container ?? w.pod.spec.containers[0]!.name
        if (!w.pod.spec.containers.some((c) => c.name === name) && !(w.pod.spec.initContainers ?? []).some((c) => c.name === name))
          return { code: 404, message: `container not found ("${name}")` }
        const id = w.currentContainerId(name)
        const target = id ? runtime.execTarget(id) : undefined
        if (!target) return { code: 500, message: `container ${name} is not running` }
        return { target, podName: pod, podUid: w.uid }
      },
      attach: (ns, pod, container, ch) => {
        const w = [...workers.values()].find((x) => x.pod.metadata.namespace === ns && x.pod.metadata.name === pod && !x.terminated)
        const spec = w && [...w.pod.spec.containers, ...(w.pod.spec.initContainers ?? [])].find((c) => c.name === container)
        const id = spec && w.currentContainerId(spec.name)
        if (!id || !runtime.execTarget(id)) return { code: 500, message: `container ${container} is not running` }
        runAttach(runtime.attachSocket(id), ch, { stdin: spec.stdin === true })
        return undefined
      },
    }),
  })

  const heartbeat = new NodeHeartbeat(o.client, {
    nodeName: o.nodeName,
    nodeIP: o.nodeIP,
    kubeletPort: server.port,
    ...(o.podCIDR ? { podCIDR: o.podCIDR } : {}),
    ...(o.nodeLabels ? { labels: o.nodeLabels } : {}),
    ...(o.nodeAnnotations ? { annotations: o.nodeAnnotations } : {}),
    ...(o.nodeStatusUpdateMs ? { renewIntervalMs: o.nodeStatusUpdateMs, statusIntervalMs: o.nodeStatusUpdateMs } : {}),
  })
  await heartbeat.register()
  await heartbeat.renewLease()
  heartbeat.start()

  const pods = o.client.resource<Pod>(res('pods'))
  const informer: SharedInformer<Pod> = createInformer(pods, { fieldSelector: `spec.nodeName=${o.nodeName}` })

  const deleteFromApi = async (pod: Pod): Promise<void> => {
    try {
      await o.client
        .resource<Pod>(res('pods'), pod.metadata.namespace)
        .delete(pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid! } })
    } catch (err) {
      const code = (err as { code?: number }).code
      if (code !== 404 && code !== 409) throw err
    }
  }

  const terminate = async (w: PodWorker, graceMs: number, removeFromApi: boolean): Promise<void> => {
    if (w.terminated) return
    log.info({ pod: `${w.pod.metadata.namespace}/${w.pod.metadata.name}`, graceMs }, 'terminating pod')
    await w.terminate(graceMs)
    workers.delete(w.uid)
    lastStatus.delete(w.uid)
    if (removeFromApi) await deleteFromApi(w.pod)
  }

  const writeStatus = async (w: PodWorker): Promise<void> => {
    const status = computePodStatus(w.view(), new Date().toISOString())
    const key = statusKey(status)
    if (!statusWriteNeeded(lastStatus.get(w.uid), status, w.pod.status)) return
    try {
      const updated = await o.client
        .resource<Pod>(res('pods'), w.pod.metadata.namespace)
        .patchStatus(w.pod.metadata.name!, { status }, 'merge')
      lastStatus.set(w.uid, key)
      statusUpdates.inc({ result: 'ok' })
      if (updated.metadata.uid === w.uid) w.pod = { ...w.pod, status: updated.status! }
      const ready = status.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
      if (ready && !readyObserved.has(w.uid)) {
        readyObserved.add(w.uid)
        const created = Date.parse(w.pod.metadata.creationTimestamp ?? '')
        if (!Number.isNaN(created)) startLatency.observe((Date.now() - created) / 1000)
      }
    } catch (err) {
      statusUpdates.inc({ result: 'error' })
      log.warn({ pod: w.pod.metadata.name, err: (err as Error).message }, 'status update failed')
    }
  }

  const syncPod = async (pod: Pod): Promise<void> => {
    const uid = pod.metadata.uid!
    let w = workers.get(uid)
    if (pod.metadata.deletionTimestamp) {
      const graceS = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30
      if (!w) w = new PodWorker(pod, workerDeps)
      await terminate(w, graceS * 1000, true)
      return
    }
    if (!w) {
      w = new PodWorker(pod, workerDeps)
      workers.set(uid, w)
    } else {
      w.pod = pod
    }
    const t0 = process.hrtime.bigint()
    await w.sync()
    syncDuration.observe(Number(process.hrtime.bigint() - t0) / 1e9)
    await writeStatus(w)
  }

  // Each pod's projected API credentials: a token bound to the pod, asked for by this node.
  const serviceAccounts: ServiceAccountSource = {
    caPem: o.client.config.caPem ?? '',
    token: async (pod) => {
      const issuedAt = Date.now()
      const tr = await o.client.resource<KubeObject>(res('serviceaccounts'), pod.metadata.namespace).createSubresource<KubeObject, { status?: { token?: string; expirationTimestamp?: string } }>(pod.spec.serviceAccountName || 'default', 'token', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        metadata: {},
        // The kubelet's own request: one hour and a few seconds, bound to the pod.
        spec: { expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid } },
      } as KubeObject)
      const token = tr.status?.token
      const expiresAt = Date.parse(tr.status?.expirationTimestamp ?? '')
      if (!token || Number.isNaN(expiresAt)) throw new Error('TokenRequest answered without a token')
      return { token, issuedAt, expiresAt }
    },
  }

  const workerDeps = {
    serviceAccounts,
    runtime,
    sandboxes,
    stateDir: o.stateDir,
    nodeName: o.nodeName,
    hostIP: o.nodeIP,
    getSource,
    claims,
    ...(o.volumeRefreshMs !== undefined ? { volumeRefreshMs: o.volumeRefreshMs } : {}),
    recorder,
    ...(o.backoffInitialMs !== undefined ? { backoffInitialMs: o.backoffInitialMs } : {}),
  }

  const inFlight = new Set<string>()
  const kick = (pod: Pod): void => {
    const uid = pod.metadata.uid!
    if (inFlight.has(uid)) return
    inFlight.add(uid)
    syncPod(pod)
      .catch((err: Error) => log.warn({ pod: pod.metadata.name, err: err.message }, 'pod sync failed'))
      .finally(() => inFlight.delete(uid))
  }

  informer.addEventHandler({
    onAdd: kick,
    onUpdate: (_old, pod) => kick(pod),
    onDelete: (pod) => {
      const w = workers.get(pod.metadata.uid!)
      if (w) void terminate(w, (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000, false).catch(() => {})
    },
  })
  await informer.start()

  /** Remove what belongs to no pod this node should run: after a crash or restart. */
  const cleanupOrphans = async (): Promise<void> => {
    const live = new Set(informer.store.list().map((p) => p.metadata.uid!))
    for (const rec of sandboxes.records()) {
      if (live.has(rec.uid) || workers.has(rec.uid)) continue
      log.info({ uid: rec.uid, netns: rec.netns }, 'removing orphaned sandbox')
      const orphan = new PodWorker({ metadata: { uid: rec.uid, name: rec.name, namespace: rec.namespace }, spec: { containers: [] } }, workerDeps)
      await orphan.terminate(2000)
    }
    for (const st of runtime.list()) {
      if (live.has(st.podUid) || workers.has(st.podUid)) continue
      await runtime.stop(st.id, 2000)
      runtime.remove(st.id)
    }
    const known = new Set(sandboxes.records().map((r) => r.netns))
    for (const ns of listNetns()) {
      if (ns.startsWith(o.netnsPrefix) && !known.has(ns) && ![...workers.values()].some((w) => sandboxes.netnsName(w.uid) === ns)) {
        log.info({ netns: ns }, 'removing leaked pod namespace')
        await deleteNetns(ns)
      }
    }
    const stray = sandboxes.removeStrayEtc()
    if (stray.length > 0) log.info({ dirs: stray }, 'removed /etc/netns files of gone pod namespaces')
    // IPs and veths that an ADD took for no recorded sandbox (what the steps above cannot see).
    try {
      await sandboxes.gc()
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'CNI GC failed')
    }
  }
  await cleanupOrphans()

  const tick = setInterval(() => {
    runningPods.set(workers.size)
    for (const pod of informer.store.list()) kick(pod)
  }, o.syncIntervalMs ?? 1000)
  tick.unref()
  const orphanTick = setInterval(() => void cleanupOrphans().catch(() => {}), 30_000)
  orphanTick.unref()

  log.info({ node: o.nodeName, port: server.port }, 'kubelet started')
  return {
    port: server.port,
    workers,
    async stop(opts = {}) {
      clearInterval(tick)
      clearInterval(orphanTick)
      stats.stop()
      heartbeat.stop()
      informer.stop()
      if (opts.killPods) await Promise.all([...workers.values()].map((w) => w.terminate(2000)))
      await recorder.stop()
      runtime.close()
      await server.close()
    },
  }
}
