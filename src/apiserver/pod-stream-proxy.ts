// pods/exec, pods/attach, pods/portforward: kube-apiserver's upgrade-aware proxy. The
// request (POST with Upgrade: SPDY/3.1, or GET with Upgrade: websocket) is authenticated,
// the pod and container checked, and the same upgrade is made to the pod's kubelet
// (/exec/…, /attach/…, /portForward/…) through the kubelet client. On 101 the two sockets
// are spliced byte for byte, so the kubelet alone speaks SPDY/WebSocket and both protocols
// (and their version negotiation) reach it unchanged — as upstream's UpgradeAwareHandler
// does; re-framing here would only add a second implementation and a copy per frame.
// A kubelet that refuses answers its own status and body; a kubelet that cannot be dialled
// (node down) fails within the dial timeout with upstream's "error dialing backend".
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { findResource } from '../api/resources.js'
import type { Node, Pod } from '../api/types.js'
import type { AuthenticatorChain } from '../authn/chain.js'
import type { Authorizer } from './authorizer.js'
import { forbidden } from '../rbac/forbidden.js'
import { requestAttributes } from '../rbac/request-info.js'
import { withAuthenticatedGroup } from '../rbac/hooks.js'
import * as E from './errors.js'
import { podKubeletEndpoint, readBody, type KubeletClient } from './kubelet-client.js'
import type { Registry } from './registry.js'
import { logger } from '../util/log.js'

const log = logger('apiserver-streams')

const ROUTE = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)$/

/** Headers of the client's upgrade that the kubelet must see (negotiation included). */
const FORWARDED = ['upgrade', 'connection', 'x-stream-protocol-version', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol']

export interface PodStreamProxyOptions {
  auth: AuthenticatorChain
  registry: Registry
  kubelet: KubeletClient
  /** The request's authorization (as fastify's hook does for everything else); none = allow. */
  authorizer?: Authorizer
  dialTimeoutMs?: number
}

function writeStatus(socket: Duplex, err: E.ApiError): void {
  const body = JSON.stringify(err.status)
  socket.end(`HTTP/1.1 ${err.code} ${err.status.reason ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/** Pure: the kubelet path for a pods/<sub> request (query passed on, `container` in the path). */
export function kubeletStreamPath(sub: 'exec' | 'attach' | 'portforward', ns: string, pod: string, container: string, query: URLSearchParams): string {
  const q = new URLSearchParams(query)
  q.delete('container')
  const qs = q.size ? `?${q}` : ''
  const e = encodeURIComponent
  if (sub === 'portforward') return `/portForward/${e(ns)}/${e(pod)}${qs}`
  return `/${sub}/${e(ns)}/${e(pod)}/${e(container)}${qs}`
}

/** Which container a pods/exec|attach request means, or the Status upstream answers. */
export function pickContainer(pod: Pod, sub: string, requested: string | null): string {
  const name = pod.metadata.name!
  const all = [...pod.spec.containers, ...(pod.spec.initContainers ?? []), ...(((pod.spec as { ephemeralContainers?: { name: string }[] }).ephemeralContainers) ?? [])].map((c) => c.name)
  if (!requested) {
    if (pod.spec.containers.length !== 1) throw E.badRequest(`a container name must be specified for pod ${name}, choose one of: [${pod.spec.containers.map((c) => c.name).join(' ')}]`)
    return pod.spec.containers[0]!.name
  }
  if (!all.includes(requested)) throw E.badRequest(`container ${requested} is not valid for pod ${name}`)
  if (sub !== 'portforward') {
    const phase = pod.status?.phase
    if (phase === 'Succeeded' || phase === 'Failed') throw E.badRequest(`cannot ${sub} into a container in a completed pod; current phase is ${phase}`)
  }
  return requested
}

export function createPodStreamProxy(o: PodStreamProxyOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const pods = findResource('', 'v1', 'pods')!
  const nodes = findResource('', 'v1', 'nodes')!
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy())
    handle(req, socket, head).catch((err: unknown) => {
      const apiErr = err instanceof E.ApiError ? err : E.internal((err as Error).message)
      if (apiErr.code >= 500) log.warn({ url: req.url, err: apiErr.message }, 'stream proxy failed')
      if (!socket.destroyed) writeStatus(socket, apiErr)
    })
  }

  async function handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://apiserver.local')
    const m = ROUTE.exec(url.pathname)
    if (!m) throw E.pathNotFound()
    // Upgrades never reach fastify's hooks: the same authenticator chain runs here.
    const who = await o.auth.authenticate({ authorization: req.headers.authorization, socket: req.socket })
    if (!who || 'error' in who) throw E.unauthorized()
    if (o.authorizer) {
      // exec/attach/portforward need `create` on the subresource whatever the method: a
      // WebSocket upgrade is a GET, and upstream (1.31+) checks create for it as well.
      const a = { ...requestAttributes(req.method ?? 'GET', req.url ?? '/', withAuthenticatedGroup(who.user)), verb: 'create' }
      const r = await o.authorizer.authorize(a)
      if (r.decision !== 'allow') throw forbidden(a, r.reason)
    }
    const [, ns, name, sub] = m as unknown as [string, string, string, 'exec' | 'attach' | 'portforward']
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'POST') throw E.methodNotAllowed()
    const pod = (await o.registry.get(pods, decodeURIComponent(ns), decodeURIComponent(name))) as Pod
    const container = sub === 'portforward' ? '' : pickContainer(pod, sub, url.searchParams.get('container'))
    const ep = await podKubeletEndpoint(pod, async (n) => (await o.registry.get(nodes, undefined, n)) as Node)
    const path = kubeletStreamPath(sub, pod.metadata.namespace!, pod.metadata.name!, container, url.searchParams)
    const headers: Record<string, string | string[]> = {}
    for (const h of FORWARDED) {
      const v = req.headers[h]
      if (v !== undefined) headers[h] = v
    }
    let up
    try {
      up = await o.kubelet.upgrade(ep, method, path, headers, o.dialTimeoutMs ?? 5000)
    } catch (err) {
      throw E.internal(`error dialing backend: ${(err as Error).message}`)
    }
    if (!up.upgraded) {
      // The kubelet's refusal, relayed as it answered (kubectl prints the body).
      const body = await readBody(up.res)
      const code = up.res.statusCode ?? 500
      socket.end(`HTTP/1.1 ${code} ${up.res.statusMessage ?? ''}\r\nContent-Type: ${up.res.headers['content-type'] ?? 'text/plain'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      return
    }
    const lines = [`HTTP/1.1 101 ${up.res.statusMessage ?? 'Switching Protocols'}`]
    for (let i = 0; i < up.res.rawHeaders.length; i += 2) lines.push(`${up.res.rawHeaders[i]}: ${up.res.rawHeaders[i + 1]}`)
    socket.write(lines.join('\r\n') + '\r\n\r\n')
    const backend = up.socket
    if (up.head.length) socket.write(up.head)
    if (head.length) backend.write(head)
    backend.on('error', () => socket.destroy())
    // Spliced both ways; either side ending or failing ends the other.
    socket.pipe(backend)
    backend.pipe(socket)
    socket.on('close', () => backend.destroy())
    backend.on('close', () => socket.destroy())
  }
}
