// The HAProxy process and its two doors: the master (reloads) and the worker's admin socket
// (runtime API). Thin edge: what to send is decided in haproxy.ts.
//
// Seamless reload: haproxy runs in master-worker mode (-W). On SIGUSR2 the master re-reads the
// config, starts a new worker that takes the listening sockets over from the old one through the
// admin socket's `expose-fd listeners` (no moment without a bound port, no refused connection),
// and tells the old worker to finish: it stops accepting, completes its in-flight requests and
// open tunnels (bounded by hard-stop-after), then exits. A config the master cannot load leaves
// it in "wait mode" with the old worker serving the last good config; the controller then puts
// the last good file back so a later restart starts from it. (`haproxy -c` first would say the
// same, but costs 0.2–0.7 s per change on a loaded machine: the reload is the check.)
import { connect } from 'node:net'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { netnsHandle } from '../net/door.js'
import { run, type ChildProcess } from '../util/exec.js'
import { logger } from '../util/log.js'
import type { RuntimeOp } from './haproxy.js'

const log = logger('ingress-haproxy')

export const HAPROXY_BIN = '/usr/sbin/haproxy'
/** A reload signal the master has not acknowledged in its log after this long is sent again. */
const RESIGNAL_MS = 500

/** One runtime-API exchange: commands joined by ';', the socket answers and closes. */
export function adminCommand(socketPath: string, cmds: readonly string[], timeoutMs = 5000): Promise<string> {
  return adminSend(socketPath, `${cmds.join(';')}\n`, timeoutMs)
}

/**
 * One command with a payload (`cmd <<`, the lines, an empty line). The payload may hold no empty
 * line (it would end it) and must fit HAProxy's CLI buffer (tune.bufsize): callers split it.
 */
export function adminPayload(socketPath: string, cmd: string, payload: string, timeoutMs = 5000): Promise<string> {
  const lines = payload.split('\n').filter((l) => l.trim() !== '')
  return adminSend(socketPath, `${cmd} <<\n${lines.join('\n')}\n\n`, timeoutMs)
}

function adminSend(socketPath: string, text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath)
    let out = ''
    const timer = setTimeout(() => sock.destroy(new Error(`haproxy admin socket: no answer in ${timeoutMs} ms`)), timeoutMs)
    sock.setEncoding('utf8')
    sock.on('connect', () => sock.end(text))
    sock.on('data', (d: string) => (out += d))
    sock.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    sock.on('close', () => {
      clearTimeout(timer)
      resolve(out)
    })
  })
}

/** Answers of `set/add server …` that are errors (the others are empty, "… changed from … to …" or "New server registered."). */
export function runtimeErrors(answer: string): string[] {
  return answer
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/changed from|^no need to change|^New server registered\.$/i.test(l))
}

/**
 * Whether the master's log (from before a SIGUSR2 on) says it refused this reload: the ALERTs
 * between this reload's "Reloading HAProxy" and its final "Loading failure!", or undefined while
 * that is not (yet) written. Only this reload's own lines count: the master writes a refusal over
 * several lines, and under load the tail of the previous one can land after the next SIGUSR2's
 * log offset (an "Error(s) found" line of the previous refusal made a good reload look refused).
 */
export function reloadRefusal(log: string): string | undefined {
  const start = log.lastIndexOf('Reloading HAProxy')
  if (start < 0) return undefined
  const mine = log.slice(start)
  const end = mine.indexOf('Loading failure!')
  if (end < 0) return undefined
  const alerts = mine
    .slice(0, end)
    .split('\n')
    .filter((l) => l.includes('[ALERT]'))
  return alerts.slice(0, 5).join('; ') || 'haproxy refused the config (no ALERT lines)'
}

export async function checkConfig(path: string, bin = HAPROXY_BIN): Promise<string | undefined> {
  const r = await run(bin, ['-c', '-f', path], { allowFailure: true, timeoutMs: 20_000 })
  if (r.code === 0) return undefined
  return (r.stderr || r.stdout).trim().split('\n').filter((l) => /ALERT|error/i.test(l)).slice(0, 5).join('; ') || `haproxy -c exited ${r.code}`
}

