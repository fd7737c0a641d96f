// bench:netpol — the kernel's share of one change: the time the kernel takes to commit the
// element diff of one change (one netlink batch: sendmsg until the GETGEN answer) in a table
// programmed with N policies. The core and the planner produce the diff as the agent would;
// only `NftNetlink.apply` is timed, so this is the kernel's commit cost (plus one round trip),
// without the event loop, the informers or the coalescing window.
//
//   node dist/bench/netpol-commit.js [--sizes 100,1000,10000 --samples 40]
//
// Also run from bench/netpol.ts (the `kernel commit` table).
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { Namespace, NetworkPolicy, Pod } from '../src/api/types.js'
import { NftExec } from '../src/net/nft.js'
import { NftNetlink } from '../src/net/nft-netlink.js'
import { createNetns, deleteNetns } from '../src/net/netns.js'
import { IncrementalNetpol, objectKey, type ElementDiff } from '../src/netpol/incremental.js'
import { kernelSet, NetpolNftState } from '../src/netpol/nftables.js'
import { pod, q, synPolicy, worldFor } from './netpol-world.js'

const KINDS = ['pod label', 'namespace label', 'pod IP', 'policy edit'] as const
type Kind = (typeof KINDS)[number]

export interface CommitRow {
  n: number
  elements: number
  /** the largest interval set's size (the isolation sets are hash sets) */
  largest: number
  /** the full sync through `nft -f` that programmed the table */
  fullMs: number
  perKind: Record<Kind, { ms: number[]; elements: number[] }>
}

/** Commit cost of each change kind at each size, in one throwaway namespace. */
export async function commitCost(sizes: readonly number[], samples: number): Promise<CommitRow[]> {
  const ns = `nkbnpc${randomBytes(2).toString('hex')}`
  await createNetns(ns)
  const rows: CommitRow[] = []
  const nl = new NftNetlink(ns)
  try {
    const exec = new NftExec(ns)
    for (const n of sizes) {
      const w = worldFor(n, '10.244.1.11', '10.244.1.12')
      const core = new IncrementalNetpol('bench-node')
      for (const x of w.namespaces) core.setNamespace(x.metadata.name!, x)
      for (const p of w.pods) core.setPod(objectKey(p), p)
      for (const p of w.policies) core.setPolicy(objectKey(p), p)
      core.flush()
      const state = new NetpolNftState()
      const t0 = performance.now()
      await exec.apply(state.planFull(core.desired()).tx)
      const fullMs = performance.now() - t0
      let elements = 0
      const sizes = new Map<string, number>()
      for (const [set, keys] of core.desired()) {
        elements += keys.size
        for (const k of keys) if (kernelSet(set, k) !== set) sizes.set(kernelSet(set, k), (sizes.get(kernelSet(set, k)) ?? 0) + 1)
      }
      const largest = Math.max(0, ...sizes.values())
      const row: CommitRow = { n, elements, largest, fullMs, perKind: Object.fromEntries(KINDS.map((k) => [k, { ms: [], elements: [] }])) as unknown as CommitRow["perKind"] }
      const apply = async (kind: Kind | undefined, diff: ElementDiff): Promise<void> => {
        const plan = state.planDiff(diff)
        const t0 = performance.now()
        await nl.apply(plan.tx)
        const ms = performance.now() - t0
        plan.commit()
        if (kind) {
          row.perKind[kind].ms.push(ms)
          row.perKind[kind].elements.push(plan.added + plan.deleted)
        }
      }
      const count = Math.max(n, 40)
      for (let k = 0; k < samples; k++) {
        const i = 2 + ((k * 7919) % (count - 3))
        const key = `bench/syn${i}`
        const before = w.pods.find((p) => p.metadata.name === `syn${i}`)!
        core.setPod(key, { ...before, metadata: { ...before.metadata, labels: { syn: 'moved' } } })
        await apply('pod label', core.flush())
        core.setPod(key, before)
        await apply('pod label', core.flush())
        const other = w.namespaces[1]!
        core.setNamespace('other', { metadata: { ...other.metadata, labels: { team: 'blue' } } } as Namespace)
        await apply('namespace label', core.flush())
        core.setNamespace('other', other)
        await apply('namespace label', core.flush())
        const fresh: Pod = pod('bench', `fresh${k}`, `10.247.0.${(k % 250) + 1}`, { syn: `s${i}` })
        core.setPod(objectKey(fresh), fresh)
        await apply('pod IP', core.flush())
        core.setPod(objectKey(fresh), undefined)
        await apply(undefined, core.flush())
        if (n > i) {
          const old: NetworkPolicy = w.policies.find((p) => p.metadata.name === `p${i}`)!
          core.setPolicy(objectKey(old), synPolicy(i, n, 1000 + k))
          await apply('policy edit', core.flush())
          core.setPolicy(objectKey(old), old)
          await apply('policy edit', core.flush())
        }
      }
      rows.push(row)
    }
  } finally {
    nl.close()
    await deleteNetns(ns)
  }
  return rows
}

export function commitTable(rows: readonly CommitRow[]): string[] {
  const out = [
    'kernel commit of one change (the element diff as one netlink batch: sendmsg → GETGEN answer; ms p50 / p99 / max; elements changed p50)',
    '',
    `| policies | elements | largest interval set | full sync ms | ${KINDS.join(' | ')} |`,
    `|---:|---:|---:|---:|${KINDS.map(() => '---|').join('')}`,
  ]
  for (const r of rows) {
    const cell = (k: Kind): string => {
      const { ms, elements } = r.perKind[k]
      return ms.length ? `${q(ms, 0.5).toFixed(2)} / ${q(ms, 0.99).toFixed(2)} / ${Math.max(...ms).toFixed(2)} (${q(elements, 0.5)})` : '-'
    }
    out.push(`| ${r.n} | ${r.elements} | ${r.largest} | ${r.fullMs.toFixed(0)} | ${KINDS.map(cell).join(' | ')} |`)
  }
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: v } = parseArgs({ options: { sizes: { type: 'string' }, samples: { type: 'string' } } })
  const rows = await commitCost((v.sizes ?? '100,1000,10000').split(',').map(Number), Number(v.samples ?? 40))
  process.stdout.write(`${commitTable(rows).join('\n')}\n`)
}
