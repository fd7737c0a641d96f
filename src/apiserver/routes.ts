// The REST surface: maps Kubernetes paths, methods, query parameters and media types onto
// the registry's verbs, and registry results back onto HTTP (status codes, Tables, watch
// streams). Paths: /api/v1/... and /apis/<group>/<version>/..., each
//   [watch/][namespaces/<ns>/]<plural>[/<name>[/<subresource>]]
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { findResource, groupVersion, type ResourceInfo } from '../api/resources.js'
import type { Binding, KubeObject, Node, Pod, Scale } from '../api/types.js'
import { toTable } from '../api/table.js'
import { formatLabelSelector } from '../api/selectors.js'
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from '../api/patch.js'
import { StorageError } from '../storage/store.js'
import * as E from './errors.js'
import { gr, type DeleteOpts, type PatchKind, type Registry } from './registry.js'
import { startWatch } from './watch.js'
import { decodeK8sProtobuf, ProtobufError } from './protobuf.js'
import { decodeJsonBody } from './json-body.js'
import { applyWrite, requestManager } from './field-manager.js'
import { baseManagers, encodeManagedFields, ManagedFieldsError, type Manager } from '../api/managed-fields.js'
import { parentManagers, scaleManagers, SCALE_API_VERSION } from '../api/scale-fields.js'
import { kubeletLogError, LOG_PARAMS, validateLogOptions } from './pod-log.js'
import { parse as parseYaml } from 'yaml'
import type { Metrics } from './metrics.js'
import { kubeletEndpoint, podKubeletEndpoint, readBody, type KubeletClient, type KubeletEndpoint } from './kubelet-client.js'
import type { TokenRequestHandler } from '../authn/token-request.js'
import type { UserInfo } from './auth.js'

export interface RouteOptions {
  registry: Registry
  metrics: Metrics
  bookmarkIntervalMs: number
  /** Every call to a kubelet (logs, exec, attach, portforward) goes through it. */
  kubelet: KubeletClient
  /** serviceaccounts/<name>/token (src/authn/token-request.ts). */
  tokenRequest?: TokenRequestHandler
}

export interface RequestTarget {
  r: ResourceInfo
  namespace: string | undefined
  name: string | undefined
  sub: string | undefined
  watchPath: boolean
  /** nodes/<name>/proxy/<path…>: the kubelet path's segments. */
  proxyPath: string[]
}

/** Resolve the path after /api/v1/ or /apis/<g>/<v>/ to a resource; 404 when nothing serves it. */
export function parseTarget(group: string, version: string, rest: string): RequestTarget {
  // `rest` is fastify's wildcard param, already percent-decoded once (as Go's URL.Path is for
  // kube-apiserver): decoding again would turn a name's literal `%2F` into a `/`.
  const segs = rest.split('/').filter((s) => s !== '')
  let watchPath = false
  if (segs[0] === 'watch') {
    watchPath = true
    segs.shift()
  }
  let namespace: string | undefined
  if (segs[0] === 'namespaces' && segs.length >= 3) {
    const inner = findResource(group, version, segs[2]!)
    if (inner && inner.namespaced) {
      namespace = segs[1]
      segs.splice(0, 2)
    }
  }
  const [plural, name, sub, ...extra] = segs
  const r = plural ? findResource(group, version, plural) : undefined
  // nodes/<name>/proxy/<path…>: the rest is the kubelet's path.
  if (r?.plural === 'nodes' && sub === 'proxy' && name) return { r, namespace, name, sub, watchPath, proxyPath: extra }
  if (!r || extra.length) throw E.pathNotFound()
  if (r.namespaced === false && namespace !== undefined) throw E.pathNotFound()
  if (sub !== undefined && !r.subresources.includes(sub)) throw E.pathNotFound()
  return { r, namespace, name, sub, watchPath, proxyPath: [] }
}

type Query = Record<string, string | undefined>

function boolParam(v: string | undefined): boolean {
  return v === 'true' || v === '1'
}

