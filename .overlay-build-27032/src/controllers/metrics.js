// Prometheus metrics of the controller manager (its own Registry so several managers can live
// in one process, e.g. in tests, without duplicate-registration errors).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
export class ControllerMetrics {
    registry = new Registry();
    queueDepth = new Gauge({ name: 'netkube_controller_queue_depth', help: 'Keys waiting in a controller work queue', labelNames: ['controller'], registers: [this.registry] });
    reconcileDuration = new Histogram({
        name: 'netkube_controller_reconcile_duration_seconds',
        help: 'Time to reconcile one key',
        labelNames: ['controller'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [this.registry],
    });
    reconcileErrors = new Counter({ name: 'netkube_controller_reconcile_errors_total', help: 'Reconciles that failed and were requeued', labelNames: ['controller'], registers: [this.registry] });
    reconciles = new Counter({ name: 'netkube_controller_reconciles_total', help: 'Reconciles run', labelNames: ['controller'], registers: [this.registry] });
}
