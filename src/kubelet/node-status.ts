// The kubelet's Node object and its heartbeat: the Node is registered (or updated) with
// addresses, capacity and podCIDR; the Lease in kube-node-lease is renewed every 10 s and the
// Node's conditions are refreshed periodically, as the node lifecycle controller expects.
import { cpus, totalmem } from 'node:os'
import type { Condition, Lease, Node } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import type { Client } from '../client/interfaces.js'
import { VERSION } from '../version.js'
import { logger } from '../util/log.js'

const log = logger('node-status')

const res = resourceFor

export interface NodeStatusOptions {
  nodeName: string
  nodeIP: string
  podCIDR?: string
  kubeletPort: number
  labels?: Record<string, string>
  /** Set on the Node at every update (the agent publishes its overlay lease this way). */
  annotations?: Record<string, string>
  leaseDurationSeconds?: number
  renewIntervalMs?: number
  statusIntervalMs?: number
}

function isStatusError(err: unknown, code: number): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code
}

export function desiredNode(o: NodeStatusOptions, prev: Node | undefined, now: string): Node {
  const cond = (type: string, status: 'True' | 'False', reason: string, message: string): Condition => {
    const old = prev?.status?.conditions?.find((c) => c.type === type)
    return {
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: old && old.status === status ? old.lastTransitionTime! : now,
    }
  }
  const capacity = {
    cpu: String(cpus().length),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: '110',
    'ephemeral-storage': '50Gi',
  }
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      ...(prev?.metadata ?? {}),
      name: o.nodeName,
      labels: {
        ...(prev?.metadata.labels ?? {}),
        'kubernetes.io/hostname': o.nodeName,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
        ...(o.labels ?? {}),
      },
      ...(o.annotations || prev?.metadata.annotations ? { annotations: { ...(prev?.metadata.annotations ?? {}), ...(o.annotations ?? {}) } } : {}),
    },
    spec: { ...(prev?.spec ?? {}), ...(o.podCIDR ? { podCIDR: o.podCIDR, podCIDRs: [o.podCIDR] } : {}) },
    status: {
      capacity,
      allocatable: capacity,
      addresses: [
        { type: 'InternalIP', address: o.nodeIP },
        { type: 'Hostname', address: o.nodeName },
      ],
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: o.kubeletPort } },
      nodeInfo: {
        kubeletVersion: VERSION.gitVersion,
        kubeProxyVersion: VERSION.gitVersion,
        containerRuntimeVersion: 'process://netkube',
        operatingSystem: 'linux',
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        osImage: 'netkube lab node',
        kernelVersion: '',
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    },
  }
  return node
}

export class NodeHeartbeat {
  private timers: NodeJS.Timeout[] = []

  constructor(
    private readonly client: Client,
    private readonly o: NodeStatusOptions,
  ) {}

  async register(): Promise<void> {
    const nodes = this.client.resource<Node>(res('nodes'))
    let prev: Node | undefined
    try {
      prev = await nodes.get(this.o.nodeName)
    } catch (err) {
      if (!isStatusError(err, 404)) throw err
    }
    const want = desiredNode(this.o, prev, new Date().toISOString())
    if (!prev) {
      const created = await nodes.create({ ...want, status: {} })
      await nodes.updateStatus({ ...want, metadata: created.metadata })
      log.info({ node: this.o.nodeName }, 'node registered')
    } else {
      const updated = await nodes.update({ ...want, status: prev.status ?? {} })
      await nodes.updateStatus({ ...want, metadata: updated.metadata })
    }
  }

  async updateStatus(): Promise<void> {
    const nodes = this.client.resource<Node>(res('nodes'))
    const prev = await nodes.get(this.o.nodeName)
    const want = desiredNode(this.o, prev, new Date().toISOString())
    await nodes.patchStatus(this.o.nodeName, { status: want.status }, 'merge')
  }

  async renewLease(): Promise<void> {
    const leases = this.client.resource<Lease>(res('leases'), 'kube-node-lease')
    const now = new Date().toISOString().replace('Z', '000Z') // MicroTime
    const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: this.o.leaseDurationSeconds ?? 40, renewTime: now }
    try {
      await leases.patch(this.o.nodeName, { spec }, 'merge')
    } catch (err) {
      if (!isStatusError(err, 404)) throw err
      await leases.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.nodeName, namespace: 'kube-node-lease' },
        spec: { ...spec, acquireTime: now },
      })
    }
  }

  start(): void {
    const every = (ms: number, fn: () => Promise<void>, what: string): void => {
      const t = setInterval(() => fn().catch((err: Error) => log.warn({ err: err.message }, `${what} failed`)), ms)
      t.unref()
      this.timers.push(t)
    }
    every(this.o.renewIntervalMs ?? 10_000, () => this.renewLease(), 'lease renewal')
    every(this.o.statusIntervalMs ?? 10_000, () => this.updateStatus(), 'node status update')
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
  }
}
