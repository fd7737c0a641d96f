// Field ownership through the scale subresource, as kube-apiserver's ScaleHandler keeps it: a
// Scale shows the parent's managers that own the parent's replicas field, each owning the
// Scale's `spec.replicas`; after a write to the Scale, ownership of replicas maps back onto the
// parent. A manager that lost it in the Scale loses it on the parent (its other fields stay); a
// manager new to it owns the parent's replicas, recorded with subresource "scale". Pure.
import { FieldSet, fieldElement, type FieldPath } from './fieldpath.js'
import { managerKey, type Manager } from './managed-fields.js'

/** Deployments, ReplicaSets, StatefulSets and ReplicationControllers keep replicas here, as Scale does. */
export const REPLICAS_PATH: FieldPath = [fieldElement('spec'), fieldElement('replicas')]
export const SCALE_API_VERSION = 'autoscaling/v1'

export interface ScaleManagers {
  /** The Scale's managers. */
  managers: Manager[]
  /** A Scale manager's key → the key of the parent manager it shows. */
  parentKey: Map<string, string>
}

/** The parent's managers as the Scale shows them (upstream's ToSubresource). */
export function scaleManagers(parent: readonly Manager[]): ScaleManagers {
  const managers: Manager[] = []
  const parentKey = new Map<string, string>()
  for (const m of parent) {
    if (!m.fields.has(REPLICAS_PATH)) continue
    const shown: Manager = { ...m, apiVersion: SCALE_API_VERSION, fields: FieldSet.of([REPLICAS_PATH]) }
    managers.push(shown)
    parentKey.set(managerKey(shown), managerKey(m))
  }
  return { managers, parentKey }
}

/** The parent's managers after the Scale's became `after` (upstream's ToParent). */
export function parentManagers(parent: readonly Manager[], view: ScaleManagers, after: readonly Manager[], parentApiVersion: string): Manager[] {
  const owners = new Map<string, Manager>()
  for (const m of after) if (m.fields.has(REPLICAS_PATH)) owners.set(view.parentKey.get(managerKey(m)) ?? managerKey(m), m)
  const out: Manager[] = []
  for (const m of parent) {
    const key = managerKey(m)
    if (!m.fields.has(REPLICAS_PATH) || owners.delete(key)) {
      out.push(m)
      continue
    }
    const fields = m.fields.difference(FieldSet.of([REPLICAS_PATH]))
    if (!fields.empty()) out.push({ ...m, fields })
  }
  for (const m of owners.values()) out.push({ ...m, apiVersion: parentApiVersion, fields: FieldSet.of([REPLICAS_PATH]) })
  return out
}
