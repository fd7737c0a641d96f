// Container runtime contract and the process runtime: a container is a process group in
// its pod's network namespace. Records on disk (one JSON file per container) let a restarted
// kubelet adopt processes it started before, identified by PID + kernel start time.
import { readFileSync, writeFileSync, mkdirSync, readdirSync, rmSync, renameSync, openSync, closeSync, fstatSync, statSync } from 'node:fs'
import { join } from 'node:path'
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

export interface ContainerRuntime {
  start(cfg: ContainerConfig): Promise<ContainerRuntimeState>
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(id: string, graceMs: number): Promise<void>
  /** Signal immediately (liveness failure kill uses the grace period too, via stop). */
  state(id: string): ContainerRuntimeState | undefined
  list(): ContainerRuntimeState[]
  /** Forget a container's record (after its pod is gone). */
  remove(id: string): void
}

interface Record_ extends ContainerRuntimeState {
  startTicks: string
  /** What `kubectl exec` into this container starts with (kept for adopted containers too). */
  exec?: { env: Record<string, string>; workingDir?: string }
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

  async start(cfg: ContainerConfig): Promise<ContainerRuntimeState> {
    // netkube keeps no pause process: a pod's UTS namespace lives while one of its containers
    // does; a container starting alone makes a new one with the same hostname.
    const utsFd = cfg.hostname !== undefined ? this.openPodUts(cfg.podUid) : undefined
    let child
    try {
      // `ip netns exec` semantics: the pod sees its /etc/netns resolv.conf and hosts.
      child = netnsHandle(cfg.netns).spawn(cfg.argv, {
        etc: 'netns',
        detached: true, // own process group: stop signals reach the whole container
        env: cfg.env,
        cwd: cfg.workingDir,
        logPath: cfg.logPath,
        binds: cfg.binds,
        ...(utsFd !== undefined ? { uts: '/proc/self/fd/3', extraFds: [utsFd] } : cfg.hostname !== undefined ? { hostname: cfg.hostname } : {}),
      })
    } finally {
      if (utsFd !== undefined) closeSync(utsFd)
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
