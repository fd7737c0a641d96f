// The shapes of `netkube trace` (issue 18): what is asked, every hop with the kernel or DNS
// object that decided it, and what a --probe saw. The contract with the live map (src/ui):
// /work/tasks/T-contract.md. Keep additions optional so both sides stay compatible.

export type Endpoint =
  | { kind: 'pod'; namespace: string; name: string; ip?: string; node?: string }
  | { kind: 'node'; name: string; ip?: string }
  | { kind: 'outside'; ip?: string }
  | { kind: 'service'; namespace: string; name: string; clusterIP?: string }
  | { kind: 'ip'; ip: string }

export interface TraceRequest {
  from: string
  to: string
  port?: number
  proto?: 'tcp' | 'udp'
  probe?: boolean
}

export type HopStage = 'dns' | 'source' | 'wire' | 'destination'

export interface HopCandidate {
  ip: string
  port?: number
  pod?: string
  node?: string
  probability?: number
  /** the kernel chain that DNATs to this candidate (the probe maps its trace event back) */
  chain?: string
}

export interface Hop {
  /** where the decision is taken */
  stage: HopStage
  /** node name when the hop is on a node */
  node?: string
  /** 'resolv' | 'dns-answer' | 'route' | 'service-map' | 'service-chain' | 'endpoint' | 'dnat' | 'masquerade' | 'policy' | 'neighbour' | 'fdb' | 'vxlan' | 'host-gw' | 'bridge' | 'veth' | 'socket' | 'reject' | 'arp' | 'ingress' | … */
  kind: string
  /** one readable line */
  summary: string
  /** the kernel/DNS object that decided it, verbatim (an nft rule, a route line, a DNS RR) */
  object?: string
  candidates?: HopCandidate[]
  verdict?: 'pass' | 'drop' | 'reject'
  detail?: Record<string, string>
}

export interface ProbeEvent {
  node: string
  table: string
  chain: string
  handle?: number
  verdict?: string
  line: string
}

export type TraceOutcome = 'delivered' | 'blocked' | 'rejected' | 'no-listener' | 'unresolved' | 'unknown'

export interface TraceResult {
  request: TraceRequest
  from: Endpoint
  to: Endpoint
  hops: Hop[]
  outcome: TraceOutcome
  /** with --probe: the nft trace events seen, and whether they match the predicted hops */
  probe?: { events: ProbeEvent[]; matched: boolean; mismatches: string[]; /** what the sender saw: connected, ECONNREFUSED, timeout, sent */ sender?: string }
}
