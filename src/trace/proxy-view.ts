// Pure: what kube-proxy's nftables table (read back from the kernel with `nft list table`)
// does with one packet — the dispatch map element it hits, the service chain, the endpoint
// chains with their probabilities, DNAT and the masquerade mark, or the no-endpoint reject.
// The names are the proxy's own (src/proxy/nftables.ts CHAINS/MAPS, src/proxy/nft-maps.ts
// MAPS_SETS/MAPS_CHAINS): read, never re-derived.
//
// Two layouts: per-Service chains behind the @service-ips / @service-nodeports verdict maps
// (vmap or cascade dispatch), and the default 'maps' layout, where a Service port is only
// elements: its key in set endpoints-N (N endpoints) sends it to pick-N, whose numgen vmap
// picks dnat-slot-I, which DNATs to the key's element in map slot-I; masquerading is the key's
// membership in cluster-ips / external-ips (NodePorts: always, in nodeport-pick-N).
import type { NftTableState } from '../net/nft-list.js'
import { CHAINS, MAPS, NFT_FAMILY, NFT_TABLE } from '../proxy/nftables.js'
import { MAPS_CHAINS, MAPS_SETS, MAX_SLOTS } from '../proxy/nft-maps.js'
import { cidrContains, parseCidr } from '../net/ip.js'
import type { Hop, HopCandidate } from './types.js'

export const PROXY_TABLE = { family: NFT_FAMILY, name: NFT_TABLE } as const

export interface ProxyPacket {
  node: string
  /** ClusterIP / externalIP / LB IP, or the node address for a NodePort */
  dst: string
  proto: 'tcp' | 'udp'
  port: number
  src: string
  clusterCIDR: string
  /** the destination is one of this node's own addresses (NodePort) */
  dstLocal: boolean
}

export interface EndpointChoice {
  ip: string
  port: number
  chain: string
  probability: number
  rule: string
  /** maps layout: the slot map and its element that gave the DNAT target */
  slot?: { map: string; element: string }
  /** maps layout: the @hairpin element that masquerades this endpoint reaching itself */
  hairpin?: string
}

export interface ProxyView {
  hops: Hop[]
  /** no element matched: the proxy does not handle this destination */
  handled: boolean
  rejected: boolean
  endpoints: EndpointChoice[]
  masquerade: boolean
  /** chains the packet passes (for matching probe events) */
  chains: string[]
}

const table = `${NFT_FAMILY} ${NFT_TABLE}`

/** Targets and probabilities of a service chain's dispatch rules (vmap, cascade or single goto). */
export function dispatchTargets(rules: readonly string[]): { chain: string; probability: number; rule: string }[] {
  const out: { chain: string; probability: number; rule: string }[] = []
  let left = 1
  for (const r of rules) {
    const vmap = /numgen random mod (\d+) vmap \{ (.*) \}/.exec(r)
    if (vmap) {
      const n = Number(vmap[1])
      for (const m of vmap[2]!.matchAll(/\d+ : goto (\S+?)(?:,|$)/g)) out.push({ chain: m[1]!, probability: left / n, rule: r })
      return out
    }
    const cascade = /numgen random mod (\d+) (?:== )?0 goto (\S+)/.exec(r)
    if (cascade) {
      const p = left / Number(cascade[1])
      out.push({ chain: cascade[2]!, probability: p, rule: r })
      left -= p
      continue
    }
    const g = /^goto (\S+)$/.exec(r)
    if (g && (g[1]!.startsWith('endpoint-') || SLOT_CHAINS.has(g[1]!))) {
      out.push({ chain: g[1]!, probability: left, rule: r })
      return out
    }
  }
  return out
}

/** The maps layout's DNAT chains, by the proxy's own names. */
const SLOT_CHAINS = new Set(Array.from({ length: MAX_SLOTS }, (_, i) => [MAPS_CHAINS.dnatSlot(i), MAPS_CHAINS.nodeportDnatSlot(i)]).flat())

function lookup(t: NftTableState, map: string, key: string): string | undefined {
  return t.sets.get(map)?.elements.get(key)
}

