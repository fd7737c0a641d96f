// The generic object registry: the verbs of the Kubernetes API (get, list, create, update,
// patch, delete, deletecollection) over the etcd store, with the semantics kube-apiserver
// gives them — defaulting, validation, optimistic concurrency, status/main split,
// generation, finalizers, graceful pod deletion, ClusterIP/NodePort allocation and the
// namespace lifecycle. HTTP concerns (paths, content types, streaming) live in routes.ts.
import type { ResourceInfo } from '../api/resources.js'
import { etcdKey, etcdListPrefix, findResource, groupVersion, isEventsV1, RESOURCES } from '../api/resources.js'
import { eventFromV1, eventToV1 } from '../api/events.js'
import type { KubeList, KubeObject, Pod, Service, Status } from '../api/types.js'
import { applyDefaults, preserveOnUpdate } from '../api/defaults.js'
import { validateCreate, validateStatusUpdate, validateUpdate } from '../api/validation.js'
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from '../api/patch.js'
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, selectableFields, SelectorError, unsupportedFields, type ParsedSelector } from '../api/selectors.js'
import { EtcdStore, StorageError, type SideEffects } from '../storage/store.js'
import { AllocationError, allocationKeys, ServiceAllocator } from './allocator.js'
import { admitCreate, DEFAULT_SERVICE_ACCOUNT, MIRROR_POD_ANNOTATION, type AdmissionRequest, type ValidatingAdmission } from './admission.js'
import type { UserInfo } from './auth.js'
import { admitStorageCreate, admitStorageUpdate, type StorageLookups } from './storage-admission.js'
import { admitIngressCreate } from './ingress-admission.js'
import { decodeError } from './decode.js'
import * as E from './errors.js'
import { generateName, nowRfc3339, prepareForCreate, prepareForStatusUpdate, prepareForUpdate, updateGeneration } from './strategy.js'
import { applyWrite, encodeManagedFields, trackWrite } from './field-manager.js'
import type { Manager } from '../api/managed-fields.js'
import { deepEqual } from '../api/equal.js'
import { logger } from '../util/log.js'
import { prepareCsrCreate } from '../certificates/csr.js'

const log = logger('registry')

export interface ListQuery {
  labelSelector?: string
  fieldSelector?: string
  limit?: number
  continue?: string
  resourceVersion?: string
  /** 'Exact' reads at resourceVersion (410 Expired once compacted); otherwise the latest state. */
  resourceVersionMatch?: string
}

export interface DeleteOpts {
  gracePeriodSeconds?: number
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground'
  preconditions?: { uid?: string; resourceVersion?: string }
  dryRun?: boolean
  /** Who asks (validating admission reads it); absent for the apiserver's own deletes. */
  user?: UserInfo
}

export type PatchKind = 'merge' | 'strategic' | 'json'

/** Who writes: the field manager recorded in managedFields (`kube-apiserver` for the server's own writes). */
export interface WriteOpts {
  dryRun?: boolean
  /** Skip validation and admission: the apiserver's own writes. */
  system?: boolean
  manager?: string
  /** Managers computed by server-side apply, stored as they are. */
  managers?: Manager[]
  /** A main-resource write made through another subresource (scale), recorded as such. */
  recordSubresource?: string
  /** Who asks (validating admission reads it); absent for the apiserver's own writes. */
  user?: UserInfo
}

const writerOf = (opts: WriteOpts): string => opts.manager ?? (opts.system ? 'kube-apiserver' : 'unknown')

/** Compiled label + field selectors for list and watch. */
export interface Filter {
  labels: ParsedSelector
  fields: ParsedSelector
}

export const gr = (r: ResourceInfo): E.GroupResource => ({ group: r.group, resource: r.plural })

/** Namespaces that exist from the start and may not be deleted. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease']
const UNDELETABLE_NAMESPACES = new Set(['default', 'kube-system', 'kube-public'])

/** Resources for which PUT on a missing object creates it (kube's AllowCreateOnUpdate). */
const CREATE_ON_UPDATE = new Set(['endpoints', 'leases'])

const NAMESPACES = findResource('', 'v1', 'namespaces')!
const STORAGE_CLASSES = findResource('storage.k8s.io', 'v1', 'storageclasses')!
const INGRESS_CLASSES = findResource('networking.k8s.io', 'v1', 'ingressclasses')!
const SERVICE_ACCOUNTS = findResource('', 'v1', 'serviceaccounts')!

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

