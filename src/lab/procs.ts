// The lab's daemons: started detached inside a node's network namespace (nsenter --net, so
// they share the host's mount namespace and the netns they create stay visible to `ip netns`),
// recorded by PID + kernel start time, and stopped only by that record — or, for `lab down`
// after a crash, by being inside one of the lab's own namespaces.
import { readdirSync, statSync } from 'node:fs'
import { procStartTicks, processAlive } from '../util/proc.js'
import { netnsHandle } from '../net/door.js'
import { netnsPath } from '../net/netns.js'

export interface DaemonRecord {
  role: string
  node: string
  pid: number
  startTicks: string
  log: string
  /** What was started, so a component can be started again the same way (`lab node restart`). */
  argv?: string[]
}

export function isAlive(rec: Pick<DaemonRecord, 'pid' | 'startTicks'>): boolean {
  return processAlive(rec.pid, rec.startTicks)
}

export function spawnDaemon(role: string, node: string, netns: string | undefined, argv: string[], log: string, env?: NodeJS.ProcessEnv): DaemonRecord {
  // 'host': the daemon shares the host's mounts, so namespaces it creates stay visible.
  const child = netnsHandle(netns).spawn(argv, { etc: 'host', detached: true, logPath: log, env: env ?? process.env })
  child.unref()
  const pid = child.pid!
  return { role, node, pid, startTicks: procStartTicks(pid) ?? '', log, argv }
}

/** SIGTERM, wait up to graceMs, then SIGKILL. Only if the PID is still the process we started. */
export async function stopDaemon(rec: DaemonRecord, graceMs = 5000): Promise<void> {
  if (!isAlive(rec)) return
  try {
    process.kill(rec.pid, 'SIGTERM')
  } catch {
    return
  }
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline && isAlive(rec)) await new Promise((r) => setTimeout(r, 50))
  if (isAlive(rec)) {
    try {
      process.kill(rec.pid, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }
}

/** PIDs of processes whose network namespace is one of `netnsNames` (by inode). */
export function processesInNamespaces(netnsNames: string[]): number[] {
  const inodes = new Set<number>()
  for (const n of netnsNames) {
    try {
      inodes.add(statSync(netnsPath(n)).ino)
    } catch {
      /* gone */
    }
  }
  if (inodes.size === 0) return []
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (inodes.has(statSync(`/proc/${entry}/ns/net`).ino)) pids.push(Number(entry))
    } catch {
      /* exited or not ours to read */
    }
  }
  return pids
}

/** Stop every process inside these namespaces: SIGTERM, then SIGKILL, three rounds 0.5 s apart. */
export async function killInNamespaces(netnsNames: string[]): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const pids = processesInNamespaces(netnsNames)
    if (pids.length === 0) return
    for (const pid of pids) {
      try {
        process.kill(pid, round === 0 ? 'SIGTERM' : 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 500))
  }
}
