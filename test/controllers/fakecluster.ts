// A control plane for integration tests: real etcd + apiserver, the controller manager and the
// scheduler, and fake nodes whose "kubelet" (this file) renews their Leases and marks pods bound
// to them Running + Ready through the status subresource, and finishes graceful deletions.
import type { Test } from 'tap'
import type { Condition, Lease, Node, Pod } from '../../src/api/types.js'
import { createClient, type RestClient } from '../../src/client/rest.js'
import { createInformer } from '../../src/client/informer.js'
import { isNotFound, isAlreadyExists } from '../../src/client/errors.js'
import { objectKey } from '../../src/client/interfaces.js'
import { R } from '../../src/controllers/informers.js'
import { startControllerManager } from '../../src/controllers/manager.js'
import { startScheduler } from '../../src/scheduler/scheduler.js'
import { withApiServer, type TestApiServer } from '../helpers/apiserver.js'

export interface FakeNodeOpts {
  labels?: Record<string, string>
  cpu?: string
  memory?: string
  /** Delay before a bound pod turns Ready. */
  readyDelayMs?: number
}

export class FakeKubelet {
  readonly alive = new Map<string, boolean>()
  private timers = new Set<NodeJS.Timeout>()
  private leaseTimer: NodeJS.Timeout | undefined
  private ip = 1
  private readonly inf
  private readyDelayMs = 200
  /** Pods to keep not ready (key ns/name). */
  readonly holdNotReady = new Set<string>()

  constructor(private readonly client: RestClient) {
    this.inf = createInformer(client.resource<Pod>(R.pods), { name: 'fake-kubelet' })
    const on = (p: Pod) => this.handle(p)
    this.inf.addEventHandler({ onAdd: on, onUpdate: (_o, p) => on(p) })
  }

  async start(): Promise<void> {
    await this.inf.start()
    this.leaseTimer = setInterval(() => void this.renewAll(), 1000)
  }

  stop(): void {
    if (this.leaseTimer) clearInterval(this.leaseTimer)
    for (const t of this.timers) clearTimeout(t)
    this.inf.stop()
  }

  pods(): Pod[] {
    return this.inf.store.list()
  }

  async addNode(name: string, o: FakeNodeOpts = {}): Promise<void> {
    if (o.readyDelayMs !== undefined) this.readyDelayMs = o.readyDelayMs
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } },
      spec: {},
    }
    await this.client.resource<Node>(R.nodes).create(node)
    await this.client.resource<Node>(R.nodes).patchStatus(name, {
      status: {
        capacity: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: '110' },
        allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: '110' },
        conditions: [readyCondition()],
      },
    }, 'merge')
    this.alive.set(name, true)
    await this.renew(name)
  }

  /** The node's agent dies: no more lease renewals, pods untouched. */
  kill(name: string): void {
    this.alive.set(name, false)
  }

  /** The agent is back: it posts Ready (as a kubelet's first status update does) and finishes what happened while it was away. */
  async revive(name: string): Promise<void> {
    this.alive.set(name, true)
    await this.client.resource<Node>(R.nodes).patchStatus(name, { status: { conditions: [readyCondition()] } }, 'merge')
    await this.renew(name)
    for (const p of this.inf.store.list()) if (p.spec.nodeName === name) this.handle(p)
  }

  private async renewAll(): Promise<void> {
    for (const [n, a] of this.alive) if (a) await this.renew(n).catch(() => {})
  }

  private async renew(name: string): Promise<void> {
    const api = this.client.resource<Lease>(R.leases, 'kube-node-lease')
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease' },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString().replace('Z', '000Z') },
    }
    try {
      const cur = await api.get(name)
      await api.update({ ...cur, spec: lease.spec! })
    } catch (err) {
      if (!isNotFound(err)) throw err
      await api.create(lease).catch((e) => { if (!isAlreadyExists(e)) throw e })
    }
  }

  private handle(p: Pod): void {
    const node = p.spec.nodeName
    if (!node || !this.alive.get(node)) return
    const api = this.client.resource<Pod>(R.pods, p.metadata.namespace)
    if (p.metadata.deletionTimestamp) {
      void api.delete(p.metadata.name!, { gracePeriodSeconds: 0 }).catch(() => {})
      return
    }
    // Terminal pods are never started again (what a Job's workload reports stays).
    if (p.status?.phase === 'Running' || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' || this.holdNotReady.has(objectKey(p))) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      const cur = this.inf.store.get(objectKey(p))
      if (!cur || cur.metadata.deletionTimestamp || cur.status?.phase !== p.status?.phase || !this.alive.get(node)) return
      const ip = `10.244.${Math.floor(this.ip / 250)}.${(this.ip % 250) + 2}`
      this.ip++
      // A failed write is retried (a real kubelet's status manager does the same).
      api.patchStatus(p.metadata.name!, { status: this.runningStatus(ip, true) }, 'merge').catch(() => {
        const again = setTimeout(() => {
          this.timers.delete(again)
          const now = this.inf.store.get(objectKey(p))
          if (now) this.handle(now)
        }, 300)
        this.timers.add(again)
      })
    }, this.readyDelayMs)
    this.timers.add(t)
  }

  runningStatus(ip: string, ready: boolean): Pod['status'] {
    const now = new Date().toISOString()
    const c = (type: string, s: boolean) => ({ type, status: s ? 'True' as const : 'False' as const, lastTransitionTime: now })
    return {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: '192.168.56.10',
      startTime: now,
      conditions: [c('PodScheduled', true), c('Initialized', true), c('ContainersReady', ready), c('Ready', ready)],
    }
  }

  async setReady(p: Pod, ready: boolean): Promise<void> {
    const conds = (p.status?.conditions ?? []).map((c) =>
      c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: ready ? 'True' as const : 'False' as const, lastTransitionTime: new Date().toISOString() } : c,
    )
    if (!ready) this.holdNotReady.add(objectKey(p))
    else this.holdNotReady.delete(objectKey(p))
    await this.client.resource<Pod>(R.pods, p.metadata.namespace).patchStatus(p.metadata.name!, { status: { conditions: conds } }, 'merge')
  }
}

function readyCondition(): Condition {
  const now = new Date().toISOString()
  return { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }
}

export interface Cluster {
  api: TestApiServer
  client: RestClient
  kubelet: FakeKubelet
}

export async function withCluster(t: Test, opts: { graceMs?: number; evictMs?: number; jobBackoffMs?: number } = {}): Promise<Cluster> {
  const api = await withApiServer(t)
  const client = createClient({ server: api.url, token: api.token, caPem: api.caPem })
  const cm = await startControllerManager({
    client,
    nodeMonitorGracePeriodMs: opts.graceMs ?? 6000,
    podEvictionTimeoutMs: opts.evictMs ?? 2000,
    nodeMonitorPeriodMs: 300,
    ...(opts.jobBackoffMs !== undefined ? { jobPodFailureBackoffMs: opts.jobBackoffMs } : {}),
  })
  const sched = await startScheduler({ client, retryPeriodMs: 2000 })
  const kubelet = new FakeKubelet(client)
  await kubelet.start()
  t.teardown(async () => {
    kubelet.stop()
    await sched.stop()
    await cm.stop()
  })
  return { api, client, kubelet }
}

/** What `eventually` hands back: the value once it is truthy (`cond && value` reads as the value). */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>

/** Poll `f` until it returns a truthy value (returned), or fail after timeoutMs with the last value. */
export async function eventually<T>(what: string, f: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 100): Promise<Truthy<T>> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await f()
      if (v) return v as Truthy<T>
      last = v
    } catch (err) {
      last = err
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