/** Follow one packet through the proxy table. */
export function proxyView(t: NftTableState, p: ProxyPacket): ProxyView {
  const hops: Hop[] = []
  const view: ProxyView = { hops, handled: false, rejected: false, endpoints: [], masquerade: false, chains: [] }
  const ipKey = `${p.dst} . ${p.proto} . ${p.port}`
  const npKey = `${p.proto} . ${p.port}`
  const hop = (h: Omit<Hop, 'stage' | 'node'>): void => void hops.push({ stage: 'source', node: p.node, ...h })

  let entry = lookup(t, MAPS.serviceIPs, ipKey)
  let map: string = MAPS.serviceIPs
  let key = ipKey
  if (!entry && p.dstLocal) {
    entry = lookup(t, MAPS.serviceNodeports, npKey)
    map = MAPS.serviceNodeports
    key = npKey
  }
  if (!entry && mapsView(t, p, view, hop)) return view
  if (!entry) {
    const none = lookup(t, MAPS.noEndpointServices, ipKey) ?? (p.dstLocal ? lookup(t, MAPS.noEndpointNodeports, npKey) : undefined)
    if (none) {
      const m = lookup(t, MAPS.noEndpointServices, ipKey) ? MAPS.noEndpointServices : MAPS.noEndpointNodeports
      const k = m === MAPS.noEndpointServices ? ipKey : npKey
      const rules = t.chains.get(CHAINS.reject)?.rules ?? []
      view.handled = true
      view.rejected = none.includes(CHAINS.reject)
      view.chains.push(CHAINS.serviceEndpointsCheck, CHAINS.reject)
      hop({
        kind: 'reject',
        summary: `${p.dst}:${p.port}/${p.proto} has no usable endpoints: ${m} element → ${none}${view.rejected ? ` (${rules.join('; ')})` : ''}`,
        object: `${k} : ${none}`,
        verdict: view.rejected ? 'reject' : 'drop',
        detail: { table, map: m, chain: view.rejected ? CHAINS.reject : CHAINS.serviceEndpointsCheck, rules: rules.join('\n') },
      })
    }
    return view
  }
  view.handled = true
  view.chains.push(CHAINS.services)
  hop({ kind: 'service-map', summary: `${map} element ${key} → ${entry}`, object: `${key} : ${entry}`, detail: { table, map, chain: CHAINS.services } })

  let chain = /^goto (\S+)$/.exec(entry)?.[1]
  const seen = new Set<string>()
  const srcInCluster = cidrContains(parseCidr(p.clusterCIDR), p.src)
  while (chain && !chain.startsWith('endpoint-') && !seen.has(chain)) {
    seen.add(chain)
    view.chains.push(chain)
    const rules = t.chains.get(chain)?.rules ?? []
    let next: string | undefined
    for (const r of rules) {
      if (r.includes(`jump ${CHAINS.markMasq}`)) {
        // `ip saddr != CIDR jump mark-for-masquerade` marks only traffic from outside the pod network
        const cond = /ip saddr != (\S+)/.exec(r)
        const fib = r.startsWith('fib saddr type local')
        const marks = fib ? !srcInCluster && p.dstLocal : cond ? !cidrContains(parseCidr(cond[1]!), p.src) : true
        if (marks) view.masquerade = true
        hop({ kind: 'masquerade', summary: marks ? `marked for masquerade (${MASQ_WHY(r, p.src)})` : `not masqueraded: source ${p.src} is inside ${cond?.[1] ?? p.clusterCIDR}`, object: r, detail: { table, chain } })
        continue
      }
      const g = /^(?:ip saddr (\S+) )?goto (\S+)$/.exec(r)
      if (g && !g[2]!.startsWith('endpoint-')) {
        if (g[1] && !cidrContains(parseCidr(g[1]), p.src)) continue
        next = g[2]
        break
      }
    }
    const targets = dispatchTargets(rules)
    if (targets.length) {
      const eps: HopCandidate[] = []
      for (const tg of targets) {
        const epRules = t.chains.get(tg.chain)?.rules ?? []
        const dnatRule = epRules.find((r) => / dnat to /.test(r)) ?? ''
        const m = /dnat to (\d+\.\d+\.\d+\.\d+):(\d+)/.exec(dnatRule)
        if (!m) continue
        view.endpoints.push({ ip: m[1]!, port: Number(m[2]), chain: tg.chain, probability: tg.probability, rule: dnatRule })
        eps.push({ ip: m[1]!, port: Number(m[2]), probability: tg.probability })
      }
      hop({
        kind: 'service-chain',
        summary: `service chain ${chain}: ${eps.length} endpoint${eps.length === 1 ? '' : 's'} (${eps.map((e) => `${e.ip}:${e.port} p=${round(e.probability!)}`).join(', ')})`,
        object: targets[0]!.rule,
        candidates: eps,
        detail: { table, chain },
      })
      return view
    }
    chain = next
  }
  return view
}

