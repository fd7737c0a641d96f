// One `kubectl exec`: the command runs in the container's namespaces (network, mount with
// its volume binds and /etc/netns files, UTS with the pod's hostname) via the door, with
// the container's env and working dir; on pipes, or with -t on a pseudo-terminal that
// follows the client's window size. The end is reported on the error channel: success,
// NonZeroExitCode with the exit code, or why the command could not start. A client that
// goes away kills what it started (the whole process group).
import { accessSync, constants, statSync } from 'node:fs'
import { join } from 'node:path'
import { constants as osConstants } from 'node:os'
import { netnsHandle } from '../../net/door.js'
import { logger } from '../../util/log.js'
import type { ExecTarget } from '../runtime.js'
import type { ExecChannels } from './channels.js'

const log = logger('kubelet-exec')

/**
 * Where `cmd` resolves in the container's PATH, or the runtime's error text and exit code
 * (runc's wording; 127 not found, 126 found but not executable).
 */
export function resolveCommand(cmd: string, env: Record<string, string>): { path: string } | { message: string; exitCode: number } {
  const executable = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK)
      return statSync(p).isFile()
    } catch {
      return false
    }
  }
  const notFound = { message: `exec: "${cmd}": executable file not found in $PATH`, exitCode: 127 }
  if (cmd.includes('/')) {
    try {
      statSync(cmd)
    } catch {
      return { message: `exec: "${cmd}": stat ${cmd}: no such file or directory`, exitCode: 127 }
    }
    return executable(cmd) ? { path: cmd } : { message: `exec: "${cmd}": permission denied`, exitCode: 126 }
  }
  const dirs = (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter(Boolean)
  for (const d of dirs) if (executable(join(d, cmd))) return { path: cmd }
  return notFound
}

export function runtimeExecError(message: string): string {
  return `OCI runtime exec failed: exec failed: unable to start container process: ${message}: unknown`
}

export function runExec(target: ExecTarget, command: string[], ch: ExecChannels, tty: boolean, initial?: { width: number; height: number }): void {
  const resolved = command[0] ? resolveCommand(command[0], target.env) : { message: 'exec: no command', exitCode: 127 }
  if ('message' in resolved) {
    const text = `${runtimeExecError(resolved.message)}\r\n`
    if (ch.stderr) ch.stderr.write(text)
    else ch.stdout?.write(text)
    ch.finish({ exitCode: resolved.exitCode })
    return
  }
  const env = { ...target.env, ...(tty && !target.env.TERM ? { TERM: 'xterm' } : {}) }
  const entry = { joinProcess: { pid: target.pid, ...(target.workingDir ? { wd: target.workingDir } : {}) } }
  if (tty) return runPty(target, command, env, entry, ch, initial)

  const child = netnsHandle().spawn(command, { ...entry, env, stdio: 'pipe', detached: true })
  let gone = false
  ch.onGone(() => {
    gone = true
    killGroup(child.pid)
  })
  if (ch.stdin) {
    ch.stdin.pipe(child.stdin!)
    child.stdin!.on('error', () => {})
  } else child.stdin!.end()
  if (ch.stdout) child.stdout!.pipe(ch.stdout, { end: false })
  else child.stdout!.resume()
  if (ch.stderr) child.stderr!.pipe(ch.stderr, { end: false })
  else child.stderr!.resume()
  child.on('error', (err) => ch.finish({ error: `error executing command in container: ${err.message}` }))
  // 'close': the exit status is known and stdout/stderr are drained into the channels.
  child.on('close', (code, signal) => {
    if (gone) return
    log.debug({ pid: target.pid, command, code, signal }, 'exec finished')
    const exit = code ?? (signal ? 128 + signalNumber(signal) : 1)
    ch.finish(exit === 0 ? {} : { exitCode: exit })
  })
}

function runPty(target: ExecTarget, command: string[], env: Record<string, string>, entry: { joinProcess: { pid: number; wd?: string } }, ch: ExecChannels, initial?: { width: number; height: number }): void {
  const p = netnsHandle().spawnPty(command, { ...entry, env, cols: initial?.width ?? 80, rows: initial?.height ?? 24 })
  let gone = false
  ch.onGone(() => {
    gone = true
    killGroup(p.pid)
  })
  ch.resize.on('size', (s) => {
    try {
      p.resize(s.width, s.height)
    } catch {
      // exited meanwhile
    }
  })
  ch.stdin?.on('data', (d: Buffer) => p.write(d as unknown as string))
  // A pty has no half-close: stdin EOF is the terminal's EOF character.
  ch.stdin?.on('end', () => {
    try {
      p.write('\x04')
    } catch {
      // exited meanwhile
    }
  })
  p.onData((d) => ch.stdout?.write(Buffer.isBuffer(d) ? d : Buffer.from(d)))
  p.onExit(({ exitCode, signal }) => {
    if (gone) return
    const exit = signal ? 128 + signal : exitCode
    // Output still queued in the pty is flushed by onData before onExit in node-pty.
    setImmediate(() => ch.finish(exit === 0 ? {} : { exitCode: exit }))
  })
}

function killGroup(pid: number | undefined): void {
  if (!pid) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return osConstants.signals[sig] ?? 9
}
