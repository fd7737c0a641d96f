// netkube's kube-apiserver: fastify over HTTPS, bearer-token authentication, discovery,
// health, metrics and the resource routes, on the etcd store. `buildApiApp` assembles the
// HTTP app (tests drive it through `inject`); `startApiServer` adds PKI, tokens, the
// kubeconfig, bootstrap objects and the listening socket.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { VERSION } from '../version.js'
import { etcdKey, etcdListPrefix, resourceFor } from '../api/resources.js'
import { EtcdStore, StorageError } from '../storage/store.js'
import { logger } from '../util/log.js'
import { ServiceAllocator } from './allocator.js'
import { nthAddress } from '../net/ip.js'
import { ANONYMOUS, TokenAuthenticator, ensureTokenFile, isAnonymousPath, type UserInfo } from './auth.js'
import { AuthenticatorChain } from '../authn/chain.js'
import { BootstrapTokenAuthenticator } from '../authn/bootstrap-token.js'
import { ServiceAccountTokens, ensureServiceAccountKey, type ObjectGetter } from '../authn/serviceaccount.js'
import { tokenRequestHandler } from '../authn/token-request.js'
import { bootstrap } from './bootstrap.js'
import { CLUSTER_INFO_PATH } from '../join/cluster-info.js'
import { runEvery } from '../util/periodic.js'
import { LeaseEndpointReconciler } from './lease-reconciler.js'
import { defaultSANs, ensureKubeletClientCert, ensureServingCerts } from './certs.js'
import { KubeletClient } from './kubelet-client.js'
import { createPodStreamProxy } from './pod-stream-proxy.js'
import { apiGroupDoc, apiGroupList, apiResourceList, apiVersions } from './discovery.js'
import { fetchKubeletSummary, registerMetricsRoutes } from './metrics-api.js'
import * as E from './errors.js'
import { writeKubeconfig } from './kubeconfig.js'
import { createMetrics, type Metrics } from './metrics.js'
import { OPENAPI_V2_PROTOBUF, openapiV2Json, openapiV2Protobuf } from './openapi.js'
import { Registry } from './registry.js'
import { registerResourceRoutes } from './routes.js'
import { probeReply, type HealthCheck, type ProbeEndpoint } from '../util/status-server.js'
import { Authorization, DEFAULT_AUTHORIZATION_MODE, installAudit, installAuthorization, parseAuthorizationModes } from '../rbac/hooks.js'
import { Reviews } from '../rbac/reviews.js'
import { alwaysAllow } from './authorizer.js'
import { startAggregation } from '../rbac/aggregation.js'
import { AuditLog } from '../audit/audit.js'

const log = logger('apiserver')

declare module 'fastify' {
  interface FastifyRequest {
    kctx: { verb: string; resource: string } | null
    /** Set by the authentication hook before any route runs. */
    user: UserInfo | null
  }
}

export const BODY_LIMIT = 3 * 1024 * 1024
/** kube-apiserver's MaxHeaderBytes (1 MiB); Node's default, 16 KiB, answered a long bearer token with 431 instead of 401. */
const MAX_HEADER_BYTES = 1 << 20


export interface ApiServerOptions {
  etcdEndpoints: string[]
  stateDir: string
  /** Listen address (default 127.0.0.1). */
  host?: string
  /** Listen port (default 6443; 0 = any free port). */
  port?: number
  serviceCIDR?: string
  /** Address the `kubernetes` endpoints and the kubeconfig use (default: host, or 127.0.0.1). */
  advertiseAddress?: string
  logLevel?: string
  /** How often an open watch asks etcd for progress to send bookmarks (default 60 s). */
  bookmarkIntervalMs?: number
  /** How often bootstrap objects are reconciled after start (default 60 s). */
  bootstrapIntervalMs?: number
  /** Extra SANs for the serving certificate. */
  extraSANs?: string[]
  /** The `kubernetes` endpoint lease TTL (default 15 s, upstream's). */
  endpointLeaseTtlSeconds?: number
  /** Events expire this long after their last write (upstream's `--event-ttl`, default 1 h). */
  eventTtlSeconds?: number
  /** `--authorization-mode`: comma-separated chain (default `Node,RBAC`; `AlwaysAllow` for benchmarks). */
  authorizationMode?: string
  /** `--audit-log-path` (`-` = stdout); audit is off without it. */
  auditLogPath?: string
  /** `--audit-policy-file`: an audit.k8s.io/v1 Policy. */
  auditPolicyFile?: string
}

