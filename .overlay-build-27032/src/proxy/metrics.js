// kube-proxy's metrics under netkube names, in a registry of the proxy's own (several proxies
// can live in one test process). Served on /metrics next to /healthz when a port is given.
import { createServer } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
export class ProxyMetrics {
    registry = new Registry();
    syncDuration = new Histogram({
        name: 'netkube_proxy_sync_proxy_rules_duration_seconds',
        help: 'Time to compute and apply one sync (one kernel transaction)',
        labelNames: ['mode', 'kind'],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
        registers: [this.registry],
    });
    programmingLatency = new Histogram({
        name: 'netkube_proxy_network_programming_duration_seconds',
        help: 'From an endpoint change (trigger time) to its rules being in the kernel',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
        registers: [this.registry],
    });
    rules = new Gauge({ name: 'netkube_proxy_sync_proxy_rules_rules_total', help: 'Rules programmed', registers: [this.registry] });
    chains = new Gauge({ name: 'netkube_proxy_sync_proxy_rules_chains_total', help: 'Chains programmed', registers: [this.registry] });
    lastSync = new Gauge({
        name: 'netkube_proxy_sync_proxy_rules_last_timestamp_seconds',
        help: 'When the last successful sync finished',
        registers: [this.registry],
    });
    failures = new Counter({ name: 'netkube_proxy_sync_failures_total', help: 'Failed syncs', registers: [this.registry] });
}
/**
 * /healthz as upstream: healthy once a sync happened and no change has been waiting for longer
 * than `staleMs` (a stuck proxy is unhealthy, an idle one is not).
 */
export function serveHealth(port, host, metrics, h, staleMs) {
    const server = createServer((req, res) => {
        if (req.url === '/metrics') {
            void metrics.registry.metrics().then((text) => {
                res.writeHead(200, { 'content-type': metrics.registry.contentType });
                res.end(text);
            });
            return;
        }
        if (req.url === '/healthz' || req.url === '/livez') {
            const now = Date.now();
            const last = h.lastSyncedAt();
            const pending = h.oldestPendingAt();
            const ok = last > 0 && (pending === 0 || now - pending < staleMs);
            res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ lastUpdated: last ? new Date(last).toISOString() : null, currentTime: new Date(now).toISOString() }));
            return;
        }
        res.writeHead(404).end();
    });
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server));
    });
}