function intParam(q: Query, name: string): number | undefined {
  const v = q[name]
  if (v === undefined || v === '') return undefined
  if (!/^-?\d+$/.test(v)) throw E.badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`)
  return Number(v)
}

function dryRun(q: Query): boolean {
  const v = q.dryRun
  if (v === undefined || v === '') return false
  if (v !== 'All') throw E.badRequest(`dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`)
  return true
}

/** What the client accepts: a Table (kubectl get), or plain JSON; 406 for protobuf-only clients. */
function wantsTable(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? ''
  if (!accept) return false
  let json = false
  let table = false
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim())
    const p = Object.fromEntries(params.map((x) => x.split('=').map((s) => s.trim()) as [string, string]))
    if (type === 'application/json' || type === '*/*' || type === 'application/*') {
      if (p.as === 'Table' && (!p.g || p.g === 'meta.k8s.io')) {
        if (!json) table = true
      } else if (!p.as) json = true
    }
  }
  if (!json && !table) throw E.notAcceptable()
  return table
}

function includeObject(q: Query): 'None' | 'Metadata' | 'Object' {
  const v = q.includeObject
  if (v === 'None' || v === 'Object' || v === 'Metadata') return v
  return 'Metadata'
}

function parseBody(req: FastifyRequest): unknown {
  const raw = req.body
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw E.badRequest('the body of the request is empty')
  if (mediaType(req) === PROTOBUF) {
    try {
      return decodeK8sProtobuf(raw)
    } catch (err) {
      if (err instanceof ProtobufError) throw E.unsupportedMediaType(`${PROTOBUF} (${err.message})`)
      throw E.badRequest(`the body of the request could not be decoded: ${(err as Error).message}`)
    }
  }
  return decodeJsonBody(raw)
}

function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
}

const PROTOBUF = 'application/vnd.kubernetes.protobuf'
const WATCH_BUFFER_LIMIT = 16 * 1024 * 1024

function requireJson(req: FastifyRequest): void {
  const ct = mediaType(req)
  if (ct !== '' && ct !== 'application/json' && ct !== '*/*' && ct !== PROTOBUF) throw E.unsupportedMediaType(ct)
}

const APPLY_PATCH = 'application/apply-patch+yaml'

/** The body of a server-side apply: YAML (JSON is YAML too). */
function parseApplyBody(req: FastifyRequest): unknown {
  const raw = req.body
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw E.badRequest('the body of the request is empty')
  try {
    return parseYaml(raw.toString('utf8'), { uniqueKeys: true })
  } catch (err) {
    throw E.badRequest(`error decoding YAML: ${(err as Error).message.split('\n')[0]}`)
  }
}

function patchKind(req: FastifyRequest): PatchKind {
  switch (mediaType(req)) {
    case 'application/merge-patch+json':
      return 'merge'
    case 'application/strategic-merge-patch+json':
      return 'strategic'
    case 'application/json-patch+json':
      return 'json'
    default:
      throw E.unsupportedMediaType(mediaType(req) || '(none)')
  }
}

function deleteOptions(req: FastifyRequest, q: Query): DeleteOpts {
  const opts: DeleteOpts = {}
  const raw = req.body
  if (Buffer.isBuffer(raw) && raw.length > 0) {
    const decoded = decodeJsonBody(raw)
    if (!decoded || typeof decoded !== 'object' || Array.isArray(decoded)) throw E.badRequest('the object provided is unrecognized (must be of type DeleteOptions)')
    const body = decoded as Record<string, unknown>
    if (typeof body.gracePeriodSeconds === 'number') opts.gracePeriodSeconds = body.gracePeriodSeconds
    if (typeof body.propagationPolicy === 'string') opts.propagationPolicy = body.propagationPolicy as DeleteOpts['propagationPolicy']
    if (body.preconditions && typeof body.preconditions === 'object') opts.preconditions = body.preconditions as DeleteOpts['preconditions']
    if (Array.isArray(body.dryRun) && body.dryRun.includes('All')) opts.dryRun = true
    if (body.orphanDependents === true) opts.propagationPolicy = 'Orphan'
  }
  const g = intParam(q, 'gracePeriodSeconds')
  if (g !== undefined) opts.gracePeriodSeconds = g
  if (q.propagationPolicy) opts.propagationPolicy = q.propagationPolicy as DeleteOpts['propagationPolicy']
  if (opts.propagationPolicy && !['Orphan', 'Background', 'Foreground'].includes(opts.propagationPolicy))
    throw E.badRequest(`propagationPolicy: Unsupported value: ${JSON.stringify(opts.propagationPolicy)}`)
  if (opts.gracePeriodSeconds !== undefined && opts.gracePeriodSeconds < 0) opts.gracePeriodSeconds = 0
  if (dryRun(q)) opts.dryRun = true
  return opts
}

function toScale(r: ResourceInfo, obj: KubeObject): Scale {
  const spec = obj.spec as { replicas?: number; selector?: { matchLabels?: Record<string, string> } } | undefined
  const status = obj.status as { replicas?: number } | undefined
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: {
      name: obj.metadata.name!,
      namespace: obj.metadata.namespace!,
      uid: obj.metadata.uid!,
      resourceVersion: obj.metadata.resourceVersion!,
      creationTimestamp: obj.metadata.creationTimestamp!,
    },
    spec: { replicas: spec?.replicas ?? 1 },
    status: { replicas: status?.replicas ?? 0, selector: spec?.selector ? formatLabelSelector(spec.selector) : '' },
  } as Scale & { _r?: ResourceInfo }
}

/** The Scale kind as server-side apply lays it out (its status is read-only, as a status subresource's). */
const SCALE_RESOURCE: ResourceInfo = { group: 'autoscaling', version: 'v1', kind: 'Scale', listKind: 'ScaleList', plural: 'scale', singular: 'scale', namespaced: true, shortNames: [], subresources: ['status'], etcdPrefix: '', categories: [], verbs: [] }

/** Subresources a PUT/PATCH writes through the registry (`approval`: CertificateSigningRequests). */
const WRITABLE_SUBRESOURCES = new Set(['status', 'approval'])

export function registerResourceRoutes(app: FastifyInstance, o: RouteOptions): void {
  const reg = o.registry

  const handle = async (req: FastifyRequest, reply: FastifyReply, group: string, version: string, rest: string): Promise<unknown> => {
    const t = parseTarget(group, version, rest)
    const q = req.query as Query
    const { r, namespace: ns, name, sub } = t
    const isWatch = t.watchPath || boolParam(q.watch)
    // Who asks, for validating admission (NodeRestriction, RBAC escalation checks).
    const who = req.user ? { user: req.user } : {}
    const setVerb = (verb: string): void => {
      req.kctx = { verb, resource: sub ? `${r.plural}/${sub}` : r.plural }
    }
    const now = new Date()
    const render = (obj: KubeObject | { items: KubeObject[]; metadata: KubeObject['metadata'] }, table: boolean): unknown => {
      if (!table) return obj
      const items = (obj as { items?: unknown }).items
      if (Array.isArray(items)) {
        const tbl = toTable(r, items as KubeObject[], { now, includeObject: includeObject(q) })
        tbl.metadata = obj.metadata
        return tbl
      }
      const tbl = toTable(r, [obj as KubeObject], { now, includeObject: includeObject(q) })
      tbl.metadata = { resourceVersion: (obj as KubeObject).metadata.resourceVersion! }
      return tbl
    }

    if (r.plural === 'nodes' && sub === 'proxy' && name) {
      setVerb(PROXY_VERBS[req.method] ?? req.method.toLowerCase())
      return nodeProxy(req, reply, name, t.proxyPath)
    }
    switch (req.method) {
      case 'GET': {
        if (isWatch) {
          setVerb('watch')
          const table = wantsTable(req)
          let fieldSelector = q.fieldSelector
          if (name) fieldSelector = [`metadata.name=${name}`, fieldSelector].filter(Boolean).join(',')
          const filter = reg.compileFilter(r, { labelSelector: q.labelSelector ?? '', fieldSelector: fieldSelector ?? '' })
          const timeoutSec = intParam(q, 'timeoutSeconds')
          // Like kube-apiserver: without timeoutSeconds, a random 30–60 min cut-off spreads re-watches.
          const timeoutMs = timeoutSec !== undefined && timeoutSec > 0 ? timeoutSec * 1000 : (1800 + Math.random() * 1800) * 1000
          reply.hijack()
          const res = reply.raw
          res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' })
          res.flushHeaders?.()
          o.metrics.watchers.inc({ resource: r.plural })
          o.metrics.requests.inc({ verb: 'watch', resource: r.plural, code: '200' })
          // `w` is assigned before the first write: startWatch emits only after an await.
          let w: ReturnType<typeof startWatch> | undefined = undefined
          const running = startWatch(
            reg,
            {
              r,
              namespace: ns,
              filter,
              resourceVersion: q.resourceVersion ?? '',
              allowBookmarks: boolParam(q.allowWatchBookmarks),
              timeoutMs,
              bookmarkIntervalMs: o.bookmarkIntervalMs,
              render: (obj) => render(obj, table),
            },
            {
              write: (s) => {
                res.write(s)
                // A client that stopped reading is cut off (as kube-apiserver drops slow watchers)
                // rather than buffering without bound; it re-watches from its last RV.
                if (res.writableLength > WATCH_BUFFER_LIMIT) w?.stop()
              },
              end: () => res.end(),
            },
          )
          w = running
          req.raw.on('close', () => running.stop())
          res.on('close', () => running.stop())
          await running.done
          o.metrics.watchers.dec({ resource: r.plural })
          return reply
        }
        if (!name) {
          setVerb('list')
          const table = wantsTable(req)
          const list = await reg.list(r, ns, {
            ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
            ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}),
            ...(intParam(q, 'limit') ? { limit: intParam(q, 'limit')! } : {}),
            ...(q.continue ? { continue: q.continue } : {}),
            ...(q.resourceVersion ? { resourceVersion: q.resourceVersion } : {}),
            ...(q.resourceVersionMatch ? { resourceVersionMatch: q.resourceVersionMatch } : {}),
          })
          return render(list, table)
        }
        setVerb('get')
        if (sub === 'log') return podLog(req, reply, ns!, name, q)
        // pods/proxy and services/proxy are listed by discovery but not served; binding is create-only.
        if (sub === 'proxy') throw E.pathNotFound()
        if (sub === 'binding' || sub === 'token') throw E.methodNotAllowed()
        const table = wantsTable(req)
        const obj = await reg.get(r, ns, name)
        if (sub === 'scale') return toScale(r, obj)
        return render(obj, table)
      }
      case 'POST': {
        setVerb('create')
        requireJson(req)
        if (name && sub === 'binding') {
          reply.code(201)
          return bind(r, ns!, name, parseBody(req), dryRun(q))
        }
        if (name && sub === 'token' && r.plural === 'serviceaccounts') {
          if (!o.tokenRequest) throw E.pathNotFound()
          const out = await o.tokenRequest(ns!, name, parseBody(req), dryRun(q))
          reply.code(201)
          return out
        }
        if (name || sub) throw E.methodNotAllowed()
        if (r.namespaced && !ns) throw E.methodNotAllowed()
        const manager = requestManager(q.fieldManager, req.headers['user-agent'], 'CreateOptions')
        reply.code(201)
        return reg.create(r, ns, parseBody(req), { dryRun: dryRun(q), ...who, ...(manager ? { manager } : {}) })
      }
      case 'PUT': {
        setVerb('update')
        requireJson(req)
        if (!name) throw E.methodNotAllowed()
        if (sub === 'scale') return scaleUpdate(r, ns, name, parseBody(req), dryRun(q), requestManager(q.fieldManager, req.headers['user-agent'], 'UpdateOptions'), who)
        if (sub && !WRITABLE_SUBRESOURCES.has(sub)) throw E.methodNotAllowed()
        const manager = requestManager(q.fieldManager, req.headers['user-agent'], 'UpdateOptions')
        return reg.update(r, ns, name, parseBody(req), { dryRun: dryRun(q), ...who, ...(sub ? { sub } : {}), ...(manager ? { manager } : {}) })
      }
      case 'PATCH': {
        setVerb('patch')
        if (!name) throw E.methodNotAllowed()
        const force = q.force !== undefined ? boolParam(q.force) : undefined
        if (mediaType(req) === APPLY_PATCH) {
          if (!q.fieldManager)
            throw E.invalid('PatchOptions', 'meta.k8s.io', '', [{ type: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }])
          const manager = requestManager(q.fieldManager, undefined, 'PatchOptions')!
          if (sub === 'scale' && r.subresources.includes('scale')) return scaleApply(r, ns, name, parseApplyBody(req), { dryRun: dryRun(q), manager, force: force === true }, who)
          if (sub && sub !== 'status') throw E.badRequest(`server-side apply to the ${sub} subresource is not supported`)
          const out = await reg.apply(r, ns, name, parseApplyBody(req), { dryRun: dryRun(q), manager, force: force === true, ...(sub === 'status' ? { sub } : {}), ...who })
          if (out.created) reply.code(201)
          return out.obj
        }
        if (force !== undefined && force)
          throw E.invalid('PatchOptions', 'meta.k8s.io', '', [{ type: 'FieldValueForbidden', field: 'force', message: 'Forbidden: may not be specified for non-apply patch' }])
        const manager = requestManager(q.fieldManager, req.headers['user-agent'], 'PatchOptions')
        const kind = patchKind(req)
        const patch = parseBody(req)
        if (sub === 'scale') {
          const cur = toScale(r, await reg.get(r, ns, name))
          let next: unknown
          try {
            next = kind === 'json' ? applyJsonPatch(cur, patch) : kind === 'merge' ? applyMergePatch(cur, patch) : applyStrategicMergePatch(r, cur, patch)
          } catch (err) {
            if (err instanceof PatchError) throw E.invalidPatch(err.message)
            throw err
          }
          return scaleUpdate(r, ns, name, next, dryRun(q), requestManager(q.fieldManager, req.headers['user-agent'], 'PatchOptions'), who)
        }
        if (sub && !WRITABLE_SUBRESOURCES.has(sub)) throw E.methodNotAllowed()
        return reg.patch(r, ns, name, kind, patch, { dryRun: dryRun(q), ...who, ...(sub ? { sub } : {}), ...(manager ? { manager } : {}) })
      }
      case 'DELETE': {
        const opts = { ...deleteOptions(req, q), ...who }
        if (!name) {
          setVerb('deletecollection')
          return reg.deleteCollection(r, ns, { ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}), ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}) }, opts)
        }
        setVerb('delete')
        if (sub) throw E.methodNotAllowed()
        const out = await reg.delete(r, ns, name, opts)
        // Marked for deletion but still there (finalizers, graceful pod): 202, as kube does.
        const stillThere = !opts.dryRun && (await reg.store.get(reg.key(r, ns, name))) !== undefined
        reply.code(stillThere ? 202 : 200)
        return out
      }
      default:
        throw E.methodNotAllowed()
    }
  }

  /** POST pods/<name>/binding: assign the node once; a bound pod answers 409. */
  const bind = async (r: ResourceInfo, ns: string, name: string, body: unknown, dry: boolean): Promise<unknown> => {
    if (!body || typeof body !== 'object') throw E.badRequest('the object provided is unrecognized (must be of type Binding)')
    const b = body as Binding
    if (b.kind !== undefined && b.kind !== 'Binding') throw E.badRequest(`the kind in the data (${b.kind}) does not match the expected kind (Binding)`)
    const node = b.target?.name
    const bgr = { group: '', resource: 'pods/binding' }
    if (!node) throw E.invalid('Binding', '', name, [{ type: 'FieldValueRequired', field: 'target.name', message: 'Required value' }])
    if (b.metadata?.name && b.metadata.name !== name) throw E.badRequest(`the name of the object (${b.metadata.name}) does not match the name on the URL (${name})`)
    try {
      await reg.store.guaranteedUpdate(reg.key(r, ns, name), (cur) => {
        const pod = cur as Pod
        if (pod.metadata.deletionTimestamp) throw E.conflict(bgr, name, `pod ${name} is being deleted, cannot be assigned to a host`)
        if (pod.spec.nodeName) throw E.conflict(bgr, name, `pod ${name} is already assigned to node "${pod.spec.nodeName}"`)
        if (b.metadata?.uid && b.metadata.uid !== pod.metadata.uid) throw E.conflict(bgr, name, `Precondition failed: UID in precondition: ${b.metadata.uid}, UID in object meta: ${pod.metadata.uid}`)
        if (dry) throw new DryRunDone()
        pod.spec.nodeName = node
        const conds = pod.status?.conditions ?? []
        if (!conds.some((c) => c.type === 'PodScheduled')) {
          pod.status = { ...pod.status, conditions: [...conds, { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') }] }
        } else {
          pod.status = { ...pod.status, conditions: conds.map((c) => (c.type === 'PodScheduled' ? { ...c, status: 'True', reason: undefined, message: undefined } : c)) as typeof conds }
        }
        return pod
      })
    } catch (err) {
      if (err instanceof DryRunDone) return E.successStatus()
      if (err instanceof StorageError && err.code === 'NotFound') throw E.notFound(gr(r), name)
      throw err
    }
    const st = E.successStatus()
    st.code = 201
    return st
  }

  const scaleUpdate = async (r: ResourceInfo, ns: string | undefined, name: string, body: unknown, dry: boolean, manager: string | undefined, who: { user?: UserInfo }): Promise<unknown> => {
    if (!body || typeof body !== 'object') throw E.badRequest('the object provided is unrecognized (must be of type Scale)')
    const s = body as Scale
    if (s.kind !== undefined && s.kind !== 'Scale') throw E.badRequest(`the kind in the data (${s.kind}) does not match the expected kind (Scale)`)
    const replicas = s.spec?.replicas
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw E.invalid('Scale', 'autoscaling', name, [{ type: 'FieldValueInvalid', field: 'spec.replicas', value: replicas, message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }])
    }
    const cur = await reg.get(r, ns, name)
    const rv = s.metadata?.resourceVersion
    if (rv && rv !== cur.metadata.resourceVersion) throw E.conflict(gr(r), name, E.STALE_OBJECT)
    const next = structuredClone(cur)
    ;(next.spec as { replicas?: number }).replicas = replicas
    // Recorded as upstream does: the parent's spec.replicas, owned through the scale subresource.
    const out = await reg.update(r, ns, name, next, { dryRun: dry, recordSubresource: 'scale', ...who, ...(manager ? { manager } : {}) })
    return toScale(r, out)
  }

  /**
   * Server-side apply to <r>/<name>/scale, as upstream: the apply runs on the Scale (whose
   * managers are the parent's owners of spec.replicas, src/api/scale-fields.ts), conflicts 409
   * as on the parent, and the result is written to the parent's spec.replicas and managedFields.
   */
  const scaleApply = async (r: ResourceInfo, ns: string | undefined, name: string, body: unknown, opts: { dryRun: boolean; manager: string; force: boolean }, who: { user?: UserInfo }): Promise<unknown> => {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw E.badRequest('the object provided is unrecognized (must be of type Scale)')
    const applied = structuredClone(body) as KubeObject
    if (typeof applied.kind !== 'string' || applied.kind === '') throw E.badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`)
    if (typeof applied.apiVersion !== 'string' || applied.apiVersion === '') throw E.badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(body)}'`)
    // The apply configuration is a Scale (upstream's field manager checks the version first).
    if (applied.apiVersion !== SCALE_API_VERSION) throw E.badRequest(`Incorrect version specified in apply patch. Specified patch version: ${applied.apiVersion}, expected: ${SCALE_API_VERSION}`)
    if (applied.kind !== 'Scale') throw E.badRequest(`the kind in the data (${applied.kind}) does not match the expected kind (Scale)`)
    applied.metadata ??= {}
    if (applied.metadata.name !== undefined && applied.metadata.name !== name) throw E.badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`)
    delete applied.metadata.managedFields
    delete applied.metadata.resourceVersion
    for (let attempt = 0; ; attempt++) {
      const cur = await reg.get(r, ns, name)
      let parent: Manager[] = []
      try {
        parent = baseManagers(undefined, cur.metadata.managedFields)
      } catch (err) {
        if (!(err instanceof ManagedFieldsError)) throw err
      }
      const view = scaleManagers(parent)
      const live = toScale(r, cur) as unknown as KubeObject
      live.metadata.managedFields = encodeManagedFields(view.managers)
      const { object, managers } = applyWrite(SCALE_RESOURCE, live, applied, opts.manager, opts.force, 'scale')
      const replicas = (object.spec as { replicas?: unknown } | undefined)?.replicas
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
        throw E.invalid('Scale', 'autoscaling', name, [{ type: 'FieldValueInvalid', field: 'spec.replicas', value: replicas, message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }])
      const next = structuredClone(cur)
      ;(next.spec as { replicas?: number }).replicas = replicas
      const owners = parentManagers(parent, view, managers, groupVersion(r))
      try {
        const out = await reg.update(r, ns, name, next, { dryRun: opts.dryRun, recordSubresource: 'scale', managers: owners, ...who })
        const scale = toScale(r, out) as unknown as KubeObject
        const shown = encodeManagedFields(scaleManagers(baseManagers(undefined, out.metadata.managedFields)).managers)
        if (shown.length) scale.metadata.managedFields = shown
        return scale
      } catch (err) {
        // Someone wrote in between: apply again on what is there now.
        if (err instanceof E.ApiError && err.reason === 'Conflict' && !err.status.details?.causes && attempt < 16) continue
        throw err
      }
    }
  }

  /** GET pods/<name>/log: proxied to the kubelet of the pod's node. */
  const podLog = async (req: FastifyRequest, reply: FastifyReply, ns: string, name: string, q: Query): Promise<unknown> => {
    const pods = findResource('', 'v1', 'pods')!
    const pod = (await reg.get(pods, ns, name)) as Pod
    validateLogOptions(name, q)
    const names = pod.spec.containers.map((c) => c.name)
    let container = q.container
    if (!container) {
      if (names.length !== 1) throw E.badRequest(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`)
      container = names[0]!
    }
    if (!names.includes(container) && !(pod.spec.initContainers ?? []).some((c) => c.name === container))
      throw E.badRequest(`container ${container} is not valid for pod ${name}`)
    const ep = await podKubelet(pod)
    const params = new URLSearchParams()
    for (const k of LOG_PARAMS) {
      const v = q[k]
      if (v !== undefined) params.set(k, v)
    }
    const path = `/containerLogs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}${params.size ? '?' + params : ''}`
    const ctl = new AbortController()
    req.raw.on('close', () => ctl.abort())
    let res: IncomingMessage
    try {
      res = await o.kubelet.get(ep, path, ctl.signal)
    } catch (err) {
      throw E.internal(`Get "${o.kubelet.url(ep, path)}": ${(err as Error).message}`)
    }
    const status = res.statusCode ?? 500
    if (status < 200 || status > 299) throw kubeletLogError(status, await readBody(res), name)
    reply.header('Content-Type', 'text/plain')
    return reply.send(res)
  }

  /**
   * nodes/<name>/proxy/<path>: the request relayed to the Node's kubelet (its /healthz, /metrics,
   * /stats/summary, …) with the apiserver's kubelet-client identity, as kube-apiserver's node proxy.
   * `name` may carry a port (`n1:10250`). Authorization already asked for `nodes/proxy`.
   */
  const nodeProxy = async (req: FastifyRequest, reply: FastifyReply, name: string, rest: string[]): Promise<unknown> => {
    const [nodeName, port] = name.replace(/^https?:/, '').split(':') as [string, string | undefined]
    const node = (await reg.get(findResource('', 'v1', 'nodes')!, undefined, nodeName)) as Node
    const ep = kubeletEndpoint(node)
    if (port !== undefined) {
      if (!/^\d+$/.test(port)) throw E.badRequest(`invalid port in node name ${JSON.stringify(name)}`)
      ep.port = Number(port)
    }
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''
    const path = `/${rest.map(encodeURIComponent).join('/')}${query}`
    const ctl = new AbortController()
    req.raw.on('close', () => ctl.abort())
    const headers = { ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}), ...(req.headers.accept ? { accept: req.headers.accept } : {}) }
    let res: IncomingMessage
    try {
      res = await o.kubelet.request(ep, req.method, path, headers, Buffer.isBuffer(req.body) ? req.body : undefined, ctl.signal)
    } catch (err) {
      throw E.serviceUnavailable(`error trying to reach service: ${(err as Error).message}`)
    }
    reply.code(res.statusCode ?? 502)
    if (res.headers['content-type']) reply.header('Content-Type', res.headers['content-type'])
    return reply.send(res)
  }

  /** The kubelet of the Node a pod is bound to. */
  const podKubelet = (pod: Pod): Promise<KubeletEndpoint> => podKubeletEndpoint(pod, async (n) => (await reg.get(findResource('', 'v1', 'nodes')!, undefined, n)) as Node)

  const resourceHandler = (group: string, version: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const params = req.params as Record<string, string>
    const g = group === '*' ? params.group! : group
    const v = version === '*' ? params.version! : version
    return handle(req, reply, g, v, params['*'] ?? '')
  }

  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const
  app.route({ method: [...methods], url: '/api/v1/*', handler: resourceHandler('', 'v1') })
  app.route({ method: [...methods], url: '/apis/:group/:version/*', handler: resourceHandler('*', '*') })
}

class DryRunDone extends Error {}

/** The verb a proxied request is authorized and counted as (upstream's RequestInfo). */
const PROXY_VERBS: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }

