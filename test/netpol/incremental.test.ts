// The incremental core against the from-scratch one: random sequences of Pod, Namespace and
// NetworkPolicy changes (labels, IPs — colliding on purpose —, nodes, named ports, selectors of
// every operator, ipBlocks with excepts, endPort ranges, both directions) are fed to
// IncrementalNetpol one at a time; after every flush its state must equal computeDesired over
// the same objects, and its diff must be exactly the difference between the two states.
// This is the test that proves the memoisation and its invalidation right. The diffs are also
// planned into the sharded kernel layout (nftables.ts) and applied to a model of its sets, which must then
// hold exactly what a full sync of the from-scratch state writes (every element in its shard).
import t from 'tap'
import type { LabelSelector, Namespace, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, Pod } from '../../src/api/types.js'
import { computeDesired, SETS, type Desired, type SetName } from '../../src/netpol/core.js'
import { diffSize, IncrementalNetpol, objectKey } from '../../src/netpol/incremental.js'
import type { NftTransaction } from '../../src/net/nft.js'
import { kernelSet, NetpolNftState } from '../../src/netpol/nftables.js'
import { policy, world } from './world.js'
// a seeded PRNG (mulberry32), so a failure names the seed that reproduces it
import { prng as rng } from '../apiserver/fuzz-cases.js'

const NODE = 'node1'
const NSS = ['x', 'y', 'z', 'w']
const KEYS = ['app', 'tier', 'pod']
const VALS = ['a', 'b', 'c']

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n)
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!
  }
  chance(p: number): boolean {
    return this.r() < p
  }
  labels(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const k of KEYS) if (this.chance(0.5)) out[k] = this.pick(VALS)
    return out
  }
  selector(): LabelSelector {
    const s: LabelSelector = {}
    if (this.chance(0.6)) s.matchLabels = { [this.pick(KEYS)]: this.pick(VALS) }
    if (this.chance(0.35)) {
      const op = this.pick(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const)
      s.matchExpressions = [{ key: this.pick(KEYS), operator: op, ...(op === 'In' || op === 'NotIn' ? { values: [this.pick(VALS), this.pick(VALS)] } : {}) }]
    }
    return s
  }
  ip(): string {
    // a small pool: pods share addresses now and then (a finished pod's IP reused)
    return `10.244.${this.int(2)}.${this.int(12)}`
  }
  pod(ns: string, name: string): Pod {
    const phase = this.chance(0.08) ? 'Succeeded' : 'Running'
    return {
      metadata: { namespace: ns, name, labels: this.labels() },
      spec: {
        nodeName: this.chance(0.6) ? NODE : 'node2',
        ...(this.chance(0.04) ? { hostNetwork: true } : {}),
        containers: [
          {
            name: 'c',
            ports: [
              ...(this.chance(0.7) ? [{ name: 'http', containerPort: this.pick([80, 8080]), protocol: 'TCP' as const }] : []),
              ...(this.chance(0.5) ? [{ name: 'dns', containerPort: 53, protocol: 'UDP' as const }] : []),
            ],
          },
        ],
      },
      status: this.chance(0.07) ? { phase: 'Pending' } : { phase, podIP: this.ip() },
    }
  }
  peer(): NetworkPolicyPeer {
    switch (this.int(5)) {
      case 0:
        return { podSelector: this.selector() }
      case 1:
        return { namespaceSelector: this.selector() }
      case 2:
        return { namespaceSelector: this.selector(), podSelector: this.selector() }
      case 3:
        return { ipBlock: { cidr: this.pick(['10.244.0.0/16', '10.244.1.0/24', '10.244.0.8/29']), ...(this.chance(0.5) ? { except: [`10.244.${this.int(2)}.${this.int(12)}/32`] } : {}) } }
      default:
        return { podSelector: {} }
    }
  }
  ports(): NetworkPolicyPort[] | undefined {
    if (this.chance(0.35)) return undefined
    const out: NetworkPolicyPort[] = []
    for (let i = 0, n = 1 + this.int(2); i < n; i++) {
      const c = this.int(4)
      if (c === 0) out.push({ protocol: 'TCP', port: this.pick([80, 81, 8080]) })
      else if (c === 1) out.push({ protocol: 'TCP', port: 80, endPort: this.pick([81, 8080]) })
      else if (c === 2) out.push({ protocol: this.pick(['TCP', 'UDP'] as const), port: this.pick(['http', 'dns']) })
      else out.push({ protocol: 'UDP' })
    }
    return out
  }
  rules(kind: 'from' | 'to'): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = []
    for (let i = 0, n = this.int(3); i < n; i++) {
      const peers = this.chance(0.2) ? undefined : Array.from({ length: 1 + this.int(2) }, () => this.peer())
      const ports = this.ports()
      out.push({ ...(peers ? { [kind]: peers } : {}), ...(ports ? { ports } : {}) })
    }
    return out
  }
  policy(ns: string, name: string): NetworkPolicy {
    const types = this.pick([undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']])
    return policy(ns, name, {
      podSelector: this.chance(0.3) ? {} : this.selector(),
      ...(types ? { policyTypes: types } : {}),
      ...(this.chance(0.7) ? { ingress: this.rules('from') } : {}),
      ...(this.chance(0.5) ? { egress: this.rules('to') } : {}),
    })
  }
  namespace(name: string): Namespace {
    return { metadata: { name, labels: { ...this.labels(), 'kubernetes.io/metadata.name': name } } }
  }
}

const snapshot = (d: Desired): Record<string, string[]> => Object.fromEntries([...d].map(([k, v]) => [k, [...v].sort()]))

/** The element content per kernel set that a transaction writes (a full sync). */
function kernelSets(tx: NftTransaction): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const { obj } of tx.ops) if (obj.kind === 'set' || obj.kind === 'map') out.set(obj.name, new Set())
  applyElements(out, tx)
  return out
}

