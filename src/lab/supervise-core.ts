// Pure decisions of `lab supervise`: how long to wait before the next restart, the one-line
// reason a child died, and the status record kept beside the pidfile. The edge
// (supervise.ts) only starts processes, reads the log tail and writes files.

export interface BackoffPolicy {
  /** First delay after a fast exit. */
  initialMs: number
  /** Delays double per fast exit in a row, up to this. */
  maxMs: number
  /** A run at least this long was healthy: the next failure starts the back-off afresh. */
  healthyAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 15_000, healthyAfterMs: 10_000 }

/** Fast exits in a row at which the supervisor calls it a crash loop in its log and status. */
export const CRASH_LOOP_AFTER = 3

/**
 * After a run of `ranMs`: how many fast exits are now in a row, and the delay before the next
 * start (exponential in that count, capped) — like systemd's RestartSec with
 * RestartSteps/RestartMaxDelaySec, or the kubelet's CrashLoopBackOff reset after a healthy run.
 */
export function nextRestart(p: BackoffPolicy, consecutiveBefore: number, ranMs: number): { consecutive: number; delayMs: number } {
  const consecutive = ranMs >= p.healthyAfterMs ? 1 : consecutiveBefore + 1
  const delayMs = Math.min(p.initialMs * 2 ** Math.min(consecutive - 1, 30), p.maxMs)
  return { consecutive, delayMs }
}

const MAX_REASON = 200

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim()
  return flat.length > MAX_REASON ? `${flat.slice(0, MAX_REASON - 1)}…` : flat
}

/** An error-level JSON log line (pino: level >= 50; zap: error/fatal/panic) → its message. */
function jsonError(line: string): { error: boolean; msg: string } | undefined {
  if (!line.startsWith('{')) return undefined
  let o: Record<string, unknown>
  try {
    o = JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
  const level = o.level
  const error = typeof level === 'number' ? level >= 50 : ['error', 'fatal', 'panic', 'dpanic'].includes(String(level))
  const err = o.err as { message?: unknown } | undefined
  const detail = typeof o.error === 'string' ? o.error : typeof err?.message === 'string' ? err.message : ''
  const msg = typeof o.msg === 'string' ? o.msg : ''
  return { error, msg: detail && !msg.includes(detail) ? `${msg}: ${detail}` : msg }
}

/**
 * The line that best says why a child died, from what it wrote since it started: the last
 * plain line that is not a stack frame (`netkube: …`, Go's `panic: …`), else the last
 * error-level JSON log line, else the last line at all. Our own `supervise:` lines are skipped.
 */
export function lastWords(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('supervise:'))
  let lastJsonError: string | undefined
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!
    const j = jsonError(l)
    if (j) {
      if (j.error && lastJsonError === undefined) lastJsonError = j.msg
      continue
    }
    if (/^at\s/.test(l) || /^\^+$/.test(l) || /^goroutine \d+/.test(l) || l.startsWith('/')) continue
    return oneLine(l)
  }
  if (lastJsonError !== undefined) return oneLine(lastJsonError)
  const last = lines.at(-1)
  return last === undefined ? '' : oneLine(jsonError(last)?.msg ?? last)
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 }

/** "killed by signal 9 (SIGKILL)" / "exit code 1: netkube: etcd not reachable …". */
export function exitReason(code: number | null, signal: string | null, words: string): string {
  if (signal) {
    const n = SIGNAL_NUMBERS[signal]
    return `killed by signal ${n !== undefined ? `${n} (${signal})` : signal}`
  }
  return `exit code ${code ?? '?'}${words ? `: ${words}` : ''}`
}

/** The status file of a supervised component: beside its pidfile. */
export function statusFileFor(pidfile: string): string {
  return pidfile.replace(/\.pid$/, '') + '.status.json'
}

export type ComponentState = 'running' | 'backing-off' | 'stopped'

/** The status file a supervisor keeps next to the pidfile (`lab status` reads it). */
export interface ComponentStatus {
  command: string
  supervisorPid: number
  state: ComponentState
  /** The child's PID while running, and its kernel start time (so a recycled PID is never it). */
  pid?: number
  pidStartTicks?: string
  /** When the current child started (ms since the epoch). */
  startedAt?: number
  restarts: number
  /** Fast exits in a row; at CRASH_LOOP_AFTER or more the component is crash-looping. */
  consecutiveFailures: number
  lastExit?: { code: number | null; signal: string | null; at: number; ranMs: number; reason: string }
  /** While backing off: when the next start is due. */
  nextStartAt?: number
}

export function crashLooping(s: ComponentStatus): boolean {
  return s.consecutiveFailures >= CRASH_LOOP_AFTER
}

/** "3m12s", "41s", "1h05m": how long a component has been up. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** One `lab status` cell group: state, restarts, uptime (or next start), last exit reason. */
export function describeStatus(s: ComponentStatus | undefined, supervisorAlive: boolean, now: number): { state: string; restarts: string; age: string; reason: string } {
  if (!s) return { state: supervisorAlive ? 'starting' : 'DEAD', restarts: '-', age: '-', reason: '' }
  const reason = s.lastExit?.reason ?? ''
  const restarts = String(s.restarts)
  if (!supervisorAlive) return { state: 'DEAD', restarts, age: '-', reason: reason || 'supervisor gone' }
  if (s.state === 'running') return { state: 'running', restarts, age: formatAge(now - (s.startedAt ?? now)), reason }
  if (s.state === 'backing-off') {
    const state = crashLooping(s) ? 'crash-loop' : 'backing-off'
    return { state, restarts, age: `next in ${formatAge((s.nextStartAt ?? now) - now)}`, reason }
  }
  return { state: 'stopped', restarts, age: '-', reason }
}
