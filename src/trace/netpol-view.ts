// Pure: which of the NetworkPolicy table's sets (src/netpol: table ip netkube-netpol) decide a
// packet, named with netpol's own functions (SETS, kernelSetFor, CHAINS), and the hop that says
// which policy isolated the pod and whether an element admitted the packet. The kernel answers
// the membership questions (`nft get element`, interval sets included); this only frames them.
import { labelSelectorFromApi, matchesLabels } from '../api/selectors.js'
import type { NetworkPolicy, Pod } from '../api/types.js'
import { policyDirections, SETS } from '../netpol/core.js'
import { CHAINS, kernelSetFor, NFT_FAMILY, NFT_TABLE } from '../netpol/nftables.js'
import type { Hop } from './types.js'

export const NETPOL_TABLE = { family: NFT_FAMILY, name: NFT_TABLE } as const

export interface NetpolQuestion {
  dir: 'ingress' | 'egress'
  isolated: { set: string; key: string }
  all: { set: string; key: string }
  ports: { set: string; key: string }
}

/** The lookups the kernel makes for `local` (the selected pod) and `peer` in direction `dir`. */
export function netpolQuestion(dir: 'ingress' | 'egress', local: string, peer: string, proto: string, port: number): NetpolQuestion {
  const s = dir === 'ingress' ? { iso: SETS.ingressIsolated, all: SETS.ingressAll, ports: SETS.ingressPorts } : { iso: SETS.egressIsolated, all: SETS.egressAll, ports: SETS.egressPorts }
  return {
    dir,
    isolated: { set: s.iso, key: local },
    all: { set: kernelSetFor(s.all, local), key: `${local} . ${peer}` },
    ports: { set: kernelSetFor(s.ports, local), key: `${local} . ${peer} . ${proto} . ${port}` },
  }
}

export interface NetpolAnswers {
  isolated: boolean
  /** the kernel's element text when found */
  all?: string
  ports?: string
}

/** Policies of the pod's namespace that select it in `dir`. */
export function selectingPolicies(pod: Pod, policies: readonly NetworkPolicy[], dir: 'ingress' | 'egress'): NetworkPolicy[] {
  return policies.filter(
    (np) => np.metadata.namespace === pod.metadata.namespace && policyDirections(np.spec)[dir] && matchesLabels(labelSelectorFromApi(np.spec.podSelector ?? {}), pod.metadata.labels ?? {}),
  )
}

const tbl = `${NFT_FAMILY} ${NFT_TABLE}`

export function netpolHop(node: string, stage: Hop['stage'], q: NetpolQuestion, a: NetpolAnswers, pod: Pod, policies: readonly NetworkPolicy[]): Hop {
  const who = `${pod.metadata.namespace}/${pod.metadata.name}`
  const dirWord = q.dir === 'ingress' ? 'Ingress' : 'Egress'
  if (!a.isolated)
    return { stage, node, kind: 'policy', verdict: 'pass', summary: `${dirWord}: pod ${who} is not isolated (no NetworkPolicy selects it): allowed`, object: `${q.isolated.key} ∉ @${q.isolated.set}`, detail: { table: tbl, chain: CHAINS.forward, direction: q.dir } }
  const names = selectingPolicies(pod, policies, q.dir).map((p) => `${p.metadata.namespace}/${p.metadata.name}`)
  const by = names.length ? names.join(', ') : '(a policy the API no longer shows)'
  const allowed = a.all ?? a.ports
  if (allowed)
    return {
      stage,
      node,
      kind: 'policy',
      verdict: 'pass',
      summary: `${dirWord}: pod ${who} is isolated by ${by}; allowed by element ${a.all ? q.all.key : q.ports.key} of @${a.all ? q.all.set : q.ports.set}`,
      object: allowed,
      detail: { table: tbl, chain: `${q.dir}-check`, direction: q.dir, policies: names.join(','), set: a.all ? q.all.set : q.ports.set },
    }
  return {
    stage,
    node,
    kind: 'policy',
    verdict: 'reject',
    summary: `${dirWord}: BLOCKED by NetworkPolicy ${by}: pod ${who} is isolated and no rule admits ${q.ports.key.split(' . ').slice(1).join(' . ')} (neither in @${q.all.set} nor @${q.ports.set}) → ${CHAINS.deny}`,
    object: `${q.isolated.key} ∈ @${q.isolated.set}; ${q.ports.key} ∉ @${q.ports.set}`,
    detail: { table: tbl, chain: CHAINS.deny, direction: q.dir, policies: names.join(',') },
  }
}
