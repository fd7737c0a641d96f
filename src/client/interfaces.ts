// The client contract every component codes against (controllers, scheduler, kubelet,
// kube-proxy, DNS). The REST implementation lives in rest.ts, informers in informer.ts,
// the work queue in workqueue.ts. Keep this file small: it is the seam between components.
import type { KubeList, KubeObject, Status, WatchEvent } from '../api/types.js'

/** Where and how to reach an apiserver (what a kubeconfig says). */
export interface ClientConfig {
  /** e.g. https://127.0.0.1:6443 */
  server: string
  /**
   * Several apiservers of one control plane (same CA and credentials), tried in this order;
   * `server` is ignored when given. The client stays on the one that works and moves to the
   * next when it cannot be reached (rest.ts).
   */
  servers?: string[]
  token?: string
  /** A client certificate and its key (PEM): x509 authentication, CN = user, O = groups. */
  certPem?: string
  keyPem?: string
  /**
   * Read the credentials again before each new connection (a kubeconfig whose certificate is
   * rotated on disk, a projected token refreshed by the kubelet). Returns the fields to use.
   */
  reload?: () => Pick<ClientConfig, 'token' | 'certPem' | 'keyPem'>
  /** PEM of the CA that signed the server's certificate. */
  caPem?: string
  insecureSkipTLSVerify?: boolean
  /** Shown as User-Agent. */
  userAgent?: string
}

/** Identifies a resource collection: a ResourceInfo from api/resources.ts satisfies it. */
export interface ResourceRef {
  group: string
  version: string
  plural: string
  namespaced: boolean
}

export interface ListOptions {
  labelSelector?: string
  fieldSelector?: string
  limit?: number
  continue?: string
  resourceVersion?: string
}

export interface WatchOptions extends ListOptions {
  /** Start after this revision (the list's resourceVersion). */
  resourceVersion?: string
  allowWatchBookmarks?: boolean
  timeoutSeconds?: number
}

export interface DeleteOptions {
  gracePeriodSeconds?: number
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground'
  preconditions?: { uid?: string; resourceVersion?: string }
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply'

/** A live watch stream. `done` settles when the stream ends for any reason. */
export interface WatchHandle {
  stop(): void
  done: Promise<void>
}

/** Error thrown for any non-2xx answer: carries the server's metav1.Status. */
export interface ApiStatusError extends Error {
  readonly code: number
  readonly reason: string
  readonly status: Status
}

/** Typed access to one resource collection, optionally scoped to a namespace. */
export interface ResourceClient<T extends KubeObject = KubeObject> {
  get(name: string): Promise<T>
  list(opts?: ListOptions): Promise<KubeList<T>>
  create(obj: T): Promise<T>
  update(obj: T): Promise<T>
  updateStatus(obj: T): Promise<T>
  patch(name: string, patch: unknown, type?: PatchType): Promise<T>
  patchStatus(name: string, patch: unknown, type?: PatchType): Promise<T>
  delete(name: string, opts?: DeleteOptions): Promise<void>
  /** POST to a subresource, e.g. createSubresource(pod, 'binding', binding). */
  createSubresource<B extends KubeObject, R = unknown>(name: string, sub: string, body: B): Promise<R>
  watch(opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): WatchHandle
}

export interface Client {
  readonly config: ClientConfig
  resource<T extends KubeObject = KubeObject>(r: ResourceRef, namespace?: string): ResourceClient<T>
  /** GET an arbitrary path (discovery, /version, logs). */
  raw(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: string }>
}

export type EventHandler<T> = {
  onAdd?(obj: T): void
  onUpdate?(oldObj: T, newObj: T): void
  onDelete?(obj: T): void
}

/** Local indexed cache of one resource, fed by list+watch. Keys are `namespace/name` or `name`. */
export interface Store<T extends KubeObject> {
  get(key: string): T | undefined
  list(): T[]
  keys(): string[]
  /** Objects whose index `indexName` yields `value` (indexers registered at informer creation). */
  byIndex(indexName: string, value: string): T[]
}

export interface SharedInformer<T extends KubeObject> {
  readonly store: Store<T>
  addEventHandler(h: EventHandler<T>): void
  /** Resolves once the initial list is in the store. */
  start(): Promise<void>
  hasSynced(): boolean
  stop(): void
  /** The last resourceVersion seen (list or watch). */
  lastResourceVersion(): string
}

export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata.namespace
  return ns ? `${ns}/${obj.metadata.name}` : `${obj.metadata.name}`
}
