// The registry's field manager: keeps metadata.managedFields on every write and runs
// server-side apply, over the pure rules in src/api/managed-fields.ts.
import { groupVersion, type ResourceInfo } from '../api/resources.js'
import { formatFieldPath } from '../api/fieldpath.js'
import {
  ApplyConflictError,
  applyConfig,
  baseManagers,
  describeManager,
  encodeManagedFields,
  ManagedFieldsError,
  trackUpdate,
  type ApplyResult,
  type Manager,
} from '../api/managed-fields.js'
import type { KubeObject } from '../api/types.js'
import * as E from './errors.js'
import { nowRfc3339 } from './strategy.js'
import { logger } from '../util/log.js'

const log = logger('field-manager')

/** kube-apiserver's limit on a field manager's name. */
const MAX_MANAGER = 128

/** The manager of a request: `fieldManager`, else the User-Agent's product (`kubectl/v1.33 …` → `kubectl`). */
export function requestManager(fieldManager: string | undefined, userAgent: string | undefined, kind: 'CreateOptions' | 'UpdateOptions' | 'PatchOptions'): string | undefined {
  if (fieldManager !== undefined && fieldManager !== '') {
    if (fieldManager.length > MAX_MANAGER || !/^[\x20-\x7e]*$/.test(fieldManager))
      throw E.invalid(kind, 'meta.k8s.io', '', [{ type: 'FieldValueInvalid', field: 'fieldManager', value: fieldManager, message: `Invalid value: ${JSON.stringify(fieldManager)}: must be less than ${MAX_MANAGER} characters long and only contain printable characters` }] as never)
    return fieldManager
  }
  const product = (userAgent ?? '').split('/')[0]!.trim()
  return product ? product.slice(0, MAX_MANAGER) : undefined
}

/** Sets next.metadata.managedFields for an update by `manager` (create: old undefined). */
export function trackWrite(r: ResourceInfo, old: KubeObject | undefined, next: KubeObject, sent: unknown, manager: string, sub?: string): void {
  let base: Manager[]
  try {
    base = baseManagers(sent, old?.metadata.managedFields)
  } catch (err) {
    // As kube-apiserver does: managedFields it cannot read are reset, the write goes on.
    if (!(err instanceof ManagedFieldsError)) throw err
    log.warn({ err: err.message, name: next.metadata.name }, 'resetting unreadable managedFields')
    base = []
  }
  const managers = trackUpdate(r, old, next, base, { manager, apiVersion: groupVersion(r), ...(sub ? { subresource: sub } : {}) }, nowRfc3339(new Date()))
  const encoded = encodeManagedFields(managers)
  if (encoded.length) next.metadata.managedFields = encoded
  else delete next.metadata.managedFields
}

/** Server-side apply; a conflict becomes upstream's 409 with one cause per field. */
export function applyWrite(r: ResourceInfo, live: KubeObject | undefined, applied: KubeObject, manager: string, force: boolean, subresource?: 'status' | 'scale'): ApplyResult {
  let base: Manager[] = []
  try {
    base = baseManagers(undefined, live?.metadata.managedFields)
  } catch (err) {
    if (!(err instanceof ManagedFieldsError)) throw err
  }
  try {
    return applyConfig(r, live, applied, base, { manager, force, now: nowRfc3339(new Date()), ...(subresource ? { subresource } : {}) })
  } catch (err) {
    if (err instanceof ApplyConflictError)
      throw E.applyConflict(
        err.conflicts.map((c) => ({ message: `conflict with ${describeManager(c.manager)}`, field: formatFieldPath(c.path) })),
        err.message,
      )
    throw err
  }
}

export { encodeManagedFields }