export class Registry {
  /** Validating admission plugins (NodeRestriction, RBAC escalation checks), in order. */
  readonly admission: ValidatingAdmission[] = []

  constructor(
    readonly store: EtcdStore,
    readonly alloc: ServiceAllocator,
  ) {}

  /** What the storage admission plugins read (StorageClasses, straight from etcd). */
  private readonly storageLookups: StorageLookups = {
    listClasses: async () => (await this.store.list(etcdListPrefix(STORAGE_CLASSES))).items as never,
    getClass: async (name) => ((await this.store.get(this.key(STORAGE_CLASSES, undefined, name))) ?? undefined) as never,
  }

  key(r: ResourceInfo, ns: string | undefined, name: string): string {
    return etcdKey(r, ns, name)
  }

  compileFilter(r: ResourceInfo, q: { labelSelector?: string; fieldSelector?: string }): Filter {
    try {
      const labels = parseLabelSelector(q.labelSelector ?? '')
      const fields = parseFieldSelector(q.fieldSelector ?? '')
      const bad = unsupportedFields(r, fields)
      if (bad.length) throw E.badRequest(`field label not supported: ${bad[0]}`)
      return { labels, fields }
    } catch (err) {
      if (err instanceof SelectorError) throw E.badRequest(err.message)
      throw err
    }
  }

  matches(r: ResourceInfo, f: Filter, obj: KubeObject): boolean {
    if (f.labels.length && !matchesLabels(f.labels, obj.metadata.labels)) return false
    if (f.fields.length && !matchesFields(f.fields, selectableFields(r, obj))) return false
    return true
  }

  /** A stored object as the resource's API version shows it (responses and watch events). */
  present(r: ResourceInfo, obj: KubeObject): KubeObject {
    return this.withType(r, obj)
  }

  private withType(r: ResourceInfo, stored: KubeObject): KubeObject {
    // events.k8s.io/v1 is a converted view of the stored core/v1 event.
    const obj = isEventsV1(r) ? (eventToV1(stored as never) as KubeObject) : stored
    // apiVersion/kind first, as Kubernetes serialises them.
    const { apiVersion: _a, kind: _k, ...rest } = obj
    return { apiVersion: groupVersion(r), kind: r.kind, ...rest } as KubeObject
  }

  async get(r: ResourceInfo, ns: string | undefined, name: string): Promise<KubeObject> {
    const obj = await this.store.get(this.key(r, ns, name))
    if (!obj) throw E.notFound(gr(r), name)
    return this.withType(r, obj)
  }

  async list(r: ResourceInfo, ns: string | undefined, q: ListQuery): Promise<KubeList> {
    const filter = this.compileFilter(r, q)
    const prefix = etcdListPrefix(r, ns)
    const limit = q.limit && q.limit > 0 ? q.limit : 0
    const items: KubeObject[] = []
    let cont = q.continue
    let revision = 0
    if (q.resourceVersionMatch !== undefined && q.resourceVersionMatch !== '') {
      if (!['Exact', 'NotOlderThan'].includes(q.resourceVersionMatch))
        throw E.badRequest(`resourceVersionMatch: Unsupported value: ${JSON.stringify(q.resourceVersionMatch)}: supported values: "Exact", "NotOlderThan"`)
      if (!q.resourceVersion) throw E.badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided')
      if (cont) throw E.badRequest('resourceVersionMatch is forbidden when continue is provided')
      if (!/^\d+$/.test(q.resourceVersion)) throw E.badRequest(`invalid resource version: ${JSON.stringify(q.resourceVersion)}`)
      if (q.resourceVersionMatch === 'Exact') revision = Number(q.resourceVersion)
    }
    // Any other resourceVersion is "not older than": the latest state satisfies it.
    let remaining: number | undefined
    for (;;) {
      let page
      try {
        const want = limit ? limit - items.length : 0
        page = await this.store.list(prefix, { limit: want, ...(cont ? { continue: cont } : {}), ...(revision ? { revision } : {}) })
      } catch (err) {
        if (err instanceof StorageError && err.code === 'InvalidContinue') throw E.badRequest(`continue key is not valid: ${err.message}`)
        if (err instanceof StorageError && err.code === 'Compacted') {
          if (!q.continue) throw E.expired(`too old resource version: ${revision}`)
          throw E.expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.')
        }
        throw err
      }
      revision = page.revision
      for (const o of page.items) if (this.matches(r, filter, o)) items.push(this.withType(r, o))
      cont = page.continue
      remaining = page.remaining
      if (!cont || !limit || items.length >= limit) break
    }
    const meta: KubeList['metadata'] = { resourceVersion: String(revision) }
    if (cont) {
      meta.continue = cont
      if (remaining !== undefined && !filter.labels.length && !filter.fields.length) meta.remainingItemCount = remaining
    }
    return { apiVersion: groupVersion(r), kind: r.listKind, metadata: meta, items }
  }

