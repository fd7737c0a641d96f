// Named network namespaces, with the same /run/netns convention as `ip netns`, so that
// `ip netns list`, `ip netns exec` and runtimes (podman, CNI plugins) see them.
// This is the only place that creates, deletes or enters namespaces by name.
import { existsSync, readdirSync } from 'node:fs'
import { run, type RunOptions, type RunResult } from '../util/exec.js'

export const NETNS_DIR = '/run/netns'

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`
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
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
}

/** Delete a named namespace; a missing one is already deleted. */
export async function deleteNetns(name: string): Promise<void> {
  if (!netnsExists(name)) return
  await run('ip', ['netns', 'del', name], { allowFailure: true })
}

/** Run a program inside a namespace (`ip netns exec`, which also bind-mounts /etc/netns/NAME/*). */
export function execInNetns(name: string, file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', name, file, ...args], opts)
}

/** Apply many `ip` commands in one process inside a namespace (fallback path to netlink). */
export function ipBatch(name: string | undefined, lines: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const nsArgs = name ? ['-n', name] : []
  return run('ip', [...nsArgs, '-batch', '-'], { ...opts, input: lines.join('\n') + '\n' })
}
