// bench:dns's data, shared by every server: one set of records (the single source each
// server's input is rendered from), the query file, the expected answer per query, the
// record churn, and the checks that decide which answers count as correct. Pure: no I/O.
import type { EndpointSlice, Service } from '../src/api/types.js'
import { DnsModel } from '../src/dns/model.js'

export const ZONE = 'cluster.local'
export const TTL = 5
const NS = 'bench'

/** One query class of the mix; every query belongs to exactly one. */
export type QueryClass = 'a' | 'a-mixed-case' | 'headless' | 'srv' | 'nxdomain'
export const CLASSES: readonly QueryClass[] = ['a', 'a-mixed-case', 'headless', 'srv', 'nxdomain']

export interface BenchRecords {
  /** ClusterIP service i: `svc-i.bench.svc` A clusterIPs[i], and `_http._tcp.svc-i.bench.svc` SRV port 80. */
  clusterIPs: string[]
  /** Headless service j: `hl-j.bench.svc` A one record per ready endpoint. Churn replaces these. */
  headless: string[][]
  /** Pod IP numbers handed out so far (churn takes fresh ones). */
  nextPod: number
}

export const svcName = (i: number): string => `svc-${i}.${NS}.svc.${ZONE}`
export const headlessName = (j: number): string => `hl-${j}.${NS}.svc.${ZONE}`
export const srvName = (i: number): string => `_http._tcp.${svcName(i)}`
const missingName = (k: number): string => `missing-${k}.${NS}.svc.${ZONE}`

const clusterIP = (i: number): string => `10.96.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`
const podIP = (n: number): string => `10.${244 + Math.floor(n / 62500) % 8}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`

const ENDPOINTS_PER_HEADLESS = 3

export function benchRecords(services: number): BenchRecords {
  const headlessCount = Math.max(1, Math.floor(services / 10))
  const headless = Array.from({ length: headlessCount }, (_, j) =>
    Array.from({ length: ENDPOINTS_PER_HEADLESS }, (_, e) => podIP(j * ENDPOINTS_PER_HEADLESS + e)),
  )
  return {
    clusterIPs: Array.from({ length: services }, (_, i) => clusterIP(i)),
    headless,
    nextPod: headlessCount * ENDPOINTS_PER_HEADLESS,
  }
}

export const CHURN_PER_TICK = 5

/**
 * Tick `t` of the churn (once a second): CHURN_PER_TICK headless services each get one pod
 * replaced by a new IP (a rolling update, the change a cluster DNS sees most). Mutates
 * `r`; returns the changed headless indexes. Deterministic, so a worker process that
 * applies the same ticks ends with the same records.
 */
export function churnTick(r: BenchRecords, t: number): number[] {
  const changed: number[] = []
  for (let k = 0; k < CHURN_PER_TICK; k++) {
    const j = (t * CHURN_PER_TICK + k) % r.headless.length
    if (changed.includes(j)) continue
    r.headless[j]![t % ENDPOINTS_PER_HEADLESS] = podIP(r.nextPod++)
    changed.push(j)
  }
  return changed
}

// ---------- what each server is fed ----------

/** The zone file NSD and Knot load (owner names relative to the origin). */
export function renderZone(r: BenchRecords, serial: number): string {
  const rel = (fqdn: string): string => fqdn.slice(0, -(ZONE.length + 1))
  const lines = [
    `$ORIGIN ${ZONE}.`,
    `$TTL ${TTL}`,
    `@ IN SOA ns.dns.${ZONE}. hostmaster.${ZONE}. ${serial} 7200 1800 86400 ${TTL}`,
    `@ IN NS ns.dns.${ZONE}.`,
    `ns.dns IN A 127.0.0.1`,
  ]
  r.clusterIPs.forEach((ip, i) => {
    lines.push(`${rel(svcName(i))} IN A ${ip}`)
    lines.push(`${rel(srvName(i))} IN SRV 0 100 80 ${svcName(i)}.`)
  })
  r.headless.forEach((ips, j) => {
    for (const ip of ips) lines.push(`${rel(headlessName(j))} IN A ${ip}`)
  })
  return lines.join('\n') + '\n'
}

