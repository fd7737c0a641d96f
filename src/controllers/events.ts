// The seam through which controllers report Events (upstream's record.EventRecorder). Until the
// Event recorder of src/events is wired in, the default writes them to the controller's log.
import type { KubeObject } from '../api/types.js'
import { logger } from '../util/log.js'

export type EventType = 'Normal' | 'Warning'

export interface EventRecorder {
  event(obj: KubeObject, type: EventType, reason: string, message: string): void
}

/** Logs each Event with the object it is about (one line, pino). */
export function logEventRecorder(component: string): EventRecorder {
  const log = logger(`events.${component}`)
  return {
    event(obj, type, reason, message) {
      const ref = { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }
      if (type === 'Warning') log.warn({ object: ref, reason }, message)
      else log.info({ object: ref, reason }, message)
    },
  }
}
