import { serviceKey, sliceServiceKey } from './serviceport.js';
/** Annotation the EndpointSlice controller sets to when the change that caused it happened. */
export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';
function svcKeyOf(s) {
    return serviceKey(s.metadata.namespace ?? 'default', s.metadata.name ?? '');
}
/** What of a Service matters to the proxy (not status, not metadata noise). */
function serviceFingerprint(s) {
    return s ? JSON.stringify(s.spec) : '';
}
export class ServiceChangeTracker {
    changes = new Map();
    /** Record an add (prev undefined), update, or delete (cur undefined). Returns true if a sync is needed. */
    update(prev, cur) {
        const obj = cur ?? prev;
        if (!obj)
            return false;
        const key = svcKeyOf(obj);
        const c = this.changes.get(key);
        if (c)
            c.current = cur;
        else
            this.changes.set(key, { previous: prev, current: cur });
        const rec = this.changes.get(key);
        if (serviceFingerprint(rec.previous) === serviceFingerprint(rec.current))
            this.changes.delete(key);
        return this.changes.size > 0;
    }
    get pending() {
        return this.changes.size;
    }
    take() {
        const out = this.changes;
        this.changes = new Map();
        return out;
    }
}
function slicesFingerprint(s) {
    if (!s || s.size === 0)
        return '';
    return [...s.keys()]
        .sort()
        .map((k) => {
        const x = s.get(k);
        return JSON.stringify([k, x.addressType, x.ports, x.endpoints]);
    })
        .join('\n');
}
/**
 * Tracks EndpointSlices grouped by the Service they belong to. It keeps the latest slices
 * per Service (the informer's view) and the per-Service change since the last take().
 */
export class EndpointsChangeTracker {
    now;
    latest = new Map();
    changes = new Map();
    /** Earliest not-yet-programmed change time per Service (ms since epoch), for latency metrics. */
    triggers = new Map();
    constructor(now = Date.now) {
        this.now = now;
    }
    update(prev, cur) {
        const obj = cur ?? prev;
        if (!obj)
            return false;
        const key = sliceServiceKey(obj);
        if (!key)
            return this.changes.size > 0;
        const sliceName = obj.metadata.name ?? '';
        const before = this.latest.get(key);
        const after = new Map(before ?? []);
        if (cur)
            after.set(sliceName, cur);
        else
            after.delete(sliceName);
        if (after.size)
            this.latest.set(key, after);
        else
            this.latest.delete(key);
        const c = this.changes.get(key);
        if (c)
            c.current = after;
        else
            this.changes.set(key, { previous: before, current: after });
        const rec = this.changes.get(key);
        if (slicesFingerprint(rec.previous) === slicesFingerprint(rec.current)) {
            this.changes.delete(key);
            this.triggers.delete(key);
        }
        else if (!this.triggers.has(key)) {
            const ann = cur?.metadata.annotations?.[TRIGGER_TIME_ANNOTATION];
            const t = ann ? Date.parse(ann) : NaN;
            this.triggers.set(key, Number.isFinite(t) ? t : this.now());
        }
        return this.changes.size > 0;
    }
    get pending() {
        return this.changes.size;
    }
    slicesFor(key) {
        return this.latest.get(key);
    }
    take() {
        const out = { changes: this.changes, triggerTimes: this.triggers };
        this.changes = new Map();
        this.triggers = new Map();
        return out;
    }
}