/** hosts-file lines: the ClusterIP services (static) or the headless ones (churned). */
export function renderHosts(r: BenchRecords, part: 'services' | 'headless'): string {
  const lines =
    part === 'services'
      ? r.clusterIPs.map((ip, i) => `${ip} ${svcName(i)}`)
      : r.headless.flatMap((ips, j) => ips.map((ip) => `${ip} ${headlessName(j)}`))
  return lines.join('\n') + '\n'
}

/** dnsmasq conf-file lines for the SRV records (`srv-host=name,target,port,priority,weight`). */
export function renderDnsmasqSrv(r: BenchRecords): string {
  return r.clusterIPs.map((_, i) => `srv-host=${srvName(i)},${svcName(i)},80,0,100`).join('\n') + '\n'
}

/** netkube's read model input: a Service per name, an EndpointSlice per headless service. */
export function kubeObjects(r: BenchRecords): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = r.clusterIPs.map((ip, i) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: NS, name: `svc-${i}` },
    spec: { clusterIP: ip, ports: [{ name: 'http', protocol: 'TCP', port: 80 }] },
  }))
  r.headless.forEach((_, j) =>
    services.push({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: NS, name: `hl-${j}` }, spec: { clusterIP: 'None', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] } }),
  )
  return { services, slices: r.headless.map((_, j) => headlessSlice(r, j)) }
}

/** netkube's read model as its informers would fill it from those objects, synced. */
export function benchModel(r: BenchRecords): DnsModel {
  const model = new DnsModel()
  const { services, slices } = kubeObjects(r)
  for (const s of services) model.upsertService(s)
  for (const s of slices) model.upsertEndpointSlice(s)
  model.setSynced(true)
  return model
}

export function headlessSlice(r: BenchRecords, j: number): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: NS, name: `hl-${j}-abcde`, labels: { 'kubernetes.io/service-name': `hl-${j}` } },
    addressType: 'IPv4',
    endpoints: r.headless[j]!.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  }
}

// ---------- queries and what a correct answer is ----------

export interface Query {
  /** As sent (letter case included). */
  name: string
  type: 'A' | 'SRV'
  cls: QueryClass
}

export interface Expected {
  rcode: 'NOERROR' | 'NXDOMAIN'
  /** Answer-section rdata of the asked type, lower case, sorted (order is the server's choice). */
  answer: string[]
}

/** `svc-12.bench…` → `SvC-12.BeNcH…`: DNS 0x20 style, so a case-sensitive lookup would miss. */
const mixCase = (name: string): string => [...name].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('')

/** One pass of the query file: every ClusterIP service (a tenth in mixed case), every headless service, an SRV for a tenth, a few misses. */
export function benchQueries(r: BenchRecords): Query[] {
  const q: Query[] = []
  r.clusterIPs.forEach((_, i) => q.push(i % 10 === 3 ? { name: mixCase(svcName(i)), type: 'A', cls: 'a-mixed-case' } : { name: svcName(i), type: 'A', cls: 'a' }))
  r.headless.forEach((_, j) => q.push({ name: headlessName(j), type: 'A', cls: 'headless' }))
  for (let i = 0; i < r.clusterIPs.length; i += 10) q.push({ name: srvName(i), type: 'SRV', cls: 'srv' })
  for (let k = 0; k < Math.max(1, r.clusterIPs.length / 50); k++) q.push({ name: missingName(k), type: 'A', cls: 'nxdomain' })
  return q
}

export const renderQueryFile = (qs: readonly Query[]): string => qs.map((q) => `${q.name} ${q.type}`).join('\n') + '\n'

/** The right answer to `q` given the records `r` (names are matched case-insensitively). */
export function expectedAnswer(r: BenchRecords, q: Query): Expected {
  const m = /^(?:_http\._tcp\.)?(svc|hl|missing)-(\d+)\./.exec(q.name.toLowerCase())
  const n = Number(m?.[2])
  if (q.cls === 'nxdomain' || !m) return { rcode: 'NXDOMAIN', answer: [] }
  if (q.cls === 'srv') return { rcode: 'NOERROR', answer: [`0 100 80 ${svcName(n)}.`] }
  if (q.cls === 'headless') return { rcode: 'NOERROR', answer: [...r.headless[n]!].sort() }
  return { rcode: 'NOERROR', answer: [r.clusterIPs[n]!] }
}