export interface ApiServer {
  url: string
  port: number
  caPem: string
  token: string
  kubeconfigPath: string
  /** The cluster CA's files (the server issues component certificates from them). */
  caCertPath: string
  caKeyPath: string
  app: FastifyInstance
  registry: Registry
  close(): Promise<void>
}

export interface AppOptions {
  registry: Registry
  auth: AuthenticatorChain
  /** Signs TokenRequests (serviceaccounts/token); without it the subresource answers 404. */
  serviceAccountTokens?: ServiceAccountTokens
  metrics?: Metrics
  /** `clientCA`: client certificates are requested and verified against it (x509 authentication). */
  https?: { key: string; cert: string; clientCA?: string }
  bookmarkIntervalMs?: number
  /** How the apiserver reaches kubelets (default: plain HTTP, for tests with a fake kubelet). */
  kubelet?: KubeletClient
  /** Reported in /api serverAddressByClientCIDRs. */
  serverAddress?: string
  isReady?: () => boolean
  /** The authorization chain; without it every authenticated request is allowed. */
  authorization?: Authorization
  audit?: AuditLog
}

function statusOf(err: unknown): E.ApiError {
  if (err instanceof E.ApiError) return err
  if (err === null || typeof err !== 'object') return E.internal(String(err))
  const e = err as { code?: string; statusCode?: number; message?: string }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return E.tooLarge()
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return E.unsupportedMediaType('')
  if (err instanceof StorageError) {
    if (err.code === 'Compacted') return E.expired('too old resource version')
  }
  // etcd unreachable or slow: the client may retry (kube-apiserver answers 503/504 too).
  const name = `${(err as Error).name ?? ''} ${(err as object).constructor?.name ?? ''}`
  if (/DeadlineExceeded/.test(name)) return E.timeout(`etcd request timed out: ${e.message ?? ''}`)
  if (/Unavailable|ConnectFailed|BrokenCircuit|Isolated/.test(name)) return E.serviceUnavailable(`etcd unavailable: ${e.message ?? ''}`)
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return E.badRequest(e.message ?? 'bad request')
  return E.internal(e.message ?? String(err))
}

