// Pure: what kube-proxy's nftables table (read back from the kernel with `nft list table`)
// does with one packet — the dispatch map element it hits, the service chain, the endpoint
// chains with their probabilities, DNAT and the masquerade mark, or the no-endpoint reject.
// The names are the proxy's own (src/proxy/nftables.ts CHAINS/MAPS): read, never re-derived.
import type { NftTableState } from '../net/nft-list.js'
import { CHAINS, MAPS, NFT_FAMILY, NFT_TABLE } from '../proxy/nftables.js'
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
    const g = /^goto (endpoint-\S+)$/.exec(r)
    if (g) {
      out.push({ chain: g[1]!, probability: left, rule: r })
      return out
    }
  }
  return out
}

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

const round = (p: number): string => String(Math.round(p * 1000) / 1000)
const MASQ_WHY = (rule: string, src: string): string => (/ip saddr != /.test(rule) ? `source ${src} is outside the pod network` : rule.startsWith('fib saddr') ? 'from this node' : 'NodePort/external traffic')

/** The endpoint chain's hop: hairpin check and DNAT, for the endpoint the trace follows. */
export function endpointHop(t: NftTableState, node: string, ep: EndpointChoice, src: string, why: string): Hop[] {
  const rules = t.chains.get(ep.chain)?.rules ?? []
  const hops: Hop[] = []
  const hair = rules.find((r) => r.startsWith('ip saddr ') && r.includes(CHAINS.markMasq))
  if (hair && hair.startsWith(`ip saddr ${src} `)) hops.push({ stage: 'source', node, kind: 'masquerade', summary: `hairpin: the pod reaches itself, marked for masquerade`, object: hair, detail: { table, chain: ep.chain } })
  hops.push({
    stage: 'source',
    node,
    kind: 'dnat',
    summary: `endpoint chain ${ep.chain}: DNAT to ${ep.ip}:${ep.port} (${why})`,
    object: ep.rule,
    candidates: [{ ip: ep.ip, port: ep.port, probability: ep.probability }],
    detail: { table, chain: ep.chain },
  })
  return hops
}

/** The masquerading chain that rewrites a marked packet's source on the way out. */
export function masqueradeHop(t: NftTableState, node: string): Hop {
  const rules = t.chains.get(CHAINS.masquerading)?.rules ?? []
  return { stage: 'source', node, kind: 'masquerade', summary: `nat postrouting: mark set → source rewritten to the outgoing address (${CHAINS.masquerading})`, object: rules.find((r) => r.startsWith('masquerade')) ?? rules.join('; '), detail: { table, chain: CHAINS.masquerading } }
}
