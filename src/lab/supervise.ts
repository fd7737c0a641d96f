// `netkube lab supervise --pidfile F [--status S] [--backoff-initial D] [--backoff-max D]
// [--healthy-after D] -- CMD…`: restarts CMD whenever it dies, as systemd's Restart=always
// does for the Vagrant lab's units. Fast exits back off exponentially (capped); a run longer
// than --healthy-after resets the back-off. SIGTERM stops the child gracefully, then itself.
//
// The child's PID is kept in the pidfile (so a test can kill -9 the component itself), and a
// status file beside it (F with .pid → .status.json) records restarts, the last exit (code or
// signal, when, a one-line reason: the child's last words in the log) and the current PID.
// The child writes straight into the supervisor's own stdout/stderr (the component's log):
// no pipe in between, so it keeps logging even if the supervisor is gone.
import { closeSync, openSync, readSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { netnsHandle } from '../net/door.js'
import type { ChildProcess } from '../util/exec.js'
import { parseDuration } from '../util/duration.js'
import { DEFAULT_BACKOFF, CRASH_LOOP_AFTER, exitReason, lastWords, nextRestart, statusFileFor, type BackoffPolicy, type ComponentStatus } from './supervise-core.js'
import { procStartTicks } from '../util/proc.js'

const USAGE = 'usage: netkube lab supervise [--pidfile F] [--status F] [--backoff-initial 500ms] [--backoff-max 15s] [--healthy-after 10s] -- CMD [ARGS…]\n'
const TAIL_BYTES = 32 * 1024

/** Our stderr when it is a regular file (the lab's log): where the child's last words are. */
function ownLogFile(): string | undefined {
  try {
    const p = readlinkSync('/proc/self/fd/2')
    return statSync(p).isFile() ? p : undefined
  } catch {
    return undefined
  }
}

function sizeOf(path: string | undefined): number {
  try {
    return path ? statSync(path).size : 0
  } catch {
    return 0
  }
}

/** What was appended to `path` since `from` (at most the last TAIL_BYTES). */
function readSince(path: string | undefined, from: number): string {
  if (!path) return ''
  try {
    const end = statSync(path).size
    const start = Math.max(from, end - TAIL_BYTES)
    if (end <= start) return ''
    const buf = Buffer.alloc(end - start)
    const fd = openSync(path, 'r')
    try {
      readSync(fd, buf, 0, buf.length, start)
    } finally {
      closeSync(fd)
    }
    return buf.toString('utf8')
  } catch {
    return ''
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}

interface Args {
  pidfile?: string
  statusFile?: string
  policy: BackoffPolicy
  argv: string[]
}

function parse(argv: string[]): Args | undefined {
  const sep = argv.indexOf('--')
  if (sep < 0 || sep === argv.length - 1) return undefined
  const flags = argv.slice(0, sep)
  const out: Args = { policy: { ...DEFAULT_BACKOFF }, argv: argv.slice(sep + 1) }
  for (let i = 0; i < flags.length; i++) {
    const val = (): string => {
      const v = flags[++i]
      if (v === undefined) throw new Error(`${flags[i - 1]} needs a value`)
      return v
    }
    switch (flags[i]) {
      case '--pidfile': out.pidfile = val(); break
      case '--status': out.statusFile = val(); break
      case '--backoff-initial': out.policy.initialMs = parseDuration(val()); break
      case '--backoff-max': out.policy.maxMs = parseDuration(val()); break
      case '--healthy-after': out.policy.healthyAfterMs = parseDuration(val()); break
      default: throw new Error(`unknown flag ${flags[i]}`)
    }
  }
  if (!out.statusFile && out.pidfile) out.statusFile = statusFileFor(out.pidfile)
  return out
}

export async function main(argv: string[]): Promise<number | void> {
  const a = parse(argv)
  if (!a) {
    process.stderr.write(USAGE)
    return 2
  }
  const [file, ...args] = a.argv
  const logFile = ownLogFile()
  const status: ComponentStatus = { command: a.argv.join(' '), supervisorPid: process.pid, state: 'running', restarts: 0, consecutiveFailures: 0 }
  const save = (): void => {
    if (a.statusFile) writeAtomic(a.statusFile, JSON.stringify(status, null, 2) + '\n')
  }
  let child: ChildProcess | undefined
  let timer: NodeJS.Timeout | undefined
  let stopping = false
  const start = (): void => {
    timer = undefined
    const started = Date.now()
    const logFrom = sizeOf(logFile)
    // CMD already runs where the supervisor does (the lab starts it inside the node's netns).
    const c = netnsHandle().spawn([file!, ...args], { stdio: 'inherit' })
    child = c
    if (a.pidfile && c.pid) writeAtomic(a.pidfile, String(c.pid))
    Object.assign(status, { state: 'running', pid: c.pid, pidStartTicks: c.pid ? procStartTicks(c.pid) : undefined, startedAt: started, nextStartAt: undefined })
    save()
    let gone = false
    const dead = (code: number | null, signal: string | null, words: string): void => {
      if (gone || stopping) return
      gone = true
      const ranMs = Date.now() - started
      const reason = exitReason(code, signal, words)
      const next = nextRestart(a.policy, status.consecutiveFailures, ranMs)
      status.restarts++
      Object.assign(status, {
        state: 'backing-off',
        pid: undefined,
        pidStartTicks: undefined,
        consecutiveFailures: next.consecutive,
        lastExit: { code, signal, at: Date.now(), ranMs, reason },
        nextStartAt: Date.now() + next.delayMs,
      })
      save()
      const loop = next.consecutive >= CRASH_LOOP_AFTER ? ` crash-looping (${next.consecutive} fast exits in a row);` : ''
      process.stderr.write(`supervise: ${file} ${reason} after ${(ranMs / 1000).toFixed(1)} s;${loop} restart #${status.restarts} in ${next.delayMs} ms\n`)
      timer = setTimeout(start, next.delayMs)
    }
    c.on('exit', (code, signal) => dead(code, signal, signal ? '' : lastWords(readSince(logFile, logFrom))))
    // A program that cannot be started at all (ENOENT, EACCES) is a failed run too.
    c.on('error', (err) => dead(127, null, `cannot start ${file}: ${err.message}`))
  }
  start()
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      if (stopping) return
      stopping = true
      if (timer) clearTimeout(timer)
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
      setTimeout(() => child?.kill('SIGKILL'), 10_000).unref()
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  Object.assign(status, { state: 'stopped', pid: undefined, pidStartTicks: undefined, nextStartAt: undefined })
  save()
  if (a.pidfile) rmSync(a.pidfile, { force: true })
  return 0
}