/** Logical set contents placed in kernel sets as the planner places them. */
function placed(d: Record<string, string[]>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const [set, keys] of Object.entries(d))
    for (const k of keys) {
      const name = kernelSet(set as SetName, k)
      ;(out.get(name) ?? out.set(name, new Set()).get(name)!).add(k)
    }
  return out
}

/** Element ops applied as the kernel would: adding a present or deleting an absent element is a fault here (the core never does either). */
function applyElements(sets: Map<string, Set<string>>, tx: NftTransaction): string | undefined {
  for (const { verb, obj } of tx.ops) {
    if (obj.kind !== 'element') continue
    const s = sets.get(obj.set)
    if (!s) return `${verb} ${obj.key} in missing set ${obj.set}`
    if (verb === 'add' ? s.has(obj.key) : !s.has(obj.key)) return `${verb} ${obj.key} in ${obj.set}: ${verb === 'add' ? 'already there' : 'not there'}`
    if (verb === 'add') s.add(obj.key)
    else s.delete(obj.key)
  }
  return undefined
}

async function runSequence(seed: number, steps: number): Promise<string | undefined> {
  const g = new Gen(rng(seed))
  // the kernel's sets as the agent programs them: one full sync, then only the planned diffs
  const planner = new NetpolNftState()
  const kernel = kernelSets(planner.planFull(new IncrementalNetpol(NODE).desired()).tx)
  const pods = new Map<string, Pod>()
  const nss = new Map<string, Namespace>()
  const pols = new Map<string, NetworkPolicy>()
  const inc = new IncrementalNetpol(NODE)
  let prev = snapshot(inc.desired())
  for (let step = 0; step < steps; step++) {
    const what = g.int(10)
    if (what < 4) {
      const key = `${g.pick(NSS)}/p${g.int(10)}`
      const [ns, name] = key.split('/') as [string, string]
      if (pods.has(key) && g.chance(0.25)) {
        pods.delete(key)
        inc.setPod(key, undefined)
      } else if (pods.has(key) && g.chance(0.5)) {
        // a label-only edit, as `kubectl label` makes
        const next = structuredClone(pods.get(key)!)
        next.metadata.labels = g.labels()
        pods.set(key, next)
        inc.setPod(key, next)
      } else {
        const p = g.pod(ns, name)
        pods.set(key, p)
        inc.setPod(objectKey(p), p)
      }
    } else if (what < 6) {
      const name = g.pick(NSS)
      if (nss.has(name) && g.chance(0.15)) {
        nss.delete(name)
        inc.setNamespace(name, undefined)
      } else {
        const n = g.namespace(name)
        nss.set(name, n)
        inc.setNamespace(name, n)
      }
    } else {
      const key = `${g.pick(NSS)}/np${g.int(6)}`
      const [ns, name] = key.split('/') as [string, string]
      if (pols.has(key) && g.chance(0.3)) {
        pols.delete(key)
        inc.setPolicy(key, undefined)
      } else {
        const np = g.policy(ns, name)
        pols.set(key, np)
        inc.setPolicy(key, np)
      }
    }
    // flush after most steps, sometimes let changes pile up (a coalesced sync)
    if (g.chance(0.3) && step < steps - 1) continue
    const diff = inc.flush()
    const got = snapshot(inc.desired())
    const want = snapshot(computeDesired({ nodeName: NODE, pods: pods.values(), namespaces: nss.values(), policies: pols.values() }))
    if (JSON.stringify(got) !== JSON.stringify(want)) return `seed ${seed} step ${step}: incremental ${JSON.stringify(got)}\n  from scratch ${JSON.stringify(want)}`
    for (const set of Object.values(SETS)) {
      const before = new Set(prev[set])
      const after = new Set(got[set])
      const adds = diff.add.get(set) ?? []
      const dels = diff.del.get(set) ?? []
      const wantAdds = [...after].filter((k) => !before.has(k)).sort()
      const wantDels = [...before].filter((k) => !after.has(k)).sort()
      if (JSON.stringify([...adds].sort()) !== JSON.stringify(wantAdds) || JSON.stringify([...dels].sort()) !== JSON.stringify(wantDels))
        return `seed ${seed} step ${step}: diff of ${set} is add ${JSON.stringify(adds)} del ${JSON.stringify(dels)}, want add ${JSON.stringify(wantAdds)} del ${JSON.stringify(wantDels)}`
    }
    const planned = planner.planDiff(diff).tx
    const fault = applyElements(kernel, planned)
    if (fault) return `seed ${seed} step ${step}: the planned diff fails in the kernel model: ${fault}`
    // the kernel's sets after the diffs: every element of the from-scratch state in its shard,
    // nothing else; at the end of the sequence, exactly what a full sync of that state writes
    const full = step === steps - 1 ? kernelSets(new NetpolNftState().planFull(computeDesired({ nodeName: NODE, pods: pods.values(), namespaces: nss.values(), policies: pols.values() })).tx) : placed(want)
    for (const name of new Set([...kernel.keys(), ...full.keys()])) {
      if (name.endsWith('-shards') && step !== steps - 1) continue
      const have = [...(kernel.get(name) ?? [])].sort()
      const exp = [...(full.get(name) ?? [])].sort()
      if (JSON.stringify(have) !== JSON.stringify(exp)) return `seed ${seed} step ${step}: kernel set ${name} holds ${JSON.stringify(have)} after the diffs, want ${JSON.stringify(exp)}`
    }
    prev = got
  }
  return undefined
}

