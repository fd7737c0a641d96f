// Running host programs (etcd, nft, ip, podman). One helper so every call has the same
// error shape: which program, which arguments, what it wrote on stderr. This is the only
// module that imports node:child_process (test/net/one-door.test.ts holds everyone to it);
// anything that runs inside another network namespace goes through src/net's handle
// (`netnsHandle(ref).run/spawn`), which builds its argv and calls these.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { spawn as spawnPty, type IPty } from 'node-pty'

export type { ChildProcess }

export interface RunResult {
  stdout: string
  stderr: string
  code: number
}

export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`${command}: exit ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`)
  }
}

export interface RunOptions {
  input?: string
  env?: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs?: number
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean
}

export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env }
    if (opts.cwd) spawnOpts.cwd = opts.cwd
    const child = spawn(file, args, spawnOpts)
    let stdout = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', (err) => {
      if (timer) clearTimeout(timer)
      reject(new Error(`${file} ${args.join(' ')}: ${err.message}`))
    })
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      const result = { stdout, stderr, code: code ?? (signal ? 128 : 1) }
      if (result.code !== 0 && !opts.allowFailure) reject(new ExecError(`${file} ${args.join(' ')}`, result))
      else resolve(result)
    })
    child.stdin!.on('error', () => {})
    child.stdin!.end(opts.input ?? '')
  })
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Append stdout and stderr to this file (opened here, closed once the child has it). */
  logPath?: string
  /** stdout and stderr (and stdin) to these open descriptors (the caller's, not closed here): a log shim's pipes or terminal. */
  output?: { stdout: number; stderr: number; stdin?: number }
  /** stdin/stdout/stderr when there is no logPath: shared with this process, /dev/null, or pipes to the caller. */
  stdio?: 'inherit' | 'ignore' | 'pipe'
  /** Own process group, so a signal to -pid reaches everything the program starts. */
  detached?: boolean
  /** Open descriptors the child inherits as fd 3, 4, … (a namespace file it joins). */
  extraFds?: readonly number[]
}

/** Start a long-running program; the caller owns the ChildProcess (exit, kill, unref). */
export function start(file: string, args: readonly string[], opts: StartOptions = {}): ChildProcess {
  const fd = opts.logPath ? openSync(opts.logPath, 'a') : undefined
  const base: SpawnOptions['stdio'] = opts.output ? [opts.output.stdin ?? 'ignore', opts.output.stdout, opts.output.stderr] : fd !== undefined ? ['ignore', fd, fd] : (opts.stdio ?? 'ignore')
  const stdio: SpawnOptions['stdio'] = opts.extraFds?.length ? [...(typeof base === 'string' ? [base, base, base] : base), ...opts.extraFds] : base
  try {
    return spawn(file, args, { stdio, env: opts.env ?? process.env, cwd: opts.cwd, detached: opts.detached ?? false })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export type PtyProcess = IPty

export interface PtyOptions {
  env?: NodeJS.ProcessEnv
  cols?: number
  rows?: number
}

/**
 * Start a program on a new pseudo-terminal (node-pty: forkpty(3), the child is a session
 * leader with the pty as its controlling terminal, so resizes reach it as SIGWINCH).
 */
export function startPty(file: string, args: readonly string[], opts: PtyOptions = {}): PtyProcess {
  const env = Object.fromEntries(Object.entries(opts.env ?? process.env).filter((e): e is [string, string] => e[1] !== undefined))
  return spawnPty(file, [...args], { name: env.TERM ?? 'xterm', cols: opts.cols ?? 80, rows: opts.rows ?? 24, env, encoding: null })
}
