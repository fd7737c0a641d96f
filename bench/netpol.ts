// bench:netpol — what NetworkPolicy costs, on a real kernel in throwaway namespaces.
//
//   npm run bench:netpol [-- --rounds 3 --connects 600 --sizes 0,100,1000,10000 --lab [--lab-policies 10000] | --lab-only]
//
// One node (bench/proxy-topology.ts): pod1 connects to pod2:8080 across the node's bridge
// (judged in forward through br_netfilter). Sizes 0, 100, 1,000, 10,000 policies in the node,
// measured in ROUNDS: every round visits every size (in a rotated order), so machine noise hits
// all rows alike; the spread of the per-round medians says how noisy the run was.
//   - TCP connect latency pod1 → pod2 (handshake only, fresh connections). Row 0 has no policy
//     at all (the floor); the others isolate pod2 with one policy letting pod1 in, plus N-1
//     policies over N synthetic local pods, so the sets hold ~2N elements;
//   - full sync (table rebuilt from the caches: start, adoption, after a failure);
//   - programming latency, with the controller's runner on (as in the agent): a change handed
//     over as the informer would until its transaction is in the kernel, for each kind of
//     change (pod label, namespace label, pod IP appearing, policy edit), through both
//     transports (`nft -f` and netlink); the policy edit's sync time is the one-policy sync.
//   - the kernel's commit of one change's element diff alone (bench/netpol-commit.ts);
// --lab: the same programming latency in the 3-node lab — a label change through the API until
// the elements are in the kernel of the node concerned (polled) — see bench/netpol-lab.ts.
import { randomBytes } from 'node:crypto'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.js'
import { NODE, pod, q, synPolicy, worldFor, type World } from './netpol-world.js'
import { NftExec, type NftRunner } from '../src/net/nft.js'
import { NftNetlinkRunner } from '../src/net/nft-netlink.js'
import { NetpolController } from '../src/netpol/controller.js'
import type { Kind } from '../src/netpol/changes.js'
import { ensureSysctls } from '../src/proxy/node.js'
import { buildTopology, connectMany } from './proxy-topology.js'
import { labProgramming } from './netpol-lab.js'
import { commitCost, commitTable } from './netpol-commit.js'

const { values: v } = parseArgs({ options: { rounds: { type: 'string' }, connects: { type: 'string' }, sizes: { type: 'string' }, samples: { type: 'string' }, lab: { type: 'boolean' }, 'lab-only': { type: 'boolean' }, 'lab-policies': { type: 'string' } } })
const SIZES = (v.sizes ?? process.env.BENCH_NETPOL_SIZES ?? '0,100,1000,10000').split(',').map(Number)
const ROUNDS = Number(v.rounds ?? 3)
const CONNECTS = Number(v.connects ?? process.env.BENCH_NETPOL_CONNECTS ?? 600)
/** changes of each kind per transport per round */
const SAMPLES = Number(v.samples ?? 5)
const KINDS = ['pod label', 'namespace label', 'pod IP', 'policy edit'] as const
type ChangeKind = (typeof KINDS)[number]
const TRANSPORTS = ['nft', 'netlink'] as const
type Transport = (typeof TRANSPORTS)[number]

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

interface Sample {
  kind: ChangeKind
  ms: number
  syncMs: number
}

