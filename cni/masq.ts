// ipMasq: pods' traffic leaving the pod subnet is masqueraded by netkube's own nftables table
// in the node namespace (never iptables chains shared with others). One base chain per
// network on the postrouting hook, one set of pod addresses per network; ADD adds the pod's
// address to the set, DEL removes it. Declaring the table, set and chain and flushing/refilling
// the chain in the same transaction makes every ADD idempotent and atomic.
import { familyOf, parseCidr } from '../src/net/ip.js'
import { NftError, NftTransaction, type NftFamily, type NftRunner } from '../src/net/nft.js'
import { CniCode, CniError } from './errors.js'

export const MASQ_TABLE = 'netkube_cni'

/** nft identifiers: letters, digits, `_`; derived deterministically from the network name. */
export function masqNames(network: string): { set: string; chain: string } {
  const id = network.replace(/[^A-Za-z0-9_]/g, '_')
  return { set: `pods_${id}`, chain: `post_${id}` }
}

const nftFamily = (ip: string): NftFamily => (familyOf(ip) === 4 ? 'ip' : 'ip6')

export function masqAddTx(network: string, podIp: string, subnet: string): NftTransaction {
  const fam = nftFamily(parseCidr(subnet).ip)
  const { set, chain } = masqNames(network)
  const mcast = fam === 'ip' ? '224.0.0.0/4' : 'ff00::/8'
  return (
    new NftTransaction(fam, MASQ_TABLE)
      .add({ kind: 'table' })
      .add({ kind: 'set', name: set, type: fam === 'ip' ? 'ipv4_addr' : 'ipv6_addr' })
      .add({ kind: 'chain', name: chain, type: 'nat', hook: 'postrouting', priority: 'srcnat' })
      .flush({ kind: 'chain', name: chain })
      // traffic that stays inside the pod subnet (pod→pod on this bridge) keeps its source
      .add({ kind: 'rule', chain, rule: `${fam} saddr @${set} ${fam} daddr != ${subnet} ${fam} daddr != ${mcast} masquerade` })
      .add({ kind: 'element', set, key: podIp })
  )
}

export function masqDelTx(network: string, podIp: string): NftTransaction {
  return new NftTransaction(nftFamily(podIp), MASQ_TABLE).delete({ kind: 'element', set: masqNames(network).set, key: podIp })
}

function masqError(verb: string, podIp: string, err: unknown): CniError {
  const why = err instanceof Error ? err.message : String(err)
  return new CniError(CniCode.KERNEL, `${verb} masquerade for ${podIp} (nft table ${MASQ_TABLE}): ${why}`)
}

export async function masqAdd(nft: NftRunner, network: string, podIp: string, subnet: string): Promise<void> {
  try {
    await nft.apply(masqAddTx(network, podIp, subnet))
  } catch (err) {
    throw masqError('add', podIp, err)
  }
}

/** DEL of what is gone succeeds: only "no such table/set/element" is ignored; the rest is reported. */
export async function masqDel(nft: NftRunner, network: string, podIp: string): Promise<void> {
  try {
    await nft.apply(masqDelTx(network, podIp))
  } catch (err) {
    if (err instanceof NftError && err.kind === 'notFound') return
    throw masqError('delete', podIp, err)
  }
}
