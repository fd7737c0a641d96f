// The one way into a network namespace for everything outside src/net: a handle that knows
// the namespace and offers what callers do there — typed kernel operations, its nftables,
// running or starting a program (saying explicitly how that program sees /etc).
// It owns no resources itself; `ops()` opens a socket the caller closes.
import { Conntrack } from './conntrack.js'
import { IpOps } from './ipops.js'
import type { Server } from 'node:net'
import { canSetns, inNetnsSync, ipBatch, resolveNetns, runIn, startIn, startPtyIn, type EntryOptions } from './netns.js'
import { NftExec } from './nft.js'
import { NftNetlinkRunner } from './nft-netlink.js'
import { openRtnl } from './rtnl.js'
import type { NetOps } from './types.js'
import type { ChildProcess, PtyOptions, PtyProcess, RunOptions, RunResult, StartOptions } from '../util/exec.js'

/**
 * Typed kernel operations inside `netns` (name or path; undefined = this process's namespace):
 * a netlink socket opened inside it when possible, else `ip` commands (no setns addon).
 */
export function openNetOps(netns?: string): NetOps {
  if (!netns || canSetns()) return openRtnl(netns)
  return new IpOps(netns)
}

export class Netns {
  /** `ref`: a name under /run/netns or a namespace file; undefined = this process's own. */
  constructor(readonly ref?: string) {}

  /** The namespace file, or undefined for this process's own namespace. */
  get path(): string | undefined {
    return this.ref === undefined ? undefined : resolveNetns(this.ref)
  }

  /** Typed kernel operations inside it; the caller closes them. */
  ops(): NetOps {
    return openNetOps(this.ref)
  }

  /** `fn` with operations that are closed afterwards, whatever happens. */
  async withOps<T>(fn: (ops: NetOps) => Promise<T>): Promise<T> {
    const ops = this.ops()
    try {
      return await fn(ops)
    } finally {
      ops.close()
    }
  }

  /** Its nftables: typed transactions sent to `nft -f -` inside it. */
  nft(): NftExec {
    return new NftExec(this.ref)
  }

  /** Its nftables over netlink (batches on a kept socket; `nft -f` for what netlink does not carry); the caller closes it. */
  nftNetlink(): NftNetlinkRunner {
    return new NftNetlinkRunner(this.ref)
  }

  /** Its conntrack table over ctnetlink (list, delete); the caller closes it. Another netns needs the setns addon. */
  conntrack(): Conntrack {
    return new Conntrack(this.ref)
  }

  /** Run a program to completion in here; `etc` says whether it sees /etc/netns/NAME mounted. */
  run(file: string, args: readonly string[], opts: RunOptions & EntryOptions = {}): Promise<RunResult> {
    return runIn(this.ref, file, args, opts)
  }

  /** Start a long-running program in here; its PID is the program's own. */
  spawn(argv: readonly string[], opts: StartOptions & EntryOptions = {}): ChildProcess {
    return startIn(this.ref, argv, opts)
  }

  /**
   * Start `server` listening on `port`, every address, inside this namespace. A socket belongs
   * to the namespace it is created in, and Node creates a server's socket synchronously inside
   * listen() when no host is given (a host would go through an asynchronous lookup first): so
   * the main thread enters, listens, and returns. Errors (EADDRINUSE) come as the server's
   * 'error' event, as with listen() itself. Another namespace needs the setns addon.
   */
  listen(server: Server, port: number): void {
    if (this.ref === undefined) server.listen(port)
    else inNetnsSync(this.ref, () => server.listen(port))
  }

  /** Start a program in here on a new pseudo-terminal (kubectl exec -t). */
  spawnPty(argv: readonly string[], opts: PtyOptions & EntryOptions = {}): PtyProcess {
    return startPtyIn(this.ref, argv, opts)
  }

  /** Many `ip` commands in one process (`ip -batch -`). */
  ipBatch(lines: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return ipBatch(this.ref, lines, opts)
  }
}

/** The handle for namespace `ref` (name or path); undefined = this process's own namespace. */
export function netnsHandle(ref?: string): Netns {
  return new Netns(ref)
}
