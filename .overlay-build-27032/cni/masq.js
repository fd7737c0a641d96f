// ipMasq: pods' traffic leaving the pod subnet is masqueraded by netkube's own nftables table
// in the node namespace (never iptables chains shared with others). One base chain per
// network on the postrouting hook, one set of pod addresses per network; ADD adds the pod's
// address to the set, DEL removes it. Declaring the table, set and chain and flushing/refilling
// the chain in the same batch makes every ADD idempotent and atomic.
import { nftApply } from '../src/net/nft-run.js';
import { parseCidr } from '../src/net/ip.js';
export const MASQ_TABLE = 'netkube_cni';
/** nft identifiers: letters, digits, `_`; derived deterministically from the network name. */
export function masqNames(network) {
    const id = network.replace(/[^A-Za-z0-9_]/g, '_');
    return { set: `pods_${id}`, chain: `post_${id}` };
}
export function renderMasqAdd(network, podIp, subnet) {
    const fam = parseCidr(subnet).family === 4 ? 'ip' : 'ip6';
    const { set, chain } = masqNames(network);
    const addrType = fam === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
    const mcast = fam === 'ip' ? '224.0.0.0/4' : 'ff00::/8';
    return [
        `add table ${fam} ${MASQ_TABLE}`,
        `add set ${fam} ${MASQ_TABLE} ${set} { type ${addrType}; }`,
        `add chain ${fam} ${MASQ_TABLE} ${chain} { type nat hook postrouting priority srcnat; }`,
        `flush chain ${fam} ${MASQ_TABLE} ${chain}`,
        // traffic that stays inside the pod subnet (pod→pod on this bridge) keeps its source
        `add rule ${fam} ${MASQ_TABLE} ${chain} ${fam} saddr @${set} ${fam} daddr != ${subnet} ${fam} daddr != ${mcast} masquerade`,
        `add element ${fam} ${MASQ_TABLE} ${set} { ${podIp} }`,
        '',
    ].join('\n');
}
export function renderMasqDel(network, podIp) {
    const fam = podIp.includes(':') ? 'ip6' : 'ip';
    const { set } = masqNames(network);
    return `delete element ${fam} ${MASQ_TABLE} ${set} { ${podIp} }\n`;
}
/** `netns` = the node namespace (undefined = this process's own, as when exec'd by a runtime). */
export function masqAdd(netns, network, podIp, subnet) {
    return nftApply(netns, renderMasqAdd(network, podIp, subnet), `masquerade for ${podIp}`);
}
/** Best effort: a missing table/set/element means there is nothing to remove. */
export async function masqDel(netns, network, podIp) {
    try {
        await nftApply(netns, renderMasqDel(network, podIp), `masquerade for ${podIp}`);
    }
    catch {
        // already gone
    }
}
