// bench:netpol --lab — NetworkPolicy programming latency in the 3-node lab, observed from the
// outside: a change written through the API (one merge patch, as `kubectl label` sends it) until
// the element it implies is in the kernel of the node concerned (polled: netlink element dumps). One namespace `npb` with
// pods a, b, c (one per node); policy `a-friends` isolates a and lets in pods labelled
// friend=yes and namespaces labelled team=blue; its edits change the allowed port.
//   pod label:       b gets / loses friend=yes      → a's node adds / deletes `a . b` elements
//   namespace label: npb gets / loses team=blue     → a's node adds / deletes elements for b, c
//   policy edit:     the port of the friend rule    → a's node replaces `a . b . tcp . port`
// The end-to-end figure (API write → watch → agent → kernel) is broken down per sample:
//   write      the PATCH until its answer (apiserver + etcd);
//   watch      the PATCH until the bench's own watch of that kind delivers the event (what the
//              agent's informer waits for too: apiserver → etcd → watch fan-out);
//   agent      the agent's programming-latency histogram, read before and after each sample
//              (sum and count deltas: informer event → kernel accepted), and of that the sync
//              itself (netkube_netpol_sync_duration_seconds{kind="partial"}); the rest of the
//              agent term is the coalescing window and the agent's event loop;
//   poll       what the end-to-end figure has beyond watch + agent (polling resolution, the
//              agent's informer being later than the bench's watch).
// --lab-policies N first creates N more policies in namespace `npb-load` (each selecting a
// label no pod has, with a pod peer): the agents' informers, caches and indexes then hold
// N+1 policies; node1's kernel still holds only a's elements (the lab's pods are real
// processes: 10,000 pods do not fit on two cores).
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

/** The agent's counters on a node: programming-latency and partial-sync sums and counts. */
async function scrapeAgent(netns: string): Promise<{ latSum: number; latCount: number; syncSum: number; syncCount: number }> {
  const r = await netnsHandle(netns).run(process.execPath, ['-e', "fetch('http://127.0.0.1:9080/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"], { allowFailure: true })
  const num = (re: RegExp): number => Number(re.exec(r.stdout)?.[1] ?? NaN)
  return {
    latSum: num(/^netkube_netpol_programming_latency_seconds_sum (\S+)$/m),
    latCount: num(/^netkube_netpol_programming_latency_seconds_count (\S+)$/m),
    syncSum: num(/^netkube_netpol_sync_duration_seconds_sum\{kind="partial"\} (\S+)$/m),
    syncCount: num(/^netkube_netpol_sync_duration_seconds_count\{kind="partial"\} (\S+)$/m),
  }
}

