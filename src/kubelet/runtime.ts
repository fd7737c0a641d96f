// Container runtime contract and the process runtime: a container is a process group in
// its pod's network namespace. Records on disk (one JSON file per container) let a restarted
// kubelet adopt processes it started before, identified by PID + kernel start time.
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync, renameSync, openSync, closeSync, fstatSync, statSync, constants as fsc } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { logger } from '../util/log.js'
import { netnsHandle } from '../net/door.js'
import { procStartTicks, processAlive } from '../util/proc.js'
import { exitCodeOf } from './restart.js'

const log = logger('runtime')

export interface ContainerConfig {
  /** Unique per container instance: `<podUid>_<name>_<restartCount>`. */
  id: string
  podUid: string
  name: string
  netns: string
  argv: string[]
  env: Record<string, string>
  workingDir?: string
  /**
   * The hostname the container sees: it joins the UTS namespace of a running container of its
   * pod, or, when none runs, gets a new one of this name. Undefined keeps the node's.
   */
  hostname?: string
  logPath: string
  /** The container spec's stdin / stdinOnce / tty: its log shim keeps them for attach. */
  stdin?: boolean
  stdinOnce?: boolean
  tty?: boolean
  binds: { source: string; target: string; readOnly?: boolean }[]
}

export interface ContainerRuntimeState {
  id: string
  podUid: string
  name: string
  pid: number
  startedAt: string
  running: boolean
  exitCode?: number
  signal?: string
  finishedAt?: string
  /** The exit was not observed (adopted process that died while no kubelet watched). */
  lost?: boolean
}

/** The compiled log shim (log-shim.ts); from the TypeScript sources (tests) the build in dist/. */
const LOG_SHIM = (() => {
  const here = fileURLToPath(import.meta.url)
  return here.endsWith('.ts') ? fileURLToPath(new URL('../../dist/src/kubelet/log-shim.js', import.meta.url)) : fileURLToPath(new URL('./log-shim.js', import.meta.url))
})()

export interface ContainerRuntime {
  start(cfg: ContainerConfig): Promise<ContainerRuntimeState>
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(id: string, graceMs: number): Promise<void>
  /** Signal immediately (liveness failure kill uses the grace period too, via stop). */
  state(id: string): ContainerRuntimeState | undefined
  list(): ContainerRuntimeState[]
  /** Forget a container's record (after its pod is gone). */
  remove(id: string): void
  /** True while the instance's log writer may still append (its shim has not reached EOF). */
  logWriterAlive(id: string): boolean
  /** Resolves once an exited instance's log is complete (its shim is done), or after timeoutMs. */
  logFlushed(id: string, timeoutMs?: number): Promise<void>
}

interface Record_ extends ContainerRuntimeState {
  startTicks: string
  /** What `kubectl exec` into this container starts with (kept for adopted containers too). */
  exec?: { env: Record<string, string>; workingDir?: string }
  /** The log shim writing this instance's log (log-shim.ts), identified like the container. */
  shim?: { pid: number; startTicks: string }
}

/** A running container's process and the environment an exec into it gets. */
export interface ExecTarget {
  pid: number
  env: Record<string, string>
  workingDir?: string
}

function alive(rec: Record_): boolean {
  return processAlive(rec.pid, rec.startTicks)
}

export class ProcessRuntime implements ContainerRuntime {
  private readonly recs = new Map<string, Record_>()
  private readonly waiters = new Map<string, Promise<void>>()
  private readonly pollTimer: NodeJS.Timeout

  constructor(private readonly stateDir: string) {
    mkdirSync(stateDir, { recursive: true })
    for (const f of readdirSync(stateDir).filter((f) => f.endsWith('.json'))) {
      try {
        const rec = JSON.parse(readFileSync(join(stateDir, f), 'utf8')) as Record_
        if (rec.running && !alive(rec)) Object.assign(rec, { running: false, lost: true, exitCode: 137, finishedAt: new Date().toISOString() })
        this.recs.set(rec.id, rec)
        if (rec.running) log.info({ id: rec.id, pid: rec.pid }, 'adopted container process')
      } catch (err) {
        log.warn({ file: f, err: (err as Error).message }, 'unreadable container record')
      }
    }
    // Adopted processes are not our children: poll them for exit.
    this.pollTimer = setInterval(() => this.pollAdopted(), 1000)
    this.pollTimer.unref()
  }

  private save(rec: Record_): void {
    const p = join(this.stateDir, `${rec.id}.json`)
    writeFileSync(`${p}.tmp`, JSON.stringify(rec))
    renameSync(`${p}.tmp`, p)
  }

  private pollAdopted(): void {
    for (const rec of this.recs.values()) {
      if (rec.running && !this.waiters.has(rec.id) && !alive(rec)) {
        Object.assign(rec, { running: false, lost: true, exitCode: 137, finishedAt: new Date().toISOString() })
        this.save(rec)
      }
    }
  }

