import { etcdKey, etcdListPrefix, findResource, groupVersion, RESOURCES } from '../api/resources.js';
import { applyDefaults } from '../api/defaults.js';
import { validateCreate, validateStatusUpdate, validateUpdate } from '../api/validation.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from '../api/patch.js';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, selectableFields, SelectorError, unsupportedFields } from '../api/selectors.js';
import { StorageError } from '../storage/store.js';
import { AllocationError, allocationKeys } from './allocator.js';
import * as E from './errors.js';
import { generateName, nowRfc3339, prepareForCreate, prepareForStatusUpdate, prepareForUpdate } from './strategy.js';
import { logger } from '../util/log.js';
const log = logger('registry');
export const gr = (r) => ({ group: r.group, resource: r.plural });
/** Namespaces that exist from the start and may not be deleted. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const UNDELETABLE_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);
/** Resources for which PUT on a missing object creates it (kube's AllowCreateOnUpdate). */
const CREATE_ON_UPDATE = new Set(['endpoints', 'leases']);
const NAMESPACES = findResource('', 'v1', 'namespaces');
function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
}
export class Registry {
    store;
    alloc;
    constructor(store, alloc) {
        this.store = store;
        this.alloc = alloc;
    }
    key(r, ns, name) {
        return etcdKey(r, ns, name);
    }
    compileFilter(r, q) {
        try {
            const labels = parseLabelSelector(q.labelSelector ?? '');
            const fields = parseFieldSelector(q.fieldSelector ?? '');
            const bad = unsupportedFields(r, fields);
            if (bad.length)
                throw E.badRequest(`field label not supported: ${bad[0]}`);
            return { labels, fields };
        }
        catch (err) {
            if (err instanceof SelectorError)
                throw E.badRequest(err.message);
            throw err;
        }
    }
    matches(r, f, obj) {
        if (f.labels.length && !matchesLabels(f.labels, obj.metadata.labels))
            return false;
        if (f.fields.length && !matchesFields(f.fields, selectableFields(r, obj)))
            return false;
        return true;
    }
    withType(r, obj) {
        // apiVersion/kind first, as Kubernetes serialises them.
        const { apiVersion: _a, kind: _k, ...rest } = obj;
        return { apiVersion: groupVersion(r), kind: r.kind, ...rest };
    }
    async get(r, ns, name) {
        const obj = await this.store.get(this.key(r, ns, name));
        if (!obj)
            throw E.notFound(gr(r), name);
        return this.withType(r, obj);
    }
    async list(r, ns, q) {
        const filter = this.compileFilter(r, q);
        const prefix = etcdListPrefix(r, ns);
        const limit = q.limit && q.limit > 0 ? q.limit : 0;
        const items = [];
        let cont = q.continue;
        let revision = 0;
        let remaining;
        for (;;) {
            let page;
            try {
                const want = limit ? limit - items.length : 0;
                page = await this.store.list(prefix, { limit: want, ...(cont ? { continue: cont } : {}), ...(revision ? { revision } : {}) });
            }
            catch (err) {
                if (err instanceof StorageError && err.code === 'InvalidContinue')
                    throw E.badRequest(`continue key is not valid: ${err.message}`);
                if (err instanceof StorageError && err.code === 'Compacted')
                    throw E.expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
                throw err;
            }
            revision = page.revision;
            for (const o of page.items)
                if (this.matches(r, filter, o))
                    items.push(this.withType(r, o));
            cont = page.continue;
            remaining = page.remaining;
            if (!cont || !limit || items.length >= limit)
                break;
        }
        const meta = { resourceVersion: String(revision) };
        if (cont) {
            meta.continue = cont;
            if (remaining !== undefined && !filter.labels.length && !filter.fields.length)
                meta.remainingItemCount = remaining;
        }
        return { apiVersion: groupVersion(r), kind: r.listKind, metadata: meta, items };
    }
    /** Checks apiVersion/kind of a request body against the resource the URL names. */
    checkBody(r, body, expectKind = r.kind, expectVersion = groupVersion(r)) {
        if (!isObject(body))
            throw E.badRequest(`the object provided is unrecognized (must be of type ${expectKind})`);
        const obj = body;
        if (obj.apiVersion !== undefined && obj.apiVersion !== expectVersion)
            throw E.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expectVersion})`);
        if (obj.kind !== undefined && obj.kind !== expectKind)
            throw E.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${expectKind})`);
        if (obj.metadata === undefined)
            obj.metadata = {};
        if (!isObject(obj.metadata))
            throw E.badRequest('metadata: must be an object');
        obj.apiVersion = expectVersion;
        obj.kind = expectKind;
        return obj;
    }
    checkNamespace(r, obj, ns) {
        if (!r.namespaced)
            return;
        if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns)
            throw E.badRequest('the namespace of the provided object does not match the namespace sent on the request');
        obj.metadata.namespace = ns;
    }
    async requireNamespace(r, ns, name) {
        if (!r.namespaced || !ns)
            return;
        const nsObj = await this.store.get(this.key(NAMESPACES, undefined, ns));
        if (!nsObj)
            throw E.notFound(gr(NAMESPACES), ns);
        if (nsObj.metadata.deletionTimestamp)
            throw E.forbidden(gr(r), name, `unable to create new content in namespace ${ns} because it is being terminated`);
    }
    invalid(r, obj, errs) {
        return E.invalid(r.kind, r.group, obj.metadata.name ?? '', errs);
    }
    async create(r, ns, body, opts = {}) {
        const obj = this.checkBody(r, body);
        this.checkNamespace(r, obj, ns);
        const generated = !obj.metadata.name && !!obj.metadata.generateName;
        for (let attempt = 0;; attempt++) {
            const o = structuredClone(obj);
            if (generated)
                o.metadata.name = generateName(o.metadata.generateName);
            await this.requireNamespace(r, ns, o.metadata.name ?? '');
            prepareForCreate(r, o, new Date());
            // `system` writes (the apiserver's own endpoints on loopback) skip validation.
            const errs = guard(r, () => {
                applyDefaults(r, o);
                return opts.system ? [] : validateCreate(r, o);
            });
            if (errs.length)
                throw this.invalid(r, o, errs);
            let side;
            try {
                if (r.kind === 'Service')
                    side = await this.alloc.allocate(o);
            }
            catch (err) {
                if (err instanceof AllocationError)
                    throw this.invalid(r, o, err.errs);
                throw err;
            }
            if (opts.dryRun)
                return this.withType(r, o);
            try {
                const out = await this.store.create(this.key(r, ns, o.metadata.name), o, side);
                return this.withType(r, out);
            }
            catch (err) {
                if (err instanceof StorageError && err.code === 'AlreadyExists') {
                    if (generated && attempt < 8)
                        continue;
                    throw E.alreadyExists(gr(r), o.metadata.name);
                }
                // A concurrent create took an address we picked: pick again.
                if (err instanceof StorageError && err.code === 'Conflict' && attempt < 16)
                    continue;
                throw err;
            }
        }
    }
    /**
     * PUT. `sub` is 'status' for the status subresource. A body without resourceVersion is an
     * unconditional update (retried over concurrent writers); with one, a stale value is 409.
     */
    async update(r, ns, name, body, opts = {}) {
        const obj = this.checkBody(r, body);
        this.checkNamespace(r, obj, ns);
        if (obj.metadata.name !== undefined && obj.metadata.name !== name)
            throw E.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
        obj.metadata.name = name;
        const key = this.key(r, ns, name);
        const wantRv = obj.metadata.resourceVersion;
        for (let attempt = 0;; attempt++) {
            const cur = await this.store.get(key);
            if (!cur) {
                if (CREATE_ON_UPDATE.has(r.plural) && !opts.sub)
                    return this.create(r, ns, obj, opts);
                throw E.notFound(gr(r), name);
            }
            const curRv = cur.metadata.resourceVersion;
            if (wantRv && wantRv !== curRv)
                throw E.conflict(gr(r), name, E.STALE_OBJECT);
            let next;
            if (opts.sub === 'status') {
                next = prepareForStatusUpdate(obj, cur);
                next.apiVersion = obj.apiVersion;
                next.kind = obj.kind;
                const errs = guard(r, () => validateStatusUpdate(r, next, cur));
                if (errs.length)
                    throw this.invalid(r, next, errs);
            }
            else {
                next = structuredClone(obj);
                prepareForUpdate(r, next, cur);
                const errs = guard(r, () => {
                    applyDefaults(r, next);
                    return opts.system ? [] : validateUpdate(r, next, cur);
                });
                if (errs.length)
                    throw this.invalid(r, next, errs);
            }
            let side;
            try {
                if (r.kind === 'Service' && !opts.sub)
                    side = await this.alloc.allocate(next, cur);
            }
            catch (err) {
                if (err instanceof AllocationError)
                    throw this.invalid(r, next, err.errs);
                throw err;
            }
            if (opts.dryRun)
                return this.withType(r, { ...next, metadata: { ...next.metadata, resourceVersion: curRv } });
            try {
                if (this.finalized(r, next)) {
                    const out = await this.store.delete(key, Number(curRv), { delete: allocationKeys(next) });
                    return this.withType(r, { ...next, metadata: { ...next.metadata, resourceVersion: out.metadata.resourceVersion } });
                }
                return this.withType(r, await this.store.update(key, next, Number(curRv), side));
            }
            catch (err) {
                if (err instanceof StorageError && (err.code === 'Conflict' || err.code === 'NotFound')) {
                    if (!wantRv && attempt < 16)
                        continue;
                    if (err.code === 'NotFound')
                        throw E.notFound(gr(r), name);
                    throw E.conflict(gr(r), name, E.STALE_OBJECT);
                }
                throw err;
            }
        }
    }
    /** An object being deleted whose last finalizer is gone (and, for pods, whose grace is over) is removed. */
    finalized(r, obj) {
        const m = obj.metadata;
        if (!m.deletionTimestamp || (m.finalizers?.length ?? 0) > 0)
            return false;
        if (r.kind === 'Namespace')
            return false; // the namespace loop removes it once it is empty
        if (r.kind === 'Pod' && (m.deletionGracePeriodSeconds ?? 0) > 0)
            return false;
        return true;
    }
    async patch(r, ns, name, kind, patch, opts = {}) {
        for (let attempt = 0;; attempt++) {
            const cur = await this.get(r, ns, name);
            let next;
            try {
                if (kind === 'merge')
                    next = applyMergePatch(structuredClone(cur), patch);
                else if (kind === 'strategic')
                    next = applyStrategicMergePatch(r, structuredClone(cur), patch);
                else
                    next = applyJsonPatch(structuredClone(cur), patch);
            }
            catch (err) {
                if (err instanceof PatchError)
                    throw E.invalidPatch(err.message);
                throw err;
            }
            if (!isObject(next))
                throw E.badRequest('the patch produced something that is not an object');
            const nextObj = next;
            // Without a resourceVersion in the patch, the patch applies to whatever is current:
            // pin the version we patched, and start over if someone wrote in between.
            const pinned = !isObject(nextObj.metadata) || nextObj.metadata.resourceVersion === cur.metadata.resourceVersion;
            const patchHasRv = isObject(patch) && isObject(patch.metadata) && patch.metadata.resourceVersion !== undefined;
            if (isObject(nextObj.metadata) && !patchHasRv)
                nextObj.metadata.resourceVersion = cur.metadata.resourceVersion;
            try {
                return await this.update(r, ns, name, nextObj, opts);
            }
            catch (err) {
                if (err instanceof E.ApiError && err.reason === 'Conflict' && pinned && !patchHasRv && attempt < 16)
                    continue;
                throw err;
            }
        }
    }
    async delete(r, ns, name, opts = {}) {
        const key = this.key(r, ns, name);
        for (let attempt = 0;; attempt++) {
            const cur = await this.store.get(key);
            if (!cur)
                throw E.notFound(gr(r), name);
            const pre = opts.preconditions;
            if (pre?.uid && pre.uid !== cur.metadata.uid)
                throw E.conflict(gr(r), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
            if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)
                throw E.conflict(gr(r), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
            const rev = Number(cur.metadata.resourceVersion);
            let next;
            if (r.kind === 'Namespace') {
                if (UNDELETABLE_NAMESPACES.has(name))
                    throw E.forbidden(gr(r), name, 'this namespace may not be deleted');
                next = structuredClone(cur);
                next.metadata.deletionTimestamp ??= nowRfc3339();
                next.status = { ...next.status, phase: 'Terminating' };
            }
            else {
                next = this.gracefulOrFinalizing(r, cur, opts);
            }
            if (opts.dryRun)
                return this.withType(r, next ?? cur);
            try {
                if (next) {
                    if (deepEqualMeta(next, cur))
                        return this.withType(r, cur);
                    const out = await this.store.update(key, next, rev);
                    if (r.kind === 'Namespace')
                        this.kickNamespaces();
                    return this.withType(r, out);
                }
                const out = await this.store.delete(key, rev, { delete: r.kind === 'Service' ? allocationKeys(cur) : [] });
                return this.withType(r, out);
            }
            catch (err) {
                if (err instanceof StorageError && err.code === 'Conflict' && attempt < 16)
                    continue;
                if (err instanceof StorageError && err.code === 'NotFound')
                    throw E.notFound(gr(r), name);
                throw err;
            }
        }
    }
    /**
     * The updated object when deletion must wait (finalizers, or a running pod's grace
     * period for the kubelet), undefined when the object can go now.
     */
    gracefulOrFinalizing(r, curIn, opts) {
        // Orphan and Foreground deletes hand the object to the garbage collector through a
        // finalizer (kube's `orphan` / `foregroundDeletion`); it removes the finalizer when done.
        const cur = structuredClone(curIn);
        const gcFinalizer = opts.propagationPolicy === 'Orphan' ? 'orphan' : opts.propagationPolicy === 'Foreground' ? 'foregroundDeletion' : undefined;
        if (gcFinalizer && !(cur.metadata.finalizers ?? []).includes(gcFinalizer)) {
            const other = gcFinalizer === 'orphan' ? 'foregroundDeletion' : 'orphan';
            cur.metadata.finalizers = [...(cur.metadata.finalizers ?? []).filter((f) => f !== other), gcFinalizer];
        }
        const m = cur.metadata;
        const hasFinalizers = (m.finalizers?.length ?? 0) > 0;
        if (r.kind === 'Pod') {
            const pod = cur;
            const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
            let grace = opts.gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
            // Unscheduled or finished pods have no kubelet to wait for (kube's CheckGracefulDelete).
            if (!pod.spec?.nodeName || terminal)
                grace = 0;
            if (grace > 0 || hasFinalizers) {
                const next = structuredClone(cur);
                const prevGrace = m.deletionGracePeriodSeconds;
                // A later delete may shorten the grace period, never extend it.
                if (prevGrace === undefined || grace < prevGrace || !m.deletionTimestamp) {
                    next.metadata.deletionGracePeriodSeconds = grace;
                    next.metadata.deletionTimestamp = nowRfc3339(new Date(Date.now() + grace * 1000));
                }
                if (grace === 0 && !hasFinalizers)
                    return undefined;
                return next;
            }
            return undefined;
        }
        if (!hasFinalizers)
            return undefined;
        const next = structuredClone(cur);
        if (!m.deletionTimestamp) {
            next.metadata.deletionTimestamp = nowRfc3339();
            next.metadata.deletionGracePeriodSeconds = 0;
            next.metadata.generation = (m.generation ?? 0) + 1;
        }
        return next;
    }
    async deleteCollection(r, ns, q, opts) {
        const list = await this.list(r, ns, { ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}), ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}) });
        const items = [];
        for (const o of list.items) {
            try {
                items.push(await this.delete(r, o.metadata.namespace, o.metadata.name, opts));
            }
            catch (err) {
                if (!(err instanceof E.ApiError && err.reason === 'NotFound'))
                    throw err;
            }
        }
        return { ...list, items };
    }
    // ---------- namespace lifecycle ----------
    nsTimer;
    nsRunning = false;
    nsAgain = false;
    closed = false;
    /** Start the loop that empties Terminating namespaces (also resumes after a restart). */
    startNamespaceLoop(intervalMs = 2000) {
        const tick = () => {
            if (this.closed)
                return;
            this.kickNamespaces();
            this.nsTimer = setTimeout(tick, intervalMs);
        };
        this.nsTimer = setTimeout(tick, 0);
    }
    stop() {
        this.closed = true;
        if (this.nsTimer)
            clearTimeout(this.nsTimer);
    }
    sweep = Promise.resolve();
    /** Resolves when no namespace sweep is running (used on shutdown). */
    idle() {
        return this.sweep;
    }
    kickNamespaces() {
        if (this.closed)
            return;
        if (this.nsRunning) {
            this.nsAgain = true;
            return;
        }
        this.nsRunning = true;
        this.sweep = this.sweepNamespaces()
            .catch((err) => log.warn({ err: err.message }, 'namespace sweep failed'))
            .finally(() => {
            this.nsRunning = false;
            if (this.nsAgain && !this.closed) {
                this.nsAgain = false;
                this.kickNamespaces();
            }
        });
    }
    async sweepNamespaces() {
        const nss = await this.store.list(etcdListPrefix(NAMESPACES));
        for (const ns of nss.items) {
            if (!ns.metadata.deletionTimestamp || this.closed)
                continue;
            const name = ns.metadata.name;
            let left = 0;
            for (const r of RESOURCES) {
                if (!r.namespaced)
                    continue;
                const objs = await this.store.list(etcdListPrefix(r, name));
                for (const o of objs.items) {
                    left++;
                    if (o.metadata.deletionTimestamp && r.kind !== 'Pod')
                        continue;
                    try {
                        await this.delete(r, name, o.metadata.name, {});
                    }
                    catch (err) {
                        if (!(err instanceof E.ApiError && err.reason === 'NotFound'))
                            throw err;
                    }
                }
            }
            if (left > 0) {
                // Deletions above may have finished everything; look again on the next pass.
                this.nsAgain = true;
                continue;
            }
            if ((ns.metadata.finalizers?.length ?? 0) > 0)
                continue;
            try {
                await this.store.delete(this.key(NAMESPACES, undefined, name), Number(ns.metadata.resourceVersion));
                log.info({ namespace: name }, 'namespace removed');
            }
            catch (err) {
                if (!(err instanceof StorageError))
                    throw err;
            }
        }
    }
    /** Make sure an object exists (bootstrap): create it when missing, leave it otherwise. */
    async ensure(r, ns, obj) {
        try {
            return await this.get(r, ns, obj.metadata.name);
        }
        catch (err) {
            if (!(err instanceof E.ApiError && err.reason === 'NotFound'))
                throw err;
        }
        try {
            return await this.create(r, ns, obj);
        }
        catch (err) {
            if (err instanceof E.ApiError && err.reason === 'AlreadyExists')
                return this.get(r, ns, obj.metadata.name);
            throw err;
        }
    }
    statusFor(r, obj) {
        return E.successStatus({ name: obj.metadata.name, group: r.group, kind: r.plural, uid: obj.metadata.uid });
    }
}
/**
 * Defaulting and validation walk client-supplied JSON; a shape they did not expect (a string
 * where a list belongs) must become a 400, never a 500 or a half-written object.
 */
function guard(r, fn) {
    try {
        return fn();
    }
    catch (err) {
        if (err instanceof E.ApiError)
            throw err;
        log.warn({ err: err.message, kind: r.kind }, 'defaulting/validation threw on a malformed object');
        throw E.badRequest(`the ${r.kind} object is malformed: ${err.message}`);
    }
}
function deepEqualMeta(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
}