  /** Checks apiVersion/kind of a request body against the resource the URL names. */
  checkBody(r: ResourceInfo, body: unknown, expectKind = r.kind, expectVersion = groupVersion(r)): KubeObject {
    if (!isObject(body)) throw E.badRequest(`the object provided is unrecognized (must be of type ${expectKind})`)
    const obj = body as KubeObject
    if (obj.apiVersion !== undefined && obj.apiVersion !== expectVersion)
      throw E.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expectVersion})`)
    if (obj.kind !== undefined && obj.kind !== expectKind)
      throw E.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${expectKind})`)
    if (obj.metadata === undefined) obj.metadata = {}
    if (!isObject(obj.metadata)) throw E.badRequest('metadata: must be an object')
    obj.apiVersion = expectVersion
    obj.kind = expectKind
    // Stored in core/v1 form (withType converts back on the way out).
    if (isEventsV1(r) && expectKind === r.kind) return eventFromV1(obj as never) as KubeObject
    return obj
  }

  private checkNamespace(r: ResourceInfo, obj: KubeObject, ns: string | undefined): void {
    if (!r.namespaced) return
    if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns)
      throw E.badRequest('the namespace of the provided object does not match the namespace sent on the request')
    obj.metadata.namespace = ns
  }

  private async requireNamespace(r: ResourceInfo, ns: string | undefined, name: string): Promise<void> {
    if (!r.namespaced || !ns) return
    const nsObj = await this.store.get(this.key(NAMESPACES, undefined, ns))
    if (!nsObj) throw E.notFound(gr(NAMESPACES), ns)
    if (nsObj.metadata.deletionTimestamp)
      throw E.forbidden(gr(r), name, `unable to create new content in namespace ${ns} because it is being terminated`)
  }

  /** A body the decoder would refuse (bytes that are not base64) is 400, before anything else. */
  private decode(r: ResourceInfo, obj: KubeObject): void {
    const err = decodeError(r, obj)
    if (err) throw E.badRequest(err)
  }

  /**
   * The ServiceAccount admission plugin: a pod naming a ServiceAccount that does not exist is
   * refused (403, upstream's words). `default` is let through when missing: a namespace is
   * filled by the ServiceAccount controller, which an apiserver run alone (tests, a server
   * without controllers) does not have. Upstream's plugin also decides whether the pod gets
   * the projected token volume (the ServiceAccount's automountServiceAccountToken when the pod
   * leaves it unset); netkube records that decision in the pod's own field, so the kubelet —
   * which may not read ServiceAccounts, as upstream's node authorizer says — needs only the pod.
   */
  private async admitServiceAccount(r: ResourceInfo, pod: KubeObject, generatedName: boolean): Promise<void> {
    if (r.group !== '' || r.kind !== 'Pod') return
    const spec = (pod as Pod).spec as (Pod['spec'] & { automountServiceAccountToken?: boolean }) | undefined
    const sa = spec?.serviceAccountName
    if (typeof sa !== 'string' || sa === '') return
    if (pod.metadata.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return
    const ns = pod.metadata.namespace ?? ''
    const found = (await this.store.get(this.key(SERVICE_ACCOUNTS, ns, sa))) as { automountServiceAccountToken?: boolean } | undefined
    if (found) {
      if (found.automountServiceAccountToken === false && spec!.automountServiceAccountToken === undefined) spec!.automountServiceAccountToken = false
      return
    }
    if (sa === DEFAULT_SERVICE_ACCOUNT) return
    // The name is not generated yet at admission upstream, so a generateName pod is `pods ""`.
    throw E.forbidden(gr(r), generatedName ? '' : (pod.metadata.name ?? ''), `error looking up service account ${ns}/${sa}: serviceaccount "${sa}" not found`)
  }

  /** Runs the validating admission plugins for a user's write (never for `system` writes). */
  private async admit(a: Omit<AdmissionRequest, 'user' | 'dryRun'>, opts: { user?: UserInfo; system?: boolean; dryRun?: boolean }): Promise<void> {
    if (opts.system || !opts.user || this.admission.length === 0) return
    const req: AdmissionRequest = { ...a, user: opts.user, dryRun: !!opts.dryRun }
    for (const plugin of this.admission) await plugin(req)
  }

  private invalid(r: ResourceInfo, obj: KubeObject, errs: { type: string }[]): E.ApiError {
    return E.invalid(r.kind, r.group, obj.metadata.name ?? '', errs as never)
  }

  async create(r: ResourceInfo, ns: string | undefined, body: unknown, opts: WriteOpts = {}): Promise<KubeObject> {
    const obj = this.checkBody(r, body)
    const sentManagedFields = obj.metadata.managedFields
    this.decode(r, obj)
    this.checkNamespace(r, obj, ns)
    const generated = !obj.metadata.name && !!obj.metadata.generateName
    for (let attempt = 0; ; attempt++) {
      const o = structuredClone(obj)
      if (generated) o.metadata.name = generateName(o.metadata.generateName!)
      await this.requireNamespace(r, ns, o.metadata.name ?? '')
      prepareForCreate(r, o, new Date())
      // A CSR records who asked (the approver trusts these fields, never the body's).
      if (r.group === 'certificates.k8s.io' && r.kind === 'CertificateSigningRequest') prepareCsrCreate(o, opts.user)
      // Storage admission reads StorageClasses, so it runs here, outside the synchronous guard.
      if (!opts.system) await admitStorageCreate(r, o, this.storageLookups)
      if (!opts.system) await admitIngressCreate(r, o, async () => (await this.store.list(etcdListPrefix(INGRESS_CLASSES))).items as never)
      // `system` writes (the apiserver's own endpoints on loopback) skip admission and validation.
      guard(r, () => {
        applyDefaults(r, o)
        if (!opts.system) admitCreate(r, o)
      })
      // Admission refuses before validation looks at the object, as kube-apiserver orders them.
      if (!opts.system) await this.admitServiceAccount(r, o, generated)
      const errs = opts.system ? [] : guard(r, () => validateCreate(r, o))
      if (errs.length) throw this.invalid(r, o, errs)
      await this.admit({ op: 'create', r, sub: '', namespace: ns ?? '', name: o.metadata.name ?? '', obj: o }, opts)
      if (opts.managers) o.metadata.managedFields = encodeManagedFields(opts.managers)
      else trackWrite(r, undefined, o, sentManagedFields, writerOf(opts))
      const key = this.key(r, ns, o.metadata.name!)
      // The name is checked before anything is allocated, as kube-apiserver does: creating
      // an existing Service is 409 AlreadyExists whatever its spec, never "IP already
      // allocated" for the address the existing object holds.
      if (await this.store.get(key)) {
        if (generated && attempt < 8) continue
        throw E.alreadyExists(gr(r), o.metadata.name!)
      }
      let side: SideEffects | undefined
      try {
        if (r.kind === 'Service') side = await this.alloc.allocate(o as Service)
      } catch (err) {
        // A concurrent create of the same name may have taken the address since the check.
        if (err instanceof AllocationError && (await this.store.get(key))) throw E.alreadyExists(gr(r), o.metadata.name!)
        if (err instanceof AllocationError) throw this.invalid(r, o, err.errs)
        throw err
      }
      if (opts.dryRun) return this.withType(r, o)
      try {
        // Allocation keys are claimed in the create's own transaction: a create that loses
        // (AlreadyExists, Conflict) claims nothing, so nothing needs releasing.
        const out = await this.store.create(key, o, side)
        return this.withType(r, out)
      } catch (err) {
        if (err instanceof StorageError && err.code === 'AlreadyExists') {
          if (generated && attempt < 8) continue
          throw E.alreadyExists(gr(r), o.metadata.name!)
        }
        // A concurrent create took an address we picked: pick again.
        if (err instanceof StorageError && err.code === 'Conflict' && attempt < 16) continue
        throw err
      }
    }
  }

  /**
   * PUT. `sub` is 'status' for the status subresource. A body without resourceVersion is an
   * unconditional update (retried over concurrent writers); with one, a stale value is 409.
   */
  async update(r: ResourceInfo, ns: string | undefined, name: string, body: unknown, opts: WriteOpts & { sub?: string; patched?: boolean } = {}): Promise<KubeObject> {
    const obj = this.checkBody(r, body)
    const sentManagedFields = obj.metadata.managedFields
    if (!opts.patched) this.decode(r, obj)
    this.checkNamespace(r, obj, ns)
    if (obj.metadata.name !== undefined && obj.metadata.name !== name)
      throw E.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`)
    obj.metadata.name = name
    const key = this.key(r, ns, name)
    const wantRv = obj.metadata.resourceVersion
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.get(key)
      if (!cur) {
        if (CREATE_ON_UPDATE.has(r.plural) && !opts.sub) return this.create(r, ns, obj, opts)
        throw E.notFound(gr(r), name)
      }
      const curRv = cur.metadata.resourceVersion!
      if (wantRv && wantRv !== curRv) throw E.conflict(gr(r), name, E.STALE_OBJECT)
      let next: KubeObject
      if (opts.sub === 'status' || opts.sub === 'approval') {
        const sub = opts.sub
        next = guard(r, () => prepareForStatusUpdate(r, obj, cur, sub))
        next.apiVersion = obj.apiVersion
        next.kind = obj.kind
        const errs = guard(r, () => validateStatusUpdate(r, next, cur, sub))
        if (errs.length) throw this.invalid(r, next, errs)
        await this.admit({ op: 'update', r, sub, namespace: ns ?? '', name, obj: next, old: cur }, opts)
        if (opts.managers) {
          // An apply to status: the managers it computed; a no-op writes nothing.
          next.metadata.managedFields = encodeManagedFields(opts.managers)
          if (unchangedApply(next, cur)) return this.withType(r, cur)
        }
        // A subresource write cannot rewrite managedFields (upstream ignores the request's copy).
        else trackWrite(r, cur, next, undefined, writerOf(opts), sub)
      } else {
        next = structuredClone(obj)
        prepareForUpdate(r, next, cur)
        const errs = guard(r, () => {
          applyDefaults(r, next)
          // An update that leaves out the allocated ClusterIP/nodePorts keeps them (kube-apiserver does).
          preserveOnUpdate(r, next, cur)
          updateGeneration(r, next, cur)
          return opts.system ? [] : validateUpdate(r, next, cur)
        })
        if (errs.length) throw this.invalid(r, next, errs)
        const refused = opts.system ? undefined : await admitStorageUpdate(r, next, cur, this.storageLookups)
        if (refused) throw E.forbidden(gr(r), name, refused)
        await this.admit({ op: 'update', r, sub: opts.recordSubresource ?? '', namespace: ns ?? '', name, obj: next, old: cur }, opts)
        if (opts.managers) {
          next.metadata.managedFields = encodeManagedFields(opts.managers)
          // An apply that changes nothing writes nothing: same object, same resourceVersion.
          if (unchangedApply(next, cur)) return this.withType(r, cur)
        } else trackWrite(r, cur, next, sentManagedFields, writerOf(opts), opts.recordSubresource)
      }
      let side: SideEffects | undefined
      try {
        if (r.kind === 'Service' && !opts.sub) side = await this.alloc.allocate(next as Service, cur as Service)
      } catch (err) {
        if (err instanceof AllocationError) throw this.invalid(r, next, err.errs)
        throw err
      }
      if (opts.dryRun) return this.withType(r, { ...next, metadata: { ...next.metadata, resourceVersion: curRv } })
      try {
        if (this.finalized(r, next)) {
          const out = await this.store.delete(key, Number(curRv), { delete: allocationKeys(next as Service) })
          return this.withType(r, { ...next, metadata: { ...next.metadata, resourceVersion: out.metadata.resourceVersion! } })
        }
        return this.withType(r, await this.store.update(key, next, Number(curRv), side))
      } catch (err) {
        if (err instanceof StorageError && (err.code === 'Conflict' || err.code === 'NotFound')) {
          if (!wantRv && attempt < 16) continue
          if (err.code === 'NotFound') throw E.notFound(gr(r), name)
          throw E.conflict(gr(r), name, E.STALE_OBJECT)
        }
        throw err
      }
    }
  }

  /** An object being deleted whose last finalizer is gone (and, for pods, whose grace is over) is removed. */
  private finalized(r: ResourceInfo, obj: KubeObject): boolean {
    const m = obj.metadata
    if (!m.deletionTimestamp || (m.finalizers?.length ?? 0) > 0) return false
    if (r.kind === 'Namespace') return false // the namespace loop removes it once it is empty
    if (r.kind === 'Pod' && (m.deletionGracePeriodSeconds ?? 0) > 0) return false
    return true
  }

  async patch(r: ResourceInfo, ns: string | undefined, name: string, kind: PatchKind, patch: unknown, opts: { dryRun?: boolean; sub?: string; manager?: string; user?: UserInfo } = {}): Promise<KubeObject> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(r, ns, name)
      let next: unknown
      try {
        if (kind === 'merge') next = applyMergePatch(structuredClone(cur), patch)
        else if (kind === 'strategic') next = applyStrategicMergePatch(r, structuredClone(cur), patch)
        else next = applyJsonPatch(structuredClone(cur), patch)
      } catch (err) {
        if (err instanceof PatchError) throw E.invalidPatch(err.message)
        throw err
      }
      if (!isObject(next)) throw E.badRequest('the patch produced something that is not an object')
      const nextObj = next as KubeObject
      // Without a resourceVersion in the patch, the patch applies to whatever is current:
      // pin the version we patched, and start over if someone wrote in between.
      const pinned = !isObject(nextObj.metadata) || nextObj.metadata.resourceVersion === cur.metadata.resourceVersion
      const patchHasRv = isObject(patch) && isObject((patch as KubeObject).metadata) && (patch as KubeObject).metadata.resourceVersion !== undefined
      if (isObject(nextObj.metadata) && !patchHasRv) nextObj.metadata.resourceVersion = cur.metadata.resourceVersion!
      try {
        return await this.update(r, ns, name, nextObj, { ...opts, patched: true })
      } catch (err) {
        if (err instanceof E.ApiError && err.reason === 'Conflict' && pinned && !patchHasRv && attempt < 16) continue
        throw err
      }
    }
  }

  /**
   * Server-side apply (PATCH application/apply-patch+yaml): creates the object when missing
   * (`created` tells the route to answer 201), else merges the configuration by field ownership.
   */
  async apply(r: ResourceInfo, ns: string | undefined, name: string, body: unknown, opts: { dryRun?: boolean; manager: string; force: boolean; sub?: 'status'; user?: UserInfo }): Promise<{ obj: KubeObject; created: boolean }> {
    if (!isObject(body)) throw E.badRequest(`the object provided is unrecognized (must be of type ${r.kind})`)
    if (typeof body.kind !== 'string' || body.kind === '') throw E.badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`)
    if (typeof body.apiVersion !== 'string' || body.apiVersion === '') throw E.badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(body)}'`)
    const applied = this.checkBody(r, structuredClone(body))
    this.checkNamespace(r, applied, ns)
    if (applied.metadata.name !== undefined && applied.metadata.name !== name)
      throw E.badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`)
    applied.metadata.name = name
    // What the applier says of server-owned metadata is not part of its configuration.
    delete applied.metadata.managedFields
    delete applied.metadata.resourceVersion
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.get(this.key(r, ns, name))
      // The status subresource applies to an object that exists (it creates nothing).
      if (!cur && opts.sub) throw E.notFound(gr(r), name)
      const { object, managers } = applyWrite(r, cur ?? undefined, applied, opts.manager, opts.force, opts.sub)
      object.apiVersion = applied.apiVersion
      object.kind = applied.kind
      object.metadata.name = name
      if (r.namespaced) object.metadata.namespace = ns
      try {
        const who = opts.user ? { user: opts.user } : {}
        if (!cur) return { obj: await this.create(r, ns, object, { managers, ...who, ...(opts.dryRun ? { dryRun: true } : {}) }), created: true }
        object.metadata.resourceVersion = cur.metadata.resourceVersion!
        return { obj: await this.update(r, ns, name, object, { managers, ...who, ...(opts.dryRun ? { dryRun: true } : {}), ...(opts.sub ? { sub: opts.sub } : {}) }), created: false }
      } catch (err) {
        // Someone wrote (or created) in between: apply again on what is there now.
        if (err instanceof E.ApiError && (err.reason === 'Conflict' || err.reason === 'AlreadyExists') && !err.status.details?.causes && attempt < 16) continue
        throw err
      }
    }
  }

  async delete(r: ResourceInfo, ns: string | undefined, name: string, opts: DeleteOpts = {}): Promise<KubeObject> {
    const key = this.key(r, ns, name)
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.get(key)
      if (!cur) throw E.notFound(gr(r), name)
      const pre = opts.preconditions
      if (pre?.uid && pre.uid !== cur.metadata.uid)
        throw E.conflict(gr(r), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`)
      if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)
        throw E.conflict(gr(r), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`)
      const rev = Number(cur.metadata.resourceVersion)
      await this.admit({ op: 'delete', r, sub: '', namespace: ns ?? '', name, old: cur }, opts)
      let next: KubeObject | undefined
      if (r.kind === 'Namespace') {
        if (UNDELETABLE_NAMESPACES.has(name)) throw E.forbidden(gr(r), name, 'this namespace may not be deleted')
        next = structuredClone(cur)
        next.metadata.deletionTimestamp ??= nowRfc3339()
        next.status = { ...(next.status as object), phase: 'Terminating' }
      } else {
        next = this.gracefulOrFinalizing(r, cur, opts)
      }
      if (opts.dryRun) return this.withType(r, next ?? cur)
      try {
        if (next) {
          if (deepEqualMeta(next, cur)) return this.withType(r, cur)
          const out = await this.store.update(key, next, rev)
          if (r.kind === 'Namespace') this.kickNamespaces()
          return this.withType(r, out)
        }
        const out = await this.store.delete(key, rev, { delete: r.kind === 'Service' ? allocationKeys(cur as Service) : [] })
        return this.withType(r, out)
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Conflict' && attempt < 16) continue
        if (err instanceof StorageError && err.code === 'NotFound') throw E.notFound(gr(r), name)
        throw err
      }
    }
  }

  /**
   * The updated object when deletion must wait (finalizers, or a running pod's grace
   * period for the kubelet), undefined when the object can go now.
   */
  private gracefulOrFinalizing(r: ResourceInfo, curIn: KubeObject, opts: DeleteOpts): KubeObject | undefined {
    // Orphan and Foreground deletes hand the object to the garbage collector through a
    // finalizer (kube's `orphan` / `foregroundDeletion`); it removes the finalizer when done.
    const cur = structuredClone(curIn)
    const gcFinalizer = opts.propagationPolicy === 'Orphan' ? 'orphan' : opts.propagationPolicy === 'Foreground' ? 'foregroundDeletion' : undefined
    if (gcFinalizer && !(cur.metadata.finalizers ?? []).includes(gcFinalizer)) {
      const other = gcFinalizer === 'orphan' ? 'foregroundDeletion' : 'orphan'
      cur.metadata.finalizers = [...(cur.metadata.finalizers ?? []).filter((f) => f !== other), gcFinalizer]
    }
    const m = cur.metadata
    const hasFinalizers = (m.finalizers?.length ?? 0) > 0
    if (r.kind === 'Pod') {
      const pod = cur as Pod
      const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
      let grace = opts.gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30
      // Unscheduled or finished pods have no kubelet to wait for (kube's CheckGracefulDelete).
      if (!pod.spec?.nodeName || terminal) grace = 0
      if (grace > 0 || hasFinalizers) {
        const next = structuredClone(cur)
        const prevGrace = m.deletionGracePeriodSeconds
        // A later delete may shorten the grace period, never extend it.
        if (prevGrace === undefined || grace < prevGrace || !m.deletionTimestamp) {
          next.metadata.deletionGracePeriodSeconds = grace
          next.metadata.deletionTimestamp = nowRfc3339(new Date(Date.now() + grace * 1000))
        }
        if (grace === 0 && !hasFinalizers) return undefined
        return next
      }
      return undefined
    }
    if (!hasFinalizers) return undefined
    const next = structuredClone(cur)
    if (!m.deletionTimestamp) {
      next.metadata.deletionTimestamp = nowRfc3339()
      next.metadata.deletionGracePeriodSeconds = 0
      // Deletion changes what a controller should do: upstream bumps generation where it is kept.
      if ((m.generation ?? 0) > 0) next.metadata.generation = m.generation! + 1
    }
    return next
  }

  async deleteCollection(r: ResourceInfo, ns: string | undefined, q: ListQuery, opts: DeleteOpts): Promise<KubeList> {
    const list = await this.list(r, ns, { ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}), ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}) })
    const items: KubeObject[] = []
    for (const o of list.items) {
      try {
        items.push(await this.delete(r, o.metadata.namespace, o.metadata.name!, opts))
      } catch (err) {
        if (!(err instanceof E.ApiError && err.reason === 'NotFound')) throw err
      }
    }
    return { ...list, items }
  }

  // ---------- namespace lifecycle ----------

  private nsTimer: NodeJS.Timeout | undefined
  private nsRunning = false
  private nsAgain = false
  private closed = false

  /** Start the loop that empties Terminating namespaces (also resumes after a restart). */
  startNamespaceLoop(intervalMs = 2000): void {
    const tick = (): void => {
      if (this.closed) return
      this.kickNamespaces()
      this.nsTimer = setTimeout(tick, intervalMs)
    }
    this.nsTimer = setTimeout(tick, 0)
  }

  stop(): void {
    this.closed = true
    if (this.nsTimer) clearTimeout(this.nsTimer)
  }

  private sweep: Promise<void> = Promise.resolve()

  /** Resolves when no namespace sweep is running (used on shutdown). */
  idle(): Promise<void> {
    return this.sweep
  }

  kickNamespaces(): void {
    if (this.closed) return
    if (this.nsRunning) {
      this.nsAgain = true
      return
    }
    this.nsRunning = true
    this.sweep = this.sweepNamespaces()
      .catch((err: Error) => log.warn({ err: err.message }, 'namespace sweep failed'))
      .finally(() => {
        this.nsRunning = false
        if (this.nsAgain && !this.closed) {
          this.nsAgain = false
          this.kickNamespaces()
        }
      })
  }

  private async sweepNamespaces(): Promise<void> {
    const nss = await this.store.list(etcdListPrefix(NAMESPACES))
    for (const ns of nss.items) {
      if (!ns.metadata.deletionTimestamp || this.closed) continue
      const name = ns.metadata.name!
      let left = 0
      for (const r of RESOURCES) {
        if (!r.namespaced) continue
        const objs = await this.store.list(etcdListPrefix(r, name))
        for (const o of objs.items) {
          left++
          if (o.metadata.deletionTimestamp && r.kind !== 'Pod') continue
          try {
            await this.delete(r, name, o.metadata.name!, {})
          } catch (err) {
            if (!(err instanceof E.ApiError && err.reason === 'NotFound')) throw err
          }
        }
      }
      if (left > 0) {
        // Deletions above may have finished everything; look again on the next pass.
        this.nsAgain = true
        continue
      }
      if ((ns.metadata.finalizers?.length ?? 0) > 0) continue
      try {
        await this.store.delete(this.key(NAMESPACES, undefined, name), Number(ns.metadata.resourceVersion))
        log.info({ namespace: name }, 'namespace removed')
      } catch (err) {
        if (!(err instanceof StorageError)) throw err
      }
    }
  }

  /** Make sure an object exists (bootstrap): create it when missing, leave it otherwise. */
  async ensure(r: ResourceInfo, ns: string | undefined, obj: KubeObject): Promise<KubeObject> {
    try {
      return await this.get(r, ns, obj.metadata.name!)
    } catch (err) {
      if (!(err instanceof E.ApiError && err.reason === 'NotFound')) throw err
    }
    try {
      return await this.create(r, ns, obj)
    } catch (err) {
      if (err instanceof E.ApiError && err.reason === 'AlreadyExists') return this.get(r, ns, obj.metadata.name!)
      throw err
    }
  }

  statusFor(r: ResourceInfo, obj: KubeObject): Status {
    return E.successStatus({ name: obj.metadata.name!, group: r.group, kind: r.plural, uid: obj.metadata.uid! })
  }
}

/**
 * Defaulting and validation walk client-supplied JSON; a shape they did not expect (a string
 * where a list belongs) must become a 400, never a 500 or a half-written object.
 */
function guard<T>(r: ResourceInfo, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof E.ApiError) throw err
    log.warn({ err: (err as Error).message, kind: r.kind }, 'defaulting/validation threw on a malformed object')
    throw E.badRequest(`the ${r.kind} object is malformed: ${(err as Error).message}`)
  }
}

function deepEqualMeta(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** The object and who owns what are as stored (times and resourceVersion aside). */
function unchangedApply(next: KubeObject, cur: KubeObject): boolean {
  const strip = (o: KubeObject): unknown => {
    const { managedFields, resourceVersion: _rv, ...meta } = o.metadata
    return { ...o, metadata: meta, managed: (managedFields ?? []).map(({ time: _t, ...m }) => m) }
  }
  return deepEqual(strip(next), strip(cur))
}
