// metrics.k8s.io/v1beta1 — what metrics-server serves through its APIService, served here by the
// apiserver itself: NodeMetrics and PodMetrics (get, list; labelSelector on lists) built on
// request from each kubelet's /stats/summary (src/kubelet/stats.ts: usageNanoCores and
// workingSetBytes, as metrics-server reads them). A node whose kubelet does not answer, or a
// container without two samples yet, is left out, as metrics-server leaves it out — kubectl top
// then says "metrics not available yet". Discovery lists the group like any other
// (discovery.ts reads METRICS_DISCOVERY), so `kubectl top` finds it.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { findResource } from '../api/resources.js'
import type { KubeObject, Node, Pod } from '../api/types.js'
import { formatQuantity } from '../api/quantity.js'
import type { Summary } from '../kubelet/stats.js'
import * as E from './errors.js'
import type { Registry } from './registry.js'
import { kubeletEndpoint, readBody, type KubeletClient } from './kubelet-client.js'

export const METRICS_GROUP = 'metrics.k8s.io'
export const METRICS_VERSION = 'v1beta1'
const GV = `${METRICS_GROUP}/${METRICS_VERSION}`

/** The group's discovery entries (APIResourceList.resources). */
export const METRICS_DISCOVERY = [
  { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
  { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
]

export interface MetricsApiOptions {
  registry: Registry
  /** The summary of one node's kubelet; rejects when it cannot be had. */
  summary(node: Node): Promise<Summary>
  /** The sampling window reported (the kubelet's stats period). */
  windowSeconds?: number
}

interface Usage {
  cpu: string
  memory: string
}

const usage = (nanoCores: number, bytes: number): Usage => ({ cpu: `${Math.round(nanoCores)}n`, memory: formatQuantity(bytes, 'BinarySI') })

/** NodeMetrics of one node from its summary; undefined without a CPU rate yet. */
export function nodeMetrics(node: Node, s: Summary, window: string, now: string): KubeObject | undefined {
  const rate = s.node.cpu.usageNanoCores
  if (rate === undefined) return undefined
  return {
    kind: 'NodeMetrics',
    apiVersion: GV,
    metadata: { name: node.metadata.name!, creationTimestamp: now, ...(node.metadata.labels ? { labels: node.metadata.labels } : {}) },
    timestamp: s.node.cpu.time,
    window,
    usage: usage(rate, s.node.memory.workingSetBytes),
  } as unknown as KubeObject
}

/** PodMetrics of one pod from its node's summary; undefined when a container has no rate yet. */
export function podMetrics(pod: Pod, s: Summary, window: string, now: string): KubeObject | undefined {
  const ps = s.pods.find((p) => p.podRef.uid === pod.metadata.uid)
  if (!ps || ps.containers.length === 0 || ps.containers.some((c) => c.cpu.usageNanoCores === undefined)) return undefined
  return {
    kind: 'PodMetrics',
    apiVersion: GV,
    metadata: { name: pod.metadata.name!, namespace: pod.metadata.namespace!, creationTimestamp: now, ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}) },
    timestamp: ps.cpu.time,
    window,
    containers: ps.containers.map((c) => ({ name: c.name, usage: usage(c.cpu.usageNanoCores!, c.memory.workingSetBytes) })),
  } as unknown as KubeObject
}