/** The maps layout: which endpoints-N set holds the key, then pick-N → dnat-slot-I → slot-I. */
function mapsView(t: NftTableState, p: ProxyPacket, view: ProxyView, hop: (h: Omit<Hop, 'stage' | 'node'>) => void): boolean {
  const ipKey = `${p.dst} . ${p.proto} . ${p.port}`
  const npKey = `${p.proto} . ${p.port}`
  const has = (set: string, key: string): boolean => t.sets.get(set)?.elements.has(key) ?? false
  let n = 0
  let nodePort = false
  for (let i = 1; i <= MAX_SLOTS && !n; i++) if (has(MAPS_SETS.endpoints(i), ipKey)) n = i
  for (let i = 1; i <= MAX_SLOTS && !n && p.dstLocal; i++) if (has(MAPS_SETS.nodeportEndpoints(i), npKey)) [n, nodePort] = [i, true]
  if (!n) return false
  const key = nodePort ? npKey : ipKey
  const set = nodePort ? MAPS_SETS.nodeportEndpoints(n) : MAPS_SETS.endpoints(n)
  const pick = nodePort ? MAPS_CHAINS.nodeportPick(n) : MAPS_CHAINS.pick(n)
  const entryChain = nodePort ? MAPS_CHAINS.nodeports : CHAINS.services
  const dispatchRule = t.chains.get(entryChain)?.rules.find((r) => r.includes(`@${set} `)) ?? ''
  view.handled = true
  view.chains.push(CHAINS.services, ...(nodePort ? [MAPS_CHAINS.nodeports] : []), pick)
  hop({ kind: 'service-map', summary: `${set} element ${key} → ${dispatchRule.replace(/^.* (goto \S+)$/, '$1')} (${entryChain})`, object: dispatchRule, detail: { table, map: set, chain: entryChain, element: key } })

  // masquerade: NodePorts always (nodeport-pick-N), else membership in cluster-ips / external-ips
  const services = t.chains.get(CHAINS.services)?.rules ?? []
  const masqRule = (s: string): string => services.find((r) => r.includes(`@${s} `) && r.includes(`jump ${CHAINS.markMasq}`)) ?? ''
  const pickRules = t.chains.get(pick)?.rules ?? []
  if (nodePort) {
    view.masquerade = true
    hop({ kind: 'masquerade', summary: `marked for masquerade (NodePort/external traffic, ${pick})`, object: pickRules.find((r) => r.includes(CHAINS.markMasq)) ?? '', detail: { table, chain: pick } })
  } else if (has(MAPS_SETS.externalIPs, ipKey)) {
    view.masquerade = true
    hop({ kind: 'masquerade', summary: `marked for masquerade (${MAPS_SETS.externalIPs} element ${ipKey}: NodePort/external traffic)`, object: masqRule(MAPS_SETS.externalIPs), detail: { table, chain: CHAINS.services, set: MAPS_SETS.externalIPs } })
  } else if (has(MAPS_SETS.clusterIPs, ipKey)) {
    const rule = masqRule(MAPS_SETS.clusterIPs)
    const cidr = /ip saddr != (\S+)/.exec(rule)?.[1] ?? p.clusterCIDR
    const marks = !cidrContains(parseCidr(cidr), p.src)
    if (marks) view.masquerade = true
    hop({
      kind: 'masquerade',
      summary: marks ? `marked for masquerade (${MAPS_SETS.clusterIPs} element ${ipKey}; source ${p.src} is outside the pod network)` : `not masqueraded: source ${p.src} is inside ${cidr} (${MAPS_SETS.clusterIPs} rule)`,
      object: rule,
      detail: { table, chain: CHAINS.services, set: MAPS_SETS.clusterIPs },
    })
  }

  const targets = dispatchTargets(pickRules)
  const eps: HopCandidate[] = []
  for (const tg of targets) {
    const i = Number(/(\d+)$/.exec(tg.chain)?.[1])
    const slot = nodePort ? MAPS_SETS.nodeportSlot(i) : MAPS_SETS.slot(i)
    const value = t.sets.get(slot)?.elements.get(key)
    const m = value ? /^(\d+\.\d+\.\d+\.\d+) \. (\d+)$/.exec(value) : null
    if (!m) continue
    const rule = t.chains.get(tg.chain)?.rules.find((r) => r.includes(` ${p.proto} dport map @${slot}`)) ?? ''
    const ep: EndpointChoice = { ip: m[1]!, port: Number(m[2]), chain: tg.chain, probability: tg.probability, rule, slot: { map: slot, element: `${key} : ${value}` } }
    // hairpin elements are keyed by the ClusterIP; a NodePort's ClusterIP is not in its key
    const hp = `${ep.ip} . ${ep.ip} . ${ipKey}`
    if (!nodePort && has(MAPS_SETS.hairpin, hp)) ep.hairpin = hp
    view.endpoints.push(ep)
    eps.push({ ip: ep.ip, port: ep.port, probability: ep.probability, chain: ep.chain })
  }
  hop({
    kind: 'service-chain',
    summary: `${pick}: ${eps.length} endpoint${eps.length === 1 ? '' : 's'} (${eps.map((e) => `${e.ip}:${e.port} p=${round(e.probability!)}`).join(', ')})`,
    object: targets[0]?.rule ?? pickRules.join('; '),
    candidates: eps,
    detail: { table, chain: pick },
  })
  return true
}

