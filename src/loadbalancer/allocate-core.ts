// The LoadBalancer IP allocator's pure core: one Service, the pools and who holds which
// address in, one decision out. The shell (controller.ts) claims the address in etcd
// (store.ts: create-if-absent, so two controllers can never hand out one address) and writes
// the status with the Service's resourceVersion (a CAS: a concurrent change means retry).
import type { LoadBalancerIngress, Service } from '../api/types.js'
import { isIp4 } from '../net/ip.js'
import { firstFree, poolOf, type Pool } from './pools.js'

/** MetalLB's annotations, honoured the same way: addresses to use, and the pool to take them from. */
export const ANN_LB_IPS = 'metallb.universe.tf/loadBalancerIPs'
export const ANN_POOL = 'metallb.universe.tf/address-pool'
/** The `spec.loadBalancerClass` this controller answers to (Services without a class too). */
export const DEFAULT_LB_CLASS = 'netkube.io/lb'

export interface Owner {
  namespace: string
  name: string
  uid: string
}

export const ownerKey = (o: Pick<Owner, 'namespace' | 'name'>): string => `${o.namespace}/${o.name}`

export function ownerOf(svc: Service): Owner {
  return { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name ?? '', uid: svc.metadata.uid ?? '' }
}

export type Decision =
  /** Not ours: another class, or not a LoadBalancer. Release what we hold; clear status only if `clearStatus`. */
  | { kind: 'release'; clearStatus: boolean }
  /** Ours, and this address is (or becomes) its: claim it (a no-op if already held). */
  | { kind: 'assign'; ip: string; pool: string }
  /** Ours, but no address can be given: Event + condition, release anything held. */
  | { kind: 'fail'; reason: string; message: string }

export function handledClass(svc: Service, ourClass: string): boolean {
  const c = svc.spec?.loadBalancerClass
  return c === undefined || c === null || c === '' || c === ourClass
}

/** Requested addresses: the annotation (comma-separated, first IPv4 one used) or spec.loadBalancerIP. */
export function requestedIPs(svc: Service): string[] {
  const ann = svc.metadata.annotations?.[ANN_LB_IPS]
  if (ann !== undefined) return ann.split(',').map((s) => s.trim()).filter(Boolean)
  return svc.spec?.loadBalancerIP ? [svc.spec.loadBalancerIP] : []
}

export interface DecideInput {
  svc: Service
  pools: readonly Pool[]
  /** ip → holder, from etcd (`store.list()`), including this Service's own claims. */
  holders: ReadonlyMap<string, Owner>
  ourClass: string
}

export function decide({ svc, pools, holders, ourClass }: DecideInput): Decision {
  if (svc.spec?.type !== 'LoadBalancer') return { kind: 'release', clearStatus: true }
  if (!handledClass(svc, ourClass)) return { kind: 'release', clearStatus: false }
  const me = ownerOf(svc)
  const mine = (ip: string): boolean => holders.get(ip)?.uid === me.uid
  const free = (ip: string): boolean => !holders.has(ip) || mine(ip)
  const key = ownerKey(me)
  const fail = (message: string): Decision => ({ kind: 'fail', reason: 'AllocationFailed', message: `Failed to allocate IP for "${key}": ${message}` })
  const wantPool = svc.metadata.annotations?.[ANN_POOL]
  let candidates: readonly Pool[] = pools
  if (wantPool !== undefined) {
    const p = pools.find((x) => x.name === wantPool)
    if (!p) return fail(`pool "${wantPool}" does not exist`)
    candidates = [p]
  }
  if (pools.length === 0) return fail('no address pools are configured')

  const req = requestedIPs(svc)
  if (req.length > 0) {
    const bad = req.filter((ip) => !isIp4(ip))
    if (bad.length) return fail(`${JSON.stringify(bad)} is not a valid IPv4 address`)
    const ip = req[0]!
    const pool = poolOf(candidates, ip)
    if (!pool) return fail(`[${JSON.stringify(ip)}] is not allowed in config`)
    if (!free(ip)) {
      const h = holders.get(ip)!
      return fail(`[${JSON.stringify(ip)}] is already in use by "${ownerKey(h)}"`)
    }
    return { kind: 'assign', ip, pool: pool.name }
  }
  // Keep what it has (status, or a claim made before a crash) while it is still in a pool.
  const current = [...currentIPs(svc), ...[...holders].filter(([, h]) => h.uid === me.uid).map(([ip]) => ip)]
  for (const ip of current) {
    const pool = poolOf(candidates, ip)
    if (pool && free(ip)) return { kind: 'assign', ip, pool: pool.name }
  }
  for (const pool of candidates) {
    const ip = firstFree(pool, (a) => !free(a))
    if (ip) return { kind: 'assign', ip, pool: pool.name }
  }
  return fail(`no available IPs in pool${candidates.length > 1 ? 's' : ''} ${candidates.map((p) => `"${p.name}"`).join(', ')}`)
}

export function currentIPs(svc: Service): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip)
}

/** The status ingress for an assigned address: `ipMode: VIP`, the node delivers it as is. */
export function ingressFor(ip: string): LoadBalancerIngress[] {
  return [{ ip, ipMode: 'VIP' }]
}

/** The condition this controller keeps on Services it handles. */
export const CONDITION_TYPE = 'LoadBalancerIPAllocated'
