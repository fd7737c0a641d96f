// NetworkPolicy agent metrics, in a registry of its own (several agents share a test process).
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

export class NetpolMetrics {
  readonly registry = new Registry()
  readonly syncDuration = new Histogram({
    name: 'netkube_netpol_sync_duration_seconds',
    help: 'Time to compute and apply one sync (one kernel transaction)',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  })
  readonly programmingLatency = new Histogram({
    name: 'netkube_netpol_programming_latency_seconds',
    help: 'From a Pod, Namespace or NetworkPolicy change arriving (informer event) to the kernel holding its elements',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  })
  readonly elements = new Gauge({ name: 'netkube_netpol_set_elements', help: 'Set elements programmed', registers: [this.registry] })
  readonly policies = new Gauge({ name: 'netkube_netpol_policies', help: 'NetworkPolicies known', registers: [this.registry] })
  readonly failures = new Counter({ name: 'netkube_netpol_sync_failures_total', help: 'Failed syncs', registers: [this.registry] })
}