export function buildApiApp(o: AppOptions): FastifyInstance {
  const metrics = o.metrics ?? createMetrics()
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    forceCloseConnections: true,
    // kubectl sends '+' and ':' in selectors; keep the router strict about paths only.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    // The router's own rejections (a malformed %-escape, an overlong segment) are Statuses too.
    frameworkErrors: (err: unknown, _req: unknown, reply: FastifyReply) => {
      const apiErr = statusOf(err)
      reply.code(apiErr.code).type('application/json').send(apiErr.status)
    },
    // Client certificates are asked for and verified, never required: a failed verification is
    // the x509 authenticator's 401, as kube-apiserver's tls.RequestClientCert (src/authn/x509.ts).
    ...(o.https
      ? { https: { key: o.https.key, cert: o.https.cert, maxHeaderSize: MAX_HEADER_BYTES, ...(o.https.clientCA ? { ca: o.https.clientCA, requestCert: true, rejectUnauthorized: false } : {}) } }
      : {}),
  } as never) as unknown as FastifyInstance
  app.decorateRequest('kctx', null)
  app.decorateRequest('user', null)

  // Bodies stay raw: the routes decide how to parse (JSON, patches) and answer with a Status.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body))

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!
    const out = await o.auth.authenticate({ authorization: req.headers.authorization, socket: req.raw.socket })
    if (out && 'user' in out) {
      req.user = out.user
      return
    }
    // A joining node reads cluster-info before it has any credential but its token (kubeadm's discovery).
    if (!out && (isAnonymousPath(path) || (req.method === 'GET' && path === CLUSTER_INFO_PATH))) {
      req.user = ANONYMOUS
      return
    }
    const st = E.unauthorized().status
    metrics.requests.inc({ verb: req.method.toLowerCase(), resource: '', code: '401' })
    return reply.code(401).type('application/json').send(st)
  })

  // Authorization runs after the authentication hook above (fastify runs hooks in order).
  if (o.authorization) installAuthorization(app, o.authorization.authorizer, o.authorization.reviews)
  else installAuthorization(app, undefined, new Reviews(alwaysAllow, undefined))
  if (o.audit) installAudit(app, o.audit)

  app.addHook('onResponse', async (req, reply) => {
    const k = req.kctx
    if (!k) return
    metrics.requests.inc({ verb: k.verb, resource: k.resource, code: String(reply.statusCode) })
    metrics.latency.observe({ verb: k.verb, resource: k.resource }, reply.elapsedTime / 1000)
  })

  app.setErrorHandler((err, req, reply) => {
    const apiErr = statusOf(err)
    if (apiErr.code === 500) log.error({ err: (err as Error | null)?.stack ?? String(err), url: req.url }, 'request failed')
    else if (apiErr.code > 500) log.warn({ err: apiErr.message, url: req.url }, 'request failed')
    reply.code(apiErr.code).type('application/json').send(apiErr.status)
  })
  app.setNotFoundHandler((_req, reply) => {
    const st = E.pathNotFound().status
    reply.code(404).type('application/json').send(st)
  })

  app.get('/version', async () => VERSION)
  // kube-apiserver's probe endpoints: named checks with the shared semantics (status-server.ts).
  const etcdCheck: HealthCheck = {
    name: 'etcd',
    check: async () => {
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([o.registry.store.currentRevision(), new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('etcd did not answer in 2s')), 2000)))])
        return undefined
      } catch (err) {
        return err instanceof Error ? err.message : String(err)
      } finally {
        clearTimeout(timer)
      }
    },
  }
  const bootstrapCheck: HealthCheck = { name: 'poststarthook/netkube-bootstrap', check: () => (o.isReady && !o.isReady() ? 'bootstrap not finished' : undefined) }
  const probeChecks: Record<ProbeEndpoint, HealthCheck[]> = { healthz: [], livez: [], readyz: [bootstrapCheck, etcdCheck] }
  for (const endpoint of ['healthz', 'livez', 'readyz'] as const) {
    app.get(`/${endpoint}*`, async (req, reply) => {
      const r = await probeReply(endpoint, probeChecks[endpoint], new URL(req.url, 'https://apiserver.local'))
      return reply.code(r.status).type(r.contentType ?? 'text/plain').send(r.body)
    })
  }
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()))
  app.get('/openapi/v2', async (req, reply) => {
    if ((req.headers.accept ?? '').includes('protobuf')) return reply.type(OPENAPI_V2_PROTOBUF).send(openapiV2Protobuf())
    return openapiV2Json()
  })
  app.get('/api', async () => apiVersions(o.serverAddress ?? '127.0.0.1:6443'))
  app.get('/apis', async () => apiGroupList())
  app.get('/api/v1', async () => apiResourceList('', 'v1'))
  app.get('/apis/:group', async (req) => {
    const doc = apiGroupDoc((req.params as { group: string }).group)
    if (!doc) throw E.pathNotFound()
    return doc
  })
  app.get('/apis/:group/:version', async (req) => {
    const p = req.params as { group: string; version: string }
    const doc = apiResourceList(p.group, p.version)
    if (!doc) throw E.pathNotFound()
    return doc
  })

  const kubelet = o.kubelet ?? new KubeletClient()
  registerMetricsRoutes(app, { registry: o.registry, summary: (node) => fetchKubeletSummary(kubelet, node) })
  registerResourceRoutes(app, {
    registry: o.registry,
    metrics,
    bookmarkIntervalMs: o.bookmarkIntervalMs ?? 60_000,
    kubelet,
    ...(o.serviceAccountTokens ? { tokenRequest: tokenRequestHandler(o.registry, o.serviceAccountTokens) } : {}),
  })
  // pods/exec|attach|portforward arrive as upgrade requests, outside fastify's routing.
  app.server.on('upgrade', createPodStreamProxy({ auth: o.auth, registry: o.registry, kubelet, ...(o.authorization ? { authorizer: o.authorization.authorizer } : {}) }))
  return app
}

async function kubeletClientIdentity(pkiDir: string): Promise<{ certPem: string; keyPem: string }> {
  const c = await ensureKubeletClientCert(pkiDir)
  return { certPem: c.certPem, keyPem: c.keyPem }
}