/** One live controller (runner on) over `w`: its full sync, then SAMPLES changes of each kind. */
async function programming(nft: NftRunner, w: World, n: number, k0: number): Promise<{ fullMs: number; elements: number; samples: Sample[] }> {
  const live = new NetpolController({ nft, nodeName: NODE, source: { pods: () => w.pods, namespaces: () => w.namespaces, policies: () => w.policies } })
  const first = live.nextSync()
  live.setSynced()
  const full = await first
  const samples: Sample[] = []
  const change = async (kind: ChangeKind | undefined, what: Kind, prev: Pod | Namespace | NetworkPolicy | undefined, next: Pod | Namespace | NetworkPolicy | undefined): Promise<void> => {
    await sleep(15) // changes spread out, as they arrive in a cluster (a burst coalesces into one sync)
    const t0 = performance.now()
    const done = live.nextSync()
    live.onChange(what, prev, next)
    const r = await done
    if (kind) samples.push({ kind, ms: performance.now() - t0, syncMs: r.durationMs })
  }
  const synIdx = (k: number): number => 2 + ((k0 + k) % (Math.max(n, 40) - 3))
  for (let k = 0; k < SAMPLES; k++) {
    // a selected pod relabelled (it leaves its policy and its neighbour's peer set), then back
    const i = synIdx(k)
    const pi = w.pods.findIndex((p) => p.metadata.name === `syn${i}`)
    const before = w.pods[pi]!
    const moved: Pod = { ...before, metadata: { ...before.metadata, labels: { syn: 'moved' } } }
    w.pods[pi] = moved
    await change('pod label', 'pod', before, moved)
    w.pods[pi] = before
    await change('pod label', 'pod', moved, before)
    // a namespace relabelled: the namespaceSelector peer of `from-blue` starts/stops naming o1
    const ns = w.namespaces[1]!
    const blue: Namespace = { metadata: { ...ns.metadata, labels: { team: 'blue' } } }
    w.namespaces[1] = blue
    await change('namespace label', 'namespace', ns, blue)
    w.namespaces[1] = ns
    await change('namespace label', 'namespace', blue, ns)
    // a new pod gets its IP: selected by p_i, a peer of p_(i-1)
    const pending = pod('bench', `fresh${k}`, undefined, { syn: `s${i}` })
    const running = pod('bench', `fresh${k}`, `10.247.0.${k + 1}`, { syn: `s${i}` })
    w.pods.push(pending)
    live.onChange('pod', undefined, pending)
    w.pods[w.pods.length - 1] = running
    await change('pod IP', 'pod', pending, running)
    w.pods.pop()
    await change(undefined, 'pod', running, undefined)
    // a policy edited: its port moves
    const j = w.policies.findIndex((p) => p.metadata.name === `p${i}`)
    if (j >= 0) {
      const old = w.policies[j]!
      const edited = synPolicy(i, n, 1000 + k)
      w.policies[j] = edited
      await change('policy edit', 'policy', old, edited)
      w.policies[j] = old
      await change('policy edit', 'policy', edited, old)
    }
  }
  await live.stop()
  return { fullMs: full.durationMs, elements: full.elements, samples }
}

interface Row {
  n: number
  elements: number
  connect: number[]
  connectRoundP50: number[]
  full: number[]
  lat: Record<Transport, Sample[]>
}

