// What the plugin needs from outside itself, handed in by whoever runs it — main.ts for a
// plugin exec'd by a runtime, server.ts in the node agent — so that the same cmdAdd/cmdDel/
// cmdCheck run against a fake kernel in unit tests (src/net/fake.ts + FakeNft) and against
// the real one everywhere else.
import { existsSync } from 'node:fs'
import { openNetOps } from '../src/net/index.js'
import { resolveNetns } from '../src/net/netns.js'
import { NftExec, type NftRunner } from '../src/net/nft.js'
import type { NetOps } from '../src/net/types.js'

export interface PluginKernel {
  /** typed netlink ops inside `netns` (name or path; undefined = this process's own); the caller closes them */
  openNetOps(netns: string | undefined): NetOps
  /** CNI_NETNS is a path the runtime may already have removed (DEL must still succeed) */
  netnsExists(ref: string): boolean
  /** nftables inside `netns` (the masquerade table lives on the host side) */
  nft(netns: string | undefined): NftRunner
}

export interface PluginContext {
  /** where the host side lives: undefined = this process's namespace (a runtime exec'd us there) */
  hostNetns?: string
  kernel: PluginKernel
}

/** The kernel, through src/net. */
export const realKernel: PluginKernel = {
  openNetOps: (netns) => openNetOps(netns),
  netnsExists: (ref) => existsSync(resolveNetns(ref)),
  nft: (netns) => new NftExec(netns),
}
