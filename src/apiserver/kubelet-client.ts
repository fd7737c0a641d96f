// How the apiserver reaches kubelets — the one place it does (pods/log, exec, attach,
// portforward). Upstream's kube-apiserver dials the Node's InternalIP at
// status.daemonEndpoints.kubeletEndpoint.Port over HTTPS, verifies the kubelet's serving
// certificate (--kubelet-certificate-authority: here the cluster CA that issued it) and
// presents its kubelet-client certificate (--kubelet-client-certificate/-key), the only
// identity kubelets accept. Plain HTTP remains for apiserver tests that stand up a fake
// kubelet with node:http.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Duplex } from 'node:stream'
import type { Node, Pod } from '../api/types.js'
import * as E from './errors.js'

export interface KubeletClientTLS {
  /** Verifies kubelets' serving certificates. */
  caPem: string
  /** The apiserver's kubelet-client identity. */
  certPem: string
  keyPem: string
}

export interface KubeletEndpoint {
  host: string
  port: number
}

/** Where a Node's kubelet listens; a Status (400) when the Node does not say. */
export function kubeletEndpoint(node: Node): KubeletEndpoint {
  const addrs = node.status?.addresses ?? []
  // Upstream's default --kubelet-preferred-address-types order, of the types nodes report here.
  const ip = (addrs.find((a) => a.type === 'InternalIP') ?? addrs.find((a) => a.type === 'Hostname') ?? addrs.find((a) => a.type === 'ExternalIP'))?.address
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port
  if (!ip || !port) throw E.badRequest(`node ${node.metadata.name} has no kubelet endpoint`)
  return { host: ip, port }
}

/** The kubelet of the Node a pod is bound to; a Status (400) when it has none. */
export async function podKubeletEndpoint(pod: Pod, getNode: (name: string) => Promise<Node>): Promise<KubeletEndpoint> {
  const name = pod.metadata.name!
  if (!pod.spec.nodeName) throw E.badRequest(`pod ${name} does not have a host assigned`)
  let node: Node
  try {
    node = await getNode(pod.spec.nodeName)
  } catch {
    throw E.badRequest(`nodes "${pod.spec.nodeName}" not found`)
  }
  return kubeletEndpoint(node)
}

export type UpgradeResult =
  | { upgraded: true; res: IncomingMessage; socket: Duplex; head: Buffer }
  | { upgraded: false; res: IncomingMessage }

export class KubeletClient {
  readonly scheme: 'http' | 'https'
  private readonly agent: HttpsAgent | undefined

  constructor(tls?: KubeletClientTLS) {
    this.scheme = tls ? 'https' : 'http'
    // One agent: TLS sessions to a kubelet are resumed across requests.
    this.agent = tls ? new HttpsAgent({ ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, keepAlive: true, maxCachedSessions: 256 }) : undefined
  }

  url(ep: KubeletEndpoint, path: string): string {
    const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host
    return `${this.scheme}://${host}:${ep.port}${path}`
  }

  private open(ep: KubeletEndpoint, method: string, path: string, headers: OutgoingHttpHeaders, signal?: AbortSignal, agent?: HttpsAgent | false) {
    const base = { host: ep.host, port: ep.port, path, method, headers, ...(signal ? { signal } : {}) }
    if (this.scheme === 'http') return httpRequest({ ...base, agent: false })
    return httpsRequest({ ...base, agent: agent ?? this.agent! })
  }

  /** A plain request (GET /containerLogs/…): resolves with the response head, body streaming. */
  get(ep: KubeletEndpoint, path: string, signal?: AbortSignal): Promise<IncomingMessage> {
    return this.request(ep, 'GET', path, {}, undefined, signal)
  }

  /** Any method with an optional body (nodes/proxy): resolves with the response head, body streaming. */
  request(ep: KubeletEndpoint, method: string, path: string, headers: OutgoingHttpHeaders, body?: Buffer, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.open(ep, method, path, headers, signal)
      req.on('response', resolve)
      req.on('error', reject)
      req.end(body)
    })
  }

  /**
   * An upgrade request (exec/attach/portForward): the kubelet either switches protocols
   * (101, the raw socket is returned) or answers normally (an error body to relay).
   * `connectTimeoutMs` bounds a kubelet that is down: the caller fails fast.
   */
  upgrade(ep: KubeletEndpoint, method: string, path: string, headers: OutgoingHttpHeaders, connectTimeoutMs = 5000): Promise<UpgradeResult> {
    return new Promise((resolve, reject) => {
      // A fresh connection per stream: an upgraded socket never returns to a pool.
      const agent = this.scheme === 'https' ? new HttpsAgent({ ...this.agent!.options, keepAlive: false }) : false
      const req = this.open(ep, method, path, headers, undefined, agent)
      const timer = setTimeout(() => req.destroy(new Error(`dial tcp ${ep.host}:${ep.port}: i/o timeout`)), connectTimeoutMs)
      req.on('upgrade', (res, socket, head) => {
        clearTimeout(timer)
        resolve({ upgraded: true, res, socket, head })
      })
      req.on('response', (res) => {
        clearTimeout(timer)
        resolve({ upgraded: false, res })
      })
      req.on('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      req.end()
    })
  }
}

/** Reads a (small) error body a kubelet answered with. */
export async function readBody(res: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let out = ''
  for await (const chunk of res) {
    out += String(chunk)
    if (out.length > limit) break
  }
  return out
}
