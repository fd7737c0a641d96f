// `netkube ui [--kubeconfig F] [--context C] [--listen 127.0.0.1:8001]`: the live map.
//
// Design: informers on nodes, pods, services, endpointslices, networkpolicies and the
// LoadBalancer speakers' Leases feed one pure model (model.ts: API objects → ClusterView,
// announcers by the agents' own rendezvous rule, overlay routes from the flannel annotations
// each agent puts on its Node); a feed (feed.ts) sends a view whenever it changed; the server
// (server.ts) serves the page, whose modules (client/) tsc compiled at build time, the snapshot
// (/api/state), the stream (/api/watch, server-sent events) and /api/trace, which calls
// `netkube trace`'s trace() (src/trace). Like `kubectl proxy` it listens on loopback
// by default; the browser only ever talks to it.
import { resourceFor } from '../api/resources.js'
import type { KubeObject } from '../api/types.js'
import { clientConfigFromEnv, flagValue } from '../client/kubeconfig.js'
import { createClient } from '../client/rest.js'
import { createInformer } from '../client/informer.js'
import type { Client } from '../client/interfaces.js'
import { SPEAKER_LABEL } from '../loadbalancer/announce-core.js'
import { badRequest, serviceUnavailable } from '../apiserver/errors.js'
import { logger } from '../util/log.js'
import { waitForSignal } from '../util/signals.js'
import { ViewFeed } from './feed.js'
import { ClusterModel, WATCHED, type WatchedKind } from './model.js'
import { buildUiServer, type TraceFn } from './server.js'
import { trace, traceContextFromKubeconfig, TraceError, type TraceContext } from '../trace/trace.js'

const log = logger('ui')

const USAGE = `usage: netkube ui [--kubeconfig FILE] [--context NAME] [--listen 127.0.0.1:8001]
  Serves a live map of the cluster's network (nodes, pods, Services and endpoints, overlay
  routes, LoadBalancer announcers, NetworkPolicies) and traces paths with netkube trace.
`

export interface UiHandle {
  url: string
  stop(): Promise<void>
}

export interface StartUiOptions {
  client: Client
  host?: string
  port?: number
  trace?: TraceFn
  speakerLeaseMs?: number
}

/** Informers → model → feed → server. Resolves once listening (the view says synced when the lists are in). */
export async function startUi(o: StartUiOptions): Promise<UiHandle> {
  const feed = new ViewFeed(new ClusterModel(o.speakerLeaseMs !== undefined ? { speakerLeaseMs: o.speakerLeaseMs } : {}))
  const informers = WATCHED.map((kind) => {
    const leases = kind === 'leases'
    const inf = createInformer<KubeObject>(o.client.resource(resourceFor(kind), leases ? 'kube-system' : undefined), {
      name: `ui-${kind}`,
      ...(leases ? { labelSelector: `${SPEAKER_LABEL}=true` } : {}),
    })
    const k: WatchedKind = kind
    inf.addEventHandler({
      onAdd: (obj) => feed.apply(k, 'ADDED', obj),
      onUpdate: (_old, obj) => feed.apply(k, 'MODIFIED', obj),
      onDelete: (obj) => feed.apply(k, 'DELETED', obj),
    })
    return inf
  })
  const app = buildUiServer({ feed, ...(o.trace ? { trace: o.trace } : {}) })
  await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8001 })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : (o.port ?? 8001)
  void Promise.all(informers.map((i) => i.start())).then(() => {
    if (informers.every((i) => i.hasSynced())) feed.markSynced()
  })
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}/`,
    async stop() {
      for (const i of informers) i.stop()
      feed.stop()
      await app.close()
    },
  }
}

/**
 * `netkube trace`'s trace() bound to the kubeconfig's cluster. When it cannot reach this
 * cluster's nodes (it reads a lab's node namespaces), /api/trace answers 503 with the reason
 * instead of the UI failing to start.
 */
function loadTrace(kubeconfig: string | undefined): TraceFn {
  const path = kubeconfig ?? process.env.KUBECONFIG ?? `${process.env.HOME ?? ''}/.kube/config`
  let ctx: TraceContext
  try {
    ctx = traceContextFromKubeconfig(path)
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    log.warn({ err: why }, 'trace cannot reach this cluster: /api/trace answers 503')
    return unavailable(`trace is not available: ${why}`)
  }
  return async (req) => {
    try {
      return await trace(req, ctx)
    } catch (err) {
      // the FROM/TO cannot be traced (unknown pod, a name asked from a node): the asker's input
      if (err instanceof TraceError) throw badRequest(err.message)
      throw err
    }
  }
}

function unavailable(message: string): TraceFn {
  return async () => {
    throw serviceUnavailable(message)
  }
}

/** `127.0.0.1:8001`, `:8001` or `8001` (loopback), `[::1]:8001`, a bare host (port 8001). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s)
  const host = m ? (m[1] ?? m[2] ?? '') : /^\d+$/.test(s) ? '' : s
  const port = m ? Number(m[3]) : /^\d+$/.test(s) ? Number(s) : 8001
  if (port > 65535) throw new Error(`--listen ${s}: port must be between 0 and 65535`)
  return { host: host || '127.0.0.1', port }
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return 0
  }
  const listen = flagValue(argv, 'listen') ?? '127.0.0.1:8001'
  const { host, port } = parseListen(listen)
  const client = createClient(clientConfigFromEnv(argv))
  const ui = await startUi({ client, host, port, trace: loadTrace(flagValue(argv, 'kubeconfig')) })
  // kubectl proxy's line, so a script can wait for it
  process.stdout.write(`Serving the live map on ${ui.url}\n`)
  await waitForSignal()
  await ui.stop()
  return 0
}
