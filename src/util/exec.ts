// Running host programs (etcd, nft, ip, podman). One helper so every call has the same
// error shape: which program, which arguments, what it wrote on stderr.
import { spawn, type SpawnOptions } from 'node:child_process'

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