const round = (p: number): string => String(Math.round(p * 1000) / 1000)
const MASQ_WHY = (rule: string, src: string): string => (/ip saddr != /.test(rule) ? `source ${src} is outside the pod network` : rule.startsWith('fib saddr') ? 'from this node' : 'NodePort/external traffic')

/** The endpoint chain's hop: hairpin check and DNAT, for the endpoint the trace follows. */
export function endpointHop(t: NftTableState, node: string, ep: EndpointChoice, src: string, why: string): Hop[] {
  const rules = t.chains.get(ep.chain)?.rules ?? []
  const hops: Hop[] = []
  if (ep.hairpin && ep.ip === src)
    hops.push({ stage: 'source', node, kind: 'masquerade', summary: `hairpin: the pod reaches itself, marked for masquerade in nat postrouting (${MAPS_SETS.hairpin} element ${ep.hairpin})`, object: ep.hairpin, detail: { table, chain: CHAINS.natPostrouting, set: MAPS_SETS.hairpin } })
  const hair = rules.find((r) => r.startsWith('ip saddr ') && r.includes(CHAINS.markMasq))
  if (hair && hair.startsWith(`ip saddr ${src} `)) hops.push({ stage: 'source', node, kind: 'masquerade', summary: `hairpin: the pod reaches itself, marked for masquerade`, object: hair, detail: { table, chain: ep.chain } })
  hops.push({
    stage: 'source',
    node,
    kind: 'dnat',
    summary: ep.slot ? `${ep.chain}: ${ep.slot.map} element ${ep.slot.element} → DNAT to ${ep.ip}:${ep.port} (${why})` : `endpoint chain ${ep.chain}: DNAT to ${ep.ip}:${ep.port} (${why})`,
    object: ep.rule,
    candidates: [{ ip: ep.ip, port: ep.port, probability: ep.probability, chain: ep.chain }],
    detail: { table, chain: ep.chain, ...(ep.slot ? { map: ep.slot.map, element: ep.slot.element } : {}) },
  })
  return hops
}

/** The masquerading chain that rewrites a marked packet's source on the way out. */
export function masqueradeHop(t: NftTableState, node: string): Hop {
  const rules = t.chains.get(CHAINS.masquerading)?.rules ?? []
  return { stage: 'source', node, kind: 'masquerade', summary: `nat postrouting: mark set → source rewritten to the outgoing address (${CHAINS.masquerading})`, object: rules.find((r) => r.startsWith('masquerade')) ?? rules.join('; '), detail: { table, chain: CHAINS.masquerading } }
}