async function waitForEtcd(store: EtcdStore, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await store.currentRevision()
      return
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`etcd not reachable: ${(err as Error).message}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  if (opts.logLevel) log.level = opts.logLevel
  const host = opts.host ?? '127.0.0.1'
  const advertise = opts.advertiseAddress ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host)
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 })
  const serviceCIDR = opts.serviceCIDR ?? '10.96.0.0/12'

  const store = new EtcdStore(opts.etcdEndpoints)
  store.setKeyTTL(etcdListPrefix(resourceFor('events')), opts.eventTtlSeconds ?? 3600)
  const alloc = new ServiceAllocator(store, serviceCIDR)
  const sans = defaultSANs([advertise, ...(host !== '0.0.0.0' && host !== '::' ? [host] : []), ...(opts.extraSANs ?? [])], nthAddress(alloc.cidr, 1))
  const certs = await ensureServingCerts(join(opts.stateDir, 'pki'), sans)
  const token = ensureTokenFile(join(opts.stateDir, 'tokens.csv'))
  const saKeys = ensureServiceAccountKey(join(opts.stateDir, 'pki'))

  try {
    await waitForEtcd(store)
  } catch (err) {
    await store.close()
    throw err
  }
  const registry = new Registry(store, alloc)
  // Straight from etcd: a deleted ServiceAccount or Pod revokes its tokens on the next request.
  const getObject: ObjectGetter = async (plural, ns, name) => store.get(etcdKey(resourceFor(plural), ns, name))
  const serviceAccountTokens = new ServiceAccountTokens(saKeys, getObject)
  const auth = new AuthenticatorChain({
    tokenFile: TokenAuthenticator.fromFile(join(opts.stateDir, 'tokens.csv')),
    serviceAccounts: serviceAccountTokens,
    bootstrapTokens: new BootstrapTokenAuthenticator((ns, name) => store.get(etcdKey(resourceFor('secrets'), ns, name))),
  })
  const authorization = new Authorization(store, parseAuthorizationModes(opts.authorizationMode ?? DEFAULT_AUTHORIZATION_MODE))
  authorization.admit(registry)
  let audit: AuditLog | undefined
  try {
    // The policy exists before the first request is authorized, and the mirrors hold it.
    await authorization.reconcilePolicy(registry)
    await authorization.start()
    if (opts.auditLogPath) audit = AuditLog.fromFiles(opts.auditLogPath, opts.auditPolicyFile)
  } catch (err) {
    authorization.stop()
    await store.close()
    throw err
  }
  const aggregation = authorization.rbacState ? startAggregation(registry, authorization.rbacState) : undefined
  await aggregation?.kick()
  let ready = false
  const appOpts: AppOptions = {
    registry,
    auth,
    serviceAccountTokens,
    https: { key: certs.keyPem, cert: certs.certPem, clientCA: certs.caPem },
    // Kubelets' serving certificates come from the cluster CA; ours for them too.
    kubelet: new KubeletClient({ caPem: certs.caPem, ...(await kubeletClientIdentity(join(opts.stateDir, 'pki'))) }),
    isReady: () => ready,
    authorization,
    ...(audit ? { audit } : {}),
  }
  if (opts.bookmarkIntervalMs !== undefined) appOpts.bookmarkIntervalMs = opts.bookmarkIntervalMs
  const app = buildApiApp(appOpts)
  const port = opts.port ?? 6443
  const stopAuthorization = async (): Promise<void> => {
    await aggregation?.stop()
    authorization.stop()
    await audit?.close()
  }
  try {
    await app.listen({ host, port })
  } catch (err) {
    await stopAuthorization()
    await store.close()
    throw err
  }
  const addr = app.server.address()
  const boundPort = typeof addr === 'object' && addr ? addr.port : port
  const urlHost = advertise.includes(':') ? `[${advertise}]` : advertise
  const url = `https://${urlHost}:${boundPort}`
  // /api reports where clients reach us; the app was built before the port was known.
  appOpts.serverAddress = `${urlHost}:${boundPort}`

  const leases = new LeaseEndpointReconciler(registry, {
    address: advertise,
    port: boundPort,
    ...(opts.endpointLeaseTtlSeconds !== undefined ? { ttlSeconds: opts.endpointLeaseTtlSeconds } : {}),
  })
  try {
    await bootstrap(registry, boundPort)
    await leases.reconcile()
  } catch (err) {
    await app.close()
    await stopAuthorization()
    await store.close()
    throw err
  }
  ready = true
  registry.startNamespaceLoop()
  leases.start()
  // Put back what a user deleted or changed (the `kubernetes` Service, a system namespace), as
  // upstream's bootstrap and system-namespaces controllers do every minute.
  const repair = runEvery('bootstrap', opts.bootstrapIntervalMs ?? 60_000, async () => {
    await bootstrap(registry, boundPort)
    await authorization.reconcilePolicy(registry)
  }, log)
  const kubeconfigPath = join(opts.stateDir, 'admin.kubeconfig')
  writeKubeconfig(kubeconfigPath, url, certs.caPem, token)
  log.info({ url, stateDir: opts.stateDir }, 'apiserver ready')

  return {
    url,
    port: boundPort,
    caPem: certs.caPem,
    token,
    kubeconfigPath,
    caCertPath: certs.caCertPath,
    caKeyPath: join(opts.stateDir, 'pki', 'ca.key'),
    app,
    registry,
    async close() {
      await repair.stop()
      await leases.stop()
      registry.stop()
      await app.close()
      await stopAuthorization()
      await registry.idle()
      await store.close()
    },
  }
}
