// Prometheus metrics and health for the overlay agent, on its own Registry so that several
// agents (or an agent inside the node agent) never collide on metric names.
import { createServer } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
export class OverlayMetrics {
    registry = new Registry();
    leasesKnown = new Gauge({ name: 'netkube_overlay_leases_known', help: 'Subnet leases currently known (own included)', registers: [this.registry] });
    programmingErrors = new Counter({
        name: 'netkube_overlay_programming_errors_total',
        help: 'Kernel writes (route, neighbour, FDB, device, nftables) that failed',
        registers: [this.registry],
    });
    lastSync = new Gauge({
        name: 'netkube_overlay_last_sync_timestamp_seconds',
        help: 'Unix time of the last successful reconcile',
        registers: [this.registry],
    });
    syncs = new Counter({ name: 'netkube_overlay_syncs_total', help: 'Reconcile passes', registers: [this.registry] });
    changes = new Counter({ name: 'netkube_overlay_kernel_changes_total', help: 'Kernel entries written or removed', registers: [this.registry] });
    resyncs = new Counter({ name: 'netkube_overlay_watch_resyncs_total', help: 'Full lease re-lists after a cancelled watch', registers: [this.registry] });
}
/** GET /metrics and /healthz on `port` (127.0.0.1 unless `host`). */
export function serveMetrics(m, port, healthy, host = '127.0.0.1') {
    const srv = createServer((req, res) => {
        if (req.url === '/metrics') {
            m.registry
                .metrics()
                .then((text) => {
                res.writeHead(200, { 'content-type': m.registry.contentType });
                res.end(text);
            })
                .catch((err) => {
                res.writeHead(500);
                res.end(err.message);
            });
            return;
        }
        if (req.url === '/healthz') {
            const problem = healthy();
            res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' });
            res.end(problem ? `unhealthy: ${problem}\n` : 'ok\n');
            return;
        }
        res.writeHead(404);
        res.end();
    });
    return new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, host, () => resolve(srv));
    });
}
