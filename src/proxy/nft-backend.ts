// nftables mode: pure planning (nftables.ts) + one `nft -f` transaction through src/net/nft.
import type { NftRunner } from '../net/nft.js'
import type { ProxyBackend, SyncInput, SyncStats } from './backend.js'
import { buildFragment, NftState, type Fragment, type ProxyNetConfig } from './nftables.js'

export class NftBackend implements ProxyBackend {
  readonly mode = 'nftables' as const
  readonly state: NftState

  constructor(
    readonly nft: NftRunner,
    readonly cfg: ProxyNetConfig,
    table?: string,
  ) {
    this.state = new NftState(table)
  }

  async sync(input: SyncInput): Promise<SyncStats> {
    let plan
    if (input.full) {
      const all = new Map<string, Fragment>()
      for (const [key, ports] of input.ports) if (ports.length) all.set(key, buildFragment(ports, this.cfg))
      plan = this.state.planFull(all)
    } else {
      const changed = new Map<string, Fragment | undefined>()
      for (const key of input.changed) {
        const ports = input.ports.get(key)
        changed.set(key, ports?.length ? buildFragment(ports, this.cfg) : undefined)
      }
      plan = this.state.planIncremental(changed)
    }
    await this.nft.apply(plan.tx)
    plan.commit()
    return { rules: this.state.ruleCount, chains: this.state.chainCount, written: plan.tx.size }
  }
}
