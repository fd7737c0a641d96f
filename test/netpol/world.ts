// The upstream netpol e2e model as plain objects (namespaces x, y, z; pods a, b, c serving
// TCP/UDP 80 and 81 with named ports), and a reader of the core's set elements that decides a
// packet exactly as the nft rules do: egress on the source node's sets, ingress on the
// destination node's. Shared by the core unit tests.
import type { Namespace, NetworkPolicy, Pod } from '../../src/api/types.js'
import { computeDesired, SETS, type Desired } from '../../src/netpol/core.js'
import { ip4ToInt } from '../../src/net/ip.js'

export const NAMESPACES = ['x', 'y', 'z']
export const PODS = ['a', 'b', 'c']
export const NODES = ['node1', 'node2', 'node3']

export interface World {
  pods: Pod[]
  namespaces: Namespace[]
  policies: NetworkPolicy[]
}

export function world(): World {
  const pods: Pod[] = []
  NAMESPACES.forEach((ns, i) =>
    PODS.forEach((name, j) =>
      pods.push({
        metadata: { namespace: ns, name, labels: { pod: name } },
        spec: {
          nodeName: NODES[(i + j) % 3]!,
          containers: [
            {
              name: 'c',
              ports: [
                { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' },
                { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' },
                { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' },
                { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' },
              ],
            },
          ],
        },
        status: { phase: 'Running', podIP: `10.244.${((i + j) % 3) + 1}.${10 + i * 3 + j}` },
      }),
    ),
  )
  const namespaces = NAMESPACES.map((ns) => ({ metadata: { name: ns, labels: { ns, 'kubernetes.io/metadata.name': ns } } }))
  return { pods, namespaces, policies: [] }
}

export function policy(ns: string, name: string, spec: Record<string, unknown>): NetworkPolicy {
  return { metadata: { namespace: ns, name }, spec: { podSelector: {}, ...spec } } as NetworkPolicy
}

type Range = [number, number]
const parseRange = (s: string): Range => {
  const [a, b] = s.split('-')
  return [ip4ToInt(a!), ip4ToInt(b ?? a!)]
}
const parsePorts = (s: string): Range => {
  const [a, b] = s.split('-')
  return [Number(a), Number(b ?? a)]
}
const inR = (r: Range, v: number): boolean => v >= r[0] && v <= r[1]

/** The nft rules over the sets, in TypeScript: ingress-check / egress-check of nftables.ts. */
function passes(d: Desired, dir: 'ingress' | 'egress', me: string, peer: string, proto: string, port: number): boolean {
  const [iso, all, ports] = dir === 'ingress' ? [SETS.ingressIsolated, SETS.ingressAll, SETS.ingressPorts] : [SETS.egressIsolated, SETS.egressAll, SETS.egressPorts]
  if (!d.get(iso)!.has(me)) return true
  const p = ip4ToInt(peer)
  for (const k of d.get(all)!) {
    const [m, r] = k.split(' . ')
    if (m === me && inR(parseRange(r!), p)) return true
  }
  for (const k of d.get(ports)!) {
    const [m, r, pr, pp] = k.split(' . ')
    if (m === me && pr === proto && inR(parseRange(r!), p) && inR(parsePorts(pp!), port)) return true
  }
  return false
}

export interface Probe {
  from: string
  to: string
  proto: 'tcp' | 'udp'
  port: number
}

/** Every node's desired state, and a decision function over it. */
export function decide(w: World): (from: string, to: string, proto: 'tcp' | 'udp', port: number) => boolean {
  const desired = new Map(NODES.map((n) => [n, computeDesired({ nodeName: n, pods: w.pods, namespaces: w.namespaces, policies: w.policies })]))
  const byName = new Map(w.pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]))
  return (from, to, proto, port) => {
    if (from === to) return true // loopback never leaves the pod
    const s = byName.get(from)!
    const d = byName.get(to)!
    const sip = s.status!.podIP!
    const dip = d.status!.podIP!
    return passes(desired.get(s.spec.nodeName!)!, 'egress', sip, dip, proto, port) && passes(desired.get(d.spec.nodeName!)!, 'ingress', dip, sip, proto, port)
  }
}

export const ALL = NAMESPACES.flatMap((ns) => PODS.map((p) => `${ns}/${p}`))

/** Upstream's truth table text: rows from, columns to; `.` allowed, `X` blocked. */
export function matrix(f: (from: string, to: string) => boolean): string {
  const lines = [`-\t${ALL.join('\t')}`]
  for (const a of ALL) lines.push(`${a}\t${ALL.map((b) => (f(a, b) ? '.' : 'X')).join('\t')}`)
  return lines.join('\n')
}
