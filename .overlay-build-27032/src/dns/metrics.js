// DNS metrics, exposed through a prom-client Registry. prom-client hashes a label object
// on every inc/observe, which showed up at ~5 % of a cache hit's cost; so the per-query
// work here is plain array increments, and prom-client sees the totals only when
// /metrics is scraped (custom metrics registered with get()).
import { Registry } from 'prom-client';
import { rcodeName, typeName } from './answer.js';
const SOURCES = ['cache', 'zone', 'forward', 'error'];
const KNOWN_TYPES = [1, 2, 5, 6, 12, 15, 16, 28, 33, 65, 255];
const EXTRA_NAMES = { 15: 'MX', 65: 'HTTPS' };
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5];
/** Type slot of a qtype: known types get their own, the rest share 'other' (bounded cardinality). */
const TYPE_SLOT = new Map(KNOWN_TYPES.map((t, i) => [t, i + 1]));
const RCODES = 24;
function custom(name, help, type, values) {
    return {
        name,
        help,
        type,
        aggregator: 'sum',
        async get() {
            return { name, help, type, aggregator: 'sum', values: values() };
        },
    };
}
export class DnsMetrics {
    registry;
    /** [typeSlot * RCODES + rcode] */
    queries = new Float64Array((KNOWN_TYPES.length + 1) * RCODES);
    /** per source: BUCKETS.length + 1 (+Inf) bucket counts, then sum, then count */
    latency = SOURCES.map(() => new Float64Array(BUCKETS.length + 3));
    upstreamFailures = 0;
    constructor(cacheSize, registry = new Registry()) {
        this.registry = registry;
        registry.registerMetric(custom('netkube_dns_queries_total', 'DNS queries answered, by query type and response code', 'counter', () => {
            const out = [];
            for (let slot = 0; slot <= KNOWN_TYPES.length; slot++)
                for (let rc = 0; rc < RCODES; rc++) {
                    const v = this.queries[slot * RCODES + rc];
                    if (!v)
                        continue;
                    const t = slot === 0 ? 'other' : (EXTRA_NAMES[KNOWN_TYPES[slot - 1]] ?? typeName(KNOWN_TYPES[slot - 1]));
                    out.push({ labels: { type: t, rcode: rc === 16 ? 'BADVERS' : rcodeName(rc) }, value: v });
                }
            return out;
        }));
        const hname = 'netkube_dns_request_duration_seconds';
        registry.registerMetric(custom(hname, 'Time from receiving a query to sending its answer, by answer source', 'histogram', () => {
            const out = [];
            SOURCES.forEach((source, i) => {
                const h = this.latency[i];
                const count = h[BUCKETS.length + 2];
                if (!count)
                    return;
                let acc = 0;
                BUCKETS.forEach((le, b) => {
                    acc += h[b];
                    out.push({ metricName: `${hname}_bucket`, labels: { le, source }, value: acc });
                });
                out.push({ metricName: `${hname}_bucket`, labels: { le: '+Inf', source }, value: count });
                out.push({ metricName: `${hname}_sum`, labels: { source }, value: h[BUCKETS.length + 1] });
                out.push({ metricName: `${hname}_count`, labels: { source }, value: count });
            });
            return out;
        }));
        registry.registerMetric(custom('netkube_dns_upstream_failures_total', 'Forwarded queries no upstream answered (answered SERVFAIL)', 'counter', () => [
            { labels: {}, value: this.upstreamFailures },
        ]));
        registry.registerMetric(custom('netkube_dns_cache_entries', 'Answers held in the wire caches', 'gauge', () => {
            const s = cacheSize();
            return [
                { labels: { cache: 'zone' }, value: s.zone },
                { labels: { cache: 'forward' }, value: s.forward },
            ];
        }));
    }
    /** Count one answer; `startMs` is performance.now() when the query arrived. */
    answered(qtype, rcode, source, startMs) {
        this.queries[(TYPE_SLOT.get(qtype) ?? 0) * RCODES + (rcode < RCODES ? rcode : 0)]++;
        const h = this.latency[SOURCES.indexOf(source)];
        const seconds = (performance.now() - startMs) / 1000;
        let b = 0;
        while (b < BUCKETS.length && seconds > BUCKETS[b])
            b++;
        h[b]++;
        h[BUCKETS.length + 1] += seconds;
        h[BUCKETS.length + 2]++;
    }
    upstreamFailed() {
        this.upstreamFailures++;
    }
}