/** A self-signed certificate for requests whose SNI matches no Ingress (ingress-nginx's "fake certificate"). */
export async function ensureDefaultCert(dir: string): Promise<string> {
  const pem = join(dir, 'default.pem')
  if (existsSync(pem)) return pem
  mkdirSync(dir, { recursive: true })
  const key = join(dir, 'default.key')
  const crt = join(dir, 'default.crt')
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/O=netkube/CN=netkube Ingress Controller Fake Certificate', '-keyout', key, '-out', crt], { timeoutMs: 30_000 })
  writeFileSync(`${pem}.tmp`, `${readFileSync(crt, 'utf8')}${readFileSync(key, 'utf8')}`, { mode: 0o600 })
  renameSync(`${pem}.tmp`, pem)
  return pem
}

/** Write a file atomically (rename into place), making its directory. */
export function writeAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(`${path}.tmp`, content, { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
}

/**
 * Debian 12 builds HAProxy with DEBUG_MEMORY_POOLS, which tags every pool object with its pool
 * and keeps freed objects out of the shared cache: `-dMglobal,no-tag` turns both back to the
 * release defaults (bench:ingress: ~5 µs less CPU per HTTP request; noisy, see the README).
 */
export const DEFAULT_ARGS: readonly string[] = ['-dMglobal,no-tag']

export interface HaproxyProcessOptions {
  configPath: string
  adminSocket: string
  logPath: string
  bin?: string
  /** Command-line flags before -f (default DEFAULT_ARGS). */
  args?: readonly string[]
  /** Network namespace to run in (name or path); default: this process's (the pod's). */
  netns?: string
  /** Called when the master exits without being asked to (the supervisor restarts it). */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void
}

export class HaproxyProcess {
  private child: ChildProcess | undefined
  private stopping = false
  restarts = 0
  reloads = 0

  constructor(private readonly o: HaproxyProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Start the master (-W) in the foreground (-db) and wait for the worker's admin socket. */
  async start(): Promise<void> {
    this.stopping = false
    const child = netnsHandle(this.o.netns).spawn([this.o.bin ?? HAPROXY_BIN, '-W', '-db', ...(this.o.args ?? DEFAULT_ARGS), '-f', this.o.configPath], { logPath: this.o.logPath })
    this.child = child
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined
      if (this.stopping) return
      log.warn({ code, signal }, 'haproxy exited')
      this.o.onExit?.(code, signal)
    })
    await this.waitForWorker(undefined)
  }

  /** The last lines haproxy logged (its ALERTs say why it stopped). */
  logTail(lines = 5): string {
    try {
      return readFileSync(this.o.logPath, 'utf8').trim().split('\n').slice(-lines).join(' | ')
    } catch {
      return `no log at ${this.o.logPath}`
    }
  }

  /** The worker's pid, from the admin socket; undefined while nothing answers. */
  async workerPid(): Promise<number | undefined> {
    try {
      const info = await adminCommand(this.o.adminSocket, ['show info'], 1000)
      const m = /^Pid: (\d+)/m.exec(info)
      return m ? Number(m[1]) : undefined
    } catch {
      return undefined
    }
  }

  private async waitForWorker(notPid: number | undefined, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (!this.running()) throw new Error(`haproxy is not running: ${this.logTail()}`)
      const pid = await this.workerPid()
      if (pid !== undefined && pid !== notPid) return pid
      if (Date.now() > deadline) throw new Error(`haproxy: no new worker on ${this.o.adminSocket} after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /**
   * Seamless reload (SIGUSR2 to the master). Resolves with undefined once the new worker answers,
   * or with the master's ALERT lines when it refused the config: it then stays in wait mode with
   * the old worker serving the last good config.
   */
  async reload(timeoutMs = 10_000): Promise<string | undefined> {
    if (!this.running()) {
      await this.start()
      return undefined
    }
    const before = await this.workerPid()
    const logFrom = this.logSize()
    this.child!.kill('SIGUSR2')
    const deadline = Date.now() + timeoutMs
    let signalled = Date.now()
    for (;;) {
      const pid = await this.workerPid()
      if (pid !== undefined && pid !== before) {
        this.reloads++
        return undefined
      }
      const log = this.logSince(logFrom)
      const refused = reloadRefusal(log)
      if (refused !== undefined) return refused
      // Right after a refused config the master re-executes itself into wait mode, and a SIGUSR2
      // in that moment is lost (5 of 6 times when sent at its "Loading failure!" line): no
      // "Reloading HAProxy" follows. Signal again until the master says it reloads.
      if (!log.includes('Reloading HAProxy') && Date.now() - signalled >= RESIGNAL_MS) {
        this.child?.kill('SIGUSR2')
        signalled = Date.now()
      }
      if (!this.running()) throw new Error(`haproxy exited during a reload: ${this.logTail()}`)
      if (Date.now() > deadline) return `no new worker ${timeoutMs} ms after the reload: ${this.logTail()}`
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  private logSize(): number {
    try {
      return statSync(this.o.logPath).size
    } catch {
      return 0
    }
  }

  private logSince(offset: number): string {
    try {
      return readFileSync(this.o.logPath).subarray(offset).toString('utf8')
    } catch {
      return ''
    }
  }

  async runtime(cmds: readonly string[]): Promise<string[]> {
    if (cmds.length === 0) return []
    // Keep each exchange short: the socket reads one line.
    const errors: string[] = []
    for (let i = 0; i < cmds.length; i += 100) errors.push(...runtimeErrors(await adminCommand(this.o.adminSocket, cmds.slice(i, i + 100))))
    return errors
  }

  /**
   * Carry out runtime ops in order; the answers that are not the expected ones come back as errors
   * (the caller then reloads). Map entries go in payload chunks well below the 16 kB CLI buffer.
   */
  async runtimeOps(ops: readonly RuntimeOp[]): Promise<string[]> {
    const errors: string[] = []
    const sock = this.o.adminSocket
    const expect = async (what: string, answer: Promise<string>, ok: RegExp): Promise<boolean> => {
      const a = (await answer).trim()
      if (ok.test(a)) return true
      errors.push(`${what}: ${a || '(no answer)'}`)
      return false
    }
    /** Each step only after the one before it succeeded. */
    const steps = async (list: [string, () => Promise<string>, RegExp][]): Promise<void> => {
      for (const [what, send, ok] of list) if (!(await expect(what, send(), ok))) return
    }
    for (let i = 0; i < ops.length; ) {
      const op = ops[i]!
      if (op.kind === 'server') {
        // Consecutive endpoint commands go together, as before.
        let j = i
        while (j < ops.length && ops[j]!.kind === 'server') j++
        errors.push(...(await this.runtime(ops.slice(i, j).map((o) => (o as { cmd: string }).cmd))))
        i = j
        continue
      }
      i++
      if (op.kind === 'map') {
        const prep = await adminCommand(sock, [`prepare map ${op.map}`])
        const ver = /New version created: (\d+)/.exec(prep)?.[1]
        if (!ver) {
          errors.push(`prepare map ${op.map}: ${prep.trim()}`)
          continue
        }
        let ok = true
        for (let k = 0; ok && k < op.entries.length; ) {
          let size = 0
          const chunk: string[] = []
          while (k < op.entries.length && size < 8000) {
            chunk.push(op.entries[k]!)
            size += op.entries[k]!.length + 1
            k++
          }
          ok = await expect(`add map @${ver} ${op.map}`, adminPayload(sock, `add map @${ver} ${op.map}`, chunk.join('\n')), /^$/)
        }
        if (ok) await expect(`commit map @${ver} ${op.map}`, adminCommand(sock, [`commit map @${ver} ${op.map}`]), /^$/)
      } else if (op.kind === 'cert-add') {
        const f = op.file
        await steps([
          [`new ssl cert ${f}`, () => adminCommand(sock, [`new ssl cert ${f}`]), /New empty certificate store/],
          [`set ssl cert ${f}`, () => adminPayload(sock, `set ssl cert ${f}`, op.pem), /Transaction (created|updated)/],
          [`commit ssl cert ${f}`, () => adminCommand(sock, [`commit ssl cert ${f}`]), /Success!/],
          [`add ssl crt-list ${op.crtList}`, () => adminPayload(sock, `add ssl crt-list ${op.crtList}`, op.line), /Success!/],
        ])
      } else {
        await steps([
          [`del ssl crt-list ${op.crtList} ${op.file}`, () => adminCommand(sock, [`del ssl crt-list ${op.crtList} ${op.file}`]), /deleted/i],
          [`del ssl cert ${op.file}`, () => adminCommand(sock, [`del ssl cert ${op.file}`]), /deleted/i],
        ])
      }
    }
    return errors
  }

  async stop(): Promise<void> {
    this.stopping = true
    const child = this.child
    if (!child || !this.running()) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      child.once('exit', () => {
        clearTimeout(t)
        resolve()
      })
      // SIGUSR1 = soft stop: finish in-flight requests, then exit.
      child.kill('SIGTERM')
    })
  }
}
