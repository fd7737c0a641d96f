// Pure: does what the nodes run match what the API says? Each check takes plain data (read
// by chaos.ts's edges) and returns the differences as readable lines; empty = converged.
// The expected side is derived here from Services and EndpointSlices on its own, not through
// the proxy's code, so a proxy bug cannot hide behind its own reasoning.
import type { EndpointSlice, Pod, Service } from '../api/types.js'

/** ClusterIP port ("10.96.0.10 udp 53") → its endpoints ("10.244.1.2:53"), sorted. */
export type ServiceMap = Map<string, string[]>

export interface ProxyView {
  /**
   * ClusterIP/external keys with the endpoints they DNAT to: the maps layout's endpoints-N
   * sets with their slot-I maps, and the `service-ips` map's entries (per-Service chains:
   * affinity, Local policies, many endpoints) with the endpoints their chains DNAT to
   */
  services: ServiceMap
  /** keys of the `no-endpoint-services` map */
  noEndpoints: Set<string>
}

type Json = unknown

/** Every goto/jump target and every dnat in `expr`, walked without recursion. */
function scan(expr: Json): { targets: string[]; dnats: string[] } {
  const targets: string[] = []
  const dnats: string[] = []
  const stack: Json[] = [expr]
  while (stack.length) {
    const v = stack.pop()
    if (Array.isArray(v)) stack.push(...v)
    else if (v && typeof v === 'object') {
      const o = v as Record<string, Json>
      for (const verb of ['goto', 'jump']) {
        const t = (o[verb] as { target?: unknown } | undefined)?.target
        if (typeof t === 'string') targets.push(t)
      }
      const d = o.dnat as { addr?: unknown; port?: unknown } | undefined
      if (d && typeof d.addr === 'string') dnats.push(`${d.addr}:${String(d.port)}`)
      stack.push(...Object.values(o))
    }
  }
  return { targets, dnats }
}

const mapKey = (elem: Json): string | undefined => {
  const c = (elem as { concat?: unknown[] } | undefined)?.concat
  return Array.isArray(c) && c.length === 3 ? `${String(c[0])} ${String(c[1])} ${String(c[2])}` : undefined
}

/** From `nft -j list table ip netkube-proxy`: what the kernel will do for each ClusterIP port. */
export function proxyViewFromNftJson(doc: Json): ProxyView {
  const items = ((doc as { nftables?: unknown[] }).nftables ?? []) as Record<string, Record<string, Json>>[]
  const rulesByChain = new Map<string, Json[]>()
  const maps = new Map<string, Json[]>()
  const sets = new Map<string, Json[]>()
  for (const it of items) {
    if (it.rule) {
      const chain = String(it.rule.chain)
      const l = rulesByChain.get(chain) ?? []
      l.push(it.rule.expr)
      rulesByChain.set(chain, l)
    }
    if (it.map) maps.set(String(it.map.name), (it.map.elem as Json[] | undefined) ?? [])
    if (it.set) sets.set(String(it.set.name), (it.set.elem as Json[] | undefined) ?? [])
  }
  // slot maps: key → `ip:port` of the I-th endpoint
  const slots = new Map<string, Map<string, string>>()
  for (const [name, elems] of maps) {
    if (!/^slot-\d+$/.test(name)) continue
    const m = new Map<string, string>()
    for (const e of elems) {
      const [k, v] = e as [Json, Json]
      const key = mapKey(k)
      const c = (v as { concat?: unknown[] } | undefined)?.concat
      if (key && Array.isArray(c) && c.length === 2) m.set(key, `${String(c[0])}:${String(c[1])}`)
    }
    slots.set(name, m)
  }
  // A service chain reaches its endpoints directly or through local-/external- chains.
  const endpointsOf = (chain: string): string[] => {
    const seen = new Set<string>([chain])
    const todo = [chain]
    const out = new Set<string>()
    while (todo.length) {
      const c = todo.pop()!
      for (const expr of rulesByChain.get(c) ?? []) {
        const { targets, dnats } = scan(expr)
        for (const d of dnats) out.add(d)
        for (const t of targets) if (!seen.has(t) && /^(service|local|external|endpoint)-/.test(t)) (seen.add(t), todo.push(t))
      }
    }
    return [...out].sort()
  }
  const services: ServiceMap = new Map()
  // The maps layout (the default): a key in set endpoints-N routes to the values of maps
  // slot-0 … slot-(N-1) under the same key.
  for (const [name, elems] of sets) {
    const n = /^endpoints-(\d+)$/.exec(name)?.[1]
    if (!n) continue
    for (const e of elems) {
      const key = mapKey(e)
      if (!key) continue
      const eps: string[] = []
      for (let i = 0; i < Number(n); i++) {
        const target = slots.get(`slot-${i}`)?.get(key)
        if (target) eps.push(target)
      }
      services.set(key, eps.sort())
    }
  }
  for (const e of maps.get('service-ips') ?? []) {
    const [k, verdict] = e as [Json, Json]
    const key = mapKey(k)
    const target = scan(verdict).targets[0]
    if (key) services.set(key, target ? endpointsOf(target) : [])
  }
  const noEndpoints = new Set<string>()
  for (const e of maps.get('no-endpoint-services') ?? []) {
    const key = mapKey((e as Json[])[0])
    if (key) noEndpoints.add(key)
  }
  return { services, noEndpoints }
}

