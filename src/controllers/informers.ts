// One informer per resource, shared by every controller of a process (as client-go's
// SharedInformerFactory): one list+watch per resource however many controllers read it.
import type { KubeObject } from '../api/types.js'
import { findResource, type ResourceInfo } from '../api/resources.js'
import type { Client } from '../client/interfaces.js'
import { createInformer, type Informer } from '../client/informer.js'

export type Indexer<T> = (obj: T) => string[]

export class InformerFactory {
  private informers = new Map<string, Informer<KubeObject>>()
  private indexers = new Map<string, Record<string, Indexer<KubeObject>>>()
  constructor(private readonly client: Client) {}

  /** Register indexers before the first get() of a resource. */
  addIndexers<T extends KubeObject>(r: ResourceInfo, idx: Record<string, Indexer<T>>): void {
    const k = key(r)
    if (this.informers.has(k)) throw new Error(`indexers for ${k} registered after its informer was created`)
    this.indexers.set(k, { ...(this.indexers.get(k) ?? {}), ...(idx as Record<string, Indexer<KubeObject>>) })
  }

  get<T extends KubeObject>(r: ResourceInfo): Informer<T> {
    const k = key(r)
    let inf = this.informers.get(k)
    if (!inf) {
      inf = createInformer(this.client.resource<KubeObject>(r), { name: k, indexers: this.indexers.get(k) ?? {} })
      this.informers.set(k, inf)
    }
    return inf as unknown as Informer<T>
  }

  all(): Informer<KubeObject>[] {
    return [...this.informers.values()]
  }

  async start(): Promise<void> {
    await Promise.all(this.all().map((i) => i.start()))
  }

  async stop(): Promise<void> {
    for (const i of this.all()) i.stop()
    await Promise.all(this.all().map((i) => i.waitStopped()))
  }
}

function key(r: ResourceInfo): string {
  return `${r.group}/${r.version}/${r.plural}`
}

function must(group: string, version: string, plural: string): ResourceInfo {
  const r = findResource(group, version, plural)
  if (!r) throw new Error(`resource ${group}/${version}/${plural} missing from the catalogue`)
  return r
}

export const R = {
  pods: must('', 'v1', 'pods'),
  nodes: must('', 'v1', 'nodes'),
  services: must('', 'v1', 'services'),
  endpoints: must('', 'v1', 'endpoints'),
  replicasets: must('apps', 'v1', 'replicasets'),
  deployments: must('apps', 'v1', 'deployments'),
  endpointslices: must('discovery.k8s.io', 'v1', 'endpointslices'),
  leases: must('coordination.k8s.io', 'v1', 'leases'),
  // issue #11
  events: must('', 'v1', 'events'),
  secrets: must('', 'v1', 'secrets'),
  serviceaccounts: must('', 'v1', 'serviceaccounts'),
  namespaces: must('', 'v1', 'namespaces'),
  jobs: must('batch', 'v1', 'jobs'),
  cronjobs: must('batch', 'v1', 'cronjobs'),
  daemonsets: must('apps', 'v1', 'daemonsets'),
  controllerrevisions: must('apps', 'v1', 'controllerrevisions'),
  // StatefulSets (issue #11)
  statefulsets: must('apps', 'v1', 'statefulsets'),
  persistentvolumeclaims: must('', 'v1', 'persistentvolumeclaims'),
}

export const BY_NAMESPACE = 'namespace'