/** A few queries of each class spread over the file (first, quarters, last): what `dig` checks per server. */
export function sampleQueries(qs: readonly Query[], perClass = 5): Query[] {
  const out: Query[] = []
  for (const cls of CLASSES) {
    const of = qs.filter((q) => q.cls === cls)
    const picks = new Set(Array.from({ length: perClass }, (_, k) => Math.round((k * (of.length - 1)) / Math.max(1, perClass - 1))))
    for (const i of picks) if (of[i]) out.push(of[i])
  }
  return out
}

// ---------- reading the tools' output ----------

/** One answer as `dig` printed it. */
export interface DigAnswer {
  /** Question name, lower case, no trailing dot. */
  name: string
  type: string
  rcode: string
  aa: boolean
  answer: string[]
}

/**
 * `dig +noall +comments +question +answer q1 t1 q2 t2 …` output → one entry per answered
 * query (a query that timed out prints no header and is simply absent).
 */
export function parseDig(out: string): DigAnswer[] {
  const res: DigAnswer[] = []
  let cur: DigAnswer | undefined
  for (const line of out.split('\n')) {
    const hdr = /->>HEADER<<-.*status: (\w+)/.exec(line)
    if (hdr) {
      cur = { name: '', type: '', rcode: hdr[1]!, aa: false, answer: [] }
      res.push(cur)
      continue
    }
    if (!cur) continue
    const flags = /^;; flags: ([^;]*);/.exec(line)
    if (flags) {
      cur.aa = flags[1]!.split(' ').includes('aa')
      continue
    }
    const question = /^;(\S+)\s+IN\s+(\S+)/.exec(line)
    if (question) {
      cur.name = question[1]!.toLowerCase().replace(/\.$/, '')
      cur.type = question[2]!
      continue
    }
    const rr = /^(\S+)\s+\d+\s+IN\s+(\S+)\s+(.+)$/.exec(line)
    if (rr && rr[2] === cur.type) cur.answer.push(rr[3]!.trim().toLowerCase())
  }
  return res
}

/**
 * Why `got` is not `want` (rcode, then the answer set), or undefined when it is right. The AA
 * flag is reported beside it, not counted: stub resolvers ignore it, and dnsmasq leaves it
 * off its NXDOMAINs while setting it on its local answers.
 */
export function answerProblem(want: Expected, got: DigAnswer | undefined): string | undefined {
  if (!got) return 'no answer'
  if (got.rcode !== want.rcode) return `rcode ${got.rcode}, want ${want.rcode}`
  const a = [...got.answer].sort().join(' ')
  const b = want.answer.join(' ')
  if (a !== b) return `answer [${a}], want [${b}]`
  return undefined
}

/** dnsperf `-v`: one `> RCODE name type latency` line per answered query. */
export interface RcodeTally {
  /** Answered queries per class whose rcode is the expected one. */
  right: Map<QueryClass, number>
  /** Answered queries whose rcode is wrong, by `class:rcode`. */
  wrong: Map<string, number>
  answered: number
}

/** Check each answered query's rcode against its class (a name's class says whether it exists). */
export function tallyRcodes(verbose: string, classOf: ReadonlyMap<string, QueryClass>): RcodeTally {
  const t: RcodeTally = { right: new Map(), wrong: new Map(), answered: 0 }
  // Timeouts print `> T name type` with no latency: they are dnsperf's "lost", not matched here.
  const re = /^> (\S+) (\S+) (\S+) [\d.]+$/gm
  for (let m = re.exec(verbose); m; m = re.exec(verbose)) {
    const [, rcode, name, type] = m
    const cls = classOf.get(`${name!.toLowerCase()} ${type}`)
    t.answered++
    const want = cls === undefined ? '' : cls === 'nxdomain' ? 'NXDOMAIN' : 'NOERROR'
    if (cls && rcode === want) t.right.set(cls, (t.right.get(cls) ?? 0) + 1)
    else t.wrong.set(`${cls ?? name}:${rcode}`, (t.wrong.get(`${cls ?? name}:${rcode}`) ?? 0) + 1)
  }
  return t
}
