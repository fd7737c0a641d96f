// bench:netpol --lab — NetworkPolicy programming latency in the 3-node lab, observed from the
// outside: a change written through the API (one merge patch, as `kubectl label` sends it) until
// the element it implies is in the kernel of the node concerned (polled: netlink element dumps). One namespace `npb` with
// pods a, b, c (one per node); policy `a-friends` isolates a and lets in pods labelled
// friend=yes and namespaces labelled team=blue; its edits change the allowed port.
//   pod label:       b gets / loses friend=yes      → a's node adds / deletes `a . b` elements
//   namespace label: npb gets / loses team=blue     → a's node adds / deletes elements for b, c
//   policy edit:     the port of the friend rule    → a's node replaces `a . b . tcp . port`
// The agents' own histogram (netkube_netpol_programming_latency_seconds) is not read here:
// this is the end-to-end figure (API write → watch → agent → kernel).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { labDown, labUp } from '../src/lab/lab.js'
import { loadKubeconfig } from '../src/client/kubeconfig.js'
import { createClient } from '../src/client/rest.js'
import { resourceFor } from '../src/api/resources.js'
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.js'
import { dumpSetKeys, ip4KeyPart } from '../src/net/nft-netlink.js'
import { netnsHandle } from '../src/net/door.js'
import { SETS } from '../src/netpol/core.js'
import { kernelSetFor } from '../src/netpol/nftables.js'

const q = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN
}

/**
 * Polls one set of the netpol table in a node namespace (an element dump over netlink, ~1 ms)
 * until `want(keys)` holds; resolves with the end of the first poll that saw it. Not `nft
 * monitor`: nft 1.0.6 prints no events for concatenated interval sets (measured here); not
 * `nft list set`: a process per poll (~50 ms under load) would be the resolution.
 */
async function pollSet(netns: string, set: string, want: (keys: Buffer[]) => boolean, polls: number[], timeoutMs = 10_000): Promise<number> {
  const end = performance.now() + timeoutMs
  for (;;) {
    const t = performance.now()
    const keys = await dumpSetKeys(netns, 'ip', 'netkube-netpol', set)
    const at = performance.now()
    polls.push(at - t)
    if (want(keys)) return at
    if (at > end) throw new Error(`set ${set} in ${netns} not as expected after ${timeoutMs} ms: ${keys.map((k) => k.toString('hex')).join(' ')}`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

/** key bytes: address parts and `proto . port` padded to 4 bytes each, as the kernel keeps them */
const keyOf = (...parts: (string | ['tcp', number])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? ip4KeyPart(p) : Buffer.from([6, 0, 0, 0, p[1] >> 8, p[1] & 255, 0, 0]))))

const POD = (name: string, node: string): Pod =>
  ({
    metadata: { name, namespace: 'npb', labels: { pod: name } },
    spec: { nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'agnhost', args: ['netexec', '--http-port=80'], ports: [{ name: 'http', containerPort: 80 }] }] },
  }) as Pod

const friendsPolicy = (port: number): NetworkPolicy => ({
  metadata: { name: 'a-friends', namespace: 'npb' },
  spec: {
    podSelector: { matchLabels: { pod: 'a' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { friend: 'yes' } } }], ports: [{ port, protocol: 'TCP' }] }, { from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }],
  },
})

