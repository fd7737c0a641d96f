// The overlay's own nftables table (never anyone else's): forwarding for pod traffic and
// masquerade for pod → outside. Rebuilt in one transaction (add is idempotent, flush empties
// the chains, the rules are re-added): the kernel applies it atomically, so there is never a
// moment without the pod → pod exemption.
import { NftTransaction } from '../net/nft.js';
export const OVERLAY_NFT_TABLE = 'netkube-overlay';
export const OVERLAY_NFT_FAMILY = 'ip';
export function overlayNftTransaction(network, ipMasq) {
    const tx = new NftTransaction(OVERLAY_NFT_FAMILY, OVERLAY_NFT_TABLE);
    tx.add({ kind: 'table', comment: 'netkube overlay: pod forwarding and masquerade' });
    // filter priority 0: accept pod traffic even if a host policy would otherwise drop forwards
    tx.add({ kind: 'chain', name: 'forward', type: 'filter', hook: 'forward', priority: 0 });
    // srcnat priority 100, after any DNAT (services) has chosen the real destination
    tx.add({ kind: 'chain', name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 100 });
    tx.flush({ kind: 'chain', name: 'forward' });
    tx.flush({ kind: 'chain', name: 'postrouting' });
    tx.add({ kind: 'rule', chain: 'forward', rule: `ip saddr ${network} accept` });
    tx.add({ kind: 'rule', chain: 'forward', rule: `ip daddr ${network} accept` });
    if (ipMasq) {
        // pod → pod keeps the pod's source address (the whole point of a flat pod network)
        tx.add({ kind: 'rule', chain: 'postrouting', rule: `ip saddr ${network} ip daddr ${network} return` });
        // multicast is link-local in practice: never rewrite it
        tx.add({ kind: 'rule', chain: 'postrouting', rule: `ip saddr ${network} ip daddr 224.0.0.0/4 return` });
        // pod → outside leaves with the node's address, or replies could not find their way back
        tx.add({ kind: 'rule', chain: 'postrouting', rule: `ip saddr ${network} ip daddr != ${network} masquerade` });
    }
    return tx;
}
