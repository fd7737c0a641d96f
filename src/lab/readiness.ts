// "Is the lab up?" beyond Ready nodes: the add-ons must answer. Today that is the cluster DNS —
// the kube-dns Service has ready endpoints, and a query for the `kubernetes` Service's name,
// sent to the DNS ClusterIP from every node namespace (through kube-proxy's rules there),
// gets the `kubernetes` ClusterIP back. Without this wait, `dig` right after `npm start` met
// "connection refused" while the DNS pod was still starting.
// Split as everywhere: `addonVerdict` (pure) reads one observation; `observeAddons` (the edge)
// makes it through the API and `dig`; `waitForAddons` loops, prints changes, and on timeout
// names what is not ready.
import type { Client } from '../client/interfaces.js'
import type { EndpointSlice } from '../api/types.js'
import { resourceFor } from '../api/resources.js'
import { netnsHandle } from '../net/door.js'
import type { LabPlan } from './plan.js'

export const DNS_SERVICE = { namespace: 'kube-system', name: 'kube-dns' }
export const DNS_PROBE_NAME = 'kubernetes.default.svc.cluster.local'

export interface DnsEndpoints {
  ready: number
  /** Endpoints not ready, by pod name (or address). */
  notReady: string[]
}

export interface DnsProbe {
  node: string
  ok: boolean
  /** What dig said when it failed (its last line: "connection refused", "timed out", a wrong answer). */
  detail: string
}

export interface AddonObservation {
  /** undefined: the API could not be asked (`error` says why). */
  endpoints?: DnsEndpoints
  error?: string
  /** One per node; empty until there are ready endpoints. */
  dns: DnsProbe[]
}

export interface AddonVerdict {
  ready: boolean
  /** What is being waited for, one line; '' when ready. */
  waiting: string
}

/** Pure: is the DNS add-on answering, and if not, what is missing. */
export function addonVerdict(o: AddonObservation): AddonVerdict {
  const svc = `${DNS_SERVICE.namespace}/${DNS_SERVICE.name}`
  if (!o.endpoints) return { ready: false, waiting: `the ${svc} Service's endpoints (${o.error ?? 'not read yet'})` }
  if (o.endpoints.ready === 0) {
    const pending = o.endpoints.notReady.length ? `; not ready: ${o.endpoints.notReady.join(', ')}` : '; no DNS pod selected yet'
    return { ready: false, waiting: `the ${svc} Service to have ready endpoints (0 ready${pending})` }
  }
  const failed = o.dns.filter((p) => !p.ok)
  if (o.dns.length === 0) return { ready: false, waiting: `a DNS answer for ${DNS_PROBE_NAME}` }
  if (failed.length) return { ready: false, waiting: `the cluster DNS to answer ${DNS_PROBE_NAME} from ${failed.map((p) => `${p.node} (${p.detail})`).join(', ')}` }
  return { ready: true, waiting: '' }
}

/** Counts ready endpoints of the kube-dns slices (a missing `ready` condition means ready, as upstream). */
export function dnsEndpoints(slices: readonly EndpointSlice[]): DnsEndpoints {
  let ready = 0
  const notReady: string[] = []
  for (const s of slices) {
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready !== false) ready++
      else notReady.push(e.targetRef?.name ?? e.addresses?.[0] ?? '?')
    }
  }
  return { ready, notReady: notReady.sort() }
}

/** The edge: the API for endpoints, then `dig` inside every node namespace. */
export async function observeAddons(client: Client, plan: LabPlan): Promise<AddonObservation> {
  let endpoints: DnsEndpoints
  try {
    const slices = await client
      .resource<EndpointSlice>(resourceFor('endpointslices'), DNS_SERVICE.namespace)
      .list({ labelSelector: `kubernetes.io/service-name=${DNS_SERVICE.name}` })
    endpoints = dnsEndpoints(slices.items)
  } catch (err) {
    return { error: (err as Error).message, dns: [] }
  }
  if (endpoints.ready === 0) return { endpoints, dns: [] }
  const dns = await Promise.all(
    plan.nodes.map(async (n): Promise<DnsProbe> => {
      const r = await netnsHandle(n.netns).run('dig', ['+time=1', '+tries=1', '+short', `@${plan.clusterDNS}`, DNS_PROBE_NAME, 'A'], { allowFailure: true, timeoutMs: 5000 })
      const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean)
      const ok = r.code === 0 && lines.includes(plan.kubernetesServiceIP)
      const detail = ok ? '' : (lines.at(-1)?.replace(/^;;\s*/, '') ?? `dig exited ${r.code}`) || 'no answer'
      return { node: n.name, ok, detail }
    }),
  )
  return { endpoints, dns }
}

export interface WaitForAddonsOptions {
  observe: () => Promise<AddonObservation>
  timeoutMs: number
  /** Called with each new "waiting for …" line (not repeated while it stays the same). */
  progress: (line: string) => void
  intervalMs?: number
}

/** Loops until addonVerdict says ready; throws an error naming what was still missing. */
export async function waitForAddons(o: WaitForAddonsOptions): Promise<void> {
  const deadline = Date.now() + o.timeoutMs
  let said = ''
  for (;;) {
    let v: AddonVerdict
    try {
      v = addonVerdict(await o.observe())
    } catch (err) {
      v = { ready: false, waiting: `the add-ons (${(err as Error).message})` }
    }
    if (v.ready) return
    if (v.waiting !== said) o.progress(`waiting for ${v.waiting}`)
    said = v.waiting
    if (Date.now() >= deadline) throw new Error(`the cluster add-ons are not ready after ${Math.round(o.timeoutMs / 1000)}s: still waiting for ${v.waiting}`)
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 500))
  }
}
