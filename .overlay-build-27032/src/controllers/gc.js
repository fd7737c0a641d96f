import { RESOURCES, findResourceByKind, groupVersion } from '../api/resources.js';
import { isConflict, isNotFound } from '../client/errors.js';
import { logger } from '../util/log.js';
import { collectGarbage, refOf } from './gc-core.js';
export class GarbageCollector {
    client;
    f;
    metrics;
    opts;
    log = logger('controller.gc');
    timer;
    periodic;
    running = Promise.resolve();
    stopped = false;
    known = new Set(RESOURCES.map((r) => `${groupVersion(r)}/${r.kind}`));
    constructor(client, f, metrics, opts = {}) {
        this.client = client;
        this.f = f;
        this.metrics = metrics;
        this.opts = opts;
        for (const r of RESOURCES) {
            f.get(r).addEventHandler({ onAdd: () => this.kick(), onUpdate: () => this.kick(), onDelete: () => this.kick() });
        }
    }
    run() {
        this.periodic = setInterval(() => this.kick(), this.opts.periodMs ?? 10_000);
        this.kick();
    }
    async stop() {
        this.stopped = true;
        if (this.timer)
            clearTimeout(this.timer);
        if (this.periodic)
            clearInterval(this.periodic);
        await this.running;
    }
    kick() {
        if (this.stopped || this.timer)
            return;
        this.timer = setTimeout(() => {
            this.timer = undefined;
            this.running = this.running.then(() => this.pass()).catch((err) => {
                this.metrics.reconcileErrors.inc({ controller: 'garbagecollector' });
                this.log.warn({ err: err.message }, 'gc pass failed');
                this.kick();
            });
        }, this.opts.debounceMs ?? 100);
    }
    async pass() {
        if (this.stopped)
            return;
        const end = this.metrics.reconcileDuration.startTimer({ controller: 'garbagecollector' });
        this.metrics.reconciles.inc({ controller: 'garbagecollector' });
        const nodes = [];
        for (const r of RESOURCES) {
            const inf = this.f.get(r);
            if (!inf.hasSynced()) {
                end();
                return;
            }
            for (const o of inf.store.list())
                nodes.push({ ref: refOf(groupVersion(r), r.kind, o), obj: o });
        }
        const actions = collectGarbage(nodes, this.known);
        let failed = false;
        for (const a of actions) {
            try {
                await this.apply(a);
            }
            catch (err) {
                if (isNotFound(err))
                    continue;
                failed = true;
                if (!isConflict(err))
                    this.log.warn({ err: err.message, action: a.kind, obj: a.ref.name }, 'gc action failed');
            }
        }
        end();
        if (failed)
            setTimeout(() => this.kick(), 500).unref();
    }
    api(ref) {
        const r = findResourceByKind(ref.apiVersion, ref.kind);
        if (!r)
            throw new Error(`unknown kind ${ref.apiVersion}/${ref.kind}`);
        return this.client.resource(r, r.namespaced ? ref.namespace : undefined);
    }
    /** True when no owner in `owners` exists live with the referenced uid. */
    async allAbsent(dep, owners) {
        for (const o of owners) {
            try {
                const live = await this.api({ apiVersion: o.apiVersion, kind: o.kind, namespace: dep.namespace }).get(o.name);
                if (live.metadata.uid === o.uid)
                    return false;
            }
            catch (err) {
                if (!isNotFound(err))
                    throw err;
            }
        }
        return true;
    }
    async apply(a) {
        switch (a.kind) {
            case 'delete':
                if (a.absentOwners.length && !(await this.allAbsent(a.ref, a.absentOwners)))
                    return;
                this.log.info({ obj: `${a.ref.kind} ${a.ref.namespace ?? ''}/${a.ref.name}`, propagation: a.propagation }, 'deleting dependent');
                await this.api(a.ref).delete(a.ref.name, { propagationPolicy: a.propagation, preconditions: { uid: a.ref.uid } });
                return;
            case 'removeOwnerRefs': {
                if (a.absentOwners.length && !(await this.allAbsent(a.ref, a.absentOwners)))
                    return;
                const api = this.api(a.ref);
                const live = await api.get(a.ref.name);
                if (live.metadata.uid !== a.ref.uid)
                    return;
                const refs = (live.metadata.ownerReferences ?? []).filter((r) => !a.uids.includes(r.uid));
                await api.patch(a.ref.name, { metadata: { uid: a.ref.uid, resourceVersion: live.metadata.resourceVersion, ownerReferences: refs.length ? refs : null } }, 'merge');
                return;
            }
            case 'removeFinalizer': {
                const api = this.api(a.ref);
                const live = await api.get(a.ref.name);
                if (live.metadata.uid !== a.ref.uid || !live.metadata.finalizers?.includes(a.finalizer))
                    return;
                const fins = live.metadata.finalizers.filter((x) => x !== a.finalizer);
                await api.patch(a.ref.name, { metadata: { uid: a.ref.uid, resourceVersion: live.metadata.resourceVersion, finalizers: fins.length ? fins : null } }, 'merge');
                return;
            }
        }
    }
}
