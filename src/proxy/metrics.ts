// kube-proxy's metrics under netkube names, in a registry of the proxy's own (several proxies
// can live in one test process). Served on /metrics next to /healthz and /livez (health.ts) when a port is given.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export class ProxyMetrics {
  readonly registry = new Registry()
  readonly syncDuration = new Histogram({
    name: 'netkube_proxy_sync_proxy_rules_duration_seconds',
    help: 'Time to compute and apply one sync (one kernel transaction)',
    labelNames: ['mode', 'kind'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  })
  readonly programmingLatency = new Histogram({
    name: 'netkube_proxy_network_programming_duration_seconds',
    help: 'From an endpoint change (trigger time) to its rules being in the kernel',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  })
  readonly rules = new Gauge({ name: 'netkube_proxy_sync_proxy_rules_rules_total', help: 'Rules programmed', registers: [this.registry] })
  readonly chains = new Gauge({ name: 'netkube_proxy_sync_proxy_rules_chains_total', help: 'Chains programmed', registers: [this.registry] })
  readonly lastSync = new Gauge({
    name: 'netkube_proxy_sync_proxy_rules_last_timestamp_seconds',
    help: 'When the last successful sync finished',
    registers: [this.registry],
  })
  readonly failures = new Counter({ name: 'netkube_proxy_sync_failures_total', help: 'Failed syncs', registers: [this.registry] })
  /** upstream's kubeproxy_healthz_total / kubeproxy_livez_total */
  readonly healthzTotal = new Counter({ name: 'netkube_proxy_healthz_total', help: 'Answers of /healthz by code', labelNames: ['code'] as const, registers: [this.registry] })
  readonly livezTotal = new Counter({ name: 'netkube_proxy_livez_total', help: 'Answers of /livez by code', labelNames: ['code'] as const, registers: [this.registry] })
  /** upstream's kubeproxy_conntrack_reconciler_* */
  readonly conntrackDeleted = new Counter({
    name: 'netkube_proxy_conntrack_reconciler_deleted_entries_total',
    help: 'Stale UDP conntrack entries deleted after syncs',
    registers: [this.registry],
  })
  readonly conntrackDuration = new Histogram({
    name: 'netkube_proxy_conntrack_reconciler_sync_duration_seconds',
    help: 'Time to dump the conntrack table and delete its stale UDP entries',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  })
}
