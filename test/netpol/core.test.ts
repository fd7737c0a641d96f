// The pure core on upstream's netpol e2e cases (test/e2e/network/netpol/network_policy.go):
// each case's policies, evaluated over all 81 pod pairs per port and protocol through the set
// elements the core produces, must give upstream's expected truth table.
import t from 'tap'
import { computeDesired, disjointElements, ipBlockRanges, SETS } from '../../src/netpol/core.js'
import { ip4ToInt } from '../../src/net/ip.js'
import type { NetworkPolicy } from '../../src/api/types.js'
import { ALL, decide, matrix, policy, world, type World } from './world.js'

type Expect = (from: string, to: string, proto: 'tcp' | 'udp', port: number) => boolean
const ns = (p: string): string => p.split('/')[0]!
const pod = (p: string): string => p.split('/')[1]!

interface Case {
  name: string
  policies: NetworkPolicy[]
  expect: Expect
  /** change the world before deciding (labels, IPs) */
  mutate?: (w: World) => void
}

const ip = (w: World, p: string): string => w.pods.find((x) => `${x.metadata.namespace}/${x.metadata.name}` === p)!.status!.podIP!
const base = world()

const CASES: Case[] = [
  { name: 'no policy: everything allowed', policies: [], expect: () => true },
  { name: 'should support a default-deny ingress policy', policies: [policy('x', 'deny-ingress', {})], expect: (f, to) => ns(to) !== 'x' || f === to },
  {
    name: 'should support a default-deny egress policy',
    policies: [policy('x', 'deny-egress', { policyTypes: ['Egress'] })],
    expect: (f, to) => ns(f) !== 'x' || f === to,
  },
  { name: 'should allow ingress access from all (empty from)', policies: [policy('x', 'deny', {}), policy('x', 'allow-all', { ingress: [{}] })], expect: () => true },
  {
    name: 'should support a policy allowing ingress from pods with a label in the same namespace',
    policies: [policy('x', 'allow-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })],
    expect: (f, to) => to !== 'x/a' || f === 'x/b' || f === to,
  },
  {
    name: 'should enforce policy to allow traffic from pods within server namespace based on PodSelector',
    policies: [policy('x', 'allow-ns', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: {} }] }] })],
    expect: (f, to) => to !== 'x/a' || ns(f) === 'x',
  },
  {
    name: 'should enforce policy based on NamespaceSelector with MatchExpressions',
    policies: [policy('x', 'allow-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y'] }] } }] }] })],
    expect: (f, to) => to !== 'x/a' || ns(f) === 'y' || f === to,
  },
  {
    name: 'should enforce policy based on PodSelector and NamespaceSelector (AND, one peer)',
    policies: [policy('x', 'and', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] })],
    expect: (f, to) => to !== 'x/a' || f === 'y/b' || f === to,
  },
  {
    name: 'should enforce policy based on PodSelector or NamespaceSelector (OR, two peers)',
    policies: [policy('x', 'or', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }] })],
    expect: (f, to) => to !== 'x/a' || ns(f) === 'y' || f === 'x/b' || f === to,
  },
  {
    name: 'should enforce policy based on NamespaceSelector with NotIn (all namespaces but x)',
    policies: [policy('x', 'notin', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] } }] }] })],
    expect: (f, to) => to !== 'x/a' || ns(f) !== 'x' || f === to,
  },
  {
    name: 'should enforce policy based on Ports (numeric 81 only)',
    policies: [policy('x', 'p81', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 81, protocol: 'TCP' }] }] })],
    expect: (f, to, proto, port) => to !== 'x/a' || f === to || (proto === 'tcp' && port === 81),
  },
  {
    name: 'should allow ingress access on one named port',
    policies: [policy('x', 'named', { ingress: [{ ports: [{ port: 'serve-81-tcp', protocol: 'TCP' }] }] })],
    expect: (f, to, proto, port) => ns(to) !== 'x' || f === to || (proto === 'tcp' && port === 81),
  },
  {
    name: 'named port whose protocol does not match the container port allows nothing',
    policies: [policy('x', 'named-udp', { ingress: [{ ports: [{ port: 'serve-81-tcp', protocol: 'UDP' }] }] })],
    expect: (f, to) => ns(to) !== 'x' || f === to,
  },
  {
    name: 'should enforce policy to allow traffic only from a port range (endPort 80-81) UDP',
    policies: [policy('x', 'range', { ingress: [{ ports: [{ port: 80, endPort: 81, protocol: 'UDP' }] }] })],
    expect: (f, to, proto) => ns(to) !== 'x' || f === to || proto === 'udp',
  },
  {
    name: 'should enforce except clause while egress access to server in CIDR block',
    policies: [],
    expect: () => true,
    mutate: (w) => {
      // x/a may reach 10.244.0.0/16 except y/b's /32
      w.policies.push(policy('x', 'except', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${ip(w, 'y/b')}/32`] } }] }] }))
    },
  },
  {
    name: 'should allow egress access to server in CIDR block (a /32)',
    policies: [],
    expect: (f, to) => f !== 'x/a' || to === 'y/c' || f === to,
    mutate: (w) => w.policies.push(policy('x', 'cidr', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: `${ip(w, 'y/c')}/32` } }] }] })),
  },
  {
    name: 'should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector',
    policies: [policy('x', 'egress-y', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] })],
    expect: (f, to) => f !== 'x/a' || to === 'y/a' || f === to,
  },
  {
    name: 'egress to a namespace only',
    policies: [policy('x', 'egress-ns', { policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })],
    expect: (f, to) => ns(f) !== 'x' || ns(to) === 'y' || f === to,
  },
  {
    name: 'egress named port resolves on the destination pod',
    policies: [policy('x', 'egress-named', { policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }] })],
    expect: (f, _to, proto, port) => ns(f) !== 'x' || (proto === 'udp' && port === 80) || f === _to,
  },
  {
    name: 'should enforce multiple egress policies with egress allow-all policy taking precedence',
    policies: [
      policy('x', 'egress-81', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 81, protocol: 'TCP' }] }] }),
      policy('x', 'egress-all', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{}] }),
    ],
    expect: () => true,
  },
  {
    name: 'should work with Ingress, Egress specified together (policies on both ends)',
    policies: [
      policy('x', 'egress-to-yb', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
      policy('y', 'ingress-from-xa', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] }),
    ],
    expect: (f, to) => f === to || ((f !== 'x/a' || to === 'y/b') && (to !== 'y/b' || f === 'x/a')),
  },
  {
    name: 'policyTypes Egress only: ingress rules ignored, pods not isolated for ingress',
    policies: [policy('x', 'egress-only', { policyTypes: ['Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'nobody' } } }] }], egress: [{}] })],
    expect: () => true,
  },
  {
    name: 'should stop enforcing policies after they are deleted (policy present then gone = open)',
    policies: [],
    expect: () => true,
  },
  {
    name: 'pod label changed: the policy follows it',
    policies: [policy('x', 'allow-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })],
    mutate: (w) => {
      w.pods.find((p) => p.metadata.namespace === 'x' && p.metadata.name === 'c')!.metadata.labels = { pod: 'b' }
    },
    expect: (f, to) => to !== 'x/a' || f === 'x/b' || f === 'x/c' || f === to,
  },
  {
    name: 'namespace label changed: namespaceSelector follows it',
    policies: [policy('x', 'allow-y', { ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }] })],
    mutate: (w) => {
      w.namespaces.find((n) => n.metadata.name === 'z')!.metadata.labels = { team: 'blue' }
    },
    expect: (f, to) => ns(to) !== 'x' || ns(f) === 'z' || f === to,
  },
]

t.test('upstream truth tables through the set elements', async (t) => {
  for (const c of CASES) {
    const w = world()
    w.policies.push(...c.policies)
    c.mutate?.(w)
    let expect = c.expect
    if (c.name.startsWith('should enforce except clause')) {
      const yb = 'y/b'
      expect = (f, to) => f !== 'x/a' || to !== yb
    }
    const got = decide(w)
    const bad: string[] = []
    for (const [proto, port] of [['tcp', 80], ['tcp', 81], ['udp', 80], ['udp', 81]] as const) {
      const wrong = ALL.flatMap((f) => ALL.filter((to) => got(f, to, proto, port) !== expect(f, to, proto, port)).map((to) => `${f}->${to}`))
      if (wrong.length) bad.push(`${proto}/${port}: ${wrong.join(' ')}\n${matrix((f, to) => got(f, to, proto, port))}`)
    }
    t.same(bad, [], c.name)
  }
})

t.test('a named port resolves per destination pod: two pods naming `web` differently', async (t) => {
  const w = world()
  const [d, e] = [w.pods[0]!, w.pods[1]!] // x/a (node1), x/b (node2)
  d.spec.containers[0]!.ports = [{ name: 'web', containerPort: 80, protocol: 'TCP' }]
  e.spec.containers[0]!.ports = [{ name: 'web', containerPort: 81, protocol: 'TCP' }]
  w.policies.push(policy('x', 'web', { ingress: [{ ports: [{ port: 'web' }] }] }))
  w.policies.push(policy('y', 'egress-web', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'web' }] }] }))
  const got = decide(w)
  t.same([got('z/a', 'x/a', 'tcp', 80), got('z/a', 'x/a', 'tcp', 81), got('z/a', 'x/b', 'tcp', 80), got('z/a', 'x/b', 'tcp', 81)], [true, false, false, true], 'ingress: x/a on 80, x/b on 81')
  // egress from y/a: only towards pods naming web, on their own number (x/a/x/b: ingress also needs web)
  t.same([got('y/a', 'x/a', 'tcp', 80), got('y/a', 'x/a', 'tcp', 81), got('y/a', 'x/b', 'tcp', 81), got('y/a', 'x/b', 'tcp', 80), got('y/a', 'z/a', 'tcp', 80)], [true, false, true, false, false], 'egress: resolved on each destination')
})

t.test('ipBlock except: cidr minus the holes, as disjoint ranges', async (t) => {
  const r = (lo: string, hi: string): [number, number] => [ip4ToInt(lo), ip4ToInt(hi)]
  t.same(ipBlockRanges('10.0.0.0/8', ['10.1.0.0/16']), [r('10.0.0.0', '10.0.255.255'), r('10.2.0.0', '10.255.255.255')])
  t.same(ipBlockRanges('10.0.0.0/24', ['10.0.0.0/25', '10.0.0.128/26']), [r('10.0.0.192', '10.0.0.255')])
  t.same(ipBlockRanges('0.0.0.0/0'), [r('0.0.0.0', '255.255.255.255')])
})

t.test('the sweep: overlapping contributions become disjoint elements with unioned ports', async (t) => {
  const r = (lo: string, hi: string): [number, number] => [ip4ToInt(lo), ip4ToInt(hi)]
  const out = disjointElements([
    { ranges: [r('10.0.0.0', '10.0.0.255')], ports: [{ proto: 'tcp', lo: 80, hi: 80 }] },
    { ranges: [r('10.0.0.5', '10.0.0.5')], ports: [{ proto: 'tcp', lo: 81, hi: 90 }, { proto: 'udp', lo: 53, hi: 53 }] },
    { ranges: [r('10.0.0.5', '10.0.0.5')], ports: [{ proto: 'tcp', lo: 85, hi: 100 }] },
    { ranges: [r('10.0.1.0', '10.0.1.0')], ports: 'all' },
    { ranges: [r('10.0.1.1', '10.0.1.1')], ports: 'all' },
  ])
  t.same(out.all, ['10.0.1.0-10.0.1.1'], 'adjacent all-port ranges joined')
  t.same(out.ports, [
    '10.0.0.0-10.0.0.4 . tcp . 80',
    '10.0.0.5 . tcp . 80-100',
    '10.0.0.5 . udp . 53',
    '10.0.0.6-10.0.0.255 . tcp . 80',
  ])
  t.same(disjointElements([{ ranges: [r('10.0.0.1', '10.0.0.1'), r('10.0.0.1', '10.0.0.1')], ports: 'all' }]).all, ['10.0.0.1'], 'a contribution naming one pod twice')
  t.same(disjointElements([{ ranges: [r('0.0.0.0', '255.255.255.255')], ports: 'all' }]).all, ['0.0.0.0-255.255.255.255'])
})

t.test('node-local: only this node\'s selected pods are isolated; peers anywhere', async (t) => {
  const w = world()
  w.policies.push(policy('x', 'deny', {}))
  const d1 = computeDesired({ nodeName: 'node1', ...w })
  const local = w.pods.filter((p) => p.metadata.namespace === 'x' && p.spec.nodeName === 'node1').map((p) => p.status!.podIP!)
  t.same([...d1.get(SETS.ingressIsolated)!], local)
  t.equal(d1.get(SETS.ingressAll)!.size + d1.get(SETS.ingressPorts)!.size, 0, 'deny-all: no allow elements')
  t.equal(d1.get(SETS.egressIsolated)!.size, 0)
})

t.test('pods without IP, hostNetwork and finished pods take no part; IPv6 ignored', async (t) => {
  const w = world()
  const xa = w.pods[0]!
  w.pods.push({ ...structuredClone(xa), metadata: { ...xa.metadata, name: 'host' }, spec: { ...xa.spec, hostNetwork: true }, status: { phase: 'Running', podIP: '192.168.1.1' } })
  w.pods.push({ ...structuredClone(xa), metadata: { ...xa.metadata, name: 'done' }, status: { phase: 'Succeeded', podIP: '10.244.1.200' } })
  w.pods.push({ ...structuredClone(xa), metadata: { ...xa.metadata, name: 'new' }, status: { phase: 'Pending' } })
  w.pods.push({ ...structuredClone(xa), metadata: { ...xa.metadata, name: 'v6' }, status: { phase: 'Running', podIP: 'fd00::1' } })
  w.policies.push(policy('x', 'deny', {}))
  const d = computeDesired({ nodeName: xa.spec.nodeName!, ...w })
  t.same([...d.get(SETS.ingressIsolated)!], [xa.status!.podIP])
})

t.test('cost: 10,000 policies over 900 pods compute in well under a second (noisy)', async (t) => {
  const w = world()
  for (let i = 0; i < 891; i++)
    w.pods.push({ metadata: { namespace: 'z', name: `p${i}`, labels: { pod: `p${i}` } }, spec: { nodeName: `node${(i % 3) + 1}`, containers: [] }, status: { phase: 'Running', podIP: `10.245.${i >> 8}.${i & 255}` } } as never)
  for (let i = 0; i < 10_000; i++) w.policies.push(policy('z', `np${i}`, { podSelector: { matchLabels: { pod: `p${i % 891}` } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: `p${(i + 1) % 891}` } } }], ports: [{ port: 80 + (i % 7) }] }] }))
  const start = performance.now()
  const d = computeDesired({ nodeName: 'node1', ...w })
  const ms = performance.now() - start
  t.ok(d.get(SETS.ingressPorts)!.size > 0)
  t.comment(`computeDesired: 10k policies, 918 pods: ${ms.toFixed(0)} ms, ${d.get(SETS.ingressPorts)!.size} elements`)
})
void base
void pod