t.test('random change sequences: incremental state = from-scratch state, diff = the difference', async (t) => {
  const base = Number(process.env.NETPOL_FUZZ_SEED ?? 1)
  const runs = Number(process.env.NETPOL_FUZZ_RUNS ?? 100)
  const failures: string[] = []
  for (let i = 0; i < runs && failures.length < 3; i++) {
    const f = await runSequence(base + i, 120)
    if (f) failures.push(f)
  }
  t.same(failures, [], `${runs} sequences of 120 changes (NETPOL_FUZZ_SEED=${base} to rerun)`)
})

t.test('the e2e model: a flush after loading everything equals computeDesired; no change, no diff', async (t) => {
  const w = world()
  w.policies.push(policy('x', 'deny', {}), policy('y', 'allow-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }))
  for (const node of ['node1', 'node2', 'node3']) {
    const inc = new IncrementalNetpol(node)
    for (const n of w.namespaces) inc.setNamespace(n.metadata.name!, n)
    for (const p of w.pods) inc.setPod(objectKey(p), p)
    for (const np of w.policies) inc.setPolicy(objectKey(np), np)
    const first = diffSize(inc.flush())
    t.ok(first.added > 0 && first.deleted === 0, `${node}: first flush adds`)
    t.same(snapshot(inc.desired()), snapshot(computeDesired({ nodeName: node, ...w })), `${node}: equals computeDesired`)
    // an equal object again (an informer resync) marks nothing
    for (const p of w.pods) inc.setPod(objectKey(p), structuredClone(p))
    t.same(diffSize(inc.flush()), { added: 0, deleted: 0 }, `${node}: a resync of equal pods changes nothing`)
  }
})

t.test('one change costs what it touches: 10,000 policies, a label flip recomputes two units', async (t) => {
  const inc = new IncrementalNetpol('n1')
  const pods: Pod[] = []
  for (let i = 0; i < 10_000; i++) {
    const p: Pod = { metadata: { namespace: 'b', name: `s${i}`, labels: { syn: `s${i}` } }, spec: { nodeName: 'n1', containers: [] }, status: { phase: 'Running', podIP: `10.245.${i >> 8}.${i & 255}` } }
    pods.push(p)
    inc.setPod(objectKey(p), p)
  }
  inc.setNamespace('b', { metadata: { name: 'b' } })
  for (let i = 0; i < 10_000; i++)
    inc.setPolicy(`b/p${i}`, policy('b', `p${i}`, { podSelector: { matchLabels: { syn: `s${i}` } }, ingress: [{ from: [{ podSelector: { matchLabels: { syn: `s${(i + 1) % 10_000}` } } }], ports: [{ port: 80 + (i % 7), protocol: 'TCP' }] }] }))
  const t0 = performance.now()
  inc.flush()
  const loadMs = performance.now() - t0
  const moved = { ...pods[5]!, metadata: { ...pods[5]!.metadata, labels: { syn: 'moved' } } }
  const t1 = performance.now()
  inc.setPod(objectKey(moved), moved)
  const d = inc.flush()
  const oneMs = performance.now() - t1
  // s5 no longer selected by p5 (its 2 elements go) and no longer p4's peer (p4's element goes)
  t.same(diffSize(d), { added: 0, deleted: 3 }, 'the diff of one label flip')
  t.same(d.del.get(SETS.ingressIsolated), ['10.245.0.5'])
  t.comment(`first flush of 10,000 policies: ${loadMs.toFixed(0)} ms; one label flip: ${oneMs.toFixed(2)} ms (noisy)`)
})
