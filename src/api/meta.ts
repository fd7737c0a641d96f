// Small helpers over ObjectMeta, conditions and pod readiness that controllers, the scheduler and
// the table printer share. Pure: time comes in as an argument.
import { LABEL_SERVICE_NAME, type Condition, type EndpointSlice, type KubeObject, type OwnerReference, type Pod, type Service } from './types.js'

export function getCondition<C extends Condition>(conds: readonly C[] | undefined, type: string): C | undefined {
  return conds?.find((c) => c.type === type)
}

/**
 * Return a new condition list with `cond` set. As k8s controllers do, lastTransitionTime moves only
 * when the status changes; when the status is unchanged the old transition time is kept even if the
 * caller passed a new one (reason/message/other fields are updated).
 */
export function setCondition<C extends Condition>(conds: readonly C[] | undefined, cond: C, now: Date = new Date()): C[] {
  const list = conds ? [...conds] : []
  const i = list.findIndex((c) => c.type === cond.type)
  if (i < 0) {
    list.push({ ...cond, lastTransitionTime: cond.lastTransitionTime ?? isoSeconds(now) })
    return list
  }
  const old = list[i]!
  const lastTransitionTime =
    old.status === cond.status ? old.lastTransitionTime ?? cond.lastTransitionTime ?? isoSeconds(now) : cond.lastTransitionTime ?? isoSeconds(now)
  list[i] = { ...cond, lastTransitionTime }
  return list
}

/** Remove a condition type; returns a new list. */
export function removeCondition<C extends Condition>(conds: readonly C[] | undefined, type: string): C[] {
  return (conds ?? []).filter((c) => c.type !== type)
}

/** RFC 3339 with seconds precision, as metav1.Time marshals. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function controllerRef(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true)
}

export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const ref = controllerRef(obj)
  return ref !== undefined && owner.metadata.uid !== undefined && ref.uid === owner.metadata.uid
}

export function newControllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  }
}

export function podIsReady(pod: Pod): boolean {
  return getCondition(pod.status?.conditions, 'Ready')?.status === 'True'
}

/** Ready for at least minReadySeconds (by the Ready condition's lastTransitionTime). */
export function podIsAvailable(pod: Pod, minReadySeconds: number, now: Date): boolean {
  const c = getCondition(pod.status?.conditions, 'Ready')
  if (c?.status !== 'True') return false
  if (!minReadySeconds || minReadySeconds <= 0) return true
  if (!c.lastTransitionTime) return false
  const t = Date.parse(c.lastTransitionTime)
  return Number.isFinite(t) && t + minReadySeconds * 1000 <= now.getTime()
}

export function isPodTerminal(pod: Pod): boolean {
  const p = pod.status?.phase
  return p === 'Succeeded' || p === 'Failed'
}

/** Active for a ReplicaSet: not terminal and not being deleted. */
export function isPodActive(pod: Pod): boolean {
  return !isPodTerminal(pod) && !pod.metadata.deletionTimestamp
}

/** `namespace/name` (or `name` for cluster-scoped objects), the key informers use. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata.namespace
  return ns ? `${ns}/${obj.metadata.name ?? ''}` : obj.metadata.name ?? ''
}

/** `namespace/name` of a Service: the key under which the proxy and DNS group its EndpointSlices. */
export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`
}

export function serviceKeyOf(svc: Service): string {
  return serviceKey(svc.metadata.namespace ?? 'default', svc.metadata.name ?? '')
}

/**
 * The Service an EndpointSlice belongs to: its namespace plus its `kubernetes.io/service-name`
 * label, the API's only link between the two; undefined when unlabelled. The label is mutable,
 * so an update whose key differs from the old object's moves the slice: consumers must take it
 * out of the old Service as well as putting it into the new one.
 */
export function sliceServiceKey(slice: EndpointSlice): string | undefined {
  const svc = slice.metadata.labels?.[LABEL_SERVICE_NAME]
  return svc ? serviceKey(slice.metadata.namespace ?? 'default', svc) : undefined
}
