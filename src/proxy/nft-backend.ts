// nftables mode: pure planning (nftables.ts) + kernel transactions through an NftRunner
// (`nft -f`, or netlink batches with `nft -f` for what netlink does not carry: src/net).
import type { NftRunner, NftTableState } from '../net/nft.js'
import type { ProxyBackend, SyncInput, SyncStats } from './backend.js'
import { buildFragment, NftState, type Fragment, type PlanResult, type ProxyNetConfig } from './nftables.js'

export interface NftBackendOptions {
  table?: string
  /**
   * Full syncs read the kernel's table first and write only the difference (a restarted
   * proxy adopts what its predecessor left). Off: every full sync replaces the table
   * wholesale, in one transaction (upstream's behaviour; the bench baselines).
   */
  adopt?: boolean
  /** Split a cold start into transactions of at most this many ops (netlink runners). */
  chunkOps?: number
  /** Spread Services over this many shard tables (0: one table; see NftState). */
  shards?: number
}

export class NftBackend implements ProxyBackend {
  readonly mode = 'nftables' as const
  readonly state: NftState
  /** The last plan applied (bench, tests). */
  lastPlan: PlanResult | undefined

  constructor(
    readonly nft: NftRunner,
    readonly cfg: ProxyNetConfig,
    readonly opts: NftBackendOptions = {},
  ) {
    this.state = new NftState(opts.table, undefined, opts.shards ?? 0, cfg.dispatch === 'maps' ? { clusterCIDR: cfg.clusterCIDR } : undefined)
  }

  close(): void {
    ;(this.nft as { close?: () => void }).close?.()
  }

  /**
   * Our tables as the kernel holds them (undefined: the runner cannot read). The maps layout's
   * one table is read against what we would write (`all`): its rules are few and fixed, its
   * elements many, and a reader that lists no rule never waits for nft to fetch elements.
   */
  private async readKernel(all: ReadonlyMap<string, Fragment>): Promise<Map<string, NftTableState> | undefined> {
    const { family, tables } = this.state
    if (this.nft.readTables) return this.nft.readTables(family, tables, this.state.maps ? () => this.state.reference(all) : undefined)
    if (!this.nft.readTable) return undefined
    const out = new Map<string, NftTableState>()
    for (const t of tables) {
      const st = await this.nft.readTable(family, t)
      if (st) out.set(t, st)
    }
    return out
  }

  async sync(input: SyncInput): Promise<SyncStats> {
    let plan: PlanResult
    // the NodePort addresses live in the base rules: a new list means a full plan
    const npChanged = (input.nodePortIPs ?? []).join() !== (this.state.nodePortIPs ?? []).join() || (input.nodePortIPs === undefined) !== (this.state.nodePortIPs === undefined)
    if (input.full || npChanged) {
      this.state.nodePortIPs = input.nodePortIPs
      const all = new Map<string, Fragment>()
      for (const [key, ports] of input.ports) if (ports.length) all.set(key, buildFragment(ports, this.cfg))
      const current = this.opts.adopt ? await this.readKernel(all) : undefined
      plan = this.state.planFull(all, { current, chunkOps: this.opts.chunkOps })
    } else {
      const changed = new Map<string, Fragment | undefined>()
      for (const key of input.changed) {
        const ports = input.ports.get(key)
        changed.set(key, ports?.length ? buildFragment(ports, this.cfg) : undefined)
      }
      plan = this.state.planIncremental(changed)
    }
    // Several transactions only for a chunked cold start or a large adoption: if one fails,
    // memory is not committed and the proxier's next (full) sync diffs against the kernel.
    for (const tx of plan.txs) await this.nft.apply(tx)
    plan.commit()
    this.lastPlan = plan
    return { rules: this.state.ruleCount, chains: this.state.chainCount, written: plan.txs.reduce((a, t) => a + t.size, 0) }
  }
}
