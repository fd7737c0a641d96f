// ServiceAccounts controller core (upstream's serviceaccounts-controller): every active
// namespace has the ServiceAccounts the controller is configured to ensure (`default`).
// Pure: namespace + the ServiceAccounts it holds → the ones to create.
import type { Namespace, ServiceAccount } from '../api/types.js'

export const ENSURED_SERVICE_ACCOUNTS = ['default']

/** ServiceAccount objects to create in ns; none while it is terminating (creates would be refused). */
export function missingServiceAccounts(ns: Namespace | undefined, existing: readonly ServiceAccount[], ensure: readonly string[] = ENSURED_SERVICE_ACCOUNTS): ServiceAccount[] {
  if (!ns || ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') return []
  const have = new Set(existing.map((s) => s.metadata.name))
  return ensure
    .filter((name) => !have.has(name))
    .map((name) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns.metadata.name! } }))
}
