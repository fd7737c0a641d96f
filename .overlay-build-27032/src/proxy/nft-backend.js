import { buildFragment, NftState } from './nftables.js';
export class NftBackend {
    nft;
    cfg;
    mode = 'nftables';
    state;
    constructor(nft, cfg, table) {
        this.nft = nft;
        this.cfg = cfg;
        this.state = new NftState(table);
    }
    async sync(input) {
        let plan;
        if (input.full) {
            const all = new Map();
            for (const [key, ports] of input.ports)
                if (ports.length)
                    all.set(key, buildFragment(ports, this.cfg));
            plan = this.state.planFull(all);
        }
        else {
            const changed = new Map();
            for (const key of input.changed) {
                const ports = input.ports.get(key);
                changed.set(key, ports?.length ? buildFragment(ports, this.cfg) : undefined);
            }
            plan = this.state.planIncremental(changed);
        }
        await this.nft.apply(plan.tx);
        plan.commit();
        return { rules: this.state.ruleCount, chains: this.state.chainCount, written: plan.tx.size };
    }
}