/** What every node's proxy should program: upstream's choice of ready, else serving+terminating endpoints. */
export function expectedServices(services: readonly Service[], slices: readonly EndpointSlice[]): ServiceMap {
  const out: ServiceMap = new Map()
  for (const svc of services) {
    const ip = svc.spec.clusterIP
    if (!ip || ip === 'None' || svc.spec.type === 'ExternalName') continue
    const ns = svc.metadata.namespace
    const mine = slices.filter((s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name && s.addressType === 'IPv4')
    for (const p of svc.spec.ports ?? []) {
      const proto = (p.protocol ?? 'TCP').toLowerCase()
      const pick = (ok: (c: { ready?: boolean; serving?: boolean; terminating?: boolean }) => boolean): string[] => {
        const eps = new Set<string>()
        for (const sl of mine) {
          const sp = (sl.ports ?? []).find((x) => (x.name ?? '') === (p.name ?? '') && (x.protocol ?? 'TCP').toLowerCase() === proto)
          if (!sp) continue
          for (const ep of sl.endpoints ?? []) if (ok(ep.conditions ?? {})) for (const a of ep.addresses) eps.add(`${a}:${sp.port}`)
        }
        return [...eps].sort()
      }
      const ready = pick((c) => c.ready !== false)
      out.set(`${ip} ${proto} ${p.port}`, ready.length ? ready : pick((c) => c.serving !== false && c.terminating === true))
    }
  }
  return out
}

/**
 * The LoadBalancer ingress addresses' entries (`ip proto port`): kube-proxy puts them in the
 * same map as ClusterIPs, behind an external chain (masquerade or local endpoints only), so
 * they are allowed in the rules; their ClusterIP entry is the one checked.
 */
export function loadBalancerKeys(services: readonly Service[]): Set<string> {
  const out = new Set<string>()
  for (const svc of services) {
    if (svc.spec.type !== 'LoadBalancer') continue
    for (const ing of svc.status?.loadBalancer?.ingress ?? [])
      if (ing.ip) for (const p of svc.spec.ports ?? []) out.add(`${ing.ip} ${(p.protocol ?? 'TCP').toLowerCase()} ${p.port}`)
  }
  return out
}

/** Differences between one node's rules and the API (`allowed`: entries that may be present, unchecked). */
export function proxyDiff(node: string, actual: ProxyView, expected: ServiceMap, allowed: ReadonlySet<string> = new Set()): string[] {
  const diffs: string[] = []
  for (const [key, eps] of expected) {
    if (eps.length === 0) {
      if (!actual.noEndpoints.has(key)) diffs.push(`${node}: ${key} has no endpoints in the API but is not in no-endpoint-services`)
      if (actual.services.has(key)) diffs.push(`${node}: ${key} has no endpoints in the API but still routes to ${actual.services.get(key)!.join(',')}`)
      continue
    }
    const got = actual.services.get(key)
    if (!got) diffs.push(`${node}: ${key} → ${eps.join(',')} in the API, not in service-ips`)
    else if (got.join(',') !== eps.join(',')) diffs.push(`${node}: ${key} routes to ${got.join(',') || 'nothing'}, the API says ${eps.join(',')}`)
  }
  for (const key of actual.services.keys()) if (!expected.has(key) && !allowed.has(key)) diffs.push(`${node}: ${key} in service-ips, no such Service port in the API`)
  for (const key of actual.noEndpoints) if (!allowed.has(key) && (!expected.has(key) || expected.get(key)!.length > 0)) diffs.push(`${node}: ${key} in no-endpoint-services, the API says ${expected.get(key)?.join(',') ?? 'no such Service port'}`)
  return diffs
}

/** Pods that hold a sandbox (and so an IP and a namespace) on `node`. */
export function podsWithSandbox(pods: readonly Pod[], node: string): Pod[] {
  return pods.filter((p) => p.spec.nodeName === node && !p.spec.hostNetwork && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !!p.status?.podIP)
}

/** host-local's files on a node vs the IPs of its pods. */
export function ipamDiff(node: string, allocated: readonly string[], pods: readonly Pod[]): string[] {
  const want = new Set(podsWithSandbox(pods, node).map((p) => p.status!.podIP!))
  const have = new Set(allocated)
  const diffs: string[] = []
  for (const ip of have) if (!want.has(ip)) diffs.push(`${node}: IPAM holds ${ip}, no pod on the node has it (leaked)`)
  for (const ip of want) if (!have.has(ip)) diffs.push(`${node}: pod IP ${ip} is not reserved in IPAM (double allocation possible)`)
  return diffs
}

/** Pod network namespaces on a node vs its pods (`nsOf` names a pod's namespace). */
export function netnsDiff(node: string, present: readonly string[], pods: readonly Pod[], nsOf: (p: Pod) => string): string[] {
  const want = new Map(podsWithSandbox(pods, node).map((p) => [nsOf(p), p.metadata.name!]))
  const diffs: string[] = []
  for (const ns of present) if (!want.has(ns)) diffs.push(`${node}: namespace ${ns} belongs to no pod (leaked)`)
  for (const [ns, pod] of want) if (!present.includes(ns)) diffs.push(`${node}: pod ${pod} has no namespace ${ns}`)
  return diffs
}

/** Component PIDs sampled twice, `stableMs` apart: any change is a restart (a crash loop if it keeps happening). */
export function pidDiff(before: ReadonlyMap<string, number | undefined>, after: ReadonlyMap<string, number | undefined>, alive: (pid: number) => boolean): string[] {
  const diffs: string[] = []
  for (const [name, pid] of before) {
    const now = after.get(name)
    if (pid === undefined || now === undefined) diffs.push(`${name}: no PID (${pid ?? '-'} → ${now ?? '-'})`)
    else if (pid !== now) diffs.push(`${name}: restarted while it should be settled (pid ${pid} → ${now})`)
    else if (!alive(now)) diffs.push(`${name}: pid ${now} is not running`)
  }
  return diffs
}
