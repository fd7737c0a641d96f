// A PluginKernel over FakeNet and one FakeNft per namespace, all counting through one
// FaultPlan: a test can fail any step of a CNI command (netlink or nft) and read back every
// namespace afterwards.
import type { PluginKernel } from '../../cni/context.js'
import { FakeNet, FaultPlan } from '../../src/net/fake.js'
import { resolveNetns } from '../../src/net/netns.js'
import { FakeNft } from '../../src/net/nft.js'

export interface FakeKernel {
  net: FakeNet
  faults: FaultPlan
  /** the nft model of one namespace (undefined = this process's) */
  nft(netns?: string): FakeNft
  kernel: PluginKernel
}

export function fakeKernel(): FakeKernel {
  const faults = new FaultPlan()
  const net = new FakeNet(faults)
  const nfts = new Map<string, FakeNft>()
  const nft = (netns?: string): FakeNft => {
    const key = netns === undefined ? '' : resolveNetns(netns)
    let n = nfts.get(key)
    if (!n) nfts.set(key, (n = new FakeNft()))
    return n
  }
  const kernel: PluginKernel = {
    openNetOps: (netns) => net.openNetOps(netns),
    netnsExists: (ref) => net.netnsExists(ref),
    nft: (netns) => ({
      apply: async (tx) => {
        faults.step('nft apply', `${tx.family} ${tx.table}${netns ? ` (netns ${netns})` : ''}`)
        await nft(netns).apply(tx)
      },
      listTable: (family, table) => nft(netns).listTable(family, table),
    }),
  }
  return { net, faults, nft, kernel }
}
