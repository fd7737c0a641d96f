// Expectations, as client-go's ControllerExpectations: after a controller asks for N creates
// (or deletes), it does not act on that key again until the informer has shown it those N
// changes (or a timeout passes), so a stale cache never leads to double creates.
export class Expectations {
    timeoutMs;
    m = new Map();
    constructor(timeoutMs = 60_000) {
        this.timeoutMs = timeoutMs;
    }
    satisfied(key, now = Date.now()) {
        const e = this.m.get(key);
        if (!e)
            return true;
        if ((e.add <= 0 && e.del.size === 0) || now - e.at > this.timeoutMs) {
            this.m.delete(key);
            return true;
        }
        return false;
    }
    expectCreations(key, n) {
        const e = this.entry(key);
        e.add += n;
    }
    expectDeletions(key, names) {
        const e = this.entry(key);
        for (const n of names)
            e.del.add(n);
    }
    creationObserved(key) {
        const e = this.m.get(key);
        if (e && e.add > 0)
            e.add--;
    }
    deletionObserved(key, name) {
        this.m.get(key)?.del.delete(name);
    }
    forget(key) {
        this.m.delete(key);
    }
    entry(key) {
        let e = this.m.get(key);
        if (!e)
            this.m.set(key, (e = { add: 0, del: new Set(), at: Date.now() }));
        e.at = Date.now();
        return e;
    }
}