export function registerMetricsRoutes(app: FastifyInstance, o: MetricsApiOptions): void {
  const nodesR = findResource('', 'v1', 'nodes')!
  const podsR = findResource('', 'v1', 'pods')!
  const window = `${o.windowSeconds ?? 5}s`
  const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z')

  /** Summaries of the named nodes, fetched at once; a node that does not answer is left out. */
  const summaries = async (names: Set<string>): Promise<Map<string, { node: Node; s: Summary }>> => {
    const nodes = (await o.registry.list(nodesR, undefined, {})).items as Node[]
    const out = new Map<string, { node: Node; s: Summary }>()
    await Promise.all(
      nodes
        .filter((n) => names.has(n.metadata.name!))
        .map(async (node) => {
          try {
            out.set(node.metadata.name!, { node, s: await o.summary(node) })
          } catch {
            // unreachable kubelet: no metrics for it (metrics-server logs and skips it)
          }
        }),
    )
    return out
  }
  const selectorOf = (req: FastifyRequest): { labelSelector?: string } => {
    const sel = (req.query as Record<string, string | undefined>).labelSelector
    return sel ? { labelSelector: sel } : {}
  }
  const list = (kind: string, items: KubeObject[]) => ({ kind, apiVersion: GV, metadata: {}, items })

  const nodeMetricsFor = async (nodes: Node[]): Promise<KubeObject[]> => {
    const got = await summaries(new Set(nodes.map((n) => n.metadata.name!)))
    const t = now()
    return nodes.flatMap((n) => {
      const g = got.get(n.metadata.name!)
      const m = g && nodeMetrics(n, g.s, window, t)
      return m ? [m] : []
    })
  }
  const podMetricsFor = async (pods: Pod[]): Promise<KubeObject[]> => {
    const got = await summaries(new Set(pods.flatMap((p) => (p.spec.nodeName ? [p.spec.nodeName] : []))))
    const t = now()
    return pods.flatMap((p) => {
      const g = p.spec.nodeName ? got.get(p.spec.nodeName) : undefined
      const m = g && podMetrics(p, g.s, window, t)
      return m ? [m] : []
    })
  }
  const nodeNotFound = (name: string) => E.notFound({ group: METRICS_GROUP, resource: 'nodemetrics' }, name)
  const podNotFound = (name: string) => E.notFound({ group: METRICS_GROUP, resource: 'podmetrics' }, name)
  const getOr404 = async <T extends KubeObject>(f: () => Promise<KubeObject>, nf: () => E.ApiError): Promise<T> => {
    try {
      return (await f()) as T
    } catch (err) {
      if (err instanceof E.ApiError && err.code === 404) throw nf()
      throw err
    }
  }

  app.get(`/apis/${GV}/nodes`, async (req) => list('NodeMetricsList', await nodeMetricsFor((await o.registry.list(nodesR, undefined, selectorOf(req))).items as Node[])))
  app.get(`/apis/${GV}/nodes/:name`, async (req) => {
    const { name } = req.params as { name: string }
    const node = await getOr404<Node>(() => o.registry.get(nodesR, undefined, name), () => nodeNotFound(name))
    const [m] = await nodeMetricsFor([node])
    if (!m) throw nodeNotFound(name)
    return m
  })
  app.get(`/apis/${GV}/pods`, async (req) => list('PodMetricsList', await podMetricsFor((await o.registry.list(podsR, undefined, selectorOf(req))).items as Pod[])))
  app.get(`/apis/${GV}/namespaces/:ns/pods`, async (req) => {
    const { ns } = req.params as { ns: string }
    return list('PodMetricsList', await podMetricsFor((await o.registry.list(podsR, ns, selectorOf(req))).items as Pod[]))
  })
  app.get(`/apis/${GV}/namespaces/:ns/pods/:name`, async (req) => {
    const { ns, name } = req.params as { ns: string; name: string }
    const pod = await getOr404<Pod>(() => o.registry.get(podsR, ns, name), () => podNotFound(name))
    const [m] = await podMetricsFor([pod])
    if (!m) throw podNotFound(name)
    return m
  })
}

/** A kubelet's /stats/summary through the apiserver's kubelet client (2 s limit). */
export async function fetchKubeletSummary(kubelet: KubeletClient, node: Node): Promise<Summary> {
  const res = await kubelet.get(kubeletEndpoint(node), '/stats/summary', AbortSignal.timeout(2000))
  const body = await readBody(res, 16 << 20)
  if ((res.statusCode ?? 500) !== 200) throw new Error(`kubelet answered ${res.statusCode}: ${body.trim()}`)
  return JSON.parse(body) as Summary
}
