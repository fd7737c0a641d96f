// kube-proxy's own /healthz and /livez (upstream pkg/proxy/healthcheck/proxy_health.go), not
// the kube components' check list. The proxier reports two instants: when it last programmed
// the kernel, and since when a change has been waiting. It is unhealthy only when it has
// synced before and a change has been waiting longer than the timeout (a stuck or failing
// proxy; an idle one is healthy; so is one still starting up). /healthz also fails while the
// node is being deleted (deletionTimestamp, or the cluster autoscaler's ToBeDeleted taint),
// so load balancers drain it; /livez ignores that (restarting the proxy would not help).
// Bodies are upstream's JSON; a healthy answer reports lastUpdated = now, as upstream does for
// compatibility with releases whose sync loop ran even without changes.
import type { Node } from '../api/types.js'
import type { StatusReply, StatusRoute } from '../util/status-server.js'
import type { Counter } from 'prom-client'

export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler'

export interface HealthSource {
  /** ms since epoch of the last successful sync, 0 before the first one. */
  lastSyncedAt(): number
  /** ms since epoch of the oldest change not yet programmed, 0 when none is pending. */
  oldestPendingAt(): number
  /** The proxy's own Node as last seen (undefined: not seen, or deleted). */
  node(): Node | undefined
}

/** upstream's NodeEligible: the Node exists, is not being deleted, is not marked for scale-down. */
export function nodeEligible(node: Node | undefined): boolean {
  if (!node || node.metadata.deletionTimestamp) return false
  return !(node.spec?.taints ?? []).some((t) => t.key === TO_BE_DELETED_TAINT)
}

/** Go's time.Time JSON form (RFC 3339, UTC); the zero time for "never". */
const goTime = (ms: number): string => (ms ? new Date(ms).toISOString() : '0001-01-01T00:00:00Z')

/** The reply of /healthz or /livez at `now` (pure). `timeoutMs`: how long a change may wait. */
export function proxyHealthReply(kind: 'healthz' | 'livez', h: HealthSource, timeoutMs: number, now: number): StatusReply & { headers: Record<string, string> } {
  const last = h.lastSyncedAt()
  const pending = h.oldestPendingAt()
  const healthy = !(last > 0 && pending > 0 && now - pending >= timeoutMs)
  const eligible = kind === 'healthz' ? nodeEligible(h.node()) : undefined
  const ok = healthy && eligible !== false
  const shown = ok ? now : last
  const body = {
    lastUpdated: goTime(shown),
    currentTime: goTime(now),
    ...(eligible !== undefined ? { nodeEligible: eligible } : {}),
    healthy,
    ...(last ? { status: { IPv4: { lastUpdated: goTime(last), healthy } } } : {}),
  }
  return { status: ok ? 200 : 503, contentType: 'application/json', headers: { 'X-Content-Type-Options': 'nosniff' }, body: JSON.stringify(body) }
}

/** Both routes for the status server, counting answers by code (upstream's kubeproxy_healthz_total / _livez_total). */
export function proxyHealthRoutes(h: HealthSource, timeoutMs: number, counters?: { healthz: Counter<'code'>; livez: Counter<'code'> }): Record<'/healthz' | '/livez', StatusRoute> {
  const route =
    (kind: 'healthz' | 'livez'): StatusRoute =>
    () => {
      const r = proxyHealthReply(kind, h, timeoutMs, Date.now())
      counters?.[kind].inc({ code: String(r.status) })
      return r
    }
  return { '/healthz': route('healthz'), '/livez': route('livez') }
}