/** Policies that select no pod of the lab but sit in every agent's caches and indexes. */
async function loadPolicies(pols: { create(np: NetworkPolicy): Promise<NetworkPolicy> }, n: number, log: (l: string) => void): Promise<void> {
  const t0 = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++)
      await pols.create({
        metadata: { name: `load-${i}`, namespace: 'npb-load' },
        spec: { podSelector: { matchLabels: { syn: `s${i}` } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { syn: `s${(i + 1) % n}` } } }], ports: [{ port: 80 + (i % 7), protocol: 'TCP' }] }] },
      })
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  log(`created ${n} policies in npb-load in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

export async function labProgramming(o: { samples: number; policies?: number; log: (l: string) => void }): Promise<string[]> {
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
    const extra = o.policies ?? 0
    if (extra > 0) {
      await nss.create({ metadata: { name: 'npb-load' } } as Namespace)
      await loadPolicies(client.resource<NetworkPolicy>(resourceFor('networkpolicies'), 'npb-load'), extra, o.log)
    }
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
    interface Sample {
      e2e: number
      write: number
      watch: number
      agent: number
      sync: number
    }
    const lat: Record<string, Sample[]> = { 'pod label': [], 'namespace label': [], 'policy edit': [] }
    // the bench's own watches: when does the apiserver deliver a write's event to a watcher?
    const seen = new Map<string, number>() // resourceVersion → arrival
    const onEv = (ev: { object?: { metadata?: { resourceVersion?: string } } }): void => {
      const rv = ev.object?.metadata?.resourceVersion
      if (rv) seen.set(rv, performance.now())
    }
    const watches = [pods.watch({}, onEv), nss.watch({}, onEv), pols.watch({}, onEv)]
    const waitSeen = async (rv: string | undefined): Promise<number> => {
      for (let i = 0; i < 10_000 && rv && !seen.has(rv); i++) await new Promise((r) => setTimeout(r, 1))
      return rv ? (seen.get(rv) ?? NaN) : NaN
    }
    let before = await scrapeAgent(aNode.netns)
    const measure = async (kind: string, write: () => Promise<{ metadata: { resourceVersion?: string } }>, set: string, want: (ks: Buffer[]) => boolean): Promise<void> => {
      await new Promise((r) => setTimeout(r, 50))
      const t0 = performance.now()
      const obj = await write()
      const tw = performance.now()
      const e2e = (await pollSet(aNode.netns, set, want, polls)) - t0
      const watch = (await waitSeen(obj.metadata.resourceVersion)) - t0
      const after = await scrapeAgent(aNode.netns)
      // one change per sample: the deltas are this change's (several observations: their mean)
      const dc = after.latCount - before.latCount
      const agent = dc > 0 ? ((after.latSum - before.latSum) / dc) * 1000 : NaN
      const ds = after.syncCount - before.syncCount
      const sync = ds > 0 ? ((after.syncSum - before.syncSum) / ds) * 1000 : NaN
      before = after
      lat[kind]!.push({ e2e, write: tw - t0, watch, agent, sync })
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
    for (const w of watches) w.stop()
    const out = [
      `programming latency in the 3-node lab, ${extra + 1} policies in the cluster: API write → element in the kernel of ${aNode.name} (polled: an element dump over netlink, p50 ${q(polls, 0.5).toFixed(2)} ms per poll)`,
      '',
      '| change | samples | end to end p50 / p99 / max ms | write (PATCH answered) p50 / p99 | watch delivered p50 / p99 | agent: event → kernel p50 / p99 | of which sync p50 / p99 | rest (poll, informer lag) p50 / p99 | after the watch (end to end − watch) p50 / p99 |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    const all: Sample[] = []
    const pp = (xs: number[]): string => {
      const f = xs.filter((x) => Number.isFinite(x))
      return f.length ? `${q(f, 0.5).toFixed(1)} / ${q(f, 0.99).toFixed(1)}` : '-'
    }
    const row = (kind: string, xs: Sample[]): string => {
      const e2e = xs.map((x) => x.e2e)
      return `| ${kind} | ${xs.length} | ${pp(e2e)} / ${Math.max(...e2e).toFixed(1)} | ${pp(xs.map((x) => x.write))} | ${pp(xs.map((x) => x.watch))} | ${pp(xs.map((x) => x.agent))} | ${pp(xs.map((x) => x.sync))} | ${pp(xs.map((x) => x.e2e - x.watch - x.agent))} | ${pp(xs.map((x) => x.e2e - x.watch))} |`
    }
    for (const [kind, xs] of Object.entries(lat)) {
      all.push(...xs)
      out.push(row(kind, xs))
    }
    out.push(row('all', all))
    // the slowest samples, term by term: where a tail comes from
    out.push('', 'slowest 5 samples (ms): end to end = watch + agent + rest')
    for (const x of [...all].sort((a, b) => b.e2e - a.e2e).slice(0, 5)) out.push(`  ${x.e2e.toFixed(1)} = ${x.watch.toFixed(1)} + ${x.agent.toFixed(1)} (sync ${x.sync.toFixed(1)}) + ${(x.e2e - x.watch - x.agent).toFixed(1)}`)
    return out
  } finally {
    await labDown({ name, stateDir, progress: () => {} })
    rmSync(stateDir, { recursive: true, force: true })
  }
}
