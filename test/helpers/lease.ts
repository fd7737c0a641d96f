// Hands a Lease to someone else the way another candidate's write would (read, change the
// holder, update with the read resourceVersion), retrying when the current holder renewed in
// between (409). Resolves with the time of the successful write.
import type { Lease } from '../../src/api/types.js'
import { resourceFor } from '../../src/api/resources.js'
import { isConflict } from '../../src/client/errors.js'
import type { Client } from '../../src/client/interfaces.js'
import { microTime } from '../../src/client/leaderelection-core.js'

export async function stealLease(client: Client, namespace: string, name: string, holder: string, seconds: number): Promise<number> {
  const leases = client.resource<Lease>(resourceFor('leases'), namespace)
  for (;;) {
    const l = await leases.get(name)
    const now = Date.now()
    const spec = { ...l.spec, holderIdentity: holder, leaseDurationSeconds: seconds, renewTime: microTime(now), acquireTime: microTime(now), leaseTransitions: (l.spec?.leaseTransitions ?? 0) + 1 }
    try {
      await leases.update({ ...l, spec })
      return now
    } catch (err) {
      if (!isConflict(err)) throw err
    }
  }
}
