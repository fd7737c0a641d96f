import { logger } from '../util/log.js';
import { DeploymentController } from './deployment.js';
import { EndpointSliceController, EndpointsController } from './endpoints.js';
import { GarbageCollector } from './gc.js';
import { InformerFactory } from './informers.js';
import { ControllerMetrics } from './metrics.js';
import { NodeLifecycleController } from './nodelifecycle.js';
import { ReplicaSetController } from './replicaset.js';
export async function startControllerManager(opts) {
    const log = logger('controller-manager');
    const f = new InformerFactory(opts.client);
    const metrics = new ControllerMetrics();
    const workers = opts.workers ?? 2;
    // Construct everything first: indexers must be registered before informers exist.
    const nodeLifecycle = new NodeLifecycleController(opts.client, f, metrics, {
        gracePeriodMs: opts.nodeMonitorGracePeriodMs ?? 40_000,
        podEvictionTimeoutMs: opts.podEvictionTimeoutMs ?? 300_000,
        monitorPeriodMs: opts.nodeMonitorPeriodMs ?? 1000,
    });
    const queued = [
        new ReplicaSetController(opts.client, f, metrics),
        new DeploymentController(opts.client, f, metrics),
        new EndpointsController(opts.client, f, metrics),
        new EndpointSliceController(opts.client, f, metrics),
    ];
    const gc = new GarbageCollector(opts.client, f, metrics);
    await f.start();
    for (const c of queued)
        c.run(workers);
    nodeLifecycle.run();
    gc.run();
    log.info({ controllers: [...queued.map((c) => c.name), 'nodelifecycle', 'garbagecollector'] }, 'controllers started');
    let stopping;
    return {
        metrics: metrics.registry,
        stop: () => (stopping ??= (async () => {
            await Promise.all([...queued.map((c) => c.stop()), nodeLifecycle.stop(), gc.stop()]);
            await f.stop();
        })()),
    };
}
