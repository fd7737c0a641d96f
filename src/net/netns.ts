// Named network namespaces, with the same /run/netns convention as `ip netns`, so that
// `ip netns list`, `ip netns exec` and runtimes (podman, CNI plugins) see them.
// This is the only place that creates, deletes or enters namespaces: setns(2) on the main
// thread, and the argv that starts a program inside one (entryArgv).
import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs'
import { run, start, startPty, type ChildProcess, type PtyOptions, type PtyProcess, type RunOptions, type RunResult, type StartOptions } from '../util/exec.js'
import { NetError, errnoOf } from './errors.js'
import { loadNative, type NativeAddon } from './native.js'

export const NETNS_DIR = '/run/netns'

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`
}

/**
 * A namespace reference is either a name under /run/netns (`nk12-node`) or a path to a
 * namespace file (`/proc/1234/ns/net`, `/var/run/netns/cni-…` as runtimes pass in CNI_NETNS).
 */
export function resolveNetns(ref: string): string {
  return ref.includes('/') ? ref : netnsPath(ref)
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name))
}

export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR)
  } catch {
    return []
  }
}

/** Create a named namespace with loopback up. Fails if it already exists. */
export async function createNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name])
  try {
    await runIn(name, 'ip', ['link', 'set', 'lo', 'up'])
  } catch (err) {
    await deleteNetns(name) // half made: leave nothing behind
    throw err
  }
}

/** Delete a named namespace; a missing one is already deleted. */
export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return
  await run('ip', ['netns', 'del', name], { allowFailure: true })
}

// ---------------------------------------------------------------------------------------------
// Running a program inside a namespace. There are two kernel-visible ways in, and they differ
// in what the program sees of the filesystem, so every caller says which one it wants.

/**
 * What a program started inside a namespace sees of the filesystem:
 *  - 'host' (default): only the network namespace changes (`nsenter --net`). podman needs this
 *    (runc remounts /sys itself and fails under `ip netns exec`: "no cgroup mount found"), and
 *    so do daemons that create namespaces: their /run/netns mounts must land in the host's
 *    mount namespace, where `ip netns` and the next process see them.
 *  - 'netns': as `ip netns exec NAME` — a private mount namespace (propagation slave), /sys
 *    remounted for the namespace, and /etc/netns/NAME/* bind-mounted over /etc. That is how a
 *    pod gets its cluster resolv.conf and hosts. Needs a name, not a path.
 */
export type EtcView = 'host' | 'netns'

export interface BindMount {
  source: string
  target: string
  readOnly?: boolean
}

export interface EntryOptions {
  etc?: EtcView
  /**
   * The program gets a UTS namespace of its own with this hostname (a pod's name); the
   * hostname of the namespace this process runs in is never touched.
   */
  hostname?: string
  /** Join this existing UTS namespace (`/proc/PID/ns/uts` of a sibling) instead of making one. */
  uts?: string
  /** Bind mounts made in the program's own mount namespace just before exec (a pod's volumes). */
  binds?: readonly BindMount[]
  /**
   * Join every namespace of this running process (network, mount, UTS: a container's) and
   * start in `wd` there, instead of entering `ref` (kubectl exec into a container).
   */
  joinProcess?: { pid: number; wd?: string }
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** `argv` wrapped so the bind mounts are made first, in a mount namespace of its own. */
function withBinds(argv: readonly string[], binds: readonly BindMount[], mountNsIsPrivate: boolean): string[] {
  const mounts = binds.map(
    (b) => `mkdir -p ${shq(b.target)} && mount --bind ${shq(b.source)} ${shq(b.target)}${b.readOnly ? ` && mount -o remount,bind,ro ${shq(b.target)}` : ''}`,
  )
  const sh = ['sh', '-c', `${mounts.join(' && ')} && exec "$@"`, 'sh', ...argv]
  // Without `ip netns exec` nobody has unshared the mount namespace: do it, or the binds would
  // land on the host.
  return mountNsIsPrivate ? sh : ['unshare', '--mount', '--propagation', 'slave', ...sh]
}

/**
 * `argv` in a new UTS namespace named `hostname`. `hostname` runs only inside it: unshare(1)
 * exits before exec when unshare(2) fails. Both exec, so the PID stays the program's.
 */
function withHostname(argv: readonly string[], hostname: string): string[] {
  return ['unshare', '--uts', '--', 'sh', '-c', 'hostname "$0" && exec "$@"', hostname, ...argv]
}

/**
 * The argv that runs `argv` inside namespace `ref` (name or path; undefined = this process's
 * own). The one place a program is sent into a namespace. Both ways in exec the program (no
 * fork), so the PID of the spawned process is the program's own.
 */
export function entryArgv(ref: string | undefined, argv: readonly string[], opts: EntryOptions = {}): string[] {
  // nsenter execs the program (no fork): the PID is the program's; a missing program exits 127, an unusable one 126.
  if (opts.joinProcess) return ['nsenter', `--target=${opts.joinProcess.pid}`, '--net', '--mount', '--uts', ...(opts.joinProcess.wd ? [`--wd=${opts.joinProcess.wd}`] : []), '--', ...argv]
  const etcNetns = ref !== undefined && opts.etc === 'netns'
  if (etcNetns && ref.includes('/')) throw new NetError('enter netns', ref, 'EINVAL', '/etc/netns mounts need a namespace name, not a path')
  const bound = opts.binds?.length ? withBinds(argv, opts.binds, etcNetns) : [...argv]
  const named = opts.hostname !== undefined && opts.uts === undefined ? withHostname(bound, opts.hostname) : bound
  // nsenter execs for a UTS namespace (no fork), so the PID stays the program's.
  const prog = opts.uts !== undefined ? ['nsenter', `--uts=${opts.uts}`, '--', ...named] : named
  if (ref === undefined) return prog
  if (etcNetns) return ['ip', 'netns', 'exec', ref, ...prog]
  return ['nsenter', `--net=${resolveNetns(ref)}`, '--', ...prog]
}

/** Run a program to completion inside `ref` (see entryArgv). */
export async function runIn(ref: string | undefined, file: string, args: readonly string[], opts: RunOptions & EntryOptions = {}): Promise<RunResult> {
  const [f, ...a] = entryArgv(ref, [file, ...args], opts)
  return run(f!, a, opts)
}

/** Start a long-running program inside `ref` (see entryArgv); the caller owns the child. */
export function startIn(ref: string | undefined, argv: readonly string[], opts: StartOptions & EntryOptions = {}): ChildProcess {
  const [f, ...a] = entryArgv(ref, argv, opts)
  return start(f!, a, opts)
}

/** Start a program inside `ref` on a new pseudo-terminal (see entryArgv). */
export function startPtyIn(ref: string | undefined, argv: readonly string[], opts: PtyOptions & EntryOptions): PtyProcess {
  const [f, ...a] = entryArgv(ref, argv, opts)
  return startPty(f!, a, opts)
}

/** @deprecated `netnsHandle(name).run(file, args, { etc: 'netns' })`. */
export function execInNetns(name: string, file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runIn(name, file, args, { ...opts, etc: 'netns' })
}

/** @deprecated `netnsHandle(ref).run(file, args)`. */
export function nsenterRun(ref: string, file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runIn(ref, file, args, opts)
}

/** Apply many `ip` commands in one process inside a namespace (name or path; the fallback to netlink). */
export function ipBatch(ref: string | undefined, lines: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runIn(ref, 'ip', ['-batch', '-'], { ...opts, input: lines.join('\n') + '\n' })
}

/** @deprecated the same as ipBatch, which takes a path too. */
export const ipBatchIn = ipBatch

// ---------------------------------------------------------------------------------------------
// Entering a namespace on the main thread (setns(2) through a tiny N-API addon).
//
// Why: a netlink socket belongs to the namespace of the thread that created it, and
// netlink@0.3.0 creates its socket synchronously on the calling thread. So: setns into the
// target, create the socket (or open /proc/sys/net/… for a sysctl), setns back — all inside
// one synchronous block, so no other JavaScript runs while the main thread is "elsewhere".
// libuv's worker threads never move, so async fs calls keep seeing the original namespace.
// Without the addon (not built, or NETKUBE_NO_SETNS=1) callers fall back to `ip -batch`.

let homeFd: number | undefined

function loadAddon(): NativeAddon | null {
  return loadNative()
}

/** True when this process can enter namespaces itself (the setns addon is built and loadable). */
export function canSetns(): boolean {
  return loadAddon() !== null
}

/**
 * Run `fn` synchronously with the main thread inside namespace `ref` (name or path), then
 * return to the namespace the process started in. Throws NetError(ENOSYS) without the addon.
 */
export function inNetnsSync<T>(ref: string, fn: () => T): T {
  const a = loadAddon()
  const path = resolveNetns(ref)
  if (!a) throw new NetError('enter netns', path, 'ENOSYS', 'setns addon not built')
  // Remember where "home" is the first time; the main thread is the thread-group leader.
  homeFd ??= openSync('/proc/thread-self/ns/net', 'r')
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    throw new NetError('open netns', path, errnoOf(err))
  }
  try {
    try {
      a.setns(fd)
    } catch (err) {
      throw new NetError('enter netns', path, errnoOf(err))
    }
    try {
      return fn()
    } finally {
      // If this fails the process is in the wrong namespace: nothing safe is left to do.
      try {
        a.setns(homeFd)
      } catch (err) {
        process.stderr.write(`netkube: FATAL: cannot return from netns ${path}: ${String(err)}\n`)
        process.exit(70)
      }
    }
  } finally {
    closeSync(fd)
  }
}

/** Open a namespace file (for IFLA_NET_NS_FD); the caller closes it. */
export function openNetnsFd(ref: string): number {
  const path = resolveNetns(ref)
  try {
    return openSync(path, 'r')
  } catch (err) {
    throw new NetError('open netns', path, errnoOf(err))
  }
}

/** The kernel's fixed inode number of the initial network namespace (PROC_NET_INIT_INO). */
export const INIT_NET_INO = 0xeffffff9

/**
 * True unless this process is provably outside the host's own namespace: inside a named
 * namespace (/run/netns/*), or in one that is neither the kernel's initial namespace nor
 * PID 1's. Fails closed: agents that program the kernel refuse the root namespace unless
 * told otherwise (a dedicated node, e.g. a VM).
 */
export function maybeRootNetns(): boolean {
  const self = statSync('/proc/self/ns/net').ino
  if (self === INIT_NET_INO) return true
  for (const n of listNetns()) {
    try {
      if (statSync(netnsPath(n)).ino === self) return false
    } catch {
      // vanished meanwhile
    }
  }
  try {
    return statSync('/proc/1/ns/net').ino === self
  } catch {
    return true // PID 1 not readable and not a named namespace: assume the worst
  }
}
