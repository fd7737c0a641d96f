import { findResource } from '../api/resources.js';
import { createInformer } from '../client/informer.js';
import { NftExec } from '../net/nft.js';
import { logger } from '../util/log.js';
import { IptablesBackend, IptablesExec } from './iptables.js';
import { IpvsBackend, RecordingIpvsRunner } from './ipvs.js';
import { ProxyMetrics, serveHealth } from './metrics.js';
import { NftBackend } from './nft-backend.js';
import { ensureNodePrerequisites } from './node.js';
import { Proxier } from './proxier.js';
export function makeBackend(opts) {
    switch (opts.mode) {
        case 'nftables':
            return new NftBackend(opts.nft ?? new NftExec(opts.netns), { clusterCIDR: opts.clusterCIDR });
        case 'iptables':
            return new IptablesBackend(new IptablesExec(opts.netns), { clusterCIDR: opts.clusterCIDR });
        case 'ipvs':
            // No IPVS in this kernel: the rules are rendered and recorded, not applied.
            return new IpvsBackend(new RecordingIpvsRunner(), { clusterCIDR: opts.clusterCIDR, nodeIPs: opts.nodeIPs });
    }
}
function resource(group, version, plural) {
    const r = findResource(group, version, plural);
    if (!r)
        throw new Error(`proxy: resource ${group}/${version}/${plural} not in the catalogue`);
    return r;
}
function handler(fn) {
    return { onAdd: (o) => fn(undefined, o), onUpdate: (a, b) => fn(a, b), onDelete: (o) => fn(o, undefined) };
}
export async function startProxy(opts) {
    const log = logger('proxy');
    if (!opts.skipNodeSetup)
        await ensureNodePrerequisites(opts.netns, opts.serviceCIDR, opts.clusterCIDR, opts.serviceRouteDev);
    else if (!opts.netns)
        (await import('./node.js')).assertNotRootNetns(undefined);
    const metrics = new ProxyMetrics();
    const proxier = new Proxier({
        backend: makeBackend(opts),
        node: { name: opts.nodeName, ips: [...opts.nodeIPs], clusterCIDR: opts.clusterCIDR, serviceCIDR: opts.serviceCIDR },
        metrics,
        minSyncMs: opts.minSyncMs,
        fullSyncMs: opts.fullSyncMs,
        log,
    });
    const services = createInformer(opts.client.resource(resource('', 'v1', 'services')), { name: 'proxy-services' });
    const slices = createInformer(opts.client.resource(resource('discovery.k8s.io', 'v1', 'endpointslices')), {
        name: 'proxy-endpointslices',
    });
    const nodes = createInformer(opts.client.resource(resource('', 'v1', 'nodes')), {
        name: 'proxy-nodes',
        fieldSelector: `metadata.name=${opts.nodeName}`,
    });
    services.addEventHandler(handler((a, b) => proxier.onService(a, b)));
    slices.addEventHandler(handler((a, b) => proxier.onEndpointSlice(a, b)));
    nodes.addEventHandler(handler((_a, b) => {
        if (b && b.metadata.name === opts.nodeName)
            proxier.onNode(b);
    }));
    const informers = [services, slices, nodes];
    await Promise.all(informers.map((i) => i.start()));
    // Only now may the kernel be written: an empty cache would mean "no endpoints anywhere".
    const first = proxier.nextSync();
    proxier.setSynced();
    let server;
    let healthPort;
    if (opts.healthPort !== undefined) {
        server = await serveHealth(opts.healthPort, opts.healthHost ?? '127.0.0.1', metrics, proxier.healthSource(), Math.max(60_000, 2 * (opts.minSyncMs ?? 1000)));
        const addr = server.address();
        healthPort = typeof addr === 'object' && addr ? addr.port : undefined;
    }
    await first;
    log.info({ node: opts.nodeName, mode: opts.mode, netns: opts.netns, result: proxier.lastResult }, 'proxy running');
    return {
        proxier,
        metrics,
        healthPort,
        async stop() {
            for (const i of informers)
                i.stop();
            await proxier.stop();
            if (server)
                await new Promise((r) => server.close(() => r()));
        },
    };
}
export { Proxier } from './proxier.js';
export { buildServicePorts } from './serviceport.js';
