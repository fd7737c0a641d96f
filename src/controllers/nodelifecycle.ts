// Node lifecycle controller shell: a monitor loop (every monitorPeriodMs) folds Lease renewals
// and Ready heartbeats into per-node health, then applies decideNode's actions.
import type { Lease, Node, Pod } from '../api/types.js'
import type { Client } from '../client/interfaces.js'
import { isConflict, isNotFound } from '../client/errors.js'
import { logger } from '../util/log.js'
import { setCondition } from './apiutil.js'
import { R, type InformerFactory } from './informers.js'
import type { ControllerMetrics } from './metrics.js'
import { decideNode, observeNode, orphanedPods, type NodeHealth, type NodeLifecycleConfig } from './nodelifecycle-core.js'
import { createEventRecorder, type EventRecorder } from '../events/recorder.js'

export const NODE_LEASE_NAMESPACE = 'kube-node-lease'
const BY_NODE = 'nodeName'

export class NodeLifecycleController {
  private readonly nodes
  private readonly leases
  private readonly pods
  private readonly health = new Map<string, NodeHealth>()
  private readonly orphanSince = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private busy: Promise<void> = Promise.resolve()
  private stopped = false
  private readonly log = logger('controller.nodelifecycle')
  private readonly recorder: EventRecorder

  constructor(
    private readonly client: Client,
    f: InformerFactory,
    private readonly metrics: ControllerMetrics,
    private readonly cfg: NodeLifecycleConfig & { monitorPeriodMs: number; orphanQuarantineMs?: number },
  ) {
    f.addIndexers<Pod>(R.pods, { [BY_NODE]: (p) => (p.spec.nodeName ? [p.spec.nodeName] : []) })
    this.nodes = f.get<Node>(R.nodes)
    this.leases = f.get<Lease>(R.leases)
    this.pods = f.get<Pod>(R.pods)
    this.recorder = createEventRecorder({ client, component: 'node-controller' })
  }

  run(): void {
    const tick = () => {
      if (this.stopped) return
      this.busy = this.monitor()
        .catch((err) => {
          this.metrics.reconcileErrors.inc({ controller: 'nodelifecycle' })
          this.log.warn({ err: (err as Error).message }, 'node monitor pass failed')
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.cfg.monitorPeriodMs)
        })
    }
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await this.busy
    await this.recorder.stop()
  }

  /** One pass over every node (exported for tests through the controller manager). */
  async monitor(): Promise<void> {
    const end = this.metrics.reconcileDuration.startTimer({ controller: 'nodelifecycle' })
    this.metrics.reconciles.inc({ controller: 'nodelifecycle' })
    const now = Date.now()
    const seen = new Set<string>()
    for (const node of this.nodes.store.list()) {
      const name = node.metadata.name!
      seen.add(name)
      const lease = this.leases.store.get(`${NODE_LEASE_NAMESPACE}/${name}`)
      const h = observeNode(this.health.get(name), node, lease, now)
      this.health.set(name, h)
      const d = decideNode(node, h, this.pods.store.byIndex(BY_NODE, name), now, this.cfg)
      for (const a of d.actions) {
        try {
          await this.apply(node, a)
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err
        }
      }
    }
    for (const n of this.health.keys()) if (!seen.has(n)) this.health.delete(n)
    // Pods bound to nodes that are gone: nobody will ever finish them.
    if (this.nodes.hasSynced() && this.pods.hasSynced()) {
      for (const p of orphanedPods(this.pods.store.list(), seen, this.orphanSince, now, this.cfg.orphanQuarantineMs ?? 20_000)) {
        this.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}`, node: p.spec.nodeName }, 'deleting pod bound to a vanished node')
        try {
          await this.client.resource<Pod>(R.pods, p.metadata.namespace).delete(p.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid! } })
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err
        }
      }
    }
    end()
  }

  private async apply(node: Node, a: ReturnType<typeof decideNode>['actions'][number]): Promise<void> {
    const nodes = this.client.resource<Node>(R.nodes)
    switch (a.kind) {
      case 'nodeConditions':
        this.log.info({ node: node.metadata.name }, 'node stopped heartbeating: conditions Unknown')
        await nodes.patchStatus(node.metadata.name!, { status: { conditions: a.conditions } }, 'merge')
        this.recorder.event(node, 'Normal', 'NodeNotReady', `Node ${node.metadata.name} status is now: NodeNotReady`)
        break
      case 'taints':
        // Pinned to the version we decided on: a concurrent taint change wins, we retry next tick.
        await nodes.patch(node.metadata.name!, { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { taints: a.taints.length ? a.taints : null } }, 'merge')
        break
      case 'markPodNotReady': {
        const pod = this.pods.store.get(`${a.namespace}/${a.name}`)
        if (!pod) return
        const conds = setCondition(pod.status?.conditions, { type: 'Ready', status: 'False', reason: 'NodeNotReady', message: 'Node is not ready' })
        await this.client.resource<Pod>(R.pods, a.namespace).patchStatus(a.name, { status: { conditions: conds } }, 'merge')
        this.recorder.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready')
        break
      }
      case 'evictPod':
        this.log.info({ node: node.metadata.name, pod: `${a.namespace}/${a.name}` }, 'evicting pod from unreachable node')
        await this.client.resource<Pod>(R.pods, a.namespace).delete(a.name)
        this.recorder.event({ kind: 'Pod', apiVersion: 'v1', namespace: a.namespace, name: a.name }, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${a.namespace}/${a.name}`)
        break
    }
  }
}
