// Identifying a process we started: its PID plus the kernel's start time (field 22 of
// /proc/PID/stat), so a recycled PID is never mistaken for it, and a zombie counts as gone.
import { readdirSync, readFileSync } from 'node:fs'

/** The fields after the command name: [0] is the state, [19] the start time. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

export function procStartTicks(pid: number): string | undefined {
  return statFields(pid)?.[19]
}

/** The process with this PID is the one that started at `startTicks` and has not exited. */
export function processAlive(pid: number, startTicks: string): boolean {
  const f = statFields(pid)
  return f !== undefined && f[19] === startTicks && f[0] !== 'Z'
}

/** CPU clock ticks (user + system, 100 a second) used by the process and by its children it has waited for. */
export function procCpuTicks(pid: number): number {
  const f = statFields(pid)
  return f ? Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) : 0
}

/** `pid` and every live process below it (parent links read from /proc). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const ppid = Number(statFields(Number(entry))?.[1])
    if (!ppid) continue
    const list = children.get(ppid)
    if (list) list.push(Number(entry))
    else children.set(ppid, [Number(entry)])
  }
  const out: number[] = []
  const todo = [pid]
  while (todo.length > 0) {
    const p = todo.pop()!
    out.push(p)
    todo.push(...(children.get(p) ?? []))
  }
  return out
}
