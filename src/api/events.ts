// The two views of an Event. kube-apiserver stores events once, in core/v1 form, and serves
// events.k8s.io/v1 by converting (pkg/apis/events/v1/conversion.go): `regarding` is
// `involvedObject`, `note` is `message`, `reportingController` is `reportingComponent`, and the
// legacy fields come back as `deprecated*`. Pure functions; the registry calls them on the way
// in (create/update/patch bodies) and out (get/list/watch).
import type { CoreEvent, EventV1, ObjectMeta } from './types.js'

type Obj = Record<string, unknown>

/** core/v1 field ← events.k8s.io/v1 field, for the fields whose names differ. */
const RENAMED: [core: string, v1: string][] = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
]
const SAME = ['eventTime', 'series', 'action', 'reason', 'related', 'type', 'reportingInstance']

function copy(from: Obj, to: Obj, pairs: [string, string][]): void {
  for (const [a, b] of pairs) if (from[a] !== undefined) to[b] = from[a]
}

/** The stored (core/v1) event as events.k8s.io/v1 shows it. */
export function eventToV1(e: CoreEvent): EventV1 {
  const src = e as unknown as Obj
  const out: Obj = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: e.metadata }
  copy(src, out, SAME.map((k) => [k, k]))
  copy(src, out, RENAMED)
  // Unknown fields ride along unchanged, as the apiserver keeps what it does not know.
  const known = new Set(['apiVersion', 'kind', 'metadata', ...SAME, ...RENAMED.map(([c]) => c)])
  for (const [k, v] of Object.entries(src)) if (!known.has(k) && out[k] === undefined) out[k] = v
  return out as unknown as EventV1
}

/** An events.k8s.io/v1 body in the stored core/v1 form. */
export function eventFromV1(e: EventV1): CoreEvent {
  const src = e as unknown as Obj
  const out: Obj = { apiVersion: 'v1', kind: 'Event', metadata: (e.metadata ?? {}) as ObjectMeta }
  copy(src, out, SAME.map((k) => [k, k]))
  copy(
    src,
    out,
    RENAMED.map(([c, v]) => [v, c]),
  )
  const known = new Set(['apiVersion', 'kind', 'metadata', ...SAME, ...RENAMED.map(([, v]) => v), ...RENAMED.map(([c]) => c)])
  for (const [k, v] of Object.entries(src)) if (!known.has(k) && out[k] === undefined) out[k] = v
  return out as unknown as CoreEvent
}

/** events.k8s.io/v1 field-selector names → the stored core/v1 names (upstream's field label conversion). */
export const EVENTS_V1_FIELD_ALIASES: Record<string, string> = {
  'regarding.kind': 'involvedObject.kind',
  'regarding.namespace': 'involvedObject.namespace',
  'regarding.name': 'involvedObject.name',
  'regarding.uid': 'involvedObject.uid',
  'regarding.apiVersion': 'involvedObject.apiVersion',
  'regarding.resourceVersion': 'involvedObject.resourceVersion',
  'regarding.fieldPath': 'involvedObject.fieldPath',
  reportingController: 'reportingComponent',
  deprecatedSource: 'source',
  reason: 'reason',
  type: 'type',
}
