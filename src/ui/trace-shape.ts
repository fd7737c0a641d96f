// A private copy of h-trace's shapes (/work/tasks/T-contract.md) until src/trace/types.ts is on
// main; then this file goes and the imports point at ../trace/types.js.
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
export interface Hop {
  stage: 'dns' | 'source' | 'wire' | 'destination'
  node?: string
  kind: string
  summary: string
  object?: string
  candidates?: { ip: string; port?: number; pod?: string; node?: string; probability?: number }[]
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
export interface TraceResult {
  request: TraceRequest
  from: Endpoint
  to: Endpoint
  hops: Hop[]
  outcome: 'delivered' | 'blocked' | 'rejected' | 'no-listener' | 'unresolved' | 'unknown'
  probe?: { events: ProbeEvent[]; matched: boolean; mismatches: string[] }
}
