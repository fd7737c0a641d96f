// The kubelet's HTTP endpoint: container logs (the apiserver proxies `kubectl logs` here),
// /healthz and /metrics.
import Fastify from 'fastify';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
export async function startKubeletServer(o) {
    const app = Fastify({ logger: false });
    app.get('/healthz', async () => 'ok');
    app.get('/metrics', async (_req, reply) => {
        reply.header('content-type', o.registry.contentType);
        return o.registry.metrics();
    });
    app.get('/containerLogs/:ns/:pod/:container?', async (req, reply) => {
        const { ns, pod, container } = req.params;
        const path = o.logPath(ns, pod, container, req.query.previous === 'true');
        if (!path || !existsSync(path)) {
            reply.code(404);
            return `no logs for ${ns}/${pod}${container ? `/${container}` : ''}\n`;
        }
        reply.header('content-type', 'text/plain');
        const tail = req.query.tailLines !== undefined ? Number(req.query.tailLines) : undefined;
        if (tail === undefined)
            return reply.send(createReadStream(path));
        const lines = readFileSync(path, 'utf8').split('\n');
        if (lines.at(-1) === '')
            lines.pop();
        return lines.slice(Math.max(0, lines.length - tail)).join('\n') + (lines.length ? '\n' : '');
    });
    await app.listen({ host: o.host, port: o.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : o.port;
    return { port, close: () => app.close() };
}
