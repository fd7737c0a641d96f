// DNS metrics, exposed through a prom-client Registry. prom-client hashes a label object
// on every inc/observe, which showed up at ~5 % of a cache hit's cost; so the per-query
// work here is plain array increments, and prom-client sees the totals only when
// /metrics is scraped (custom metrics registered with get()).
import { Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import { rcodeName, typeName } from './answer.js'

/** Where an answer came from: the precomputed wire cache, the answer function, upstream, or an error path. */
export type Source = 'cache' | 'zone' | 'forward' | 'error'
const SOURCES: Source[] = ['cache', 'zone', 'forward', 'error']

const KNOWN_TYPES = [1, 2, 5, 6, 12, 15, 16, 28, 33, 65, 255]
const EXTRA_NAMES: Record<number, string> = { 15: 'MX', 65: 'HTTPS' }
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5]
/** Type slot of a qtype: known types get their own, the rest share 'other' (bounded cardinality). */
const TYPE_SLOT = new Map(KNOWN_TYPES.map((t, i) => [t, i + 1]))
const RCODES = 24

type Values = MetricObjectWithValues<MetricValue<string>>

function custom(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => Values['values']) {
  return {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    async get(): Promise<Values> {
      return { name, help, type, aggregator: 'sum', values: values() } as unknown as Values
    },
  }
}

export class DnsMetrics {
  readonly registry: Registry
  /** [typeSlot * RCODES + rcode] */
  private readonly queries = new Float64Array((KNOWN_TYPES.length + 1) * RCODES)
  /** per source: BUCKETS.length + 1 (+Inf) bucket counts, then sum, then count */
  private readonly latency = SOURCES.map(() => new Float64Array(BUCKETS.length + 3))
  private upstreamFailures = 0

  constructor(cacheSize: () => { zone: number; forward: number }, registry = new Registry()) {
    this.registry = registry
    registry.registerMetric(
      custom('netkube_dns_queries_total', 'DNS queries answered, by query type and response code', 'counter', () => {
        const out: Values['values'] = []
        for (let slot = 0; slot <= KNOWN_TYPES.length; slot++)
          for (let rc = 0; rc < RCODES; rc++) {
            const v = this.queries[slot * RCODES + rc]!
            if (!v) continue
            const t = slot === 0 ? 'other' : (EXTRA_NAMES[KNOWN_TYPES[slot - 1]!] ?? typeName(KNOWN_TYPES[slot - 1]!))
            out.push({ labels: { type: t, rcode: rc === 16 ? 'BADVERS' : rcodeName(rc) }, value: v })
          }
        return out
      }) as never,
    )
    const hname = 'netkube_dns_request_duration_seconds'
    registry.registerMetric(
      custom(hname, 'Time from receiving a query to sending its answer, by answer source', 'histogram', () => {
        const out: Values['values'] = []
        SOURCES.forEach((source, i) => {
          const h = this.latency[i]!
          const count = h[BUCKETS.length + 2]!
          if (!count) return
          let acc = 0
          BUCKETS.forEach((le, b) => {
            acc += h[b]!
            out.push({ metricName: `${hname}_bucket`, labels: { le, source }, value: acc } as never)
          })
          out.push({ metricName: `${hname}_bucket`, labels: { le: '+Inf', source }, value: count } as never)
          out.push({ metricName: `${hname}_sum`, labels: { source }, value: h[BUCKETS.length + 1]! } as never)
          out.push({ metricName: `${hname}_count`, labels: { source }, value: count } as never)
        })
        return out
      }) as never,
    )
    registry.registerMetric(
      custom('netkube_dns_upstream_failures_total', 'Forwarded queries no upstream answered (answered SERVFAIL)', 'counter', () => [
        { labels: {}, value: this.upstreamFailures },
      ]) as never,
    )
    registry.registerMetric(
      custom('netkube_dns_cache_entries', 'Answers held in the wire caches', 'gauge', () => {
        const s = cacheSize()
        return [
          { labels: { cache: 'zone' }, value: s.zone },
          { labels: { cache: 'forward' }, value: s.forward },
        ]
      }) as never,
    )
  }

  /** Count one answer; `startMs` is performance.now() when the query arrived. */
  answered(qtype: number, rcode: number, source: Source, startMs: number): void {
    this.queries[(TYPE_SLOT.get(qtype) ?? 0) * RCODES + (rcode < RCODES ? rcode : 0)]!++
    const h = this.latency[SOURCES.indexOf(source)]!
    const seconds = (performance.now() - startMs) / 1000
    let b = 0
    while (b < BUCKETS.length && seconds > BUCKETS[b]!) b++
    h[b]!++
    h[BUCKETS.length + 1]! += seconds
    h[BUCKETS.length + 2]!++
  }

  upstreamFailed(): void {
    this.upstreamFailures++
  }
}
