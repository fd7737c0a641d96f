// The synthetic cluster of bench:netpol, shared by its parts (bench/netpol.ts, the kernel
// commit cost in bench/netpol-commit.ts): N policies in namespace `bench` of one node.
//   pod1 (client) and pod2 (server): policy `server` lets pod1 into pod2:8080;
//   syn0…syn(N-1): one local pod per policy, p_i selects syn_i and lets in syn_(i+1) on one
//   port (80–86), so the sets hold ~2N elements (the worst case: every policy selects a pod
//   of this node); `from-blue` selects syn0 and lets in namespaces labelled team=blue;
//   o1 lives on another node in namespace `other` (team=red).
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.js'

export const NODE = 'bench-node'

export interface World {
  pods: Pod[]
  namespaces: Namespace[]
  policies: NetworkPolicy[]
}

export function pod(ns: string, name: string, ip: string | undefined, labels: Record<string, string>, node = NODE): Pod {
  return {
    metadata: { namespace: ns, name, labels },
    spec: { nodeName: node, containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: ip ? { phase: 'Running', podIP: ip } : { phase: 'Pending' },
  }
}
export const policy = (name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ metadata: { namespace: 'bench', name }, spec })
export const synIp = (i: number): string => `10.245.${i >> 8}.${i & 255}`
export const synPolicy = (i: number, n: number, port = 80 + (i % 7)): NetworkPolicy =>
  policy(`p${i}`, { podSelector: { matchLabels: { syn: `s${i}` } }, ingress: [{ from: [{ podSelector: { matchLabels: { syn: `s${(i + 1) % n}` } } }], ports: [{ port, protocol: 'TCP' }] }], policyTypes: ['Ingress'] })

/** N policies: pod2 let in from pod1 on 8080, s0 from namespaces labelled team=blue, p2…p(N-1) one per synthetic pod. */
export function worldFor(n: number, clientIP: string, serverIP: string): World {
  const pods = [pod('bench', 'pod1', clientIP, { app: 'client' }), pod('bench', 'pod2', serverIP, { app: 'server' }), pod('other', 'o1', '10.246.0.1', { app: 'o' }, 'elsewhere')]
  for (let i = 0; i < Math.max(n, 40); i++) pods.push(pod('bench', `syn${i}`, synIp(i), { syn: `s${i}` }))
  const namespaces: Namespace[] = [{ metadata: { name: 'bench', labels: { 'kubernetes.io/metadata.name': 'bench' } } }, { metadata: { name: 'other', labels: { team: 'red' } } }]
  const policies: NetworkPolicy[] = []
  if (n > 0) policies.push(policy('server', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 8080, protocol: 'TCP' }] }], policyTypes: ['Ingress'] }))
  if (n > 1) policies.push(policy('from-blue', { podSelector: { matchLabels: { syn: 's0' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }], policyTypes: ['Ingress'] }))
  for (let i = 2; i < n; i++) policies.push(synPolicy(i, Math.max(n, 1)))
  return { pods, namespaces, policies }
}

export const q = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN
}
