import { LABEL_SERVICE_NAME } from '../api/types.js';
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js';
import { mapSelectorMatches, objectKey } from './apiutil.js';
import { QueueController, splitKey } from './base.js';
import { desiredEndpoints, endpointsEqual, reconcileSlices } from './endpoints-core.js';
import { BY_NAMESPACE, R } from './informers.js';
/** Wire Service and pod events to a queue of service keys (shared by both controllers). */
function watchServicesAndPods(c, f) {
    const services = f.get(R.services);
    const pods = f.get(R.pods);
    services.addEventHandler({
        onAdd: (s) => c.enqueue(objectKey(s)),
        onUpdate: (_o, s) => c.enqueue(objectKey(s)),
        onDelete: (s) => c.enqueue(objectKey(s)),
    });
    const forPod = (p) => {
        for (const s of services.store.byIndex(BY_NAMESPACE, p.metadata.namespace ?? '')) {
            if (mapSelectorMatches(s.spec.selector, p.metadata.labels))
                c.enqueue(objectKey(s));
        }
    };
    pods.addEventHandler({ onAdd: forPod, onUpdate: (o, n) => (forPod(o), forPod(n)), onDelete: forPod });
    return { services, pods };
}
export class EndpointsController extends QueueController {
    client;
    services;
    pods;
    eps;
    constructor(client, f, metrics) {
        super('endpoints', metrics);
        this.client = client;
        ({ services: this.services, pods: this.pods } = watchServicesAndPods(this, f));
        this.eps = f.get(R.endpoints);
        // Someone changed or deleted an Endpoints object: put it back as it should be.
        this.eps.addEventHandler({ onUpdate: (_o, e) => this.enqueue(objectKey(e)), onDelete: (e) => this.enqueue(objectKey(e)) });
    }
    async sync(key) {
        const { namespace, name } = splitKey(key);
        const api = this.client.resource(R.endpoints, namespace);
        const svc = this.services.store.get(key);
        const cur = this.eps.store.get(key);
        if (!svc) {
            if (cur)
                await api.delete(name).catch((e) => { if (!isNotFound(e))
                    throw e; });
            return;
        }
        const want = desiredEndpoints(svc, this.pods.store.byIndex(BY_NAMESPACE, namespace));
        if (!want)
            return; // no selector: Endpoints are the user's
        if (!cur) {
            try {
                await api.create(want);
            }
            catch (err) {
                if (!isAlreadyExists(err))
                    throw err;
                this.queue.addAfter(key, 100);
            }
            return;
        }
        if (endpointsEqual(cur, want))
            return;
        const next = { ...cur, metadata: { ...cur.metadata, labels: want.metadata.labels } };
        if (want.subsets)
            next.subsets = want.subsets;
        else
            delete next.subsets;
        try {
            await api.update(next);
        }
        catch (err) {
            if (!isConflict(err) && !isNotFound(err))
                throw err;
            this.queue.addAfter(key, 50);
        }
    }
}
export class EndpointSliceController extends QueueController {
    client;
    services;
    pods;
    slices;
    /** Slices created/deleted but not yet seen by the informer: wait before acting again. */
    pending = new Map();
    constructor(client, f, metrics) {
        super('endpointslice', metrics);
        this.client = client;
        f.addIndexers(R.endpointslices, {
            service: (s) => (s.metadata.labels?.[LABEL_SERVICE_NAME] ? [`${s.metadata.namespace}/${s.metadata.labels[LABEL_SERVICE_NAME]}`] : []),
        });
        ({ services: this.services, pods: this.pods } = watchServicesAndPods(this, f));
        this.slices = f.get(R.endpointslices);
        const forSlice = (s) => {
            const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
            if (svc)
                this.enqueue(`${s.metadata.namespace}/${svc}`);
        };
        this.slices.addEventHandler({ onAdd: forSlice, onUpdate: (_o, s) => forSlice(s), onDelete: forSlice });
    }
    async sync(key) {
        const { namespace } = splitKey(key);
        const existing = this.slices.store.byIndex('service', key);
        const p = this.pending.get(key);
        if (p) {
            const names = new Set(existing.map((s) => s.metadata.name));
            const settled = [...p.created].every((n) => names.has(n)) && [...p.deleted].every((n) => !names.has(n));
            if (!settled && Date.now() - p.at < 30_000) {
                this.queue.addAfter(key, 100);
                return;
            }
            this.pending.delete(key);
        }
        const svc = this.services.store.get(key);
        const api = this.client.resource(R.endpointslices, namespace);
        const actions = svc
            ? reconcileSlices(svc, this.pods.store.byIndex(BY_NAMESPACE, namespace), existing)
            : existing.map((s) => ({ kind: 'delete', name: s.metadata.name }));
        const pend = { created: new Set(), deleted: new Set(), at: Date.now() };
        for (const a of actions) {
            try {
                if (a.kind === 'create')
                    pend.created.add((await api.create(a.slice)).metadata.name);
                else if (a.kind === 'update')
                    await api.update(a.slice);
                else {
                    await api.delete(a.name);
                    pend.deleted.add(a.name);
                }
            }
            catch (err) {
                if (isNotFound(err) || isConflict(err)) {
                    this.queue.addAfter(key, 50);
                    continue;
                }
                throw err;
            }
        }
        if (pend.created.size || pend.deleted.size)
            this.pending.set(key, pend);
    }
}
