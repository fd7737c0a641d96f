// Shared bits of the `controller-manager` and `scheduler` commands: durations, a /metrics
// endpoint, running until SIGINT/SIGTERM.
import { createServer } from 'node:http';
import { logger } from '../util/log.js';
/** "40s", "5m", "250ms", "1h" or plain seconds → milliseconds. */
export function parseDurationMs(s) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
    if (!m)
        throw new Error(`invalid duration ${JSON.stringify(s)} (use e.g. 40s, 5m, 500ms)`);
    const n = Number(m[1]);
    const unit = m[2] ?? 's';
    return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]);
}
/** Serve a registry on 127.0.0.1:port/metrics (and /healthz); returns a closer. */
export function serveMetrics(registry, port, host = '127.0.0.1') {
    const srv = createServer((req, res) => {
        if (req.url === '/healthz')
            return void res.end('ok');
        if (req.url !== '/metrics') {
            res.statusCode = 404;
            return void res.end();
        }
        registry.metrics().then((body) => {
            res.setHeader('content-type', registry.contentType);
            res.end(body);
        }, (err) => {
            res.statusCode = 500;
            res.end(err.message);
        });
    });
    srv.listen(port, host);
    return () => new Promise((r) => srv.close(() => r()));
}
/** Resolves on the first SIGINT/SIGTERM. */
export function untilSignal(component) {
    return new Promise((resolve) => {
        const on = (sig) => {
            logger(component).info({ sig }, 'stopping');
            process.off('SIGINT', on);
            process.off('SIGTERM', on);
            resolve();
        };
        process.on('SIGINT', on);
        process.on('SIGTERM', on);
    });
}
