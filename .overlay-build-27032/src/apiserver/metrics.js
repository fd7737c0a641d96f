// Prometheus metrics of the apiserver, named as kube-apiserver names them so dashboards
// and habits carry over. Own registry: several servers can live in one test process.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
export function createMetrics() {
    const registry = new Registry();
    return {
        registry,
        requests: new Counter({
            name: 'apiserver_request_total',
            help: 'Requests by verb, resource and HTTP code.',
            labelNames: ['verb', 'resource', 'code'],
            registers: [registry],
        }),
        latency: new Histogram({
            name: 'apiserver_request_duration_seconds',
            help: 'Request latency by verb and resource (watches excluded).',
            labelNames: ['verb', 'resource'],
            buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
            registers: [registry],
        }),
        watchers: new Gauge({
            name: 'apiserver_longrunning_requests',
            help: 'Open watch streams by resource.',
            labelNames: ['resource'],
            registers: [registry],
        }),
    };
}