async function nodeBench(): Promise<string[]> {
  const topo = await buildTopology(`nkbnp${randomBytes(2).toString('hex')}`, 2)
  // an interrupted run still removes its namespaces and servers
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void topo.destroy().finally(() => process.exit(130)))
  const rows = new Map<number, Row>(SIZES.map((n) => [n, { n, elements: 0, connect: [], connectRoundP50: [], full: [], lat: { nft: [], netlink: [] } }]))
  const exec = new NftExec(topo.node)
  const nl = new NftNetlinkRunner(topo.node)
  try {
    await ensureSysctls(topo.node)
    const [client, server] = topo.pods
    const worlds = new Map(SIZES.map((n) => [n, worldFor(n, client!.ip, server!.ip)]))
    for (let round = 0; round < ROUNDS; round++) {
      // rotate the order, so no size always runs first (or right after the heavy one)
      const order = SIZES.map((_, i) => SIZES[(i + round) % SIZES.length]!)
      for (const n of order) {
        const row = rows.get(n)!
        const w = worlds.get(n)!
        for (const tr of TRANSPORTS) {
          const r = await programming(tr === 'nft' ? exec : nl, w, n, round * SAMPLES)
          row.elements = r.elements
          row.full.push(r.fullMs)
          row.lat[tr].push(...r.samples)
        }
        const c = await connectMany(client!.ns, server!.ip, 8080, Math.ceil(CONNECTS / ROUNDS))
        if (Object.keys(c.errors).length) throw new Error(`connects failed at ${n} policies: ${JSON.stringify(c.errors)}`)
        row.connect.push(...c.times)
        row.connectRoundP50.push(q(c.times, 0.5))
        process.stderr.write(`round ${round + 1}/${ROUNDS}: ${n} policies: connect p50 ${q(c.times, 0.5).toFixed(3)} ms, full sync ${row.full[row.full.length - 1]!.toFixed(0)} ms\n`)
      }
    }
  } finally {
    nl.close()
    await topo.destroy()
  }
  const floor = q(rows.get(SIZES[0]!)!.connect, 0.5)
  const out: string[] = []
  out.push(`connect latency pod1 → pod2:8080 (${ROUNDS} rounds, ${Math.ceil(CONNECTS / ROUNDS)} connects per size per round, sizes interleaved)`, '')
  out.push('| policies | set elements | connect p50 ms | vs 0 | connect p99 ms | round p50s ms (noise) | full sync p50 ms |', '|---:|---:|---:|---:|---:|---|---:|')
  for (const r of rows.values()) {
    const p50 = q(r.connect, 0.5)
    out.push(
      `| ${r.n} | ${r.elements} | ${p50.toFixed(3)} | ${r.n === SIZES[0] ? '–' : `${(((p50 - floor) / floor) * 100).toFixed(1)} %`} | ${q(r.connect, 0.99).toFixed(3)} | ${r.connectRoundP50.map((x) => x.toFixed(3)).join(' / ')} | ${q(r.full, 0.5).toFixed(0)} |`,
    )
  }
  out.push('', `programming latency: change handed to the running controller → transaction in the kernel (ms, p50 / p99 over ${ROUNDS * SAMPLES * 2} changes of each kind; pod IP ${ROUNDS * SAMPLES})`, '')
  out.push(`| policies | transport | ${KINDS.join(' | ')} | all p50 | all p99 | one-policy sync p50 ms |`, `|---:|---|${KINDS.map(() => '---:|').join('')}---:|---:|---:|`)
  for (const r of rows.values())
    for (const tr of TRANSPORTS) {
      const s = r.lat[tr]
      const cell = (k: ChangeKind): string => {
        const xs = s.filter((x) => x.kind === k).map((x) => x.ms)
        return xs.length ? `${q(xs, 0.5).toFixed(1)} / ${q(xs, 0.99).toFixed(1)}` : '-'
      }
      const all = s.map((x) => x.ms)
      const edit = s.filter((x) => x.kind === 'policy edit').map((x) => x.syncMs)
      out.push(`| ${r.n} | ${tr} | ${KINDS.map(cell).join(' | ')} | ${q(all, 0.5).toFixed(1)} | ${q(all, 0.99).toFixed(1)} | ${edit.length ? q(edit, 0.5).toFixed(1) : '-'} |`)
    }
  return out
}

async function main(): Promise<void> {
  const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' / ')
  const out: string[] = [`load average (1/5/15 min) at start: ${load()} on ${cpus().length} cores`, '']
  if (!v['lab-only']) {
    out.push(...(await nodeBench()))
    out.push('', ...commitTable(await commitCost(SIZES, 40)))
  }
  if (v.lab || v['lab-only']) out.push('', ...(await labProgramming({ samples: Number(v.samples ?? 10), policies: Number(v['lab-policies'] ?? 10_000), log: (l) => process.stderr.write(`${l}\n`) })))
  out.push('', `load average at end: ${load()}`)
  process.stdout.write(`${out.join('\n')}\n`)
}

await main()
