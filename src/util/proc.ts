// Identifying a process we started: its PID plus the kernel's start time (field 22 of
// /proc/PID/stat), so a recycled PID is never mistaken for it, and a zombie counts as gone.
import { readFileSync } from 'node:fs'

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
