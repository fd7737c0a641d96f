// Prometheus metrics and health for the overlay agent, on its own Registry so that several
// agents (or an agent inside the node agent) never collide on metric names.
import { Counter, Gauge, Registry } from 'prom-client'

export class OverlayMetrics {
  readonly registry = new Registry()
  readonly leasesKnown = new Gauge({ name: 'netkube_overlay_leases_known', help: 'Subnet leases currently known (own included)', registers: [this.registry] })
  readonly programmingErrors = new Counter({
    name: 'netkube_overlay_programming_errors_total',
    help: 'Kernel writes (route, neighbour, FDB, device, nftables) that failed',
    registers: [this.registry],
  })
  readonly lastSync = new Gauge({
    name: 'netkube_overlay_last_sync_timestamp_seconds',
    help: 'Unix time of the last successful reconcile',
    registers: [this.registry],
  })
  readonly syncs = new Counter({ name: 'netkube_overlay_syncs_total', help: 'Reconcile passes', registers: [this.registry] })
  readonly changes = new Counter({ name: 'netkube_overlay_kernel_changes_total', help: 'Kernel entries written or removed', registers: [this.registry] })
  readonly resyncs = new Counter({ name: 'netkube_overlay_watch_resyncs_total', help: 'Full lease re-lists after a cancelled watch', registers: [this.registry] })
}