export async function labProgramming(o: { samples: number; log: (l: string) => void }): Promise<string[]> {
  const name = `bn${randomBytes(2).toString('hex')}`
  const stateDir = mkdtempSync(join(tmpdir(), 'netkube-bench-netpol-'))
  try {
    const state = await labUp({ name, nodes: 3, stateDir, apiPort: 0, serverFlags: ['--dns-replicas', '1'], progress: o.log })
    const client = createClient(loadKubeconfig(state.kubeconfig!))
    const nodes = state.plan.nodes
    const nss = client.resource<Namespace>(resourceFor('namespaces'))
    const pods = client.resource<Pod>(resourceFor('pods'), 'npb')
    const pols = client.resource<NetworkPolicy>(resourceFor('networkpolicies'), 'npb')
    await nss.create({ metadata: { name: 'npb' } } as Namespace)
    for (const [i, p] of ['a', 'b', 'c'].entries()) await pods.create(POD(p, nodes[i % nodes.length]!.name))
    const deadline = Date.now() + 120_000
    let ips: Record<string, string> = {}
    for (;;) {
      const items = (await pods.list()).items
      ips = Object.fromEntries(items.filter((p) => p.status?.podIP).map((p) => [p.metadata.name!, p.status!.podIP!]))
      if (Object.keys(ips).length === 3) break
      if (Date.now() > deadline) throw new Error('lab pods got no IPs in 120 s')
      await new Promise((r) => setTimeout(r, 500))
    }
    const aNode = nodes[0]! // a runs there (nodes[0 % 3])
    const polls: number[] = []
    await pols.create(friendsPolicy(80))
    const a = ips.a!
    await pollSet(aNode.netns, 'ingress-isolated', (ks) => ks.some((k) => k.equals(ip4KeyPart(a))), polls, 30_000)
    const lat: Record<string, number[]> = { 'pod label': [], 'namespace label': [], 'policy edit': [] }
    const measure = async (kind: string, write: () => Promise<unknown>, set: string, want: (ks: Buffer[]) => boolean): Promise<void> => {
      await new Promise((r) => setTimeout(r, 50))
      const t0 = performance.now()
      await write()
      lat[kind]!.push((await pollSet(aNode.netns, set, want, polls)) - t0)
    }
    const hasB = (port: number) => (ks: Buffer[]) => ks.some((k) => k.equals(keyOf(a, ips.b!, ['tcp', port])))
    const ab = keyOf(a, ips.b!)
    const noB = (ks: Buffer[]) => !ks.some((k) => k.subarray(0, 8).equals(ab))
    const blue = (ks: Buffer[]) => ks.some((k) => k.subarray(0, 4).equals(ip4KeyPart(a)))
    // a's elements live in the shard of a's address (nftables.ts)
    const ports = kernelSetFor(SETS.ingressPorts, a)
    const allSet = kernelSetFor(SETS.ingressAll, a)
    for (let k = 0; k < o.samples; k++) {
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: 'yes' } } }, 'merge'), ports, hasB(80))
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: null } } }, 'merge'), ports, noB)
      await measure('namespace label', () => nss.patch('npb', { metadata: { labels: { team: 'blue' } } }, 'merge'), allSet, blue)
      await measure('namespace label', () => nss.patch('npb', { metadata: { labels: { team: null } } }, 'merge'), allSet, (l) => !blue(l))
      // b a friend again, then the rule's port edited twice (there and back)
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: 'yes' } } }, 'merge'), ports, hasB(80))
      await measure('policy edit', () => pols.patch('a-friends', { spec: friendsPolicy(81).spec }, 'merge'), ports, hasB(81))
      await measure('policy edit', () => pols.patch('a-friends', { spec: friendsPolicy(80).spec }, 'merge'), ports, hasB(80))
      await measure('pod label', () => pods.patch('b', { metadata: { labels: { friend: null } } }, 'merge'), ports, noB)
    }
    const out = [
      `programming latency in the 3-node lab: API write → element in the kernel of ${aNode.name} (polled: an element dump over netlink, p50 ${q(polls, 0.5).toFixed(2)} ms per poll)`,
      '', '| change | samples | p50 ms | p99 ms | max ms |', '|---|---:|---:|---:|---:|']
    const all: number[] = []
    for (const [kind, xs] of Object.entries(lat)) {
      all.push(...xs)
      out.push(`| ${kind} | ${xs.length} | ${q(xs, 0.5).toFixed(1)} | ${q(xs, 0.99).toFixed(1)} | ${Math.max(...xs).toFixed(1)} |`)
    }
    // the agent's own view: its histogram, event seen → kernel accepted (bucket upper bounds)
    const scrape = await netnsHandle(aNode.netns).run(process.execPath, ['-e', "fetch('http://127.0.0.1:9080/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"], { allowFailure: true })
    const buckets = [...scrape.stdout.matchAll(/^netkube_netpol_programming_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])] as const)
    const count = buckets.find(([le]) => le === Infinity)?.[1] ?? 0
    const bound = (p: number): string => {
      const b = buckets.find(([, c]) => c >= p * count)
      return b ? `≤ ${b[0] === Infinity ? '∞' : (b[0] * 1000).toFixed(0)} ms` : '-'
    }
    out.push(`| all | ${all.length} | ${q(all, 0.5).toFixed(1)} | ${q(all, 0.99).toFixed(1)} | ${Math.max(...all).toFixed(1)} |`)
    out.push('', `agent on ${aNode.name}, netkube_netpol_programming_latency_seconds (informer event → kernel): ${count} observations, p50 ${bound(0.5)}, p99 ${bound(0.99)}`)
    return out
  } finally {
    await labDown({ name, stateDir, progress: () => {} })
    rmSync(stateDir, { recursive: true, force: true })
  }
}
