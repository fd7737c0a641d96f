import { findResource } from '../api/resources.js';
import { createInformer } from '../client/informer.js';
import { logger } from '../util/log.js';
import { DnsModel } from './model.js';
const log = logger('dns-feed');
export function startDnsModelFromClient(client, model = new DnsModel()) {
    const services = createInformer(client.resource(findResource('', 'v1', 'services')), { name: 'dns-services' });
    const slices = createInformer(client.resource(findResource('discovery.k8s.io', 'v1', 'endpointslices')), { name: 'dns-endpointslices' });
    services.addEventHandler({
        onAdd: (s) => model.upsertService(s),
        onUpdate: (_o, s) => model.upsertService(s),
        onDelete: (s) => model.deleteService(s.metadata.namespace ?? 'default', s.metadata.name ?? ''),
    });
    slices.addEventHandler({
        onAdd: (s) => model.upsertEndpointSlice(s),
        onUpdate: (o, s) => {
            // A slice re-labelled to another service must leave the old one.
            if (o.metadata.labels?.['kubernetes.io/service-name'] !== s.metadata.labels?.['kubernetes.io/service-name'])
                model.deleteEndpointSlice(o);
            model.upsertEndpointSlice(s);
        },
        onDelete: (s) => model.deleteEndpointSlice(s),
    });
    const synced = Promise.all([services.start(), slices.start()]).then(() => {
        // start() also resolves when stopped before the first list: check.
        if (!services.hasSynced() || !slices.hasSynced())
            return;
        model.setSynced(true);
        log.info({ services: services.store.keys().length, endpointslices: slices.store.keys().length }, 'dns model synced');
    });
    synced.catch((err) => log.error({ err: String(err) }, 'dns informers failed to start'));
    return {
        model,
        synced,
        stop() {
            services.stop();
            slices.stop();
        },
    };
}
