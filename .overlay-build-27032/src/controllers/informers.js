import { findResource } from '../api/resources.js';
import { createInformer } from '../client/informer.js';
export class InformerFactory {
    client;
    informers = new Map();
    indexers = new Map();
    constructor(client) {
        this.client = client;
    }
    /** Register indexers before the first get() of a resource. */
    addIndexers(r, idx) {
        const k = key(r);
        if (this.informers.has(k))
            throw new Error(`indexers for ${k} registered after its informer was created`);
        this.indexers.set(k, { ...(this.indexers.get(k) ?? {}), ...idx });
    }
    get(r) {
        const k = key(r);
        let inf = this.informers.get(k);
        if (!inf) {
            inf = createInformer(this.client.resource(r), { name: k, indexers: this.indexers.get(k) ?? {} });
            this.informers.set(k, inf);
        }
        return inf;
    }
    all() {
        return [...this.informers.values()];
    }
    async start() {
        await Promise.all(this.all().map((i) => i.start()));
    }
    async stop() {
        for (const i of this.all())
            i.stop();
        await Promise.all(this.all().map((i) => i.waitStopped()));
    }
}
function key(r) {
    return `${r.group}/${r.version}/${r.plural}`;
}
function must(group, version, plural) {
    const r = findResource(group, version, plural);
    if (!r)
        throw new Error(`resource ${group}/${version}/${plural} missing from the catalogue`);
    return r;
}
export const R = {
    pods: must('', 'v1', 'pods'),
    nodes: must('', 'v1', 'nodes'),
    services: must('', 'v1', 'services'),
    endpoints: must('', 'v1', 'endpoints'),
    replicasets: must('apps', 'v1', 'replicasets'),
    deployments: must('apps', 'v1', 'deployments'),
    endpointslices: must('discovery.k8s.io', 'v1', 'endpointslices'),
    leases: must('coordination.k8s.io', 'v1', 'leases'),
};
export const BY_NAMESPACE = 'namespace';