  /**
   * An open descriptor of a live sibling's UTS namespace, or undefined. Held open, it keeps the
   * namespace alive even if that sibling exits before the new container has joined it.
   */
  private openPodUts(podUid: string): number | undefined {
    for (const rec of this.recs.values()) {
      if (rec.podUid !== podUid || !rec.running || !alive(rec)) continue
      try {
        const fd = openSync(`/proc/${rec.pid}/ns/uts`, 'r')
        // Still the same process (not a recycled PID), and past its entry: a sibling started a
        // moment ago may not have made its own namespace yet, and the node's is never joined.
        if (alive(rec) && fstatSync(fd).ino !== statSync('/proc/self/ns/uts').ino) return fd
        closeSync(fd)
      } catch {
        // exited meanwhile: try the next one
      }
    }
    return undefined
  }

  /**
   * The attach socket of a container instance's shim (attach-wire.ts). Named by a hash of the id:
   * a unix socket path must stay under 108 bytes.
   */
  attachSocket(id: string): string {
    return join(this.stateDir, `${createHash('sha256').update(id).digest('hex').slice(0, 16)}.sock`)
  }

  /**
   * The log shim for one instance. Without a tty: two FIFOs (made, opened at both ends, unlinked —
   * only the descriptors remain), the read ends handed to a shim in its own session, the write ends
   * returned for the container's stdout and stderr; with `stdin`, a third FIFO whose writing end the
   * shim keeps. With a tty the shim opens the pseudo-terminal and the container gets its slave on
   * all three. The caller closes the returned descriptors once the container has them.
   */
  private async startShim(cfg: ContainerConfig): Promise<{ out: number; err: number; in?: number; shim: { pid: number; startTicks: string } }> {
    const base = join(this.stateDir, `${cfg.id}.${process.pid}`)
    const paths = cfg.tty ? [] : [`${base}.out`, `${base}.err`, ...(cfg.stdin ? [`${base}.in`] : [])]
    for (const p of paths) rmSync(p, { force: true })
    if (paths.length) await netnsHandle().run('mkfifo', ['-m', '600', ...paths])
    const fds: number[] = []
    const shimFds: number[] = []
    try {
      if (!cfg.tty) {
        // Read ends first and non-blocking (opening a FIFO blocks until the other end exists),
        // then the write ends (blocking: the container's writes wait for the shim, never fail).
        shimFds.push(openSync(paths[0]!, fsc.O_RDONLY | fsc.O_NONBLOCK), openSync(paths[1]!, fsc.O_RDONLY | fsc.O_NONBLOCK))
        // stdin: the shim's end read-write (opens at once), then the container's blocking read end.
        if (cfg.stdin) shimFds.push(openSync(paths[2]!, fsc.O_RDWR))
        fds.push(...shimFds)
        fds.push(openSync(paths[0]!, fsc.O_WRONLY), openSync(paths[1]!, fsc.O_WRONLY))
        if (cfg.stdin) fds.push(openSync(paths[2]!, fsc.O_RDONLY))
      }
      const flags = [`--attach=${this.attachSocket(cfg.id)}`, ...(cfg.stdin ? ['--stdin'] : []), ...(cfg.stdinOnce ? ['--stdin-once'] : []), ...(cfg.tty ? ['--tty'] : [])]
      // In the pod's network namespace (it needs no network): it belongs with the pod's processes,
      // so whatever ends the agent's process tree (a lab agent restart) leaves it to the container.
      const child = netnsHandle(cfg.netns).spawn([process.execPath, LOG_SHIM, cfg.logPath, ...flags], { detached: true, extraFds: shimFds, stdio: 'pipe' })
      // The container starts only once the shim reads: its lines are stamped when written, not
      // when a slow-starting shim gets to them.
      const ready = await new Promise<{ pid: number; pty?: string }>((resolve, reject) => {
        let stderr = ''
        let stdout = ''
        const timer = setTimeout(() => fail(new Error('log shim not ready after 20s')), 20_000)
        const fail = (e: Error): void => {
          clearTimeout(timer)
          child.kill('SIGKILL')
          reject(e)
        }
        child.stdin!.on('error', () => {})
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
        child.once('error', fail)
        child.once('exit', (code) => fail(new Error(`log shim exited (${code}): ${stderr.trim().split('\n')[0] ?? ''}`)))
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString()
          const nl = stdout.indexOf('\n')
          if (nl < 0) return
          clearTimeout(timer)
          child.removeAllListeners('exit')
          child.stdout!.destroy()
          child.stderr!.destroy()
          const pty = stdout.slice(0, nl).split(' ')[1]
          resolve({ pid: child.pid!, ...(pty ? { pty } : {}) })
        })
      })
      if (cfg.tty) {
        if (!ready.pty) throw new Error('log shim opened no terminal')
        // The container's own descriptor of the slave: blocking, and not this process's terminal.
        fds.push(openSync(ready.pty, fsc.O_RDWR | fsc.O_NOCTTY))
      }
      child.stdin!.end() // the shim lets go of its own slave now (tty)
      child.unref() // not the kubelet's to wait for: it outlives the kubelet
      for (const fd of shimFds) closeSync(fd)
      fds.splice(0, shimFds.length)
      const shim = { pid: ready.pid, startTicks: procStartTicks(ready.pid) ?? '' }
      if (cfg.tty) return { out: fds[0]!, err: fds[0]!, in: fds[0]!, shim }
      return { out: fds[0]!, err: fds[1]!, ...(cfg.stdin ? { in: fds[2]! } : {}), shim }
    } catch (e) {
      for (const fd of fds) closeSync(fd)
      throw e
    } finally {
      for (const p of paths) rmSync(p, { force: true })
    }
  }

  logWriterAlive(id: string): boolean {
    const rec = this.recs.get(id)
    if (!rec) return false
    if (rec.running && alive(rec)) return true
    return rec.shim !== undefined && processAlive(rec.shim.pid, rec.shim.startTicks)
  }

  async logFlushed(id: string, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const rec = this.recs.get(id)
      if (!rec || (rec.running && alive(rec)) || !this.logWriterAlive(id) || Date.now() > deadline) return
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  async start(cfg: ContainerConfig): Promise<ContainerRuntimeState> {
    const logs = await this.startShim(cfg)
    // netkube keeps no pause process: a pod's UTS namespace lives while one of its containers
    // does; a container starting alone makes a new one with the same hostname.
    let utsFd: number | undefined
    let child
    try {
      utsFd = cfg.hostname !== undefined ? this.openPodUts(cfg.podUid) : undefined
      // `ip netns exec` semantics: the pod sees its /etc/netns resolv.conf and hosts.
      // A tty container makes its own session with the terminal as its controlling one (setsid
      // does not fork when its caller leads no group, so the PID stays the program's).
      const argv = cfg.tty ? ['setsid', '--ctty', ...cfg.argv] : cfg.argv
      child = netnsHandle(cfg.netns).spawn(argv, {
        etc: 'netns',
        detached: !cfg.tty, // own process group (and session): stop signals reach the whole container
        env: cfg.env,
        cwd: cfg.workingDir,
        output: { stdout: logs.out, stderr: logs.err, ...(logs.in !== undefined ? { stdin: logs.in } : {}) },
        binds: cfg.binds,
        ...(utsFd !== undefined ? { uts: '/proc/self/fd/3', extraFds: [utsFd] } : cfg.hostname !== undefined ? { hostname: cfg.hostname } : {}),
      })
    } finally {
      if (utsFd !== undefined) closeSync(utsFd)
      // The container holds the write ends now; with them closed here, the shim sees EOF when it exits.
      for (const fd of new Set([logs.out, logs.err, ...(logs.in !== undefined ? [logs.in] : [])])) closeSync(fd)
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!))
      child.once('error', reject)
    })
    const rec: Record_ = {
      id: cfg.id,
      podUid: cfg.podUid,
      name: cfg.name,
      pid,
      startedAt: new Date().toISOString(),
      running: true,
      startTicks: procStartTicks(pid) ?? '',
      exec: { env: cfg.env, ...(cfg.workingDir ? { workingDir: cfg.workingDir } : {}) },
      shim: logs.shim,
    }
    this.recs.set(rec.id, rec)
    this.save(rec)
    this.waiters.set(
      rec.id,
      new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          rec.running = false
          rec.exitCode = exitCodeOf(code, signal)
          if (signal) rec.signal = signal
          rec.finishedAt = new Date().toISOString()
          this.save(rec)
          this.waiters.delete(rec.id)
          resolve()
        })
      }),
    )
    return { ...rec }
  }

  async stop(id: string, graceMs: number): Promise<void> {
    const rec = this.recs.get(id)
    if (!rec || !rec.running) return
    const kill = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-rec.pid, sig) // the whole process group
      } catch {
        try {
          process.kill(rec.pid, sig)
        } catch {
          /* gone */
        }
      }
    }
    kill('SIGTERM')
    const deadline = Date.now() + graceMs
    while (rec.running && alive(rec) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    if (rec.running && alive(rec)) kill('SIGKILL')
    const waiter = this.waiters.get(id)
    if (waiter) await waiter
    else if (rec.running) {
      // Adopted (not our child): its exit status cannot be read, only its absence.
      while (alive(rec)) await new Promise((r) => setTimeout(r, 20))
      Object.assign(rec, { running: false, lost: true, exitCode: 137, finishedAt: new Date().toISOString() })
      this.save(rec)
    }
  }

  state(id: string): ContainerRuntimeState | undefined {
    const rec = this.recs.get(id)
    return rec ? { ...rec } : undefined
  }

  /** The process of a running container to exec into (undefined: not running). */
  execTarget(id: string): ExecTarget | undefined {
    const rec = this.recs.get(id)
    if (!rec || !rec.running || !alive(rec)) return undefined
    return { pid: rec.pid, env: rec.exec?.env ?? {}, ...(rec.exec?.workingDir ? { workingDir: rec.exec.workingDir } : {}) }
  }

  list(): ContainerRuntimeState[] {
    return [...this.recs.values()].map((r) => ({ ...r }))
  }

  remove(id: string): void {
    this.recs.delete(id)
    rmSync(join(this.stateDir, `${id}.json`), { force: true })
  }

  close(): void {
    clearInterval(this.pollTimer)
  }
}
