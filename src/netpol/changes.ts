// Change tracking for NetworkPolicy: informer callbacks only record, per object, whether what
// policy reads of it changed (pod labels/IP/node/ports, namespace labels, policy spec); status
// churn (conditions, restarts) and changes undone before the sync cost nothing. The first
// arrival of a pending change is kept for the programming-latency metric.
import type { KubeObject, Namespace, NetworkPolicy, Pod } from '../api/types.js'
import { podInfo } from './core.js'

export type Kind = 'pod' | 'namespace' | 'policy'

export function fingerprint(kind: Kind, o: KubeObject | undefined): string {
  if (!o) return ''
  switch (kind) {
    case 'pod': {
      const p = podInfo(o as Pod)
      return p ? JSON.stringify([p.labels, p.ip, p.node, [...p.namedPorts].sort()]) : ''
    }
    case 'namespace':
      return JSON.stringify((o as Namespace).metadata.labels ?? {})
    case 'policy':
      return JSON.stringify((o as NetworkPolicy).spec ?? null)
  }
}

interface Pending {
  kind: Kind
  /** the core's key: `ns/name`, or the namespace's name */
  key: string
  before: string
  after: string
  /** the latest object (undefined: deleted) */
  obj: KubeObject | undefined
  since: number
}

/** One pending change, as the incremental core takes it. */
export interface Change {
  kind: Kind
  key: string
  obj: KubeObject | undefined
  /** first arrival (ms since epoch), for the programming-latency metric */
  since: number
}

export class ChangeTracker {
  private pending = new Map<string, Pending>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Record an add (prev undefined), update or delete (cur undefined). True if a sync is needed. */
  update(kind: Kind, prev: KubeObject | undefined, cur: KubeObject | undefined): boolean {
    const o = cur ?? prev
    if (!o) return false
    const key = kind === 'namespace' ? (o.metadata.name ?? '') : `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`
    const id = `${kind}/${key}`
    const after = fingerprint(kind, cur)
    const p = this.pending.get(id)
    if (p) {
      p.after = after
      p.obj = cur
    } else this.pending.set(id, { kind, key, before: fingerprint(kind, prev), after, obj: cur, since: this.now() })
    const rec = this.pending.get(id)!
    if (rec.before === rec.after) this.pending.delete(id)
    return this.pending.size > 0
  }

  get size(): number {
    return this.pending.size
  }

  /** Take the pending changes. */
  take(): Change[] {
    const out = [...this.pending.values()].map(({ kind, key, obj, since }) => ({ kind, key, obj, since }))
    this.pending = new Map()
    return out
  }
}
